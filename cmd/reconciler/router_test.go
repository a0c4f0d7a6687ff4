package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRouterRefusesToStartWithoutToken(t *testing.T) {
	var stderr bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
	code := cmdRouter(context.Background(), e, []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--token-env", "EDGE_TOKEN"})
	if code != exitUsage || !strings.Contains(stderr.String(), "EDGE_TOKEN") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := cmdRouter(context.Background(), e, []string{"--listen", "127.0.0.1:0"}); code != exitUsage {
		t.Fatalf("missing --admin: exit %d", code)
	}
	stderr.Reset()
	e.getenv = func(k string) string { return map[string]string{defaultRouterTokenEnv: "tok"}[k] }
	code = cmdRouter(context.Background(), e, []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--feedback-token-env", "FB_UNSET"})
	if code != exitUsage || !strings.Contains(stderr.String(), "FB_UNSET") {
		t.Fatalf("--feedback-token-env naming an unset variable: exit %d, stderr %q", code, stderr.String())
	}
}

func TestRouterServesTrafficAndAdminAPI(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "v1 %s", r.URL.Path)
	}))
	defer backend.Close()
	addrs, stop := runRouter(t, map[string]string{"FB_TOKEN": "fbtok"}, "--feedback-token-env", "FB_TOKEN")
	listen, admin := "http://"+addrs[0], "http://"+addrs[1]

	call := func(method, url, token, body string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	table := fmt.Sprintf(`{"routes":[{"model":"fraud","stage":"production","path":"/v1/fraud","backends":{"v1":%q},"weights":[{"version":"v1","percent":100}]}]}`, backend.URL)
	if code, _ := call("PUT", admin+"/v1/routes", "", table); code != 401 {
		t.Fatalf("PUT without token: %d", code)
	}
	if code, body := call("PUT", admin+"/v1/routes", "tok", table); code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if code, body := call("GET", listen+"/v1/fraud/predict", "", ""); code != 200 || body != "v1 /predict" {
		t.Fatalf("traffic: %d %q", code, body)
	}
	if code, body := call("GET", admin+"/v1/stats?window=10s", "tok", ""); code != 200 || !strings.Contains(body, `"requests": 1`) {
		t.Fatalf("stats: %d %s", code, body)
	}
	// Feedback needs the feedback token and an id the router issued, once.
	resp, err := http.Get(listen + "/v1/fraud/predict")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	fb := fmt.Sprintf(`{"request_id":%q,"reward":1}`, resp.Header.Get("X-Request-Id"))
	for i, c := range []struct {
		token string
		want  int
	}{{"", 401}, {"tok", 401}, {"fbtok", 200}, {"fbtok", 409}} {
		if code, body := call("POST", listen+"/_switchyard/feedback", c.token, fb); code != c.want {
			t.Fatalf("feedback %d with token %q: %d %s, want %d", i+1, c.token, code, body, c.want)
		}
	}
	stop()
}

// runRouter runs cmdRouter on 127.0.0.1 with the admin token "tok", the
// environment variables vars and the extra args, and returns the traffic
// and admin addresses it listens on, and stop, which ends it and checks
// that it exits cleanly.
func runRouter(t *testing.T, vars map[string]string, args ...string) (addrs [2]string, stop func()) {
	t.Helper()
	stderr := &syncBuffer{}
	e := &env{stdout: io.Discard, stderr: stderr, getenv: func(k string) string {
		if k == defaultRouterTokenEnv {
			return "tok"
		}
		return vars[k]
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- cmdRouter(ctx, e, append([]string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, args...))
	}()
	re := regexp.MustCompile(`listen=(\S+) admin=(\S+)`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		m = re.FindStringSubmatch(stderr.String())
	}
	if m == nil {
		cancel()
		t.Fatalf("router did not start: %s", stderr.String())
	}
	return [2]string{m[1], m[2]}, func() {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatal("router did not shut down")
		}
	}
}

func TestRouterRejectsBadRoutesFile(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/routes.json"
	if err := os.WriteFile(bad, []byte(`{"routes":[{"model":"m","stage":"p","path":"/m","backends":{"a":"http://127.0.0.1:1"},"weights":[{"version":"b","percent":100}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "tok" }}
	code := cmdRouter(context.Background(), e, []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--routes", bad})
	if code != exitUsage || !strings.Contains(stderr.String(), `"b"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

// Stopping the router lets a request in flight finish with its answer.
func TestRouterShutdownFinishesRequestsInFlight(t *testing.T) {
	entered := make(chan struct{}, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "slow answer")
	}))
	defer backend.Close()
	routes := filepath.Join(t.TempDir(), "routes.json")
	table := fmt.Sprintf(`{"routes":[{"model":"m","stage":"production","path":"/v1/m","backends":{"v1":%q},"weights":[{"version":"v1","percent":100}]}]}`, backend.URL)
	if err := os.WriteFile(routes, []byte(table), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	e := &env{stdout: io.Discard, stderr: stderr, getenv: func(k string) string {
		if k == defaultRouterTokenEnv {
			return "tok"
		}
		return ""
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int)
	go func() {
		done <- cmdRouter(ctx, e, []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--routes", routes})
	}()
	re := regexp.MustCompile(`listen=(\S+) admin=`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		m = re.FindStringSubmatch(stderr.String())
	}
	if m == nil {
		t.Fatalf("router did not start: %s", stderr.String())
	}
	type answer struct {
		code int
		body string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Get("http://" + m[1] + "/v1/m/predict")
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- answer{resp.StatusCode, string(b), err}
	}()
	<-entered
	cancel()
	a := <-got
	if a.err != nil || a.code != 200 || a.body != "slow answer" {
		t.Fatalf("request in flight during shutdown: %d %q %v", a.code, a.body, a.err)
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("router did not shut down")
	}
	if _, err := http.Get("http://" + m[1] + "/v1/m/predict"); err == nil {
		t.Fatal("the router still takes requests after shutting down")
	}
}
