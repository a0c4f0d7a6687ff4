package scaffold

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"testing/fstest"
)

func TestFilesHoldTheTemplateAndThePolicies(t *testing.T) {
	pol := fstest.MapFS{"rules.rego": {Data: []byte("package switchyard\n")}}
	files, err := Files(pol)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	var order []string
	for _, f := range files {
		paths[f.Path] = true
		order = append(order, f.Path)
		if len(f.Data) == 0 {
			t.Errorf("%s is empty", f.Path)
		}
	}
	for _, want := range []string{".github/workflows/switchyard.yml", "rollouts/fraud.hcl", "rollouts/routers.hcl",
		"datasets/fraud-holdout.jsonl", "policies/rules.rego"} {
		if !paths[want] {
			t.Errorf("Files lacks %s (has %v)", want, order)
		}
	}
	if !sort.StringsAreSorted(order) {
		t.Errorf("Files are not sorted by path: %v", order)
	}
}

func TestWriteRefusesAnyExistingFile(t *testing.T) {
	dir := t.TempDir()
	files := []File{{Path: "a/one.txt", Data: []byte("1"), Mode: 0o644}, {Path: "b/two.txt", Data: []byte("2"), Mode: 0o644}}
	if err := os.MkdirAll(filepath.Join(dir, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b", "two.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Write(dir, files, false)
	var exist *ExistsError
	if !errors.As(err, &exist) || len(exist.Paths) != 1 || exist.Paths[0] != "b/two.txt" {
		t.Fatalf("Write = %v, want an ExistsError naming b/two.txt", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "one.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused Write wrote a/one.txt (stat: %v)", err)
	}
	if err := Write(dir, files, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "b", "two.txt")); string(b) != "2" {
		t.Errorf("Write with force left %q", b)
	}
}
