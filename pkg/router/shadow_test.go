package router

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

func mkShadowRoute(live, shadow string, compare string, tol float64) traffic.Route {
	r := mkRoute("m", map[string]string{"live": live, "shadow": shadow}, weights("live", 100))
	r.Shadow = &traffic.Shadow{Version: "shadow", Percent: 100, Compare: compare, Tolerance: tol}
	return r
}

// waitShadow waits (bounded) until the shadow has settled n copies.
func waitShadow(t *testing.T, rt *Router, n int64) traffic.VersionStats {
	t.Helper()
	var s traffic.VersionStats
	eventually(t, fmt.Sprintf("the shadow to settle %d copies", n), func() bool {
		s = find(t, rt.Stats(time.Minute), "m", "production", "shadow")
		return s.ShadowPairs+s.ShadowDropped >= n
	})
	return s
}

func TestShadowComparesAnswers(t *testing.T) {
	fixed := func(body string, copies bool) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if r.Method == "POST" && string(b) != `{"x":1}` {
				http.Error(w, "body not copied: "+string(b), 400)
				return
			}
			// A copy says it is one (a model skips side effects for it);
			// the live request does not.
			if (r.Header.Get("X-Switchyard-Shadow") == "true") != copies {
				http.Error(w, "X-Switchyard-Shadow: "+r.Header.Get("X-Switchyard-Shadow"), 400)
				return
			}
			io.WriteString(w, body)
		}))
		t.Cleanup(s.Close)
		return s
	}
	cases := []struct {
		name, live, shadow, compare string
		tol                         float64
		agree                       bool
	}{
		{"exact equal", `{"score":0.5}`, `{"score":0.5}`, "exact", 0, true},
		{"exact differs in spacing", `{"score":0.5}`, `{ "score": 0.5 }`, "exact", 0, false},
		{"json equal with spacing and order", `{"a":1,"b":[1,2]}`, `{ "b": [1, 2], "a": 1 }`, "json", 0, true},
		{"json within tolerance", `{"score":0.5001,"p":[0.1]}`, `{"score":0.5,"p":[0.1004]}`, "json", 0.001, true},
		{"json outside tolerance", `{"score":0.51}`, `{"score":0.5}`, "json", 0.001, false},
		{"json missing key", `{"score":0.5,"label":"x"}`, `{"score":0.5}`, "json", 0.1, false},
		{"json type differs", `{"score":"0.5"}`, `{"score":0.5}`, "json", 0.1, false},
		{"not json", `hello`, `hellO`, "json", 0.1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			live, shadow := fixed(c.live, false), fixed(c.shadow, true)
			rt := newTestRouter(t, Options{})
			mustUpdate(t, rt, mkShadowRoute(live.URL, shadow.URL, c.compare, c.tol))
			w := do(rt, "POST", "/v1/m/predict", `{"x":1}`)
			if w.Body.String() != c.live {
				t.Fatalf("client got %q, want the live answer %q", w.Body, c.live)
			}
			s := waitShadow(t, rt, 1)
			if s.ShadowPairs != 1 || (s.ShadowAgreements == 1) != c.agree || s.ShadowErrors != 0 {
				t.Fatalf("shadow stats %+v, want agreement %v", s, c.agree)
			}
		})
	}
}

func TestClientNeverWaitsForAHangingShadow(t *testing.T) {
	live := backendServer(t, "live")
	release := make(chan struct{})
	var hits atomic.Int64
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	rt := newTestRouter(t, Options{ShadowTimeout: 200 * time.Millisecond, ShadowWorkers: 2, ShadowQueue: 4})
	mustUpdate(t, rt, mkShadowRoute(live.URL, hang.URL, "json", 0))
	srv := serve(t, rt)
	// Far more requests than workers and queue: every client is answered
	// by the live version while the shadow hangs; the excess is dropped.
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/m/x", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get(hdrVersion) != "live" {
			t.Fatalf("request %d: %d from %s", i, resp.StatusCode, resp.Header.Get(hdrVersion))
		}
	}
	s := waitShadow(t, rt, 50)
	if s.ShadowDropped == 0 || s.ShadowErrors == 0 || s.ShadowAgreements != 0 {
		t.Fatalf("shadow stats %+v: want drops and timeouts counted, no agreement", s)
	}
	if s.ShadowPairs+s.ShadowDropped != 50 {
		t.Fatalf("pairs %d + dropped %d != 50 copies", s.ShadowPairs, s.ShadowDropped)
	}
	l := find(t, rt.Stats(time.Minute), "m", "production", "live")
	if l.Requests != 50 || l.Errors != 0 {
		t.Fatalf("live stats %+v", l)
	}
}

func TestFailingShadowCountsErrorsNotClientFailures(t *testing.T) {
	live := backendServer(t, "live")
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkShadowRoute(live.URL, broken.URL, "exact", 0))
	for i := 0; i < 20; i++ {
		if w := do(rt, "GET", "/v1/m/x", ""); w.Code != 200 {
			t.Fatalf("client got %d", w.Code)
		}
	}
	s := waitShadow(t, rt, 20)
	if s.ShadowPairs != 20 || s.ShadowErrors != 20 || s.ShadowAgreements != 0 {
		t.Fatalf("shadow stats %+v", s)
	}
	if l := find(t, rt.Stats(time.Minute), "m", "production", "live"); l.Errors != 0 || l.Requests != 20 {
		t.Fatalf("live stats %+v", l)
	}
}

func TestShadowPercentAndLargeBodies(t *testing.T) {
	live, shadow := backendServer(t, "live"), backendServer(t, "shadow")
	rt := newTestRouter(t, Options{MaxBodyBytes: 64})
	r := mkShadowRoute(live.URL, shadow.URL, "exact", 0)
	r.Shadow.Percent = 0.0001
	mustUpdate(t, rt, r)
	for i := 0; i < 200; i++ {
		do(rt, "GET", "/v1/m/x", "")
	}
	if s := find(t, rt.Stats(time.Minute), "m", "production", "shadow"); s.ShadowPairs+s.ShadowDropped > 1 {
		t.Fatalf("0.0001%% shadow copied %d requests", s.ShadowPairs+s.ShadowDropped)
	}
	r.Shadow.Percent = 100
	mustUpdate(t, rt, r)
	big := strings.Repeat("x", 100)
	w := do(rt, "POST", "/v1/m/x", big)
	if e := decodeEcho(t, w); e.Body != big {
		t.Fatalf("large body not proxied whole: %d bytes", len(e.Body))
	}
	if s := waitShadow(t, rt, 1); s.ShadowDropped != 1 {
		t.Fatalf("a body over the limit should be dropped from the shadow: %+v", s)
	}
}

func TestShutdownDrainsTheShadowQueue(t *testing.T) {
	live := backendServer(t, "live")
	var got atomic.Int64
	// The shadow holds every copy until the router is shutting down, so
	// that all 20 are still queued or in flight when Shutdown begins.
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	held := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		got.Add(1)
	}))
	t.Cleanup(held.Close)
	rt := New(Options{ShadowWorkers: 1, ShadowQueue: 100})
	mustUpdate(t, rt, mkShadowRoute(live.URL, held.URL, "exact", 0))
	for i := 0; i < 20; i++ {
		do(rt, "GET", "/v1/m/x", "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- rt.Shutdown(ctx) }()
	eventually(t, "Shutdown to begin", rt.shadow.closed.Load)
	once.Do(func() { close(release) })
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if got.Load() != 20 {
		t.Fatalf("shadow received %d of 20 queued copies", got.Load())
	}
	do(rt, "GET", "/v1/m/x", "")
	if s := find(t, rt.Stats(time.Minute), "m", "production", "shadow"); s.ShadowDropped != 1 {
		t.Fatalf("a copy after shutdown should be dropped: %+v", s)
	}
}

func TestSameBody(t *testing.T) {
	cases := []struct {
		a, b  string
		tol   float64
		equal bool
	}{
		{`1`, `1.0`, 0, true},
		{`{"a":[{"b":1e3}]}`, `{"a":[{"b":1000.4}]}`, 0.001, true}, // relative
		{`{"a":[{"b":1e3}]}`, `{"a":[{"b":1002}]}`, 0.001, false},
		{`[1,2]`, `[1,2,3]`, 1, false},
		{`null`, `null`, 0, true},
		{`{"a":true}`, `{"a":false}`, 1, false},
		{`{"a":1} x`, `{"a":1}`, 1, false},
	}
	for _, c := range cases {
		if got := sameBody([]byte(c.a), []byte(c.b), true, c.tol); got != c.equal {
			t.Errorf("sameBody(%s, %s, %g) = %v", c.a, c.b, c.tol, got)
		}
	}
}

// A blue/green preview with preview_mirror sends preview-header requests
// to green and copies live ones to green: a request green answers itself
// is never copied to it as well (it would reach green twice and count
// twice), whichever server takes it.
func TestShadowNeverCopiesARequestToTheVersionThatAnswered(t *testing.T) {
	for name, start := range map[string]func(testing.TB, *Router) served{"hand-written": serve, "net/http": serveStd} {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			hits := map[string]int{} // by version and X-Switchyard-Shadow
			backend := func(version string) string {
				s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					mu.Lock()
					hits[version+" shadow="+r.Header.Get("X-Switchyard-Shadow")]++
					mu.Unlock()
					io.WriteString(w, `{"score":0.5}`)
				}))
				t.Cleanup(s.Close)
				return s.URL
			}
			rt := newTestRouter(t, Options{})
			r := mkRoute("m", map[string]string{"blue": backend("blue"), "green": backend("green")}, weights("blue", 100, "green", 0))
			r.Preview = &traffic.Preview{Header: "x-preview", Version: "green"}
			r.Shadow = &traffic.Shadow{Version: "green", Percent: 100, Compare: "json"}
			mustUpdate(t, rt, r)
			srv := start(t, rt)
			post := func(hdr string) {
				req, _ := http.NewRequest("POST", srv.URL+"/v1/m/predict", strings.NewReader(`{"x":1}`))
				if hdr != "" {
					req.Header.Set(hdr, "1")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			for i := 0; i < 5; i++ {
				post("x-preview") // green answers: no copy
				post("")          // blue answers: a copy to green
			}
			// Shutdown waits for every queued copy: none can land later.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := rt.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			want := map[string]int{"blue shadow=": 5, "green shadow=": 5, "green shadow=true": 5}
			if fmt.Sprint(hits) != fmt.Sprint(want) {
				t.Fatalf("backends saw %v, want %v", hits, want)
			}
			if s := find(t, rt.Stats(time.Minute), "m", "production", "green"); s.ShadowPairs != 5 || s.Requests != 5 {
				t.Fatalf("green: %d requests, %d copies; want 5 and 5", s.Requests, s.ShadowPairs)
			}
		})
	}
}
