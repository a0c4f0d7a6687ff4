package router

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// closingBackend answers one request per connection with keep-alive
// headers, then, when the test sends on closeNow, closes the connection
// without saying so, like a backend whose idle timeout is shorter than the
// router's; closed gets a value after each close.
func closingBackend(t *testing.T) (url string, conns *atomic.Int64, closeNow, closed chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	closeNow, closed = make(chan struct{}), make(chan struct{}, 100)
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func(c net.Conn) {
				defer func() { c.Close(); closed <- struct{}{} }()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				body, _ := io.ReadAll(req.Body)
				answer := fmt.Sprintf(`{"path":%q,"body":%q}`, req.URL.Path, body)
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer)
				select {
				case <-closeNow:
				case <-done:
				}
			}(c)
		}
	}()
	return "http://" + ln.Addr().String(), conns, closeNow, closed
}

// awaitPooledConnClosed waits until the one connection rt pooled for
// backend has seen the backend's close (a peek, which consumes nothing):
// on a loaded machine the FIN may reach the router's socket a little after
// the backend's close returns, and a request sent before it arrives is
// lost by design when not replayable (a POST: it may have been received).
func awaitPooledConnClosed(t *testing.T, rt *Router, backend string) {
	t.Helper()
	host := strings.TrimPrefix(backend, "http://")
	rt.lean.mu.Lock()
	pooled := append([]*leanConn(nil), rt.lean.idle[host]...)
	rt.lean.mu.Unlock()
	if len(pooled) != 1 {
		t.Fatalf("%d connections pooled for %s after an answer, want 1", len(pooled), host)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !peerClosed(pooled[0].c) {
		if time.Now().After(deadline) {
			t.Fatal("the router's pooled connection never saw the backend's close")
		}
		time.Sleep(time.Millisecond)
	}
}

// A pooled connection the backend closed while idle is never used again:
// the probe before reuse sees the close, and the request, a POST with a
// body included, goes out whole on a new connection.
func TestReusedConnectionClosedByBackendLosesNoRequest(t *testing.T) {
	url, conns, closeNow, closed := closingBackend(t)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"a": url}, weights("a", 100)))
	for i := 0; i < 20; i++ {
		method, body := "GET", ""
		if i%2 == 1 {
			method, body = "POST", "payload-"+strconv.Itoa(i)
		}
		if i > 0 {
			awaitPooledConnClosed(t, rt, url)
		}
		w := do(rt, method, "/v1/m/p", body)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"body":"`+body+`"`) {
			t.Fatalf("%s %d: %d %s", method, i, w.Code, w.Body)
		}
		// The answer was read whole, so the router pooled the connection;
		// now the backend closes it.
		closeNow <- struct{}{}
		<-closed
	}
	if conns.Load() != 20 {
		t.Fatalf("%d connections for 20 requests, want 20: closed connections were reused or requests sent twice", conns.Load())
	}
}

func TestKeepAliveConnectionsAreReused(t *testing.T) {
	var conns atomic.Int64
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"a": s.URL}, weights("a", 100)))
	for i := 0; i < 50; i++ {
		body := ""
		if i%2 == 0 {
			body = "x"
		}
		if w := do(rt, "POST", "/v1/m", body); w.Code != 200 || w.Body.String() != "ok" {
			t.Fatalf("request %d: %d %q", i, w.Code, w.Body)
		}
	}
	if conns.Load() != 1 {
		t.Fatalf("50 sequential requests used %d connections, want 1", conns.Load())
	}
}

func TestProtocolUpgradeIsProxied(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want an upgrade", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo: " + line)
		brw.Flush()
	}))
	t.Cleanup(echo.Close)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"a": echo.URL}, weights("a", 100)))
	srv := serve(t, rt)
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /v1/m/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprintf(c, "hello\n")
	if got, _ := br.ReadString('\n'); got != "echo: hello\n" {
		t.Fatalf("got %q through the upgraded connection", got)
	}
}

func TestAliveProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer := <-accepted
	if !alive(c) {
		t.Fatal("an open, quiet connection was reported dead")
	}
	peer.Close()
	deadline := time.Now().Add(5 * time.Second)
	for alive(c) {
		if time.Now().After(deadline) {
			t.Fatal("a connection closed by the peer was reported alive")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIdleConnectionsExpire(t *testing.T) {
	a := backendServer(t, "a")
	clock := newFakeClock()
	tr := newLeanTransport(0)
	tr.now = clock.Now
	get := func() {
		resp, err := tr.RoundTrip(httptest.NewRequest("GET", a.URL+"/x", nil).WithContext(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get()
	host := strings.TrimPrefix(a.URL, "http://")
	if n := len(tr.idle[host]); n != 1 {
		t.Fatalf("%d idle connections after one request, want 1", n)
	}
	clock.Advance(2 * tr.idleTimeout)
	if c := tr.get(host); c != nil {
		t.Fatal("an expired connection was reused")
	}
	get()
	clock.Advance(2 * tr.idleTimeout)
	tr.put("other:1", &leanConn{c: nopConn{}}) // any put sweeps
	if _, ok := tr.idle[host]; ok {
		t.Fatal("the sweep left an expired connection")
	}
}

type nopConn struct{ net.Conn }

func (nopConn) Close() error                     { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }
