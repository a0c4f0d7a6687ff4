package h1

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
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

// awaitPooledConnClosed waits until the one connection t pooled for
// backend has seen the backend's close (a peek, which consumes nothing):
// on a loaded machine the FIN may reach the router's socket a little after
// the backend's close returns, and a request sent before it arrives is
// lost by design when not replayable (a POST: it may have been received).
func awaitPooledConnClosed(t *testing.T, tr *Transport, backend string) {
	t.Helper()
	host := strings.TrimPrefix(backend, "http://")
	tr.mu.Lock()
	pooled := append([]*Conn(nil), tr.idle[host]...)
	tr.mu.Unlock()
	if len(pooled) != 1 {
		t.Fatalf("%d connections pooled for %s after an answer, want 1", len(pooled), host)
	}
	waitFor(t, "the pooled connection to see the backend's close", func() bool { return PeerClosed(pooled[0].Raw) })
}

// waitFor waits until cond holds (a bound against a hanging test, never
// an assertion of speed).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// newTestTransport is the router's own transport as it makes it.
func newTestTransport(headerTimeout time.Duration) *Transport {
	return NewTransport(headerTimeout, 0, &http.Transport{})
}

// do sends one request through tr and reads its answer.
func do(t *testing.T, tr *Transport, method, url, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, url, strings.NewReader(body)).WithContext(t.Context())
	req.RequestURI = ""
	if body == "" {
		req.Body = http.NoBody
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

// A pooled connection the backend closed while idle is never used again:
// the probe before reuse sees the close, and the request, a POST with a
// body included, goes out whole on a new connection.
func TestReusedConnectionClosedByBackendLosesNoRequest(t *testing.T) {
	url, conns, closeNow, closed := closingBackend(t)
	tr := newTestTransport(0)
	for i := 0; i < 20; i++ {
		method, body := "GET", ""
		if i%2 == 1 {
			method, body = "POST", "payload-"+strconv.Itoa(i)
		}
		if i > 0 {
			awaitPooledConnClosed(t, tr, url)
		}
		code, got := do(t, tr, method, url+"/p", body)
		if code != 200 || !strings.Contains(got, `"body":"`+body+`"`) {
			t.Fatalf("%s %d: %d %s", method, i, code, got)
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

func TestAliveProbe(t *testing.T) {
	c, peer := connPair(t)
	if !alive(c) {
		t.Fatal("an open, quiet connection was reported dead")
	}
	peer.Close()
	waitFor(t, "the probe to see the peer's close", func() bool { return !alive(c) })
}

func TestIdleConnectionsExpire(t *testing.T) {
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(a.Close)
	var mu sync.Mutex
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tr := newTestTransport(0)
	tr.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
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
	advance(2 * tr.idleTimeout)
	if c := tr.get(host); c != nil {
		t.Fatal("an expired connection was reused")
	}
	get()
	advance(2 * tr.idleTimeout)
	tr.put("other:1", &Conn{Raw: nopConn{}}) // any put sweeps
	if _, ok := tr.idle[host]; ok {
		t.Fatal("the sweep left an expired connection")
	}
}

type nopConn struct{ net.Conn }

func (nopConn) Close() error                     { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }
