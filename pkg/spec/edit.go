package spec

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// ErrNotFound is wrapped by the edit functions when the model block or the
// block to remove is not in the file.
var ErrNotFound = errors.New("not found")

// SetServe returns src with the serve attribute of the block
// `model "<model>" "<stage>"` set to version. Every other byte of the file
// (comments, alignment, odd formatting) is kept; the new value keeps the
// spacing the old one had. A model block without serve gets one appended.
func SetServe(src []byte, filename, model, stage, version string) ([]byte, error) {
	f, blk, err := findModel(src, filename, model, stage)
	if err != nil {
		return nil, err
	}
	body := blk.Body()
	toks := hclwrite.TokensForValue(cty.StringVal(version))
	if attr := body.GetAttribute("serve"); attr != nil {
		if old := attr.Expr().BuildTokens(nil); len(old) > 0 && len(toks) > 0 {
			toks[0].SpacesBefore = old[0].SpacesBefore
		}
		body.SetAttributeRaw("serve", toks)
	} else {
		appendAttribute(body, "serve", toks)
	}
	return unformatted(f), nil
}

// RemoveBlock returns src without the block of type blockType (for example
// "experiment" or "shadow") inside `model "<model>" "<stage>"`, keeping
// every other byte. A blank line left doubled by the removal is collapsed.
func RemoveBlock(src []byte, filename, model, stage, blockType string) ([]byte, error) {
	f, blk, err := findModel(src, filename, model, stage)
	if err != nil {
		return nil, err
	}
	var target *hclwrite.Block
	for _, b := range blk.Body().Blocks() {
		if b.Type() == blockType {
			target = b
			break
		}
	}
	if target == nil {
		return nil, fmt.Errorf("%s: model %q %q has no %s block: %w", filename, model, stage, blockType, ErrNotFound)
	}
	blk.Body().RemoveBlock(target)
	return collapseBlankLines(unformatted(f), src), nil
}

// unformatted returns the file's tokens as they are: File.Bytes would run
// hclwrite's formatter over the whole file and change lines we did not edit.
func unformatted(f *hclwrite.File) []byte {
	var buf bytes.Buffer
	_, _ = f.Body().BuildTokens(nil).WriteTo(&buf) // a bytes.Buffer never fails
	return buf.Bytes()
}

// appendAttribute appends `name = value` as the body's last line, indented
// like the body's first attribute (two spaces if it has none).
func appendAttribute(body *hclwrite.Body, name string, value hclwrite.Tokens) {
	indent := 2
	for _, a := range body.Attributes() {
		for _, t := range a.BuildTokens(nil) {
			if t.Type == hclsyntax.TokenIdent {
				indent = t.SpacesBefore
				break
			}
		}
		break
	}
	toks := hclwrite.Tokens{
		{Type: hclsyntax.TokenIdent, Bytes: []byte(name), SpacesBefore: indent},
		{Type: hclsyntax.TokenEqual, Bytes: []byte("="), SpacesBefore: 1},
	}
	value[0].SpacesBefore = 1
	toks = append(toks, value...)
	toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")})
	body.AppendUnstructuredTokens(toks)
}

func findModel(src []byte, filename, model, stage string) (*hclwrite.File, *hclwrite.Block, error) {
	f, diags := hclwrite.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, nil, fmt.Errorf("parse %s: %w", filename, diags)
	}
	for _, b := range f.Body().Blocks() {
		l := b.Labels()
		if b.Type() == "model" && len(l) == 2 && l[0] == model && l[1] == stage {
			return f, b, nil
		}
	}
	return nil, nil, fmt.Errorf("%s: no block model %q %q: %w", filename, model, stage, ErrNotFound)
}

// collapseBlankLines removes blank lines that a removal left behind: runs
// of blank lines longer than the longest run in the original file, and a
// blank line before a closing brace unless the original had one.
func collapseBlankLines(out, orig []byte) []byte {
	maxRun, blankBeforeBrace := blankStyle(splitLines(orig))
	lines := splitLines(out)
	keep := make([]string, 0, len(lines))
	run := 0
	for i, l := range lines {
		if isBlank(l) && i < len(lines)-1 {
			run++
			next := strings.TrimSpace(lines[i+1])
			if run > maxRun || (!blankBeforeBrace && next == "}") {
				continue
			}
		} else {
			run = 0
		}
		keep = append(keep, l)
	}
	return []byte(strings.Join(keep, "\n"))
}

func splitLines(b []byte) []string { return strings.Split(string(b), "\n") }

func blankStyle(lines []string) (maxRun int, blankBeforeBrace bool) {
	run := 0
	for i, l := range lines {
		if isBlank(l) && i < len(lines)-1 {
			run++
			maxRun = max(maxRun, run)
			if strings.TrimSpace(lines[i+1]) == "}" {
				blankBeforeBrace = true
			}
		} else {
			run = 0
		}
	}
	return max(maxRun, 1), blankBeforeBrace
}

func isBlank(line string) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// SettleServe returns src, in which an outcome commit has just set the
// serve of `model "<model>" "<stage>"` to serve, without the settings that
// naming serve makes invalid: a rollout's roll_through naming serve (with
// on_failure = "roll_through", so that a failure of serve's own rollout
// rolls back, the default) and a shadow block running serve. removed says
// what went, one sentence each, for the commit message; when nothing goes,
// src is returned as it is.
func SettleServe(src []byte, filename, model, stage, serve string) (out []byte, removed []string, err error) {
	f, blk, err := findModel(src, filename, model, stage)
	if err != nil {
		return nil, nil, err
	}
	for _, b := range blk.Body().Blocks() {
		switch b.Type() {
		case "rollout":
			body := b.Body()
			if literal(body.GetAttribute("roll_through")) != serve {
				continue
			}
			body.RemoveAttribute("roll_through")
			removed = append(removed, fmt.Sprintf("roll_through = %q is removed: %s is serve now, and a version is never rolled through to itself.", serve, serve))
			if literal(body.GetAttribute("on_failure")) == "roll_through" {
				body.RemoveAttribute("on_failure")
				removed = append(removed, fmt.Sprintf("on_failure = \"roll_through\" is removed: a failure of %s's own rollout rolls back (the default).", serve))
			}
		case "shadow":
			if literal(b.Body().GetAttribute("version")) == serve {
				blk.Body().RemoveBlock(b)
				removed = append(removed, fmt.Sprintf("The shadow block is removed: %s, its version, is serve now and takes live traffic.", serve))
			}
		}
	}
	if len(removed) == 0 {
		return src, nil, nil
	}
	return collapseBlankLines(unformatted(f), src), removed, nil
}

// literal is the string value of a constant attribute ("" when absent or
// not a constant string).
func literal(a *hclwrite.Attribute) string {
	if a == nil {
		return ""
	}
	expr, diags := hclsyntax.ParseExpression(a.Expr().BuildTokens(nil).Bytes(), "", hcl.InitialPos)
	if diags.HasErrors() {
		return ""
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}
