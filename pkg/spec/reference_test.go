package spec

import (
	"testing"
)

// TestBlocksCoversEverySchema checks that the reference walk reaches every
// schema that decoding uses, so that docs/ (tested against Blocks) cannot
// miss a block.
func TestBlocksCoversEverySchema(t *testing.T) {
	blocks, err := Blocks()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]BlockRef{}
	for _, b := range blocks {
		seen[b.Type] = b
	}
	for typ := range blockSchemas {
		if _, ok := seen[typ]; !ok {
			t.Errorf("block %q has a schema but is not reachable from the file schema", typ)
		}
	}
	v, ok := seen["validation"]
	if !ok || v.Path != "model.version.validation" {
		t.Errorf("validation block path = %q, want model.version.validation", v.Path)
	}
	m := seen["model"]
	if len(m.Labels) != 2 || m.Labels[0] != "name" || m.Labels[1] != "stage" {
		t.Errorf("model labels = %v", m.Labels)
	}
	var required []string
	for _, a := range m.Attributes {
		if a.Required {
			required = append(required, a.Name)
		}
	}
	if len(required) != 3 {
		t.Errorf("model's required attributes = %v, want router, path, serve", required)
	}
}
