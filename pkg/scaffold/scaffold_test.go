package scaffold

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
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

// TestWorkflowUsesTheActionsInputs checks the workflow init writes against
// action.yml: it uses the action, and every `with:` key is an input.
func TestWorkflowUsesTheActionsInputs(t *testing.T) {
	action, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]bool{}
	in := false
	for _, line := range strings.Split(string(action), "\n") {
		switch {
		case line == "inputs:":
			in = true
		case len(line) > 0 && line[0] != ' ':
			in = false
		case in && strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") && strings.HasSuffix(line, ":"):
			inputs[strings.TrimSuffix(strings.TrimSpace(line), ":")] = true
		}
	}
	if !inputs["path"] || !inputs["policies"] {
		t.Fatalf("could not read action.yml's inputs: %v", inputs)
	}
	wf, err := template.ReadFile("template/.github/workflows/switchyard.yml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(wf), "\n")
	uses := 0
	for i, line := range lines {
		if strings.TrimSpace(line) != "- uses: switchyard-dev/switchyard@v1" {
			continue
		}
		uses++
		indent := len(line) - len(strings.TrimLeft(line, " ")) + 2
		if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "with:" {
			continue
		}
		for _, l := range lines[i+2:] {
			trimmed := strings.TrimSpace(l)
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			if len(l)-len(strings.TrimLeft(l, " ")) <= indent {
				break
			}
			key, _, _ := strings.Cut(trimmed, ":")
			if !inputs[key] {
				t.Errorf("the workflow passes %q to the action, which action.yml does not take (inputs: %v)", key, inputs)
			}
		}
	}
	if uses != 2 {
		t.Errorf("the workflow uses the action %d times, want 2 (plan and rollback jobs)", uses)
	}
}

func TestExistingNamesAFileWhereADirectoryIsNeeded(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rollouts"), []byte("oops"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Existing(dir, []File{{Path: "rollouts/fraud.hcl"}})
	if err == nil || !strings.Contains(err.Error(), "rollouts is a file") {
		t.Errorf("Existing = %v, want an error naming rollouts as a file", err)
	}
	err = Write(dir, []File{{Path: "rollouts/fraud.hcl", Data: []byte("x"), Mode: 0o644}}, true)
	if err == nil || !strings.Contains(err.Error(), "rollouts is a file") {
		t.Errorf("Write with force = %v, want an error naming rollouts as a file", err)
	}
}
