package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/switchyard-dev/switchyard/pkg/policy/policytest"
)

// TestInitWritesARepositoryThatValidates runs init into an empty directory,
// compares its listing with the golden file, validates what it wrote with
// its own policies and runs those policies' Rego tests.
func TestInitWritesARepositoryThatValidates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "models")
	code, stdout, stderr := runCommand(t, cmdInit, dir)
	if code != exitOK {
		t.Fatalf("init: exit %d, stderr:\n%s", code, stderr)
	}
	checkGolden(t, filepath.Join("testdata", "init", "listing.txt"), []byte(strings.ReplaceAll(stdout, dir, "DIR")))
	for _, p := range []string{"rollouts/fraud.hcl", "policies/rollout.rego", "datasets/fraud-holdout.jsonl", ".github/workflows/switchyard.yml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("init did not write %s: %v", p, err)
		}
	}

	code, stdout, stderr = runCommand(t, cmdValidate, "--repo", dir, "--format", "json")
	if code != exitOK {
		t.Fatalf("validate of the new repository: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, `"valid": true`) || !strings.Contains(stdout, `"warnings": 0`) {
		t.Errorf("validate of the new repository is not clean:\n%s", stdout)
	}
	if strings.Contains(stderr, "policies") && strings.Contains(stderr, "skipp") {
		t.Errorf("validate skipped the policies init wrote:\n%s", stderr)
	}
	if code, out, errOut := runCommand(t, cmdFmt, "--check", filepath.Join(dir, "rollouts")); code != exitOK {
		t.Errorf("the specs init writes are not in canonical format: exit %d\n%s%s", code, out, errOut)
	}
	policytest.Run(t, filepath.Join(dir, "policies"))
}

// TestInitRefusesToOverwrite checks that a second run writes nothing and
// names every file it would overwrite, and that --force overwrites.
func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCommand(t, cmdInit, dir); code != exitOK {
		t.Fatalf("first init: exit %d\n%s", code, stderr)
	}
	spec := filepath.Join(dir, "rollouts", "fraud.hcl")
	mine := []byte("# my own spec\n")
	if err := os.WriteFile(spec, mine, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "datasets", "fraud-holdout.jsonl")); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCommand(t, cmdInit, dir)
	if code != exitUsage {
		t.Fatalf("second init: exit %d, want %d\n%s", code, exitUsage, stderr)
	}
	if stdout != "" {
		t.Errorf("second init printed to stdout: %q", stdout)
	}
	for _, p := range []string{"rollouts/fraud.hcl", "policies/rollout.rego", ".github/workflows/switchyard.yml", "--force"} {
		if !strings.Contains(stderr, p) {
			t.Errorf("the refusal does not name %s:\n%s", p, stderr)
		}
	}
	if strings.Contains(stderr, "datasets/fraud-holdout.jsonl") {
		t.Errorf("the refusal names a file that does not exist:\n%s", stderr)
	}
	if got, _ := os.ReadFile(spec); string(got) != string(mine) {
		t.Errorf("the refused init changed rollouts/fraud.hcl: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "datasets", "fraud-holdout.jsonl")); err == nil {
		t.Error("the refused init wrote a missing file: it must write nothing")
	}

	if code, _, stderr := runCommand(t, cmdInit, dir, "--force"); code != exitOK {
		t.Fatalf("init --force: exit %d\n%s", code, stderr)
	}
	if got, _ := os.ReadFile(spec); string(got) == string(mine) {
		t.Error("init --force did not overwrite rollouts/fraud.hcl")
	}
	if code, out, errOut := runCommand(t, cmdValidate, "--repo", dir); code != exitOK {
		t.Errorf("validate after init --force: exit %d\n%s%s", code, out, errOut)
	}
}

func TestInitUsage(t *testing.T) {
	if code, _, _ := runCommand(t, cmdInit, "a", "b"); code != exitUsage {
		t.Errorf("init with two directories: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := runCommand(t, cmdInit, "--nope"); code != exitUsage {
		t.Errorf("init with an unknown flag: exit %d, want %d", code, exitUsage)
	}
}

// TestInitRepositoryPromotesThroughStaging plays the story the example is
// for, with its own policies: staging takes v2, production may follow only
// with v2's validation evidence.
func TestInitRepositoryPromotesThroughStaging(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCommand(t, cmdInit, dir); code != exitOK {
		t.Fatalf("init: exit %d\n%s", code, stderr)
	}
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	commit := func(tag string) {
		t.Helper()
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			t.Fatal(err)
		}
		when = when.Add(time.Minute)
		commitAndTag(t, repo, wt, when, tag)
	}
	spec := filepath.Join(dir, "rollouts", "fraud.hcl")
	promote := func(stage string) {
		t.Helper()
		b, err := os.ReadFile(spec)
		if err != nil {
			t.Fatal(err)
		}
		head := `model "fraud" "` + stage + `" {`
		i := strings.Index(string(b), head)
		j := strings.Index(string(b[i:]), `serve  = "v1"`)
		if i < 0 || j < 0 {
			t.Fatalf("the example has no %s model serving v1:\n%s", stage, b)
		}
		out := string(b[:i+j]) + `serve  = "v2"` + string(b[i+j+len(`serve  = "v1"`):])
		if err := os.WriteFile(spec, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	commit("init")
	promote("staging")
	commit("staging-v2")
	promote("production")
	commit("production-v2")

	if code, out, errOut := runCommand(t, cmdPlan, "--repo", dir, "--base", "init", "--head", "staging-v2"); code != exitOK {
		t.Errorf("plan of the staging promotion: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runCommand(t, cmdPlan, "--repo", dir, "--base", "staging-v2", "--head", "production-v2")
	if code != exitInvalid || !strings.Contains(out+errOut, "validation_evidence") {
		t.Errorf("plan of the production promotion without evidence: exit %d, want %d and a validation_evidence denial\n%s%s", code, exitInvalid, out, errOut)
	}
	evidence := filepath.Join(t.TempDir(), "evidence.json")
	if err := os.WriteFile(evidence, []byte(`{"fraud/staging/v2": {"validation": {"passed": true, "metric": "accuracy", "value": 0.95}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCommand(t, cmdPlan, "--repo", dir, "--base", "staging-v2", "--head", "production-v2", "--evidence", evidence); code != exitOK {
		t.Errorf("plan of the production promotion with evidence: exit %d\n%s%s", code, out, errOut)
	} else if !strings.Contains(out, "canary") {
		t.Errorf("the production plan does not describe the canary:\n%s", out)
	}
}

// TestInitNotifyExampleValidatesUncommented keeps the commented examples
// true: every block commented out in rollouts/ (the notify block), all
// uncommented at once, validates cleanly.
func TestInitNotifyExampleValidatesUncommented(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCommand(t, cmdInit, dir); code != exitOK {
		t.Fatalf("init: exit %d\n%s", code, stderr)
	}
	files, err := filepath.Glob(filepath.Join(dir, "rollouts", "*.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rollouts/*.hcl: %v", err)
	}
	var all strings.Builder
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "# "); ok && (strings.HasPrefix(rest, "notify") || strings.HasPrefix(rest, " ") || rest == "}") {
				line = rest
			}
			out = append(out, line)
		}
		uncommented := strings.Join(out, "\n")
		if err := os.WriteFile(p, []byte(uncommented), 0o644); err != nil {
			t.Fatal(err)
		}
		all.WriteString(uncommented)
	}
	if n := strings.Count(all.String(), "\nnotify \"ops\" {"); n != 1 {
		t.Fatalf("%d notify blocks to uncomment in rollouts/, want one (in notify.hcl):\n%s", n, all.String())
	}
	code, stdout, stderr := runCommand(t, cmdValidate, "--repo", dir, "--format", "json")
	if code != exitOK || !strings.Contains(stdout, `"warnings": 0`) {
		t.Errorf("the uncommented examples do not validate cleanly: exit %d\n%s%s\n%s", code, stdout, stderr, all.String())
	}
}
