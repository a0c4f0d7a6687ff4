package reconcile

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestRenderStatusGolden pins what `reconciler status` prints.
func TestRenderStatusGolden(t *testing.T) {
	var b bytes.Buffer
	RenderStatus(&b, pageStatus())
	golden := filepath.Join("testdata", "status.txt")
	if *update {
		_ = os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("status rendering differs from %s (run go test -update):\n%s", golden, b.String())
	}
}
