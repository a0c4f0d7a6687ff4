package spec

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

// FuzzLoad feeds arbitrary bytes to the loader as one spec file: it must
// never panic or hang, every diagnostic must have a summary and a file,
// and whatever loads must render and marshal.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../../testdata/invalid/*.hcl")
	more, _ := filepath.Glob("../../testdata/specs/*/rollouts/*.hcl")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(okRouter))
	f.Fuzz(func(t *testing.T, data []byte) {
		debug.SetTraceback("all")
		tm := time.AfterFunc(10*time.Second, func() { panic("FuzzLoad: one input took over 10 s") })
		defer tm.Stop()
		tree, diags := LoadFiles(map[string][]byte{
			"rollouts/fuzz.hcl":      data,
			"datasets/present.jsonl": []byte("{}\n"),
		}, "rollouts")
		if tree == nil {
			t.Fatal("nil tree")
		}
		for _, d := range diags {
			if d.Summary == "" || d.File == "" || (d.Severity != diag.Error && d.Severity != diag.Warning) {
				t.Fatalf("malformed diagnostic %+v", d)
			}
		}
		if err := diag.WriteText(io.Discard, diags, tree.Sources); err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(diag.NewReport(diags)); err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(tree.PolicyModels()); err != nil {
			t.Fatalf("policy JSON: %v", err)
		}
		for _, m := range tree.Models {
			if _, ok := tree.FieldRange(m.Key(), "rollout.steps.0"); !ok {
				t.Fatalf("model %s has no range", m.Key())
			}
		}
	})
}
