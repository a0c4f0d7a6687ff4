package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/traffic"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark measures the router and the transport only.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func benchBackend(b *testing.B) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"score":0.5}`)
	}))
	b.Cleanup(s.Close)
	return s
}

func benchProxy(b *testing.B, r traffic.Route) {
	rt := newTestRouter(b, Options{})
	mustUpdate(b, rt, r)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/v1/m/predict", nil)
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			delete(req.Header, hdrRequestID)
			clear(w.h)
			rt.ServeHTTP(w, req)
		}
	})
}

// BenchmarkProxy90_10 is one proxied request on a 90/10 split, the hot path.
func BenchmarkProxy90_10(b *testing.B) {
	a, c := benchBackend(b), benchBackend(b)
	benchProxy(b, mkRoute("m", map[string]string{"a": a.URL, "c": c.URL}, weights("a", 90, "c", 10)))
}

// BenchmarkProxyShadow is one proxied request copied to a shadow with JSON
// comparison (the copy's work happens on the shadow workers).
func BenchmarkProxyShadow(b *testing.B) {
	a, c := benchBackend(b), benchBackend(b)
	benchProxy(b, mkShadowRoute(a.URL, c.URL, "json", 0.001))
}

// BenchmarkChooseSticky is the choice of a version for a sticky user.
func BenchmarkChooseSticky(b *testing.B) {
	rt := newTestRouter(b, Options{})
	r := mkRoute("m", map[string]string{"a": "http://127.0.0.1:1", "c": "http://127.0.0.1:2"}, weights("a", 90, "c", 10))
	r.Sticky = "header:x-user-id"
	mustUpdate(b, rt, r)
	live, _ := rt.table.Load().lookup("/v1/m")
	req := httptest.NewRequest("GET", "/v1/m", nil)
	req.Header.Set("X-User-Id", "user-12345")
	rnd := rt.rands.get()
	b.ReportAllocs()
	for b.Loop() {
		live.choose((*stdKeys)(req), rnd)
	}
}

// BenchmarkBaselineReverseProxy is a plain httputil.ReverseProxy to one
// backend, for comparison: what the standard library costs by itself.
func BenchmarkBaselineReverseProxy(b *testing.B) {
	a := benchBackend(b)
	u, _ := url.Parse(a.URL)
	p := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport: newTransport(0),
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/predict", nil)
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			p.ServeHTTP(w, req)
		}
	})
}

// BenchmarkBackendDirect is the router's transport and the backend alone
// (no proxy): subtract it from the others to get the proxy's own cost.
func BenchmarkBackendDirect(b *testing.B) {
	a := benchBackend(b)
	tr := h1.NewTransport(0, 0, newTransport(0)) // the router's own transport
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", a.URL+"/predict", nil)
		for pb.Next() {
			resp, err := tr.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// rawRequests sends the same GET over one keep-alive connection per
// goroutine and reads each answer with the router's own parser, so that
// the client allocates nothing: allocations per operation are those of
// the servers on the other end.
func rawRequests(b *testing.B, addr, path string) {
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: bench\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var h h1.Answer
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			n, ok, err := h1.FindHead(br)
			head, _ := br.Peek(n)
			if err != nil || !ok || !h.Parse(head, false) || h.Status != 200 || h.Framing != h1.FramingLength {
				b.Errorf("bad answer %q: %v", head, err)
				return
			}
			_, _ = br.Discard(n + int(h.Length))
		}
	})
}

// BenchmarkServer90_10 is one request through the Server (the
// data plane of `reconciler router`) on a 90/10 split, from a client that
// allocates nothing; subtract BenchmarkServerBackendOnly for the router's
// own allocations.
func BenchmarkServer90_10(b *testing.B) {
	a, c := benchBackend(b), benchBackend(b)
	rt := newTestRouter(b, Options{})
	mustUpdate(b, rt, mkRoute("m", map[string]string{"a": a.URL, "c": c.URL}, weights("a", 90, "c", 10)))
	s := serve(b, rt)
	rawRequests(b, strings.TrimPrefix(s.URL, "http://"), "/v1/m/predict")
}

// BenchmarkServerShadow is BenchmarkServer90_10 with every request
// copied to a shadow and the answers compared as JSON.
func BenchmarkServerShadow(b *testing.B) {
	a, c := benchBackend(b), benchBackend(b)
	rt := newTestRouter(b, Options{})
	mustUpdate(b, rt, mkShadowRoute(a.URL, c.URL, "json", 0.001))
	s := serve(b, rt)
	rawRequests(b, strings.TrimPrefix(s.URL, "http://"), "/v1/m/predict")
}

// BenchmarkServerBackendOnly is the same client straight to a backend: the
// backend's own allocations, the floor of the two above.
func BenchmarkServerBackendOnly(b *testing.B) {
	a := benchBackend(b)
	rawRequests(b, strings.TrimPrefix(a.URL, "http://"), "/predict")
}
