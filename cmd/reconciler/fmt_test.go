package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const unformatted = `router "edge" {
type = "builtin"
    listen="127.0.0.1:8080"
}
`

const formatted = `router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}
`

func runFmt(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	t.Chdir(dir)
	code := cmdFmt(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, src := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFmtRewrites(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"rollouts/a.hcl":      unformatted,
		"rollouts/sub/b.hcl":  formatted,
		"rollouts/notes.txt":  unformatted,
		"rollouts/.git/x.hcl": unformatted,
	})
	code, out, errs := runFmt(t, root)
	if code != exitOK || out != "rollouts/a.hcl\n" {
		t.Fatalf("code %d, stdout %q, stderr %q", code, out, errs)
	}
	if got := read(t, filepath.Join(root, "rollouts/a.hcl")); got != formatted {
		t.Errorf("a.hcl not formatted:\n%s", got)
	}
	if got := read(t, filepath.Join(root, "rollouts/notes.txt")); got != unformatted {
		t.Error("a non-.hcl file was changed")
	}
	if got := read(t, filepath.Join(root, "rollouts/.git/x.hcl")); got != unformatted {
		t.Error("a file in a hidden directory was changed")
	}
	// Formatting again changes nothing.
	code, out, _ = runFmt(t, root)
	if code != exitOK || out != "" {
		t.Fatalf("second run: code %d, stdout %q", code, out)
	}
}

func TestFmtCheck(t *testing.T) {
	root := writeFiles(t, map[string]string{"specs/a.hcl": unformatted, "specs/b.hcl": formatted, "other.hcl": unformatted})
	code, out, errs := runFmt(t, root, "--check", "specs", "other.hcl")
	if code != exitInvalid || out != "other.hcl\nspecs/a.hcl\n" || !strings.Contains(errs, "2 file(s) need formatting") {
		t.Fatalf("code %d, stdout %q, stderr %q", code, out, errs)
	}
	if got := read(t, filepath.Join(root, "specs/a.hcl")); got != unformatted {
		t.Error("--check changed a file")
	}
	code, out, _ = runFmt(t, root, "--check", "specs/b.hcl")
	if code != exitOK || out != "" {
		t.Fatalf("formatted file: code %d, stdout %q", code, out)
	}
}

func TestFmtSyntaxError(t *testing.T) {
	broken := "router \"edge\" {\n  type = \n}\n"
	root := writeFiles(t, map[string]string{"rollouts/bad.hcl": broken, "rollouts/good.hcl": unformatted})
	code, out, errs := runFmt(t, root)
	if code != exitInvalid {
		t.Fatalf("code %d, want %d", code, exitInvalid)
	}
	if !strings.Contains(errs, "Error: Invalid expression") || !strings.Contains(errs, "on rollouts/bad.hcl line 2") {
		t.Errorf("stderr lacks the diagnostic:\n%s", errs)
	}
	if got := read(t, filepath.Join(root, "rollouts/bad.hcl")); got != broken {
		t.Error("a broken file was rewritten")
	}
	if out != "rollouts/good.hcl\n" || read(t, filepath.Join(root, "rollouts/good.hcl")) != formatted {
		t.Errorf("the good file should still be formatted: stdout %q", out)
	}
}

func TestFmtBadInput(t *testing.T) {
	root := writeFiles(t, map[string]string{"rollouts/bin.hcl": "\x00\x01\x02"})
	if code, _, errs := runFmt(t, root); code != exitInvalid || !strings.Contains(errs, "not UTF-8 text") {
		t.Errorf("binary file: code %d, stderr %q", code, errs)
	}
	if code, _, errs := runFmt(t, root, "missing"); code != exitUsage || !strings.Contains(errs, "cannot read missing") {
		t.Errorf("missing path: code %d, stderr %q", code, errs)
	}
	if code, _, _ := runFmt(t, root, "--nope"); code != exitUsage {
		t.Errorf("unknown flag: code %d", code)
	}
}
