package router

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/tlstest"
)

// A client that leaves while its request is with the backend ends the
// backend's work (its connection is closed, so its request's context is
// done), and the request counts as 499, not as a failure of the version.
// Over TLS too, although the client's close_notify arrives before its FIN
// (peer.go).
func TestHandWrittenClientGoneEndsTheBackendsWork(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "clear text", true: "TLS"}[overTLS], func(t *testing.T) {
			rt, _, c, cancelled := thinkingRequest(t, overTLS)
			c.Close() // over TLS: close_notify, then FIN
			workEnded(t, rt, cancelled)
		})
	}
}

// thinkingRequest serves a router (over TLS or not) whose one version
// waits until its request's context ends, and sends it a request from c:
// when it returns, the backend has the request.
func thinkingRequest(t *testing.T, overTLS bool) (rt *Router, s *Server, c net.Conn, cancelled chan struct{}) {
	t.Helper()
	be, entered, cancelled := waitingBackend(t, "")
	rt = newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be}, weights("v1", 100)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s = NewServer(rt, ServerOptions{ClientCheck: 10 * time.Millisecond})
	t.Cleanup(func() { _ = s.Close() })
	if overTLS {
		ca := tlstest.NewCA(t)
		go func() {
			_ = s.ServeTLS(ln, &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "router").Pair(t)}})
		}()
		c, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool()})
	} else {
		go func() { _ = s.Serve(ln) }()
		c, err = net.Dial("tcp", ln.Addr().String())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte("GET /v1/m/think HTTP/1.1\r\nHost: router\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	<-entered
	return rt, s, c, cancelled
}

// waitingBackend answers with prelude (flushed; nothing when empty), then
// waits until its request's context ends (the client left, so the router
// closed its connection), saying so on cancelled; entered gets a value as
// each request arrives.
func waitingBackend(t *testing.T, prelude string) (url string, entered, cancelled chan struct{}) {
	entered, cancelled = make(chan struct{}, 1), make(chan struct{}, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		if prelude != "" {
			_, _ = w.Write([]byte(prelude))
			http.NewResponseController(w).Flush()
		}
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(be.Close)
	return be.URL, entered, cancelled
}

// workEnded checks that the backend's work ended (cancelled) for a client
// that left, and that v1 of m counted it as one request and no error.
func workEnded(t *testing.T, rt *Router, cancelled chan struct{}) {
	t.Helper()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend kept working for a client that had left")
	}
	var v1 statsView
	eventually(t, "the request to be counted", func() bool {
		v := find(t, rt.Stats(time.Minute), "m", "production", "v1")
		v1 = statsView{v.Requests, v.Errors}
		return v.Requests == 1
	})
	if v1 != (statsView{1, 0}) {
		t.Fatalf("requests and errors of v1: %v, want one request and no error", v1)
	}
}

// A client that leaves an idle stream (a chunked answer whose backend
// has sent one chunk and waits) ends the backend's work too, and the
// request counts as 499, not as a failure of the version.
func TestHandWrittenClientGoneMidStreamEndsTheBackendsWork(t *testing.T) {
	be, _, cancelled := waitingBackend(t, "data: first\n\n")
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be}, weights("v1", 100)))
	ls := startServer(t, rt, ServerOptions{ClientCheck: 10 * time.Millisecond})
	rc := dialRaw(t, ls.addr)
	rc.send(get("/v1/m/stream"))
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("data: first\n\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("the first event: %v", err)
	}
	if ls.handoffs.Load() != 0 {
		t.Fatal("served by net/http, not the hand-written path")
	}
	rc.c.Close()
	workEnded(t, rt, cancelled)
}

// statsView is the part of a version's stats this test looks at.
type statsView struct{ Requests, Errors int64 }

// A client that stays while the backend thinks for many check periods gets
// its answer: the check re-arms itself on the timer's goroutine, which the
// race detector watches here (it once read the timer field unsynchronised).
// The backend answers once the router has checked the client 10 times
// during its request.
func TestHandWrittenClientCheckRearmsWhileTheClientStays(t *testing.T) {
	var checks atomic.Int64
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := checks.Load()
		for deadline := time.Now().Add(10 * time.Second); checks.Load() < start+10; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) || r.Context().Err() != nil {
				http.Error(w, "the router stopped checking its client", http.StatusInternalServerError)
				return
			}
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(be.Close)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := countingListener{Listener: tcp, n: &checks}
	s := NewServer(rt, ServerOptions{ClientCheck: time.Millisecond})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })

	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 5; i++ {
		resp, err := client.Get("http://" + ln.Addr().String() + "/v1/m/think")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %s, want 200", i, resp.Status)
		}
	}
}

// countingListener's connections count the client checks: each one peeks
// through SyscallConn.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{TCPConn: c.(*net.TCPConn), n: l.n}, nil
}

type countingConn struct {
	*net.TCPConn
	n *atomic.Int64
}

func (c countingConn) SyscallConn() (syscall.RawConn, error) {
	c.n.Add(1)
	return c.TCPConn.SyscallConn()
}
