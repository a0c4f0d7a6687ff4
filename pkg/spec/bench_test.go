package spec

import (
	"testing"
	"testing/fstest"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/spec/spectest"
)

func TestGeneratedTreeIsValid(t *testing.T) {
	tree, diags := LoadFiles(spectest.Tree(25), "rollouts")
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %+v", diags)
	}
	if len(tree.Models) != 25 {
		t.Fatalf("%d models", len(tree.Models))
	}
}

// BenchmarkLoad1000 loads (reads, parses, decodes, validates) 1,000 model
// files, one model each, from memory.
func BenchmarkLoad1000(b *testing.B) {
	files := spectest.Tree(1000)
	fsys := make(fstest.MapFS, len(files))
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: data}
	}
	b.ReportAllocs()
	for b.Loop() {
		tree, diags := Load(fsys, "rollouts")
		if diag.HasErrors(diags) || len(tree.Models) != 1000 {
			b.Fatalf("%d models, %+v", len(tree.Models), diags[:min(len(diags), 3)])
		}
	}
}

// BenchmarkPolicyModels1000 builds the policy JSON of 1,000 models.
func BenchmarkPolicyModels1000(b *testing.B) {
	tree, _ := LoadFiles(spectest.Tree(1000), "rollouts")
	b.ReportAllocs()
	for b.Loop() {
		if len(tree.PolicyModels()) != 1000 {
			b.Fatal("models")
		}
	}
}
