package targets

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
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
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the rendered config (run with -update after checking):\n--- got\n%s", path, got)
	}
}

// call is one command a fakeRunner saw.
type call struct {
	name string
	args []string
}

func (c call) String() string { return c.name + " " + strings.Join(c.args, " ") }

// fakeRunner records commands and fails those whose line contains a key of
// fail, answering with its value.
type fakeRunner struct {
	mu    sync.Mutex
	calls []call
	fail  map[string]string
	hook  func(call) // called for every command that does not fail
}

func (f *fakeRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := call{name, args}
	f.calls = append(f.calls, c)
	for k, msg := range f.fail {
		if strings.Contains(c.String(), k) {
			return []byte(msg), fmt.Errorf("exit status 1")
		}
	}
	if f.hook != nil {
		f.hook(c)
	}
	return nil, nil
}

func (f *fakeRunner) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.String())
	}
	return out
}

// needBinary skips the test when a router binary is absent.
func needBinary(t testing.TB, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if p, err := exec.LookPath(filepath.Base(path)); err == nil {
			return p
		}
		t.Skipf("%s is not installed (apt-get install -y %s): skipping the test against the real router", path, filepath.Base(path))
	}
	return path
}

// freeAddr returns a 127.0.0.1 address with a port free at the time.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// versionBackend answers every request with "<version> <path>".
func versionBackend(t testing.TB, version string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", version, r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

// route builds a route on /v1/fraud for fraud/production, with its own
// copy of backends.
func route(backends map[string]string, weights ...traffic.Weight) traffic.Route {
	own := make(map[string]string, len(backends))
	for k, v := range backends {
		own[k] = v
	}
	return traffic.Route{Model: "fraud", Stage: "production", Path: "/v1/fraud", Backends: own,
		Weights: append([]traffic.Weight(nil), weights...)}
}

func w(version string, percent float64) traffic.Weight {
	return traffic.Weight{Version: version, Percent: percent}
}
