package router

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// fakeClock is a settable clock for measurements.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// echo is what the test backends answer.
type echo struct {
	Version string            `json:"version"`
	Path    string            `json:"path"`
	Query   string            `json:"query"`
	Method  string            `json:"method"`
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
}

// backendServer answers every request with an echo naming version.
func backendServer(t testing.TB, version string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := map[string]string{}
		for k := range r.Header {
			h[k] = r.Header.Get(k)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{Version: version, Path: r.URL.Path, Query: r.URL.RawQuery, Method: r.Method, Body: string(body), Headers: h})
	}))
	t.Cleanup(s.Close)
	return s
}

func newTestRouter(t testing.TB, opts Options) *Router {
	t.Helper()
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	rt := New(opts)
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

// served is a router served on 127.0.0.1.
type served struct{ URL string }

// serve serves rt with the Server, as `reconciler router` does.
func serve(t testing.TB, rt *Router) served {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(rt, ServerOptions{})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return served{URL: "http://" + ln.Addr().String()}
}

// serveStd serves rt with net/http's server.
func serveStd(t testing.TB, rt *Router) served {
	t.Helper()
	s := httptest.NewServer(rt)
	t.Cleanup(s.Close)
	return served{URL: s.URL}
}

func mustUpdate(t testing.TB, rt *Router, routes ...traffic.Route) {
	t.Helper()
	if err := rt.Update(traffic.Table{Routes: routes}); err != nil {
		t.Fatal(err)
	}
}

func weights(kv ...any) []traffic.Weight {
	var ws []traffic.Weight
	for i := 0; i < len(kv); i += 2 {
		ws = append(ws, traffic.Weight{Version: kv[i].(string), Percent: float64(kv[i+1].(int))})
	}
	return ws
}

// do sends a request through h in memory and returns the recorder.
func do(h http.Handler, method, target string, body string, hdr ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func decodeEcho(t testing.TB, w *httptest.ResponseRecorder) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("answer %d %q is not an echo: %v", w.Code, w.Body.String(), err)
	}
	return e
}

func find(t testing.TB, s traffic.Stats, model, stage, version string) traffic.VersionStats {
	t.Helper()
	v, ok := s.Find(model, stage, version)
	if !ok {
		t.Fatalf("no stats for %s/%s/%s in %+v", model, stage, version, s)
	}
	return v
}

func mkRoute(model string, backends map[string]string, ws []traffic.Weight) traffic.Route {
	return traffic.Route{Model: model, Stage: "production", Path: "/v1/" + model, Backends: backends, Weights: ws}
}

// eventually waits until cond holds, looking again every millisecond; the
// 10 s bound turns a hang into a failure and asserts no speed.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}
