package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The -update flag rewrites golden files. It is registered in init, after
// every package-level flag.Bool, so another test file of this package may
// declare it too.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updatingGoldens() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// checkGolden compares got with the golden file path (relative to this
// package), or rewrites it under -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if updatingGoldens() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// runCommand runs a command function with captured output.
func runCommand(t *testing.T, cmd func(context.Context, *env, []string) int, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := cmd(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// defaultPolicyDir is the repository's policies/, absolute.
func defaultPolicyDir(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../policies")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// specTree writes files into a new directory and returns it.
func specTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, src := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const routersHCL = `router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}
`

const fraudProduction = `model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"

  version "v6" { url = "https://fraud-v6.internal" }
  version "v7" { url = "https://fraud-v7.internal" }

  rollout {
    strategy = "canary"
    steps    = [%s]
    bake     = "%s"
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.01
    min_requests = 50
  }
}
`

func fraud(steps, bake string) string {
	return strings.Replace(strings.Replace(fraudProduction, "%s", steps, 1), "%s", bake, 1)
}

func TestValidate(t *testing.T) {
	pols := defaultPolicyDir(t)
	tests := []struct {
		name   string
		files  map[string]string
		args   []string // after --repo ROOT
		code   int
		golden string // file under testdata/validate, "" for none
		stdout string // substring expected on stdout
		stderr string // substring expected on stderr
	}{
		{
			name:   "valid",
			files:  map[string]string{"rollouts/routers.hcl": routersHCL, "rollouts/fraud.hcl": fraud("5, 25, 50", "1m")},
			args:   []string{"--policies", pols},
			code:   exitOK,
			stdout: "Success! 1 model valid, 0 warnings.",
		},
		{
			name:   "warnings alone pass",
			files:  map[string]string{"rollouts/routers.hcl": routersHCL, "rollouts/fraud.hcl": fraud("5, 25, 50", "15s")},
			args:   []string{"--policies", pols},
			code:   exitOK,
			golden: "warning.txt",
		},
		{
			name:   "policy denial",
			files:  map[string]string{"rollouts/routers.hcl": routersHCL, "rollouts/fraud.hcl": fraud("25, 50", "15s")},
			args:   []string{"--policies", pols},
			code:   exitInvalid,
			golden: "denied.txt",
		},
		{
			name:   "policy denial json",
			files:  map[string]string{"rollouts/routers.hcl": routersHCL, "rollouts/fraud.hcl": fraud("25, 50", "15s")},
			args:   []string{"--policies", pols, "--format", "json", "--offline"},
			code:   exitInvalid,
			golden: "denied.json",
		},
		{
			name: "spec error skips policies",
			files: map[string]string{"rollouts/routers.hcl": routersHCL,
				"rollouts/fraud.hcl": strings.Replace(fraud("25, 50", "1m"), `serve  = "v7"`, `serve  = "v9"`, 1)},
			args:   []string{"--policies", pols, "--format", "json"},
			code:   exitInvalid,
			golden: "spec-error.json",
		},
		{
			name: "policies from the repository by default",
			files: map[string]string{"rollouts/routers.hcl": routersHCL, "rollouts/fraud.hcl": fraud("5", "1m"),
				"policies/strict.rego": "package switchyard\n\ndeny contains \"no models allowed\" if count(input.models) > 0\n"},
			code:   exitInvalid,
			stdout: "Error: no models allowed",
		},
		{
			name: "spec error text says policies wait",
			files: map[string]string{"rollouts/routers.hcl": routersHCL,
				"rollouts/fraud.hcl": strings.Replace(fraud("25, 50", "1m"), `serve  = "v7"`, `serve  = "v9"`, 1)},
			args:   []string{"--policies", pols},
			code:   exitInvalid,
			stdout: "Invalid: 1 error, 0 warnings. Policies are checked once the specs are valid.",
		},
		{
			name: "policies outside the repository, relative to it",
			files: map[string]string{"repo/rollouts/routers.hcl": routersHCL, "repo/rollouts/fraud.hcl": fraud("5", "1m"),
				"shared/strict.rego": "package switchyard\n\ndeny contains \"shared policy\" if true\n"},
			args:   []string{"--repo", "repo", "--policies", "../shared"},
			code:   exitInvalid,
			stdout: "Error: shared policy",
		},
		{
			name:   "missing default policies are skipped",
			files:  map[string]string{"rollouts/routers.hcl": routersHCL, "rollouts/fraud.hcl": fraud("25", "1m")},
			code:   exitOK,
			stderr: "no policy directory policies, policies skipped",
		},
		{
			name:   "missing explicit policies",
			files:  map[string]string{"rollouts/routers.hcl": routersHCL, "rollouts/fraud.hcl": fraud("5", "1m")},
			args:   []string{"--policies", "nope"},
			code:   exitUsage,
			stderr: "nope",
		},
		{
			name: "policy that does not compile",
			files: map[string]string{"rollouts/routers.hcl": routersHCL, "rollouts/fraud.hcl": fraud("5", "1m"),
				"policies/ok.rego":     "package switchyard\n",
				"policies/broken.rego": "package switchyard\n\ndeny contains msg if {\n\tmsg := input.x +\n}\n"},
			code:   exitUsage,
			stderr: "on policies/broken.rego line 5",
		},
		{
			name:   "missing spec directory",
			files:  map[string]string{"README.md": "hi\n"},
			code:   exitUsage,
			stderr: "spec directory rollouts not found",
		},
		{
			name:   "spec path elsewhere",
			files:  map[string]string{"specs/routers.hcl": routersHCL, "specs/fraud.hcl": fraud("5", "1m")},
			args:   []string{"--path", "specs", "--policies", pols},
			code:   exitOK,
			stdout: "Success!",
		},
		{
			name:   "unknown format",
			files:  map[string]string{"rollouts/routers.hcl": routersHCL},
			args:   []string{"--format", "yaml"},
			code:   exitUsage,
			stderr: "unknown --format",
		},
		{
			name:   "stray argument",
			files:  map[string]string{"rollouts/routers.hcl": routersHCL},
			args:   []string{"extra"},
			code:   exitUsage,
			stderr: "unexpected argument",
		},
		{
			name:   "path outside the repository",
			files:  map[string]string{"rollouts/routers.hcl": routersHCL},
			args:   []string{"--path", "../x"},
			code:   exitUsage,
			stderr: "outside the repository",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := specTree(t, tt.files)
			args := append([]string{"--repo", root}, tt.args...)
			if len(tt.args) > 1 && tt.args[0] == "--repo" {
				args = append([]string{"--repo", filepath.Join(root, tt.args[1])}, tt.args[2:]...)
			}
			code, stdout, stderr := runCommand(t, cmdValidate, args...)
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
				checkGolden(t, filepath.Join("testdata", "validate", tt.golden), []byte(stdout))
			}
		})
	}
}

func TestValidateMissingRepo(t *testing.T) {
	code, _, stderr := runCommand(t, cmdValidate, "--repo", filepath.Join(t.TempDir(), "nope"))
	if code != exitUsage || !strings.Contains(stderr, "--repo") {
		t.Errorf("exit %d, stderr %q; want 2 naming --repo", code, stderr)
	}
}
