package spec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// blockSchemas maps each block type to its body schema. Block type names
// are unique across the language, so the type alone finds the schema. A
// new block type must be added here (Blocks fails without it), which keeps
// the reference in docs/ complete.
var blockSchemas = map[string]*hcl.BodySchema{
	"router":     routerSchema,
	"metrics":    metricsSchema,
	"model":      modelSchema,
	"version":    versionSchema,
	"validation": validationSchema,
	"rollout":    rolloutSchema,
	"check":      checkSchema,
	"shadow":     shadowSchema,
	"experiment": experimentSchema,
	"notify":     notifySchema,
}

// BlockRef describes one block type of the spec language, for the reference.
type BlockRef struct {
	// Path is the dotted nesting of block types from the file, such as
	// "model.version.validation".
	Path       string
	Type       string
	Labels     []string
	Attributes []AttributeRef
}

// AttributeRef is one attribute of a block.
type AttributeRef struct {
	Name     string
	Required bool
}

// Blocks walks the schema from the top of a file and returns every block
// type with its labels and attributes, parents before children, in schema
// order.
func Blocks() ([]BlockRef, error) {
	var out []BlockRef
	var walk func(parent string, s *hcl.BodySchema, depth int) error
	walk = func(parent string, s *hcl.BodySchema, depth int) error {
		if depth > 8 {
			return fmt.Errorf("spec schema nests deeper than 8 blocks at %s", parent)
		}
		for _, h := range s.Blocks {
			body, ok := blockSchemas[h.Type]
			if !ok {
				return fmt.Errorf("block %q has no schema in blockSchemas (pkg/spec/reference.go)", h.Type)
			}
			p := h.Type
			if parent != "" {
				p = parent + "." + h.Type
			}
			ref := BlockRef{Path: p, Type: h.Type, Labels: append([]string(nil), h.LabelNames...)}
			for _, a := range body.Attributes {
				ref.Attributes = append(ref.Attributes, AttributeRef{Name: a.Name, Required: a.Required})
			}
			out = append(out, ref)
			if err := walk(p, body, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("", fileSchema, 0); err != nil {
		return nil, err
	}
	return out, nil
}
