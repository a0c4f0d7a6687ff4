package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// streamDeadline bounds a streaming test: a router that holds the
// stream back deadlocks against the backend until then.
const streamDeadline = 10 * time.Second

// streamingBackend streams two server-sent events: the second only once
// the test has seen the first through the router (release), so a router
// that waits for the end of the answer never delivers the first.
func streamingBackend(t *testing.T, chunked bool) (url string, release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		if !chunked {
			// Read until close: the backend names no length and no chunking.
			w.Header().Set("Connection", "close")
			hj, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer hj.Close()
			_, _ = io.WriteString(hj, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: first\n\n")
			select {
			case <-release:
			case <-time.After(streamDeadline):
			}
			_, _ = io.WriteString(hj, "data: second\n\n")
			return
		}
		_, _ = io.WriteString(w, "data: first\n\n")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		case <-time.After(streamDeadline):
		}
		_, _ = io.WriteString(w, "data: second\n\n")
	})}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return "http://" + ln.Addr().String(), release
}

// readEvent reads one server-sent event's data line.
func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if d, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
			return d
		}
	}
}

// openStream GETs a stream of streamingBackend's and reads its first
// event.
func openStream(t *testing.T, url string) (*http.Response, *bufio.Reader) {
	t.Helper()
	resp, err := (&http.Client{Timeout: streamDeadline}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body := bufio.NewReader(resp.Body)
	if got := readEvent(t, body); got != "first" {
		t.Fatalf("first event %q", got)
	}
	return resp, body
}

func TestStreamedAnswersArriveAsTheBackendSendsThem(t *testing.T) {
	for _, chunked := range []bool{true, false} {
		for _, via := range []struct{ name, req string }{
			{"hand-written", "GET /v1/m/events HTTP/1.1\r\n" + testHost + "\r\n"},
			{"fallback HTTP/1.0", "GET /v1/m/events HTTP/1.0\r\n" + testHost + "\r\n"},
			{"fallback encoded path", "GET /v1/m/ev%20ents HTTP/1.1\r\n" + testHost + "\r\n"},
		} {
			name := via.name + "/chunked"
			if !chunked {
				name = via.name + "/until close"
			}
			t.Run(name, func(t *testing.T) {
				url, release := streamingBackend(t, chunked)
				rt := newTestRouter(t, Options{})
				mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": url}, weights("v1", 100)))
				srv := serve(t, rt)
				c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(streamDeadline))
				if _, err := io.WriteString(c, via.req); err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get(hdrVersion) != "v1" {
					t.Fatalf("answer %d from %q", resp.StatusCode, resp.Header.Get(hdrVersion))
				}
				body := bufio.NewReader(resp.Body)
				if got := readEvent(t, body); got != "first" {
					t.Fatalf("first event %q", got)
				}
				close(release)
				if got := readEvent(t, body); got != "second" {
					t.Fatalf("second event %q", got)
				}
			})
		}
	}
}

func TestStreamedAnswersStreamThroughNetHTTP(t *testing.T) {
	for _, chunked := range []bool{true, false} {
		url, release := streamingBackend(t, chunked)
		rt := newTestRouter(t, Options{})
		mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": url}, weights("v1", 100)))
		srv := serveStd(t, rt)
		resp, body := openStream(t, srv.URL+"/v1/m/events")
		close(release)
		if got := readEvent(t, body); got != "second" {
			t.Fatalf("second event %q", got)
		}
		resp.Body.Close()
	}
}

// TTFB is the time to the first byte of the body, not to the head: the
// backend sends its head at once, its first event 2 s later (by the
// router's clock) and ends 3 s after that.
func TestTTFBIsTheTimeToTheFirstByteOfTheBody(t *testing.T) {
	for _, via := range []struct {
		name  string
		serve func(testing.TB, *Router) served
		path  string
	}{
		{"hand-written", serve, "/v1/m/events"},
		{"hand-written falling back to net/http", serve, "/v1/m/ev%20ents"},
		{"net/http", serveStd, "/v1/m/events"},
	} {
		t.Run(via.name, func(t *testing.T) {
			clock := newFakeClock()
			seen := make(chan struct{}, 1) // the client has the first event
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/empty" {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(200)
				_ = http.NewResponseController(w).Flush()
				clock.Advance(2 * time.Second)
				_, _ = io.WriteString(w, "data: first\n\n")
				_ = http.NewResponseController(w).Flush()
				select {
				case <-seen:
				case <-time.After(streamDeadline):
				}
				clock.Advance(3 * time.Second)
				_, _ = io.WriteString(w, "data: last\n\n")
			}))
			t.Cleanup(backend.Close)
			rt := newTestRouter(t, Options{Now: clock.Now})
			mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": backend.URL}, weights("v1", 100)))
			srv := via.serve(t, rt)
			cl := &http.Client{Timeout: streamDeadline}
			for _, path := range []string{via.path, "/v1/m/empty"} {
				resp, err := cl.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				body := bufio.NewReader(resp.Body)
				if path != "/v1/m/empty" {
					readEvent(t, body)
					seen <- struct{}{}
				}
				_, _ = io.Copy(io.Discard, body)
				resp.Body.Close()
			}
			v := find(t, rt.Stats(time.Minute), "m", "production", "v1")
			if v.Requests != 2 {
				t.Fatalf("%d requests", v.Requests)
			}
			// The 204 has no body: only the stream's first byte counts.
			for name, got := range map[string]float64{"p50": v.TTFBP50, "p90": v.TTFBP90, "p99": v.TTFBP99} {
				if got < 2/histFactor || got > 2*histFactor {
					t.Errorf("ttfb %s %.3fs, want about 2s", name, got)
				}
			}
			if v.LatencyP99 < 5/histFactor {
				t.Errorf("latency p99 %.3fs, want about 5s", v.LatencyP99)
			}
		})
	}
}

// A streamed live answer is compared with the shadow's once both are
// complete: the client has its stream first, and a shadow still
// streaming is not compared until it ends.
func TestShadowComparesStreamedAnswersWhenBothEnd(t *testing.T) {
	for _, c := range []struct {
		name   string
		serve  func(testing.TB, *Router) served
		second string // the shadow's second event
		agree  bool
	}{
		{"hand-written, same stream", serve, "second", true},
		{"hand-written, other stream", serve, "other", false},
		{"net/http, same stream", serveStd, "second", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			live, release := streamingBackend(t, true)
			shadowRelease := make(chan struct{})
			shadow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, "data: first\n\n")
				_ = http.NewResponseController(w).Flush()
				select {
				case <-shadowRelease:
				case <-time.After(streamDeadline):
				}
				_, _ = io.WriteString(w, "data: "+c.second+"\n\n")
			}))
			t.Cleanup(shadow.Close)
			rt := newTestRouter(t, Options{ShadowTimeout: 2 * streamDeadline})
			mustUpdate(t, rt, mkShadowRoute(live, shadow.URL, "exact", 0))
			srv := c.serve(t, rt)
			resp, body := openStream(t, srv.URL+"/v1/m/events")
			close(release)
			rest, err := io.ReadAll(body)
			resp.Body.Close()
			if err != nil || !strings.Contains(string(rest), "data: second") {
				t.Fatalf("rest of the stream %q: %v", rest, err)
			}
			// The live stream is whole; the shadow's is not, so nothing
			// is compared yet.
			if s := find(t, rt.Stats(time.Minute), "m", "production", "shadow"); s.ShadowPairs != 0 {
				t.Fatalf("compared before the shadow's stream ended: %+v", s)
			}
			close(shadowRelease)
			s := waitShadow(t, rt, 1)
			if s.ShadowPairs != 1 || (s.ShadowAgreements == 1) != c.agree || s.ShadowErrors != 0 {
				t.Fatalf("shadow stats %+v, want agreement %v", s, c.agree)
			}
		})
	}
}

// The router's own error answer is no first byte of the version's.
func TestTTFBLeavesOutTheRoutersOwnAnswers(t *testing.T) {
	dead := deadURL(t)
	for _, via := range []struct {
		name  string
		serve func(testing.TB, *Router) served
		path  string
	}{
		{"hand-written", serve, "/v1/m/x"},
		{"hand-written falling back to net/http", serve, "/v1/m/a%20b"},
		{"net/http", serveStd, "/v1/m/x"},
	} {
		t.Run(via.name, func(t *testing.T) {
			rt := newTestRouter(t, Options{})
			mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": dead}, weights("v1", 100)))
			srv := via.serve(t, rt)
			resp, err := (&http.Client{Timeout: streamDeadline}).Get(srv.URL + via.path)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			v := find(t, rt.Stats(time.Minute), "m", "production", "v1")
			if resp.StatusCode != http.StatusBadGateway || v.Requests != 1 || v.Errors != 1 || v.TTFBP99 != 0 {
				t.Fatalf("answer %d, stats %+v: want a 502 counted with no TTFB", resp.StatusCode, v)
			}
		})
	}
}
