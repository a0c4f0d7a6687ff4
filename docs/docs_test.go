// Package docs_test keeps the user reference in docs/ true to the code:
// every block and attribute of the spec schema is documented, every whole
// HCL example validates, every metric named exists, and every relative link
// leads to a file of the repository.
package docs_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/policies"
)

// root is the repository root, relative to this package.
const root = ".."

// markdownFiles returns the user documentation as repository-relative
// paths: the README, docs/, the policies' README and the runbooks.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	out := []string{"README.md", "policies/README.md", "dashboards/README.md"}
	for _, pattern := range []string{"docs/*.md", "runbooks/*.md"} {
		files, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(files)
		for _, f := range files {
			rel, err := filepath.Rel(root, f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, filepath.ToSlash(rel))
		}
	}
	return out
}

func read(t *testing.T, repoPath string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(repoPath)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	blockMarker = regexp.MustCompile(`(?m)^<!-- block: ([a-z_.]+) -->$`)
	attrRow     = regexp.MustCompile("(?m)^\\| `([a-z_0-9]+)` \\|")
)

// referenceSections splits docs/spec.md into the sections that follow each
// `<!-- block: PATH -->` marker, up to the next marker or heading.
func referenceSections(text string) map[string]string {
	out := map[string]string{}
	locs := blockMarker.FindAllStringSubmatchIndex(text, -1)
	for i, loc := range locs {
		path := text[loc[2]:loc[3]]
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		sec := text[loc[1]:end]
		if h := strings.Index(sec, "\n## "); h >= 0 {
			sec = sec[:h]
		}
		out[path] = sec
	}
	return out
}

// TestReferenceCoversTheSchema walks the schema the loader decodes with and
// checks that docs/spec.md has a section for every block with a table row
// for every attribute, and documents nothing the schema lacks.
func TestReferenceCoversTheSchema(t *testing.T) {
	blocks, err := spec.Blocks()
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 9 {
		t.Fatalf("spec.Blocks() returned %d blocks: the schema walk is broken", len(blocks))
	}
	sections := referenceSections(read(t, "docs/spec.md"))
	known := map[string]bool{}
	for _, b := range blocks {
		known[b.Path] = true
		sec, ok := sections[b.Path]
		if !ok {
			t.Errorf("docs/spec.md has no section for block %s: add a heading, `<!-- block: %s -->` and a table of its attributes", b.Path, b.Path)
			continue
		}
		rows := map[string]bool{}
		for _, m := range attrRow.FindAllStringSubmatch(sec, -1) {
			rows[m[1]] = true
		}
		for _, a := range b.Attributes {
			if !rows[a.Name] {
				t.Errorf("docs/spec.md: attribute %s of block %s is not documented (a table row \"| `%s` | ...\" in its section)", a.Name, b.Path, a.Name)
			}
			if a.Required && !strings.Contains(rowOf(sec, a.Name), "required") {
				t.Errorf("docs/spec.md: attribute %s of block %s is required, and its row does not say so", a.Name, b.Path)
			}
			delete(rows, a.Name)
		}
		for name := range rows {
			t.Errorf("docs/spec.md documents attribute %s of block %s, which the schema does not have", name, b.Path)
		}
	}
	for path := range sections {
		if !known[path] {
			t.Errorf("docs/spec.md has a section for block %s, which the schema does not have", path)
		}
	}
}

func rowOf(section, attr string) string {
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `"+attr+"` |") {
			return line
		}
	}
	return ""
}

// example is one fenced code block.
type example struct {
	file     string
	line     int
	src      string
	fragment bool
}

// fencedBlocks returns the ```lang blocks of a Markdown file. A block right
// after a `<!-- fragment -->` line is a fragment, not a whole example.
func fencedBlocks(file, text, lang string) []example {
	var out []example
	var cur *example
	prev := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```"+lang:
			cur = &example{file: file, line: n + 1, fragment: prev == "<!-- fragment -->"}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.src += line + "\n"
		}
		if strings.TrimSpace(line) != "" {
			prev = strings.TrimSpace(line)
		}
	}
	return out
}

var datasetAttr = regexp.MustCompile(`dataset\s*=\s*"([^"]+)"`)

// TestHCLExamplesValidate loads every whole HCL example of the docs and the
// README as a spec tree of its own and fails on any error.
func TestHCLExamplesValidate(t *testing.T) {
	var whole []example
	for _, f := range markdownFiles(t) {
		for _, ex := range fencedBlocks(f, read(t, f), "hcl") {
			if ex.fragment {
				continue
			}
			whole = append(whole, ex)
			files := map[string][]byte{"rollouts/example.hcl": []byte(ex.src)}
			for _, m := range datasetAttr.FindAllStringSubmatch(ex.src, -1) {
				files[m[1]] = []byte(`{"input": {"amount": 1}, "expected": "ok"}` + "\n")
			}
			_, diags := spec.LoadFiles(files, "rollouts")
			if diag.HasErrors(diags) {
				var b bytes.Buffer
				for _, d := range diags {
					fmt.Fprintf(&b, "  %s:%d:%d: %s: %s: %s\n", ex.file, ex.line+d.Line-1, d.Column, d.Severity, d.Summary, d.Detail)
				}
				t.Errorf("the HCL example at %s:%d does not validate (mark a partial example with a `<!-- fragment -->` line before it):\n%s", ex.file, ex.line, b.String())
			}
		}
	}
	// Every block of the language has a whole example in the reference.
	blocks, err := spec.Blocks()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(b.Type) + `\s*("|\{)`)
		found := false
		for _, ex := range whole {
			if ex.file == "docs/spec.md" && re.MatchString(ex.src) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("docs/spec.md has no whole HCL example with a %s block", b.Type)
		}
	}
}

var (
	metricDef  = regexp.MustCompile(`"(switchyard_[a-z0-9_]*[a-z0-9])"`)
	metricUse  = regexp.MustCompile(`\bswitchyard_[a-z0-9_]*[a-z0-9]`)
	metricTail = []string{"_bucket", "_sum", "_count"}
)

// definedMetrics returns the metric names declared in the Go code: every
// string literal "switchyard_..." of a non-test file under pkg/ and cmd/
// (the names given to Prometheus' constructors).
func definedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, dir := range []string{"pkg", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range metricDef.FindAllSubmatch(b, -1) {
				out[string(m[1])] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d metric definitions in the code: the scan is broken", len(out))
	}
	return out
}

// TestMetricNamesExist checks every switchyard_* name in the docs, the
// README and the dashboards against the metrics the code declares.
func TestMetricNamesExist(t *testing.T) {
	defined := definedMetrics(t)
	files := markdownFiles(t)
	dash, _ := filepath.Glob(filepath.Join(root, "dashboards", "*"))
	for _, d := range dash {
		rel, _ := filepath.Rel(root, d)
		files = append(files, filepath.ToSlash(rel))
	}
	mentioned := 0
	for _, f := range files {
		text := read(t, f)
		for _, name := range metricUse.FindAllString(text, -1) {
			mentioned++
			if !isDefined(defined, name) {
				t.Errorf("%s mentions metric %s, which the code does not export", f, name)
			}
		}
	}
	if mentioned == 0 {
		t.Error("no metric is mentioned anywhere: docs/operating.md should list them")
	}
}

// TestEveryMetricIsDocumented is the other way round: every metric the
// code declares has a row in the metric tables of docs/operating.md.
func TestEveryMetricIsDocumented(t *testing.T) {
	text := read(t, "docs/operating.md")
	for name := range definedMetrics(t) {
		if !strings.Contains(text, "\n| `"+name+"` |") {
			t.Errorf("metric %s is not documented: add a row \"| `%s` | type | labels | what |\" to a table of docs/operating.md#metrics", name, name)
		}
	}
}

func isDefined(defined map[string]bool, name string) bool {
	if defined[name] {
		return true
	}
	for _, tail := range metricTail {
		if base, ok := strings.CutSuffix(name, tail); ok && defined[base] {
			return true
		}
	}
	return false
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestLinksStayInTheRepository checks that every relative link of the docs
// and the README leads to a file or directory of the repository.
func TestLinksStayInTheRepository(t *testing.T) {
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range markdownFiles(t) {
		for _, m := range mdLink.FindAllStringSubmatch(read(t, f), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, frag, _ := strings.Cut(target, "#")
			p := filepath.Join(abs, filepath.Dir(filepath.FromSlash(f)), filepath.FromSlash(target))
			if frag != "" && strings.HasSuffix(p, ".md") {
				if b, err := os.ReadFile(p); err == nil && !anchors(string(b))[frag] {
					t.Errorf("%s links to %s: %s has no heading or anchor #%s", f, m[1], filepath.Base(p), frag)
				}
			}
			if rel, err := filepath.Rel(abs, p); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links to %s, outside the repository", f, m[1])
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s links to %s, which does not exist", f, m[1])
			}
		}
	}
}

// TestNoReferenceOutsideTheRepository: users have the repository, not the
// project's workspace.
func TestNoReferenceOutsideTheRepository(t *testing.T) {
	for _, f := range markdownFiles(t) {
		text := read(t, f)
		for _, bad := range []string{"SPEC.md", "../shared", "DESIGN.md"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s mentions %s, which users do not have: point at docs/ instead", f, bad)
			}
		}
	}
}

// TestRegoExamplesCompile compiles every ```rego block of the docs together
// with the default policies, whose helpers the examples use.
func TestRegoExamplesCompile(t *testing.T) {
	modules := map[string]string{}
	entries, err := fs.ReadDir(policies.Files, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_test.rego") {
			continue
		}
		b, err := fs.ReadFile(policies.Files, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		modules["policies/"+e.Name()] = string(b)
	}
	n := 0
	for _, f := range markdownFiles(t) {
		for _, ex := range fencedBlocks(f, read(t, f), "rego") {
			n++
			name := fmt.Sprintf("%s:%d", f, ex.line)
			mods := map[string]string{name: ex.src}
			for k, v := range modules {
				mods[k] = v
			}
			if _, err := ast.CompileModulesWithOpt(mods, ast.CompileOpts{ParserOptions: ast.ParserOptions{RegoVersion: ast.RegoV1}}); err != nil {
				t.Errorf("the Rego example %s does not compile with the default policies: %v", name, err)
			}
		}
	}
	if n == 0 {
		t.Error("no Rego example in the docs: docs/policies.md should show how to write a rule")
	}
}

var (
	heading  = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	anchorID = regexp.MustCompile(`id="([^"]+)"`)
	notSlug  = regexp.MustCompile(`[^a-z0-9 _-]`)
)

// anchors returns the fragment names of a Markdown file as GitHub makes
// them from headings, and the explicit id attributes.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(text, -1) {
		slug := strings.ReplaceAll(notSlug.ReplaceAllString(strings.ToLower(m[1]), ""), " ", "-")
		out[slug] = true
	}
	for _, m := range anchorID.FindAllStringSubmatch(text, -1) {
		out[m[1]] = true
	}
	return out
}
