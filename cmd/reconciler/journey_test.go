package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/demo"
)

// TestJourneyFromInitToAnnouncedRollback plays what a new user does with
// the docs: init a repository, point it at their model servers and their
// webhook, run the reconciler on it, promote v2 through staging into
// production (two commits in one push), and watch the canary fail, traffic
// return to v1, the revert commit land and the rollback arrive on the
// webhook, signed.
func TestJourneyFromInitToAnnouncedRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the reconciler with traffic")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	root := t.TempDir()
	work := filepath.Join(root, "models")
	if code, _, stderr := runCommand(t, cmdInit, work); code != exitOK {
		t.Fatalf("init: exit %d\n%s", code, stderr)
	}

	// The user's model servers, as docs/getting-started.md starts them:
	// reconciler example-model, v1 good, v2 bad (30% errors).
	urls := map[string]string{}
	models, stopModels := context.WithCancel(context.Background())
	var modelsDone sync.WaitGroup
	t.Cleanup(func() { stopModels(); modelsDone.Wait() })
	for name, flags := range map[string][]string{"v1": {"--version", "v1"}, "v2": {"--version", "v2", "--error-rate", "0.3"}} {
		addr := freeTCPAddr(t)
		urls[name] = "http://" + addr
		modelsDone.Add(1)
		go func() {
			defer modelsDone.Done()
			if code := cmdExampleModel(models, &env{stdout: io.Discard, stderr: io.Discard, getenv: os.Getenv}, append([]string{"--listen", addr}, flags...)); code != exitOK {
				t.Errorf("example-model %s: exit %d", name, code)
			}
		}()
		waitUntil(t, "example-model "+name+" to listen", 10*time.Second, &syncBuffer{}, func() bool {
			resp, err := http.Post(urls[name]+"/predict", "application/json", strings.NewReader(`{"amount": 1}`))
			if err == nil {
				resp.Body.Close()
			}
			return err == nil
		})
	}
	// The user's webhook.
	const secret = "notify-s3cret"
	events := make(chan map[string]any, 64)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		if r.Header.Get("X-Switchyard-Signature-256") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("a notification with a wrong signature: %s", body)
		}
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("a notification that is not JSON: %s", body)
		}
		select {
		case events <- ev:
		default:
		}
	}))
	t.Cleanup(hook.Close)
	router := freeTCPAddr(t)

	// Edit the example as docs/getting-started.md says: the model servers,
	// the canary's steps, min_requests, no latency check, the webhook; with
	// shorter bakes than the page's, so that the test does not wait minutes.
	edit(t, filepath.Join(work, "rollouts", "routers.hcl"), `"127.0.0.1:8080"`, fmt.Sprintf("%q", router))
	fraud := filepath.Join(work, "rollouts", "fraud.hcl")
	for _, r := range [][2]string{
		{"http://127.0.0.1:9101", urls["v1"]}, {"http://127.0.0.1:9102", urls["v2"]},
		{"https://fraud-v1.models.example.com", urls["v1"]}, {"https://fraud-v2.models.example.com", urls["v2"]},
		{`steps      = [5, 25, 50]`, `steps      = [10, 50]`}, {`bake       = "1m"`, `bake       = "6s"`},
		{`interval   = "10s"`, `interval   = "2s"`}, {`min_requests = 50`, `min_requests = 10`},
		{"  check \"latency\" {\n    metric    = \"latency_p99\"\n    max_ratio = 1.2\n  }\n", ""},
	} {
		edit(t, fraud, r[0], r[1])
	}
	notify := filepath.Join(work, "rollouts", "notify.hcl")
	b, err := os.ReadFile(notify)
	if err != nil {
		t.Fatal(err)
	}
	uncommented := regexp.MustCompile(`(?m)^# (notify|  |\})`).ReplaceAllString(string(b), "$1")
	uncommented = strings.Replace(uncommented, "https://hooks.example.com/switchyard", hook.URL, 1)
	if err := os.WriteFile(notify, []byte(uncommented), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCommand(t, cmdValidate, "--repo", work); code != exitOK {
		t.Fatalf("validate of the edited repository: exit %d\n%s%s", code, out, errOut)
	}

	origin := filepath.Join(root, "origin.git")
	gitRun(t, root, "init", "-q", "--bare", "-b", "main", origin)
	gitRun(t, work, "init", "-q", "-b", "main")
	gitRun(t, work, "remote", "add", "origin", origin)
	push := func(msg string) {
		t.Helper()
		gitRun(t, work, "add", "-A")
		gitRun(t, work, "commit", "-q", "-m", msg)
		gitRun(t, work, "pull", "-q", "--rebase", "origin", "main")
		gitRun(t, work, "push", "-q", "origin", "main")
	}
	gitRun(t, work, "add", "-A")
	gitRun(t, work, "commit", "-q", "-m", "Start from reconciler init")
	gitRun(t, work, "push", "-q", "origin", "main")

	listen := freeTCPAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		e := &env{stdout: io.Discard, stderr: &logs, getenv: func(k string) string {
			if k == "SWITCHYARD_NOTIFY_SECRET" {
				return secret
			}
			return ""
		}}
		done <- cmdRun(ctx, e, []string{"--repo", origin, "--state", filepath.Join(root, "state.db"),
			"--listen", listen, "--interval", "300ms"})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("reconciler run did not stop within 30 s")
		}
	})
	status := func() string {
		_, out, _ := runCommand(t, cmdStatus, "--server", listen)
		return out
	}
	waitUntil(t, "both stages idle on v1", 30*time.Second, &logs, func() bool {
		s := status()
		return strings.Count(s, "idle") >= 2 && !strings.Contains(s, "v2")
	})

	load, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		(&demo.Traffic{Client: &http.Client{Timeout: 5 * time.Second}, URL: "http://" + router + "/v1/fraud/predict",
			Rate: 100, Users: 100, Seed: 1}).Run(load)
	}()
	defer func() { stopLoad(); <-loadDone }()

	// Staging's promotion, then production's, reach the reconciler in one
	// fetch: judged against the commit in force (staging on v1) production's
	// would break staging_first; taken one at a time, as made, both pass.
	setServe(t, fraud, "staging", "v2")
	gitRun(t, work, "commit", "-q", "-am", "Promote fraud v2 in staging")
	setServe(t, fraud, "production", "v2")
	push("Promote fraud v2 in production")
	waitUntil(t, "staging to serve v2", 30*time.Second, &logs, func() bool {
		return regexp.MustCompile(`fraud/staging\s+\S+\s+[^\n]*v2`).MatchString(status())
	})
	if strings.Contains(logs.String(), "head rejected") {
		t.Errorf("the two promotions pushed together were refused:\n%s", logs.String())
	}

	var rollback map[string]any
	deadline := time.After(90 * time.Second)
	for rollback == nil {
		select {
		case ev := <-events:
			if ev["event"] == "rollback" {
				rollback = ev
			}
		case <-deadline:
			t.Fatalf("no rollback notification within 90 s; status:\n%s\nlog:\n%s", status(), logs.String())
		}
	}
	if rollback["model"] != "fraud" || rollback["stage"] != "production" || rollback["from"] != "v2" || rollback["to"] != "v1" {
		t.Errorf("rollback notification = %v, want fraud/production from v2 to v1", rollback)
	}
	if !strings.Contains(fmt.Sprint(rollback["reason"]), "errors") {
		t.Errorf("the rollback's reason does not name the failed check: %v", rollback["reason"])
	}
	waitUntil(t, "the revert commit on the branch", 30*time.Second, &logs, func() bool {
		out, err := exec.Command("git", "--git-dir", origin, "log", "-1", "--format=%B", "main").Output()
		return err == nil && strings.Contains(string(out), "Switchyard-Action: rollback") &&
			strings.Contains(string(out), "Switchyard-Model: fraud/production")
	})
	waitUntil(t, "production back on v1 in Git and traffic", 30*time.Second, &logs, func() bool {
		s := status()
		return regexp.MustCompile(`fraud/production\s+\S+\s+v1[ \t]*\n`).MatchString(s) && strings.Contains(s, "v1 100%")
	})
	resp, err := http.Get("http://" + listen + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(page)), "switchyard") {
		t.Errorf("GET / = %s, want the status page", resp.Status)
	}
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q to edit", path, old)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte(old), []byte(new)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setServe sets serve of the fraud model's stage.
func setServe(t *testing.T, path, stage, version string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head := `model "fraud" "` + stage + `" {`
	i := bytes.Index(b, []byte(head))
	if i < 0 {
		t.Fatalf("%s has no %s", path, head)
	}
	re := regexp.MustCompile(`serve  = "[^"]*"`)
	loc := re.FindIndex(b[i:])
	if loc == nil {
		t.Fatalf("%s: no serve in %s", path, head)
	}
	out := append(append(append([]byte{}, b[:i+loc[0]]...), fmt.Sprintf(`serve  = %q`, version)...), b[i+loc[1]:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func gitRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func waitUntil(t *testing.T, what string, limit time.Duration, logs *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s; log:\n%s", limit, what, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
