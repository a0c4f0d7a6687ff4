package diag

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

const src = `router "edge" {
	type = "bultin"
}

model "fraud" "production" {
  serve = "v9"
}
`

func sample() []Diagnostic {
	return []Diagnostic{
		{Severity: Warning, Source: SourceSchema, Summary: "Steps ignored", Detail: "steps are only used by canary.", File: "rollouts/b.hcl", Line: 2, Column: 3},
		{Severity: Error, Source: SourceSchema, Summary: "Unknown version in serve", Detail: `No version named "v9" is defined.`, File: "rollouts/a.hcl", Line: 6, Column: 11, EndLine: 6, EndCol: 15},
		{Severity: Error, Source: SourceSchema, Summary: "Unknown router type", Detail: `"bultin" is not a known router type. Did you mean "builtin"?`, File: "rollouts/a.hcl", Line: 2, Column: 9, EndLine: 2, EndCol: 17},
		{Severity: Error, Source: SourceSchema, Summary: "No spec files", Detail: "Add one.", File: "rollouts"},
		{Severity: Error, Source: SourcePolicy, Summary: "policy failed to compile", Detail: "see the policy file"},
		{Severity: Error, Source: SourceHCL, Summary: "Past the end", Detail: "Line beyond the file.", File: "rollouts/a.hcl", Line: 99, Column: 1},
	}
}

func TestWriteTextGolden(t *testing.T) {
	ds := sample()
	Sort(ds)
	var b bytes.Buffer
	if err := WriteText(&b, ds, map[string][]byte{"rollouts/a.hcl": []byte(src)}); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "text.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("text differs from %s (run go test -update):\n%s", golden, b.String())
	}
}

func TestSortAndReport(t *testing.T) {
	ds := sample()
	Sort(ds)
	order := []string{"policy failed to compile", "No spec files", "Unknown router type", "Unknown version in serve", "Past the end", "Steps ignored"}
	for i, want := range order {
		if ds[i].Summary != want {
			t.Fatalf("position %d: %q, want %q", i, ds[i].Summary, want)
		}
	}
	r := NewReport(ds)
	if r.Valid || r.Errors != 5 || r.Warnings != 1 || !HasErrors(ds) {
		t.Errorf("report %+v", r)
	}
	empty, _ := json.Marshal(NewReport(nil))
	if string(empty) != `{"valid":true,"errors":0,"warnings":0,"diagnostics":[]}` {
		t.Errorf("empty report: %s", empty)
	}
	if HasErrors(ds[5:]) {
		t.Error("a warning is not an error")
	}
}
