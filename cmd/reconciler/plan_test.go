package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// commitAndTag commits what is staged in wt at a fixed time (so hashes
// are stable) with tag as its message, and tags it.
func commitAndTag(t *testing.T, repo *git.Repository, wt *git.Worktree, when time.Time, tag string) {
	t.Helper()
	sig := &object.Signature{Name: "Ada", Email: "ada@example.com", When: when}
	h, err := wt.Commit(tag, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateTag(tag, h, nil); err != nil {
		t.Fatal(err)
	}
}

// planRepo builds a repository whose history promotes fraud through
// staging into production, then tries to skip staging while deleting the
// policy that forbids it, then breaks the spec. Each commit is tagged.
// Commit times are fixed, so hashes (and goldens) are stable.
func planRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	commit := func(tag string, files map[string]*string) {
		t.Helper()
		for name, body := range files {
			if body == nil {
				if _, err := wt.Remove(name); err != nil {
					t.Fatal(err)
				}
				continue
			}
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(*body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := wt.Add(name); err != nil {
				t.Fatal(err)
			}
		}
		when = when.Add(time.Minute)
		commitAndTag(t, repo, wt, when, tag)
	}
	str := func(s string) *string { return &s }

	initial := map[string]*string{
		"rollouts/routers.hcl": str(routersHCL),
		"rollouts/fraud.hcl":   str(fraudSpec("v6", "v6", false)),
	}
	policies, err := filepath.Glob(filepath.Join(defaultPolicyDir(t), "*.rego"))
	if err != nil || len(policies) == 0 {
		t.Fatalf("no default policies: %v", err)
	}
	for _, p := range policies {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		initial["policies/"+filepath.Base(p)] = str(string(b))
	}
	commit("initial", initial)
	commit("staging-v7", map[string]*string{"rollouts/fraud.hcl": str(fraudSpec("v7", "v6", false))})
	commit("prod-v7", map[string]*string{"rollouts/fraud.hcl": str(fraudSpec("v7", "v7", false))})
	commit("prod-v8-skip", map[string]*string{
		"rollouts/fraud.hcl":      str(fraudSpec("v7", "v8", true)),
		"policies/promotion.rego": nil,
	})
	commit("broken", map[string]*string{
		"rollouts/fraud.hcl": str(strings.Replace(fraudSpec("v7", "v8", true), "strategy", "stratgy", 1)),
	})
	// Staging serves v8 (declared with a validation), production v7.
	staged := strings.Replace(fraudSpec("v7", "v7", true), `version "v7" { url = "http://127.0.0.1:9102" }`,
		`version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" {
    url = "http://127.0.0.1:9103"
    validation {
      dataset = "datasets/holdout.jsonl"
      metric  = "accuracy"
      min     = 0.9
    }
  }`, 1)
	staged = strings.Replace(staged, `serve  = "v7"`, `serve  = "v8"`, 1)
	commit("staged-v8", map[string]*string{
		"rollouts/fraud.hcl":      str(staged),
		"datasets/holdout.jsonl":  str("{\"input\": 1, \"expected\": 1}\n"),
		"policies/promotion.rego": initial["policies/promotion.rego"],
	})
	commit("validated-v8", map[string]*string{
		"rollouts/fraud.hcl": str(strings.Replace(staged, `serve  = "v7"`, `serve  = "v8"`, 1)),
	})
	return dir
}

// fraudSpec is the fraud model at staging and production; withV8 adds v8
// to production.
func fraudSpec(staging, production string, withV8 bool) string {
	v8 := ""
	if withV8 {
		v8 = "\n  version \"v8\" { url = \"https://fraud-v8.internal\" }"
	}
	return `model "fraud" "staging" {
  router = "edge"
  path   = "/staging/fraud"
  serve  = "` + staging + `"

  version "v6" { url = "http://127.0.0.1:9101" }
  version "v7" { url = "http://127.0.0.1:9102" }
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "` + production + `"

  version "v6" { url = "https://fraud-v6.internal" }
  version "v7" { url = "https://fraud-v7.internal" }` + v8 + `

  rollout {
    strategy      = "canary"
    steps         = [5, 25, 50]
    bake          = "1m"
    interval      = "10s"
    failure_limit = 1
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.01
    min_requests = 50
  }
  check "latency" {
    metric    = "latency_p99"
    max_ratio = 1.2
  }
}
`
}

func TestPlan(t *testing.T) {
	repo := planRepo(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string // file under testdata/plan at the repository root
		stdout string
		stderr string
	}{
		{name: "promote text", args: []string{"--base", "staging-v7", "--head", "prod-v7"}, code: exitOK, golden: "promote.txt"},
		{name: "promote json", args: []string{"--base", "staging-v7", "--head", "prod-v7", "--format", "json"}, code: exitOK, golden: "promote.json"},
		{name: "promote markdown", args: []string{"--base", "staging-v7", "--head", "prod-v7", "--format", "markdown"}, code: exitOK, golden: "promote.md"},
		{name: "staging and production at once", args: []string{"--base", "initial", "--head", "prod-v7"}, code: exitInvalid, golden: "skip-staging.txt"},
		{
			name:   "policies come from the base",
			args:   []string{"--base", "prod-v7", "--head", "prod-v8-skip", "--format", "markdown"},
			code:   exitInvalid,
			golden: "head-deletes-policy.md",
			stdout: "staging_first",
		},
		{name: "head with a spec error", args: []string{"--base", "prod-v8-skip", "--head", "broken"}, code: exitInvalid, stdout: `An argument named "stratgy" is not expected here`},
		{name: "no changes", args: []string{"--base", "prod-v7", "--head", "prod-v7"}, code: exitOK, stdout: "No changes"},
		{name: "head defaults to HEAD", args: []string{"--base", "HEAD~1"}, code: exitInvalid, stdout: "→ HEAD ("},
		{name: "unknown base", args: []string{"--base", "nope"}, code: exitUsage, stderr: `--base: resolve revision "nope"`},
		{name: "unknown head", args: []string{"--base", "HEAD", "--head", "nope"}, code: exitUsage, stderr: `--head`},
		{name: "missing base", args: nil, code: exitUsage, stderr: "--base is required"},
		{name: "unknown format", args: []string{"--base", "HEAD", "--format", "yaml"}, code: exitUsage, stderr: "unknown --format"},
		{name: "explicit policies missing at base", args: []string{"--base", "prod-v7", "--policies", "nope"}, code: exitUsage, stderr: "nope"},
		{name: "spec dir missing at head", args: []string{"--base", "prod-v7", "--path", "nope"}, code: exitUsage, stderr: "spec directory nope not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCommand(t, cmdPlan, append([]string{"--repo", repo}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout does not contain %q:\n%s", tt.stdout, stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.stderr, stderr)
			}
			if tt.golden != "" {
				// Commit ids depend on every byte of the test repository,
				// the default policies included: the goldens show them masked.
				masked := shortSHA.ReplaceAllString(stdout, "(SHA)")
				checkGolden(t, filepath.Join("..", "..", "testdata", "plan", tt.golden), []byte(masked))
			}
		})
	}
}

var shortSHA = regexp.MustCompile(`\([0-9a-f]{7}\)`)

func TestPlanEvidence(t *testing.T) {
	repo := planRepo(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// validated-v8 declares validation on v8 in production and stages v8.
	tests := []struct {
		evidence string
		code     int
		stdout   string
		stderr   string
	}{
		{"", exitInvalid, "has no validation evidence", ""},
		{write("failed.json", `{"fraud/staging/v8": {"validation": {"passed": false}}}`), exitInvalid, "failed its offline validation", ""},
		{write("passed.json", `{"fraud/staging/v8": {"validation": {"passed": true, "metric": "accuracy", "value": 0.95}}}`), exitOK, "Valid", ""},
		{write("bad.json", `[1, 2]`), exitUsage, "", "not a JSON object"},
		{filepath.Join(dir, "missing.json"), exitUsage, "", "--evidence"},
	}
	for _, tt := range tests {
		args := []string{"--repo", repo, "--base", "staged-v8", "--head", "validated-v8"}
		if tt.evidence != "" {
			args = append(args, "--evidence", tt.evidence)
		}
		code, stdout, stderr := runCommand(t, cmdPlan, args...)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("evidence %s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", filepath.Base(tt.evidence), code, tt.code, stdout, stderr)
		}
	}
}

func TestPlanNotARepository(t *testing.T) {
	code, _, stderr := runCommand(t, cmdPlan, "--repo", t.TempDir(), "--base", "HEAD")
	if code != exitUsage || !strings.Contains(stderr, "open Git repository") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
