package spec

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

var update = flag.Bool("update", false, "rewrite golden files")

// expectRE matches "# ERROR: <summary substring>" or "# WARNING: ..." at the
// end of a line; several may follow each other on one line.
var expectRE = regexp.MustCompile(`#\s*(ERROR|WARNING):\s*(.*?)\s*(?:$|#\s*(?:ERROR|WARNING):)`)

type expectation struct {
	file     string
	line     int
	severity diag.Severity
	summary  string
}

func (e expectation) String() string {
	return fmt.Sprintf("%s:%d %s %q", e.file, e.line, e.severity, e.summary)
}

// parseExpectations collects the expected diagnostics written in a fixture.
func parseExpectations(name string, src []byte) []expectation {
	var out []expectation
	for i, line := range strings.Split(string(src), "\n") {
		rest := line
		for {
			j := strings.Index(rest, "# ERROR:")
			k := strings.Index(rest, "# WARNING:")
			if j < 0 || (k >= 0 && k < j) {
				j = k
			}
			if j < 0 {
				break
			}
			m := expectRE.FindStringSubmatch(rest[j:])
			if m == nil {
				break
			}
			sev := diag.Error
			if m[1] == "WARNING" {
				sev = diag.Warning
			}
			out = append(out, expectation{file: name, line: i + 1, severity: sev, summary: m[2]})
			rest = rest[j+1:]
		}
	}
	return out
}

// invalidCase loads one case of testdata/invalid: a .hcl file, or a
// directory of them, placed under rollouts/ in an in-memory repository that
// also holds datasets/present.jsonl.
func invalidCase(t *testing.T, path string) (map[string][]byte, *Tree, []diag.Diagnostic) {
	t.Helper()
	files := map[string][]byte{"datasets/present.jsonl": []byte(`{"input": 1, "expected": 1}` + "\n")}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{path}
	if info.IsDir() {
		paths, _ = filepath.Glob(filepath.Join(path, "*.hcl"))
	}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files["rollouts/"+filepath.Base(p)] = src
	}
	tree, diags := LoadFiles(files, "rollouts")
	return files, tree, diags
}

func TestInvalidCases(t *testing.T) {
	cases, _ := filepath.Glob("../../testdata/invalid/*")
	if len(cases) < 30 {
		t.Fatalf("found %d invalid cases, want at least 30", len(cases))
	}
	for _, c := range cases {
		name := strings.TrimSuffix(filepath.Base(c), ".hcl")
		t.Run(name, func(t *testing.T) {
			files, tree, diags := invalidCase(t, c)
			var want []expectation
			for f, src := range files {
				if strings.HasSuffix(f, ".hcl") {
					want = append(want, parseExpectations(f, src)...)
				}
			}
			if len(want) == 0 {
				t.Fatal("the case expects no diagnostic: add # ERROR: <summary> comments")
			}
			var unexpected []string
			used := make([]bool, len(want))
		next:
			for _, d := range diags {
				if d.Line == 0 || d.File == "" {
					t.Errorf("diagnostic without a position: %+v", d)
				}
				if d.Detail == "" {
					t.Errorf("diagnostic without detail: %+v", d)
				}
				if src, ok := tree.Sources[d.File]; !ok || d.Line > bytes.Count(src, []byte("\n"))+1 {
					t.Errorf("diagnostic outside its file: %+v", d)
				}
				for i, w := range want {
					if !used[i] && w.file == d.File && w.line == d.Line && w.severity == d.Severity && strings.Contains(d.Summary, w.summary) {
						used[i] = true
						continue next
					}
				}
				unexpected = append(unexpected, fmt.Sprintf("%s:%d %s %q (%s)", d.File, d.Line, d.Severity, d.Summary, d.Detail))
			}
			var missing []string
			for i, w := range want {
				if !used[i] {
					missing = append(missing, w.String())
				}
			}
			sort.Strings(missing)
			if len(unexpected) > 0 || len(missing) > 0 {
				var b bytes.Buffer
				_ = diag.WriteText(&b, diags, tree.Sources)
				t.Errorf("unexpected diagnostics:\n  %s\nmissing diagnostics:\n  %s\nall:\n%s",
					strings.Join(unexpected, "\n  "), strings.Join(missing, "\n  "), b.String())
			}
		})
	}
}

// TestRenderGolden pins the text rendering of a few cases.
func TestRenderGolden(t *testing.T) {
	for _, name := range []string{"typos.hcl", "duplicate_across_files", "canary_steps.hcl"} {
		t.Run(name, func(t *testing.T) {
			_, tree, diags := invalidCase(t, filepath.Join("../../testdata/invalid", name))
			var b bytes.Buffer
			if err := diag.WriteText(&b, diags, tree.Sources); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "render", strings.TrimSuffix(name, ".hcl")+".txt")
			if *update {
				_ = os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("rendering differs from %s (run go test -update):\n%s", golden, b.String())
			}
		})
	}
}
