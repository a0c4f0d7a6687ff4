package diag

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// HasErrors reports whether any diagnostic is an error.
func HasErrors(diags []Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// HasSpecErrors reports whether diags hold an error in the specs
// themselves (HCL or schema), which leaves a tree that is only what could
// be read of them, as opposed to a judgement of valid specs (policy,
// validation).
func HasSpecErrors(diags []Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == Error && d.Source != SourcePolicy && d.Source != SourceValidation {
			return true
		}
	}
	return false
}

// Sort orders diagnostics by file, line, column, then severity (errors
// first) and summary, so output is stable whatever order they were found in.
// Diagnostics without a file come first.
func Sort(diags []Diagnostic) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i], diags[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Severity != b.Severity {
			return a.Severity == Error
		}
		return a.Summary < b.Summary
	})
}

// NewReport counts errors and warnings into the JSON report of SPEC.md §3.
// Diagnostics is never nil, so it marshals as [] rather than null.
func NewReport(diags []Diagnostic) Report {
	r := Report{Valid: true, Diagnostics: make([]Diagnostic, 0, len(diags))}
	for _, d := range diags {
		switch d.Severity {
		case Error:
			r.Errors++
			r.Valid = false
		case Warning:
			r.Warnings++
		}
		r.Diagnostics = append(r.Diagnostics, d)
	}
	return r
}

// WriteText renders diagnostics in the style of Terraform:
//
//	Error: Unsupported argument
//
//	  on rollouts/fraud.hcl line 12, in model "fraud" "production":
//	  12:     stratgy = "canary"
//	              ^^^^^^^
//
//	An argument named "stratgy" is not expected here. Did you mean "strategy"?
//
// sources maps each file to its bytes; a file missing from it is rendered
// without its source line.
func WriteText(w io.Writer, diags []Diagnostic, sources map[string][]byte) error {
	var b bytes.Buffer
	files := map[string]*lineIndex{}
	for _, d := range diags {
		idx, ok := files[d.File]
		if !ok && d.File != "" {
			if src, found := sources[d.File]; found {
				idx = newLineIndex(src)
			}
			files[d.File] = idx
		}
		writeOne(&b, d, idx)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func writeOne(b *bytes.Buffer, d Diagnostic, idx *lineIndex) {
	label := "Error"
	if d.Severity == Warning {
		label = "Warning"
	}
	fmt.Fprintf(b, "%s: %s\n\n", label, d.Summary)
	if d.File != "" {
		switch {
		case d.Line > 0:
			fmt.Fprintf(b, "  on %s line %d", d.File, d.Line)
			if ctx := idx.enclosingBlock(d.Line); ctx != "" {
				fmt.Fprintf(b, ", in %s", ctx)
			}
			b.WriteString(":\n")
			if line, ok := idx.display(d.Line); ok {
				gutter := fmt.Sprintf("  %3d: ", d.Line)
				fmt.Fprintf(b, "%s%s\n", gutter, line)
				if u := underline(line, d); u != "" {
					fmt.Fprintf(b, "%s%s\n", strings.Repeat(" ", len(gutter)), u)
				}
			}
		default:
			fmt.Fprintf(b, "  in %s:\n", d.File)
		}
		b.WriteString("\n")
	}
	if d.Detail != "" {
		b.WriteString(d.Detail)
		b.WriteString("\n\n")
	}
}

// lineIndex finds lines of one source file in constant time.
type lineIndex struct {
	src    []byte
	starts []int // byte offset of each line's start
}

func newLineIndex(src []byte) *lineIndex {
	idx := &lineIndex{src: src, starts: []int{0}}
	for i, c := range src {
		if c == '\n' {
			idx.starts = append(idx.starts, i+1)
		}
	}
	return idx
}

// line returns line n (1-based) without its newline.
func (idx *lineIndex) line(n int) ([]byte, bool) {
	if idx == nil || n < 1 || n > len(idx.starts) {
		return nil, false
	}
	start := idx.starts[n-1]
	end := len(idx.src)
	if n < len(idx.starts) {
		end = idx.starts[n] - 1
	}
	if start > end {
		return nil, false
	}
	return idx.src[start:end], true
}

// display returns line n with tabs shown as one space each, so the
// underline lines up, trailing spaces dropped and very long lines cut.
func (idx *lineIndex) display(n int) (string, bool) {
	raw, ok := idx.line(n)
	if !ok {
		return "", false
	}
	line := strings.TrimRight(string(raw), " \r")
	if !utf8.ValidString(line) {
		line = strings.ToValidUTF8(line, "\uFFFD")
	}
	line = strings.ReplaceAll(line, "\t", " ")
	const maxWidth = 200
	if utf8.RuneCountInString(line) > maxWidth {
		line = string([]rune(line)[:maxWidth]) + "..."
	}
	return line, true
}

// maxContextLines bounds how far up enclosingBlock looks for a header.
const maxContextLines = 500

// underline marks the diagnostic's columns on its first line with carets.
func underline(line string, d Diagnostic) string {
	width := utf8.RuneCountInString(line)
	if d.Column < 1 || d.Column > width+1 {
		return ""
	}
	end := width + 1
	if d.EndLine == d.Line && d.EndCol > d.Column && d.EndCol <= width+1 {
		end = d.EndCol
	}
	n := end - d.Column
	if n < 1 {
		n = 1
	}
	return strings.Repeat(" ", d.Column-1) + strings.Repeat("^", n)
}

// enclosingBlock finds the top-level block header (a line starting at
// column 1 with an identifier and labels, ending in "{") at or above line n
// and returns it as `model "fraud" "production"`.
func (idx *lineIndex) enclosingBlock(n int) string {
	for i := n; i >= 1 && i > n-maxContextLines; i-- {
		raw, ok := idx.line(i)
		if !ok {
			continue
		}
		l := strings.TrimRight(string(raw), " \r\t")
		if l == "" || l[0] == ' ' || l[0] == '\t' || l[0] == '#' || l[0] == '/' {
			continue
		}
		if l == "}" {
			return "" // the line is between top-level blocks
		}
		brace := strings.LastIndexByte(l, '{')
		if brace < 0 {
			return ""
		}
		if rest := strings.TrimSpace(l[brace+1:]); rest != "" && !strings.HasPrefix(rest, "#") && !strings.HasPrefix(rest, "//") {
			return ""
		}
		head := strings.TrimSpace(l[:brace])
		if head == "" || !utf8.ValidString(head) || len(head) > 200 {
			return ""
		}
		return head
	}
	return ""
}
