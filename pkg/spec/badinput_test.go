package spec

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

const okRouter = "router \"edge\" {\n  type   = \"builtin\"\n  listen = \"127.0.0.1:8080\"\n}\n"

// TestBadInput: every kind of hostile input gives a clear error
// diagnostic, never a panic or a hang.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string][]byte
		summary string
		file    string
	}{
		{"missing dir", map[string][]byte{"README.md": []byte("hi")}, "Spec directory not found", "rollouts"},
		{"empty dir", map[string][]byte{"rollouts/README.md": []byte("hi")}, "No spec files", "rollouts"},
		{"binary", map[string][]byte{"rollouts/x.hcl": {0x7f, 'E', 'L', 'F', 0, 0, 1, 2}}, "not UTF-8 text", "rollouts/x.hcl"},
		{"invalid utf8", map[string][]byte{"rollouts/x.hcl": []byte("router \"\xff\" {}")}, "not UTF-8 text", "rollouts/x.hcl"},
		{"too large", map[string][]byte{"rollouts/big.hcl": bytes.Repeat([]byte("# padding\n"), 1<<20)}, "Spec file too large", "rollouts/big.hcl"},
		{"nested brackets", map[string][]byte{"rollouts/x.hcl": []byte("a = " + strings.Repeat("[", 50000))}, "Nesting too deep", "rollouts/x.hcl"},
		{"nested blocks", map[string][]byte{"rollouts/x.hcl": []byte(strings.Repeat("a {\n", 50000))}, "Nesting too deep", "rollouts/x.hcl"},
		{"unary chain", map[string][]byte{"rollouts/x.hcl": []byte("a = " + strings.Repeat("!", 50000) + "true\n")}, "Nesting too deep", "rollouts/x.hcl"},
		{"conditional chain", map[string][]byte{"rollouts/x.hcl": []byte("a = " + strings.Repeat("x ? ", 50000) + "1\n")}, "Nesting too deep", "rollouts/x.hcl"},
		{"operator chain", map[string][]byte{"rollouts/x.hcl": []byte("a = 1" + strings.Repeat(" + 1", 50000) + "\n")}, "Nesting too deep", "rollouts/x.hcl"},
		{"interpolations", map[string][]byte{"rollouts/x.hcl": []byte("a = " + strings.Repeat(`"${`, 5000))}, "Nesting too deep", "rollouts/x.hcl"},
		{"syntax error", map[string][]byte{"rollouts/x.hcl": []byte(okRouter + "model \"a\" \"b\" {\n  serve = \n}\n")}, "Invalid expression", "rollouts/x.hcl"},
		{"many problems", map[string][]byte{"rollouts/x.hcl": []byte(strings.Repeat("x {}\n", 300))}, "Too many problems", "rollouts/x.hcl"},
		{"spec path is a file", map[string][]byte{"rollouts": []byte("x")}, "Spec path is not a directory", "rollouts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := LoadFiles(tc.files, "rollouts")
			if !diag.HasErrors(diags) {
				t.Fatalf("no error: %+v", diags)
			}
			for _, d := range diags {
				if strings.Contains(d.Summary, tc.summary) && d.File == tc.file {
					if d.Detail == "" {
						t.Errorf("no detail: %+v", d)
					}
					return
				}
			}
			t.Fatalf("want %q in %s, got %+v", tc.summary, tc.file, diags)
		})
	}
}

func TestLoadEmptyDirOnDisk(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "rollouts", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, diags := LoadDir(root, "rollouts")
	if len(diags) != 1 || diags[0].Summary != "No spec files" {
		t.Fatalf("got %+v", diags)
	}
}

// TestSymlinkLoop: a directory symlink pointing at its parent and a file
// symlink pointing at itself neither hang the walk nor crash it.
func TestSymlinkLoop(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "rollouts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.hcl"), []byte(okRouter), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..", filepath.Join(dir, "loop")); err != nil {
		t.Skipf("symlinks unsupported: %v", err)
	}
	if err := os.Symlink("self.hcl", filepath.Join(dir, "self.hcl")); err != nil {
		t.Fatal(err)
	}
	tree, diags := LoadDir(root, "rollouts")
	if tree.Routers["edge"] == nil {
		t.Fatalf("router not loaded: %+v", diags)
	}
	found := false
	for _, d := range diags {
		if d.File == "rollouts/self.hcl" && d.Summary == "Cannot read spec file" {
			found = true
		}
	}
	if !found {
		t.Fatalf("want a read error for the self-referencing symlink, got %+v", diags)
	}
}

func TestDidYouMeanDetail(t *testing.T) {
	_, diags := LoadFiles(map[string][]byte{"rollouts/a.hcl": []byte(okRouter + `
model "m" "s" {
  router = "edge"
  path   = "/m"
  serve  = "v1"
  version "v1" { url = "http://127.0.0.1:1" }
  rollout {
    stratgy    = "canary"
    on_failure = "rollbak"
  }
}
`)}, "")
	want := map[string]string{
		"Unsupported argument": `Did you mean "strategy"?`,
		"Unknown on_failure":   `Did you mean "rollback"?`,
	}
	for _, d := range diags {
		if w, ok := want[d.Summary]; ok {
			if !strings.Contains(d.Detail, w) {
				t.Errorf("%s: detail %q lacks %q", d.Summary, d.Detail, w)
			}
			delete(want, d.Summary)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing %v in %+v", want, diags)
	}
}

func TestLoadFromMapFSRoot(t *testing.T) {
	fsys := fstest.MapFS{"specs/a.hcl": {Data: []byte(okRouter)}}
	tree, diags := Load(fsys, "./specs/")
	if len(diags) != 0 || tree.Routers["edge"] == nil || tree.Routers["edge"].File != "specs/a.hcl" {
		t.Fatalf("got %+v %+v", tree.Routers, diags)
	}
}

func TestDiagnosticsCappedPerFile(t *testing.T) {
	_, diags := LoadFiles(map[string][]byte{
		"rollouts/a.hcl": []byte(strings.Repeat("x {}\n", 300)),
		"rollouts/b.hcl": []byte(strings.Repeat("y {}\n", 3)),
	}, "")
	if len(diags) != MaxDiagnosticsPerFile+1+3 {
		t.Fatalf("%d diagnostics", len(diags))
	}
	last := diags[MaxDiagnosticsPerFile]
	if last.Summary != "Too many problems" || last.Line != MaxDiagnosticsPerFile+1 || !strings.Contains(last.Detail, "200 more problems") {
		t.Errorf("summary diagnostic %+v", last)
	}
}
