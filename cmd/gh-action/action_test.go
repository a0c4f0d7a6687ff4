package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"go.yaml.in/yaml/v3"
)

// actionYAML is the part of action.yml this test reads.
type actionYAML struct {
	Inputs  map[string]struct{ Default string }
	Outputs map[string]struct{ Value string }
	Runs    struct {
		Using string
		Steps []struct {
			ID               string
			Uses             string
			With             map[string]string
			Run              string
			Shell            string
			WorkingDirectory string `yaml:"working-directory"`
			Env              map[string]string
		}
	}
}

func readActionYAML(t *testing.T) actionYAML {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionYAML
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return a
}

// TestActionYAML checks that action.yml declares the inputs and outputs
// the program reads and writes, and hands every input to it.
func TestActionYAML(t *testing.T) {
	a := readActionYAML(t)
	if a.Runs.Using != "composite" || len(a.Runs.Steps) != 3 {
		t.Fatalf("runs: %+v", a.Runs)
	}
	var inputs []string
	for k := range a.Inputs {
		inputs = append(inputs, k)
	}
	sort.Strings(inputs)
	if got := strings.Join(inputs, " "); got != "comment fail-on-warn github-token offline-validation path policies record-verdicts" {
		t.Fatalf("inputs: %s", got)
	}
	if a.Inputs["github-token"].Default != "${{ github.token }}" {
		t.Errorf("github-token default %q", a.Inputs["github-token"].Default)
	}
	for _, o := range []string{"valid", "changes", "plan", "pull-request"} {
		if a.Outputs[o].Value != "${{ steps.switchyard.outputs."+o+" }}" {
			t.Errorf("output %s: %q", o, a.Outputs[o].Value)
		}
	}
	setup, build, run := a.Runs.Steps[0], a.Runs.Steps[1], a.Runs.Steps[2]
	if !strings.HasPrefix(setup.Uses, "actions/setup-go@") || setup.With["go-version-file"] != "${{ github.action_path }}/go.mod" {
		t.Errorf("setup step: %+v", setup)
	}
	if build.WorkingDirectory != "${{ github.action_path }}" || !strings.Contains(build.Run, "./cmd/gh-action") {
		t.Errorf("build step: %+v", build)
	}
	if run.ID != "switchyard" || run.Run != `"$RUNNER_TEMP/gh-action"` {
		t.Errorf("run step: %+v", run)
	}
	for name := range a.Inputs {
		key := "SWITCHYARD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if run.Env[key] != "${{ inputs."+name+" }}" {
			t.Errorf("input %s is not passed as %s: %q", name, key, run.Env[key])
		}
	}
}

// TestActionRunsTheBinary builds the program with action.yml's own build
// command and runs it as the run step does, on a pull request against a
// fake GitHub API.
func TestActionRunsTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	if _, err := os.Stat(goBin); err != nil {
		t.Skip("the go command is not available")
	}
	a := readActionYAML(t)
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	runnerTemp := t.TempDir()
	env := append(os.Environ(), "RUNNER_TEMP="+runnerTemp, "PATH="+filepath.Dir(goBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if raceEnabled { // build in the mode whose packages the test build cached
		env = append(env, "GOFLAGS=-race "+os.Getenv("GOFLAGS"))
	}
	build := exec.Command(bash, "-e", "-c", a.Runs.Steps[1].Run)
	build.Dir, build.Env = root, env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build step: %v\n%s", err, out)
	}

	// A workspace whose pull request touches no model.
	ws := t.TempDir()
	repo, err := git.PlainInit(ws, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	commit := func(name, content string) string {
		os.MkdirAll(filepath.Dir(filepath.Join(ws, name)), 0o755)
		os.WriteFile(filepath.Join(ws, name), []byte(content), 0o644)
		wt.Add(name)
		sig := &object.Signature{Name: "Mona", Email: "mona@example.com", When: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
		h, err := wt.Commit("c "+name, &git.CommitOptions{Author: sig, Committer: sig})
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	base := commit("rollouts/fraud.hcl", `router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "fraud" "staging" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v1"

  version "v1" { url = "http://127.0.0.1:9101" }
}
`)
	head := commit("README.md", "# models\n")

	var mu sync.Mutex
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		switch {
		case r.Method == "GET" && r.URL.Path == "/repos/octo-org/models/issues/42/comments":
			w.Write([]byte("[]"))
		case r.Method == "POST" && r.URL.Path == "/repos/octo-org/models/check-runs":
			w.WriteHeader(201)
			w.Write([]byte(`{"id": 1}`))
		default:
			http.Error(w, `{"message":"unexpected"}`, 404)
		}
	}))
	defer api.Close()

	payload, _ := os.ReadFile(filepath.Join(root, "testdata", "events", "pull_request.opened.json"))
	var ev map[string]any
	json.Unmarshal(payload, &ev)
	pr := ev["pull_request"].(map[string]any)
	pr["base"].(map[string]any)["sha"] = base
	pr["head"].(map[string]any)["sha"] = head
	payload, _ = json.Marshal(ev)
	eventPath := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(eventPath, payload, 0o644)
	outputs := filepath.Join(runnerTemp, "output")
	summary := filepath.Join(runnerTemp, "summary")

	// The run step's env, with the inputs' defaults (github.token resolved).
	runEnv := append(env, "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH="+eventPath, "GITHUB_WORKSPACE="+ws,
		"GITHUB_REPOSITORY=octo-org/models", "GITHUB_API_URL="+api.URL, "GITHUB_OUTPUT="+outputs, "GITHUB_STEP_SUMMARY="+summary)
	inputRE := regexp.MustCompile(`^\$\{\{ inputs\.([a-z-]+) \}\}$`)
	for k, v := range a.Runs.Steps[2].Env {
		name := inputRE.FindStringSubmatch(v)[1]
		val := a.Inputs[name].Default
		if val == "${{ github.token }}" {
			val = "ghs_e2e"
		}
		runEnv = append(runEnv, k+"="+val)
	}
	run := exec.Command(bash, "-e", "-c", a.Runs.Steps[2].Run)
	run.Dir, run.Env = ws, runEnv
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("run step: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(outputs)
	if !strings.Contains(string(got), "valid=true\n") || !strings.Contains(string(got), "changes=[]\n") {
		t.Fatalf("outputs:\n%s\nprogram output:\n%s", got, out)
	}
	if s, _ := os.ReadFile(summary); !strings.Contains(string(s), "no model changes") {
		t.Fatalf("summary:\n%s", s)
	}
	want := "GET /repos/octo-org/models/issues/42/comments Bearer ghs_e2e\nPOST /repos/octo-org/models/check-runs Bearer ghs_e2e"
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, "\n") != want {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), want)
	}
}
