package router

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

func TestHandWrittenKeepAliveManyRequests(t *testing.T) {
	var backendConns atomic.Int64
	be := httptest.NewUnstartedServer(seenHandler("v1", nil))
	be.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			backendConns.Add(1)
		}
	}
	be.Start()
	t.Cleanup(be.Close)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	ls := startServer(t, rt, ServerOptions{})
	rc := dialRaw(t, ls.addr)
	ids := map[string]bool{}
	for i := range 200 {
		req, body := get(fmt.Sprintf("/v1/m/r%d?i=%d", i, i)), ""
		if i%2 == 1 {
			body = fmt.Sprintf(`{"i":%d}`, i)
			req = post(fmt.Sprintf("/v1/m/r%d?i=%d", i, i), body)
		}
		a := rc.do(req)
		s := decodeSeen(t, a)
		if a.resp.StatusCode != 200 || s.URI != fmt.Sprintf("/r%d?i=%d", i, i) || s.Body != body || a.resp.Close {
			t.Fatalf("request %d: %d %+v close %v", i, a.resp.StatusCode, s, a.resp.Close)
		}
		ids[a.resp.Header.Get(hdrRequestID)] = true
	}
	if len(ids) != 200 {
		t.Errorf("%d distinct request ids for 200 requests", len(ids))
	}
	if n := backendConns.Load(); n != 1 {
		t.Errorf("%d backend connections for 200 sequential requests, want 1 kept alive", n)
	}
	if ls.handoffs.Load() != 0 || ls.tracked() != 1 {
		t.Errorf("handoffs %d, hand-written connections %d", ls.handoffs.Load(), ls.tracked())
	}
}

func TestHandWrittenPipelining(t *testing.T) {
	rt := parityRouter(t)
	ls := startServer(t, rt, ServerOptions{})
	type want struct{ method, uri, body string }
	t.Run("hand-written", func(t *testing.T) {
		rc := dialRaw(t, ls.addr)
		var reqs strings.Builder
		var wants []want
		for i := range 10 {
			switch i % 3 {
			case 0:
				reqs.WriteString(get(fmt.Sprintf("/v1/m/p%d", i)))
				wants = append(wants, want{"GET", fmt.Sprintf("/p%d", i), ""})
			case 1:
				reqs.WriteString(post(fmt.Sprintf("/v1/m/p%d", i), fmt.Sprintf("body %d", i)))
				wants = append(wants, want{"POST", fmt.Sprintf("/p%d", i), fmt.Sprintf("body %d", i)})
			case 2:
				reqs.WriteString("HEAD /v1/m/h HTTP/1.1\r\n" + testHost + "\r\n")
				wants = append(wants, want{"HEAD", "", ""})
			}
		}
		rc.send(reqs.String())
		for i, w := range wants {
			a := rc.mustRead(w.method)
			if a.resp.StatusCode != 200 {
				t.Fatalf("answer %d: %d", i, a.resp.StatusCode)
			}
			if w.method == "HEAD" {
				if len(a.body) != 0 {
					t.Fatalf("answer %d to HEAD has a body", i)
				}
				continue
			}
			if s := decodeSeen(t, a); s.Method != w.method || s.URI != w.uri || s.Body != w.body {
				t.Fatalf("answer %d is for %s %s %q, want %+v", i, s.Method, s.URI, s.Body, w)
			}
		}
	})
	t.Run("handed off midway", func(t *testing.T) {
		before := ls.handoffs.Load()
		rc := dialRaw(t, ls.addr)
		rc.send(get("/v1/m/a") + post("/v1/m/b", "bee") + get("/nope") + get("/v1/m/c") +
			"POST /v1/m/d HTTP/1.1\r\n" + testHost + "Transfer-Encoding: chunked\r\n\r\n3\r\ndee\r\n0\r\n\r\n" + get("/v1/m/e"))
		for i, w := range []want{{"GET", "/a", ""}, {"POST", "/b", "bee"}, {}, {"GET", "/c", ""}, {"POST", "/d", "dee"}, {"GET", "/e", ""}} {
			a := rc.mustRead("GET")
			if w.method == "" {
				if a.resp.StatusCode != 404 {
					t.Fatalf("answer %d: %d, want 404", i, a.resp.StatusCode)
				}
				continue
			}
			if s := decodeSeen(t, a); s.Method != w.method || s.URI != w.uri || s.Body != w.body {
				t.Fatalf("answer %d is for %s %s %q, want %+v", i, s.Method, s.URI, s.Body, w)
			}
		}
		if n := ls.handoffs.Load() - before; n != 1 {
			t.Errorf("%d handoffs, want 1", n)
		}
	})
}

func TestHandWrittenClientConnectionClose(t *testing.T) {
	rt := parityRouter(t)
	ls := startServer(t, rt, ServerOptions{})
	rc := dialRaw(t, ls.addr)
	// The request after the one that says close is never answered.
	rc.send(get("/v1/m/a") + get("/v1/m/b", "Connection: close\r\n") + get("/v1/m/c"))
	if a := rc.mustRead("GET"); a.resp.Close || decodeSeen(t, a).URI != "/a" {
		t.Fatalf("first answer: close %v, %s", a.resp.Close, a.body)
	}
	a := rc.mustRead("GET")
	if !a.resp.Close || decodeSeen(t, a).URI != "/b" {
		t.Fatalf("second answer: close %v, %s", a.resp.Close, a.body)
	}
	rc.expectClosed()
	if ls.handoffs.Load() != 0 {
		t.Errorf("handed to net/http")
	}
}

func TestHandWrittenUnusualHeadsGoToNetHTTP(t *testing.T) {
	rt := parityRouter(t)
	cases := []struct {
		name, req string
		status    int
		check     func(t *testing.T, s seen)
	}{
		{"bare LF", "GET /v1/m/x HTTP/1.1\nHost: router.test\nX-A: 1\n\n", 400, nil},
		{"bare LF after CRLF", "GET /v1/m/x HTTP/1.1\r\nHost: router.test\r\nX-A: 1\n\r\n", 400, nil},
		{"obs-fold", "GET /v1/m/x HTTP/1.1\r\nHost: router.test\r\nX-Folded: a\r\n  b\r\n\r\n", 400, nil},
		{"chunked body", "POST /v1/m/x HTTP/1.1\r\nHost: router.test\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", 200, func(t *testing.T, s seen) {
			if s.Body != "hello" {
				t.Errorf("%+v", s)
			}
		}},
		{"header line without colon", "GET /v1/m/x HTTP/1.1\r\nHost: router.test\r\nBad Header\r\n\r\n", 400, nil},
		{"request line without version", "GET /v1/m/x\r\nHost: router.test\r\n\r\n", 400, nil},
		{"control byte in the path", "GET /v1/m/\x01 HTTP/1.1\r\nHost: router.test\r\n\r\n", 400, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ls := startServer(t, rt, ServerOptions{})
			rc := dialRaw(t, ls.addr)
			a := rc.do(c.req)
			if a.resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", a.resp.StatusCode, c.status, a.body)
			}
			if c.check != nil {
				c.check(t, decodeSeen(t, a))
			}
			if c.status == 400 {
				rc.expectClosed()
			}
			if ls.handoffs.Load() != 1 {
				t.Errorf("served by the hand-written path")
			}
		})
	}
}

// TestHandWrittenHeadInPieces: a head (and body) that arrives a byte at a time
// is read whole, however the reads fall, bare LFs included.
func TestHandWrittenHeadInPieces(t *testing.T) {
	rt := parityRouter(t)
	ls := startServer(t, rt, ServerOptions{})
	for _, c := range []struct{ req, via string }{
		{post("/v1/m/x?q=1", "hello", "X-A: 1\r\n"), viaHandWritten},
		{"POST /v1/m/x?q=1 HTTP/1.1\r\nHost: router.test\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;x=y\r\nllo\r\n0\r\nX-T: 1\r\n\r\n", viaNetHTTP},
		{"\r\nPOST /v1/m/x?q=1 HTTP/1.1\r\nHost: router.test\r\nX-A: 1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", viaNetHTTP},
	} {
		before := ls.handoffs.Load()
		rc := dialRaw(t, ls.addr)
		for i := range len(c.req) {
			rc.send(c.req[i : i+1])
		}
		a := rc.mustRead("POST")
		if s := decodeSeen(t, a); s.URI != "/x?q=1" || s.Body != "hello" || s.Header.Get("X-A") != "1" {
			t.Errorf("%q: the backend saw %+v", c.req, s)
		}
		if handed := ls.handoffs.Load() - before; handed != map[string]int64{viaHandWritten: 0, viaNetHTTP: 1}[c.via] {
			t.Errorf("%q: %d handoffs, want the %s path", c.req, handed, c.via)
		}
	}
}

// TestHandWrittenAnswerHeadInPieces: a backend's answer head that arrives in
// pieces is read by the hand-written path, which keeps the backend's connection.
func TestHandWrittenAnswerHeadInPieces(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					answer := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello"
					for i := range len(answer) {
						if _, err := io.WriteString(c, answer[i:i+1]); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": "http://" + ln.Addr().String()}, weights("v1", 100)))
	rc := dialRaw(t, startServer(t, rt, ServerOptions{}).addr)
	for i := range 5 {
		if a := rc.do(get("/v1/m/x")); a.resp.StatusCode != 200 || string(a.body) != "hello" || a.resp.Header.Get("X-A") != "1" {
			t.Fatalf("answer %d: %d %q", i, a.resp.StatusCode, a.body)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d backend connections for 5 requests, want 1 kept alive", n)
	}
}

// TestHandWrittenBodyTimeout: a body that stops coming closes the connection,
// and nothing of the request reaches the backend.
func TestHandWrittenBodyTimeout(t *testing.T) {
	var reached atomic.Int64
	be := seenBackend(t, "v1", func(*http.Request) { reached.Add(1) })
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	ls := startServer(t, rt, ServerOptions{BodyTimeout: 50 * time.Millisecond})
	rc := dialRaw(t, ls.addr)
	rc.send("POST /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 10\r\n\r\nhalf")
	rc.expectClosed()
	if reached.Load() != 0 {
		t.Errorf("the backend got the request")
	}
}

func TestHandWrittenHeaderAndIdleTimeouts(t *testing.T) {
	rt := parityRouter(t)
	ls := startServer(t, rt, ServerOptions{ReadHeaderTimeout: 50 * time.Millisecond, IdleTimeout: 50 * time.Millisecond})
	t.Run("silent", func(t *testing.T) {
		dialRaw(t, ls.addr).expectClosed()
	})
	t.Run("half a head", func(t *testing.T) {
		rc := dialRaw(t, ls.addr)
		rc.send("GET /v1/m/x HTTP/1.1\r\nHost: rou")
		rc.expectClosed()
	})
	t.Run("idle after an answer", func(t *testing.T) {
		rc := dialRaw(t, ls.addr)
		if a := rc.do(get("/v1/m/x")); a.resp.StatusCode != 200 {
			t.Fatal(a.resp.StatusCode)
		}
		rc.expectClosed()
	})
	t.Run("handed off, idle", func(t *testing.T) {
		rc := dialRaw(t, ls.addr)
		if a := rc.do(get("/nope")); a.resp.StatusCode != 404 {
			t.Fatal(a.resp.StatusCode)
		}
		rc.expectClosed()
	})
	if ls.handoffs.Load() != 1 {
		t.Errorf("%d handoffs, want 1", ls.handoffs.Load())
	}
}

// TestHandWrittenHeadTimeoutAfterAnIdleWait: the rest of a head has
// ReadHeaderTimeout to come even when the idle wait before it had a
// longer timeout (a head whole in the buffer needs no deadline, so the
// head's deadline is armed only when more is to be read).
func TestHandWrittenHeadTimeoutAfterAnIdleWait(t *testing.T) {
	rt := parityRouter(t)
	ls := startServer(t, rt, ServerOptions{ReadHeaderTimeout: 50 * time.Millisecond, IdleTimeout: time.Hour})
	rc := dialRaw(t, ls.addr)
	if a := rc.do(get("/v1/m/x")); a.resp.StatusCode != 200 {
		t.Fatal(a.resp.StatusCode)
	}
	// Well below IdleTimeout: a connection still open by then kept the
	// idle wait's deadline for the head.
	_ = rc.c.SetDeadline(time.Now().Add(20 * time.Second))
	rc.send("GET /v1/m/x HTTP/1.1\r\nHost: rou")
	rc.expectClosed()
}

func TestHandWrittenShutdownWaitsForRequestsInFlight(t *testing.T) {
	arrived, release := make(chan string, 2), make(chan struct{})
	be := seenBackend(t, "v1", func(r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow") {
			arrived <- r.URL.Path
			<-release
		}
	})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	ls := startServer(t, rt, ServerOptions{})

	idle := dialRaw(t, ls.addr)
	if a := idle.do(get("/v1/m/fast")); a.resp.StatusCode != 200 {
		t.Fatal(a.resp.StatusCode)
	}
	handed := dialRaw(t, ls.addr)
	if a := handed.do(get("/nope")); a.resp.StatusCode != 404 {
		t.Fatal(a.resp.StatusCode)
	}
	busy := dialRaw(t, ls.addr)
	busy.send(post("/v1/m/slow", "payload"))
	// One in flight on a connection handed to net/http.
	busyStd := dialRaw(t, ls.addr)
	busyStd.send("POST /v1/m/slow-std HTTP/1.1\r\n" + testHost + "Transfer-Encoding: chunked\r\n\r\n3\r\nstd\r\n0\r\n\r\n")
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(20 * time.Second):
			t.Fatal("the slow requests never reached the backend")
		}
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shut <- ls.Shutdown(ctx)
	}()
	idle.expectClosed()
	handed.expectClosed()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	if c, err := net.Dial("tcp", ls.addr); err == nil {
		c.Close()
		t.Error("a new connection was accepted during Shutdown")
	}
	once.Do(func() { close(release) })
	a := busy.mustRead("POST")
	if s := decodeSeen(t, a); a.resp.StatusCode != 200 || s.Body != "payload" {
		t.Fatalf("in-flight request: %d %+v", a.resp.StatusCode, s)
	}
	busy.expectClosed()
	a = busyStd.mustRead("POST")
	if s := decodeSeen(t, a); a.resp.StatusCode != 200 || s.Body != "std" || !a.resp.Close {
		t.Fatalf("in-flight request on net/http: %d close %v %+v", a.resp.StatusCode, a.resp.Close, s)
	}
	busyStd.expectClosed()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if ls.tracked() != 0 {
		t.Errorf("%d connections left", ls.tracked())
	}
	if err := <-ls.served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
}

// TestHandWrittenShutdownAnswerSaysClose: an answer written while the server
// shuts down says Connection: close, as net/http's does, so that the
// client does not send another request on a connection about to close.
func TestHandWrittenShutdownAnswerSaysClose(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	be := seenBackend(t, "v1", func(r *http.Request) {
		close(arrived)
		<-release
	})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	ls := startServer(t, rt, ServerOptions{})
	busy := dialRaw(t, ls.addr)
	busy.send(get("/v1/m/slow"))
	<-arrived
	shut := make(chan error, 1)
	go func() { shut <- ls.Shutdown(context.Background()) }()
	eventually(t, "Shutdown to begin", ls.closing.Load)
	once.Do(func() { close(release) })
	if a := busy.mustRead("GET"); !a.resp.Close {
		t.Errorf("the answer does not say Connection: close")
	}
	busy.expectClosed()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

func TestHandWrittenClose(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	be := seenBackend(t, "v1", func(r *http.Request) {
		if r.URL.Path == "/slow" {
			close(arrived)
			<-release
		}
	})
	t.Cleanup(func() { close(release) })
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	ls := startServer(t, rt, ServerOptions{})
	idle := dialRaw(t, ls.addr)
	if a := idle.do(get("/v1/m/fast")); a.resp.StatusCode != 200 {
		t.Fatal(a.resp.StatusCode)
	}
	handed := dialRaw(t, ls.addr)
	if a := handed.do(get("/nope")); a.resp.StatusCode != 404 {
		t.Fatal(a.resp.StatusCode)
	}
	busy := dialRaw(t, ls.addr)
	busy.send(get("/v1/m/slow"))
	<-arrived
	if err := ls.Close(); err != nil {
		t.Fatal(err)
	}
	idle.expectClosed()
	handed.expectClosed()
	busy.expectClosed()
	if err := <-ls.served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ls.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve after Close returned %v", err)
	}
}

func TestHandWrittenServeAfterShutdown(t *testing.T) {
	rt := parityRouter(t)
	s := NewServer(rt, ServerOptions{})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve after Shutdown returned %v", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener given to Serve after Shutdown was left open")
	}
}

// ---- 4. fallback and errors ----

func TestHandWrittenFallbackAndErrorsAsServeHTTP(t *testing.T) {
	rules := seenBackend(t, "rules", nil)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "model crashed", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) })
	dead := deadURL(t)
	cases := []struct {
		name, url string
		code      int  // without a fallback
		sameBody  bool // the error text is the same through both servers
	}{
		{"500", failing.URL, 500, true},
		{"connection refused", dead, 502, true},
		{"header timeout", hanging.URL, 504, false},
	}
	for _, c := range cases {
		for _, fallback := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, fallback %v", c.name, fallback), func(t *testing.T) {
				var got [2]answer
				var stats [2]traffic.Stats
				for i, hand := range []bool{true, false} {
					rt := newTestRouter(t, Options{BackendTimeout: 200 * time.Millisecond})
					r := mkRoute("m", map[string]string{"v7": c.url, "rules": rules.URL}, weights("v7", 100, "rules", 0))
					if fallback {
						r.Fallback = "rules"
					}
					mustUpdate(t, rt, r)
					addr := stdAddr(serveStd(t, rt))
					if hand {
						addr = startServer(t, rt, ServerOptions{}).addr
					}
					got[i] = dialRaw(t, addr).do(post("/v1/m/predict", `{"x":1}`, "X-Request-Id: req-1\r\n"))
					stats[i] = rt.Stats(time.Minute)
				}
				hand, nh := got[0], got[1]
				if !c.sameBody {
					hand.body, nh.body = nil, nil
				}
				for _, d := range diffAnswers(hand, nh) {
					t.Error(d)
				}
				a := got[0]
				if id := a.resp.Header.Get(hdrRequestID); !strings.HasPrefix(id, "req-1.") {
					t.Errorf("X-Request-Id %q", a.resp.Header.Get(hdrRequestID))
				}
				if fallback {
					if s := decodeSeen(t, a); a.resp.StatusCode != 200 || s.Version != "rules" || s.Body != `{"x":1}` || s.URI != "/predict" ||
						a.resp.Header.Get(hdrVersion) != "rules" || a.resp.Header.Get("X-Backend-Saw-Id") != a.resp.Header.Get(hdrRequestID) {
						t.Errorf("fallback answered %d %s: %+v", a.resp.StatusCode, a.resp.Header.Get(hdrVersion), s)
					}
				} else {
					if a.resp.StatusCode != c.code || a.resp.Header.Get(hdrVersion) != "v7" {
						t.Errorf("answered %d from %q, want %d from v7", a.resp.StatusCode, a.resp.Header.Get(hdrVersion), c.code)
					}
					if c.code != 500 && (a.resp.Header.Get("Content-Type") != "application/json" || !bytes.Contains(a.body, []byte(`"error":"version v7 of m/production failed`))) {
						t.Errorf("router error %q %s", a.resp.Header.Get("Content-Type"), a.body)
					}
				}
				for _, v := range []string{"v7", "rules"} {
					l, s := find(t, stats[0], "m", "production", v), find(t, stats[1], "m", "production", v)
					if l.Requests != s.Requests || l.Errors != s.Errors || l.Fallbacks != s.Fallbacks {
						t.Errorf("%s stats: hand-written %+v, net/http %+v", v, l, s)
					}
				}
				v7 := find(t, stats[0], "m", "production", "v7")
				want := traffic.VersionStats{Requests: 1, Errors: 1}
				if fallback {
					want.Fallbacks = 1
				}
				if v7.Requests != want.Requests || v7.Errors != want.Errors || v7.Fallbacks != want.Fallbacks {
					t.Errorf("v7 stats %+v, want %+v", v7, want)
				}
			})
		}
	}
}

// TestHandWrittenRouterErrorLeavesConnectionUsable: after an error the router
// answers itself (the version failed before answering), the client's
// connection serves on, or the answer says Connection: close.
func TestHandWrittenRouterErrorLeavesConnectionUsable(t *testing.T) {
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt,
		mkRoute("dead", map[string]string{"v7": deadURL(t)}, weights("v7", 100)),
		mkRoute("m", map[string]string{"v1": seenBackend(t, "v1", nil).URL}, weights("v1", 100)))
	for _, hand := range []bool{false, true} {
		t.Run(map[bool]string{true: "hand-written", false: "net/http"}[hand], func(t *testing.T) {
			addr := stdAddr(serveStd(t, rt))
			if hand {
				addr = startServer(t, rt, ServerOptions{}).addr
			}
			rc := dialRaw(t, addr)
			a := rc.do(post("/v1/dead/x", "payload"))
			if a.resp.StatusCode != 502 {
				t.Fatalf("status %d", a.resp.StatusCode)
			}
			if a.resp.Close {
				rc.expectClosed()
				return
			}
			rc.send(get("/v1/m/next"))
			b, err := rc.read("GET")
			if err != nil {
				t.Fatalf("the 502 did not say Connection: close, but the connection is gone: %v", err)
			}
			if b.resp.StatusCode != 200 {
				t.Fatalf("next request: %d", b.resp.StatusCode)
			}
		})
	}
}

// ---- 5. fuzzing the head parsers ----

// A router given a transport of its own has no hand-written path: the hand-written path
// hands every connection to net/http, which answers through that transport.
func TestHandWrittenServerWithACustomTransport(t *testing.T) {
	be := seenBackend(t, "v1", nil)
	var trips atomic.Int64
	tr := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		trips.Add(1)
		return http.DefaultTransport.RoundTrip(req)
	})
	rt := newTestRouter(t, Options{Transport: tr})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	srv := serve(t, rt)
	for i := 0; i < 3; i++ {
		resp, err := http.Get(srv.URL + "/v1/m/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get(hdrVersion) != "v1" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get(hdrVersion))
		}
	}
	if trips.Load() != 3 {
		t.Fatalf("the custom transport carried %d of 3 requests", trips.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
