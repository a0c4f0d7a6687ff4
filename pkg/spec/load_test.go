package spec

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

func TestLoadValidTrees(t *testing.T) {
	dirs, err := filepath.Glob("../../testdata/specs/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no spec trees: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tree, diags := LoadDir(dir, "rollouts")
			if len(diags) > 0 {
				var b bytes.Buffer
				_ = diag.WriteText(&b, diags, tree.Sources)
				t.Fatalf("unexpected diagnostics:\n%s", b.String())
			}
			if len(tree.Models) == 0 {
				t.Fatal("no models")
			}
		})
	}
}

func TestLoadFraudTree(t *testing.T) {
	tree, diags := LoadDir("../../testdata/specs/fraud", "")
	if diag.HasErrors(diags) {
		t.Fatalf("diagnostics: %v", diags)
	}
	var keys []string
	for _, m := range tree.Models {
		keys = append(keys, m.Key())
	}
	want := []string{"fraud/production", "fraud/staging", "geo/production", "ranker/production", "recs/production", "search/production"}
	if len(keys) != len(want) {
		t.Fatalf("models %v, want %v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("models %v, want %v", keys, want)
		}
	}
}
