package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
)

// TestEditGolden runs every case in testdata/edit: in.hcl, op (one edit
// per line: "serve MODEL STAGE VERSION", "remove MODEL STAGE BLOCK" or
// "settle MODEL STAGE VERSION"), and
// the expected out.hcl, or err.txt when the edit must fail.
func TestEditGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/edit/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "in.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			ops, err := os.ReadFile(filepath.Join(dir, "op"))
			if err != nil {
				t.Fatal(err)
			}
			out, editErr := applyOps(src, strings.TrimSpace(string(ops)))
			if editErr != nil {
				compareGolden(t, filepath.Join(dir, "err.txt"), []byte(editErr.Error()+"\n"))
				return
			}
			compareGolden(t, filepath.Join(dir, "out.hcl"), out)
			if _, diags := hclparse.NewParser().ParseHCL(out, "out.hcl"); diags.HasErrors() {
				t.Fatalf("edited file does not parse: %v", diags)
			}
		})
	}
}

func applyOps(src []byte, ops string) ([]byte, error) {
	var err error
	for _, line := range strings.Split(ops, "\n") {
		f := strings.Fields(line)
		switch f[0] {
		case "serve":
			src, err = SetServe(src, "rollouts/test.hcl", f[1], f[2], f[3])
		case "remove":
			src, err = RemoveBlock(src, "rollouts/test.hcl", f[1], f[2], f[3])
		case "settle":
			src, _, err = SettleServe(src, "rollouts/test.hcl", f[1], f[2], f[3])
		}
		if err != nil {
			return nil, err
		}
	}
	return src, nil
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestSetServeKeepsOtherLines(t *testing.T) {
	src, _ := os.ReadFile("testdata/edit/serve_odd_format/in.hcl")
	out, err := SetServe(src, "x.hcl", "fraud", "production", "v7")
	if err != nil {
		t.Fatal(err)
	}
	a, b := strings.Split(string(src), "\n"), strings.Split(string(out), "\n")
	if len(a) != len(b) {
		t.Fatalf("line count changed: %d -> %d", len(a), len(b))
	}
	changed := 0
	for i := range a {
		if a[i] != b[i] {
			changed++
			if !strings.Contains(b[i], `"v7"`) {
				t.Errorf("line %d changed unexpectedly: %q -> %q", i+1, a[i], b[i])
			}
		}
	}
	if changed != 1 {
		t.Fatalf("%d lines changed, want 1", changed)
	}
}

func TestEditParseError(t *testing.T) {
	if _, err := SetServe([]byte("model \"a\" {"), "bad.hcl", "a", "b", "v1"); err == nil {
		t.Fatal("want a parse error")
	}
}
