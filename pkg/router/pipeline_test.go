package router

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPipelinedShadowComparesEveryCopy(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, `{"echo":%q,"path":%q}`, b, r.URL.Path)
	}))
	t.Cleanup(live.Close)
	var n atomic.Int64
	cases := []struct {
		name   string
		shadow http.HandlerFunc
		agree  bool
	}{
		{"same answers", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, `{"path": %q, "echo": %q}`, r.URL.Path, b)
		}, true},
		{"closes after every answer", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Connection", "close")
			fmt.Fprintf(w, `{"path": %q, "echo": %q}`, r.URL.Path, b)
		}, true},
		{"large answers drained", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("x", 100<<10))
		}, false},
		{"different answers", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"n":%d}`, n.Add(1))
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shadow := httptest.NewServer(c.shadow)
			t.Cleanup(shadow.Close)
			rt := newTestRouter(t, Options{ShadowPipeline: 8, ShadowWorkers: 2, ShadowQueue: 2000})
			mustUpdate(t, rt, mkShadowRoute(live.URL, shadow.URL, "json", 0))
			const copies = 300
			for i := 0; i < copies; i++ {
				w := do(rt, "POST", fmt.Sprintf("/v1/m/p%d", i), fmt.Sprintf("body-%d", i))
				if w.Code != 200 {
					t.Fatalf("live answer %d", w.Code)
				}
			}
			s := waitShadow(t, rt, copies)
			if s.ShadowPairs != copies || s.ShadowErrors != 0 || s.ShadowDropped != 0 {
				t.Fatalf("shadow stats %+v, want %d pairs without errors or drops", s, copies)
			}
			if want := int64(0); c.agree {
				want = copies
				if s.ShadowAgreements != want {
					t.Fatalf("%d of %d agreed", s.ShadowAgreements, copies)
				}
			} else if s.ShadowAgreements != want {
				t.Fatalf("%d agreed, want none", s.ShadowAgreements)
			}
		})
	}
}

func TestPipelinedShadowHangingOrFailing(t *testing.T) {
	live := backendServer(t, "live")
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", 500)
	}))
	t.Cleanup(broken.Close)
	for _, c := range []struct{ name, url string }{{"hanging", hang.URL}, {"500", broken.URL}, {"refused", deadURL(t)}} {
		t.Run(c.name, func(t *testing.T) {
			rt := newTestRouter(t, Options{ShadowPipeline: 8, ShadowWorkers: 2, ShadowQueue: 16, ShadowTimeout: 200 * time.Millisecond})
			mustUpdate(t, rt, mkShadowRoute(live.URL, c.url, "exact", 0))
			srv := serve(t, rt)
			for i := 0; i < 40; i++ {
				resp, err := http.Get(srv.URL + "/v1/m/x")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("client got %d", resp.StatusCode)
				}
			}
			s := waitShadow(t, rt, 40)
			if s.ShadowPairs+s.ShadowDropped != 40 || s.ShadowErrors != s.ShadowPairs || s.ShadowAgreements != 0 {
				t.Fatalf("shadow stats %+v", s)
			}
		})
	}
	// Shutdown abandons a hanging pipelined batch at once when its
	// context ends.
	rt := New(Options{ShadowPipeline: 8, ShadowWorkers: 1, ShadowTimeout: time.Minute})
	mustUpdate(t, rt, mkShadowRoute(live.URL, hang.URL, "exact", 0))
	for i := 0; i < 5; i++ {
		do(rt, "GET", "/v1/m/x", "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error)
	go func() { done <- rt.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("shutdown should report the abandoned copies")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown hung on a pipelined batch")
	}
}

// A shadow that closes connections while they idle costs no copy: the
// worker sees the close before reusing the connection and opens another.
// The shadow closes them between rounds, when the test says so (an idle
// timeout could fire between two copies of a round, in the instant a copy
// may be written before the FIN arrives, and such a copy is lost by
// design: a POST may have been received).
func TestShadowConnectionClosedWhileIdle(t *testing.T) {
	live := backendServer(t, "v1")
	shadow := httptest.NewUnstartedServer(live.Config.Handler)
	var opened, closed atomic.Int64
	shadow.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	shadow.Start()
	t.Cleanup(shadow.Close)
	for _, pipeline := range []int{0, 8} {
		t.Run(fmt.Sprint("pipeline ", pipeline), func(t *testing.T) {
			rt := newTestRouter(t, Options{ShadowPipeline: pipeline, ShadowWorkers: 1})
			mustUpdate(t, rt, mkShadowRoute(live.URL, shadow.URL, "exact", 0))
			srv := serve(t, rt)
			sent, before := 0, opened.Load()
			for round := 0; round < 3; round++ {
				for i := 0; i < 5; i++ {
					resp, err := http.Post(srv.URL+"/v1/m/x", "text/plain", strings.NewReader("same"))
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					sent++
				}
				waitShadow(t, rt, int64(sent))
				shadow.CloseClientConnections()
				eventually(t, "the shadow to close its idle connections, and the router to see it", func() bool {
					return closed.Load() == opened.Load() && closesArrived(t, shadow.Listener.Addr())
				})
			}
			s := waitShadow(t, rt, int64(sent))
			if s.ShadowErrors != 0 || s.ShadowPairs != int64(sent) {
				t.Fatalf("shadow stats %+v, want %d pairs and no errors", s, sent)
			}
			if n := opened.Load() - before; n < 3 {
				t.Fatalf("%d connections to the shadow for 3 rounds, each after a close", n)
			}
		})
	}
}

// closesArrived reports that no connection to addr (on 127.0.0.1) is
// still established from the other end: each has received addr's FIN.
// It reads Linux's /proc/net/tcp; elsewhere it assumes so.
func closesArrived(t *testing.T, addr net.Addr) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return true
	}
	port := fmt.Sprintf(":%04X", addr.(*net.TCPAddr).Port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// sl local_address rem_address st ...; 01 is ESTABLISHED.
		if f := strings.Fields(line); len(f) > 3 && strings.HasSuffix(f[2], port) && f[3] == "01" {
			return false
		}
	}
	return true
}

// TestPipelinedShadowHasFewerWorkers: with pipelining, the copies wait
// for fewer workers, so that each write carries several; a worker count
// set by hand stands.
func TestPipelinedShadowHasFewerWorkers(t *testing.T) {
	for _, c := range []struct{ pipeline, workers, want int }{
		{0, 0, 32}, {1, 0, 32}, {2, 0, 32}, {8, 0, 8}, {64, 0, 1}, {100, 0, 1}, {8, 20, 20},
	} {
		o := Options{ShadowPipeline: c.pipeline, ShadowWorkers: c.workers}
		o.defaults()
		if o.ShadowWorkers != c.want {
			t.Errorf("ShadowPipeline %d, ShadowWorkers %d: %d workers, want %d", c.pipeline, c.workers, o.ShadowWorkers, c.want)
		}
	}
}
