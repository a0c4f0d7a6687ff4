package router

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
)

// This file runs the same byte streams, from a client and from a backend,
// through the router (its hand-written server, as `reconciler router` serves it)
// and through a plain httputil.ReverseProxy over Go's http.Transport, and
// flags every difference that is not one of the router's deliberate ones
// (deliberate, below; docs/router.md, "HTTP/1.1 conformance and
// hardening"). Whatever the bytes, one invariant holds for the router
// alone: a fresh client after them gets its own answer.

// fuzzBackend answers each request with the bytes of the current input,
// except /second and /end, which get their own paths: a poisoned pooled
// connection shows as them getting anything else. It logs what it reads
// (but those two).
type fuzzBackend struct {
	url    string
	mu     sync.Mutex
	answer []byte
	log    []string
}

func newFuzzBackend(t testing.TB) *fuzzBackend {
	b := &fuzzBackend{}
	b.url = scriptedBackend(t, func(req *http.Request, _ int) (string, bool) {
		if req.URL.Path == "/second" || req.URL.Path == "/end" {
			return ownAnswer(req), false
		}
		body, _ := io.ReadAll(req.Body)
		b.mu.Lock()
		defer b.mu.Unlock()
		b.log = append(b.log, fmt.Sprintf("%s %s %q", req.Method, req.RequestURI, body))
		return string(b.answer), false
	}).URL
	return b
}

func (b *fuzzBackend) reset(answer []byte) {
	b.mu.Lock()
	b.answer, b.log = answer, nil
	b.mu.Unlock()
}

func (b *fuzzBackend) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.log...)
}

// endRequest follows a fuzzed client's bytes: its answer closes the
// connection, so that reading the answers ends as soon as both servers are
// done instead of at a timeout (which made each input cost a second).
// Bytes that leave a head or body unfinished take it in, the same for
// both; then the wait ends the reading.
var endRequest = "GET /v1/m/end HTTP/1.1\r\n" + testHost + "Connection: close\r\n\r\n"

// exchangeRaw sends data and endRequest on a new connection and reads the
// status codes of the answers until the connection closes or a short wait
// ends; cut says the wait ended the reading, not the connection's end (so
// that a slow machine shows as fewer answers, never other ones).
func exchangeRaw(addr string, data []byte) (codes []int, cut bool, err error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write(append(slices.Clip(data), endRequest...)); err != nil {
		return nil, false, nil
	}
	methods := requestMethods(data)
	br := bufio.NewReader(c)
	for {
		// An answer to a HEAD has no body whatever its fields say.
		method := "GET"
		if len(methods) > 0 {
			method = methods[0]
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			codes = append(codes, resp.StatusCode)
			if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
				methods = methods[min(1, len(methods)):]
			}
		}
		if err != nil {
			return codes, isTimeout(err), nil
		}
	}
}

// requestMethods are the methods of the requests in a client's bytes as
// net/http reads them, up to the first it cannot read.
func requestMethods(data []byte) []string {
	var methods []string
	br := bufio.NewReader(bytes.NewReader(data))
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return methods
		}
		methods = append(methods, req.Method)
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return methods
		}
	}
}

// exchangeBoth runs exchangeRaw against the router and the proxy at once
// (each has its own backend).
func exchangeBoth(t *testing.T, routerAddr, proxyAddr string, data []byte) (router, proxied []int, cut bool) {
	var wg sync.WaitGroup
	var rcut, pcut bool
	var rerr, perr error
	wg.Add(2)
	go func() { defer wg.Done(); router, rcut, rerr = exchangeRaw(routerAddr, data) }()
	go func() { defer wg.Done(); proxied, pcut, perr = exchangeRaw(proxyAddr, data) }()
	wg.Wait()
	if err := errors.Join(rerr, perr); err != nil {
		t.Fatal(err)
	}
	return router, proxied, rcut || pcut
}

// brokenAtOnce reports an answer whose chunked body fails before its
// first byte, as net/http's client reads it.
func brokenAtOnce(answer []byte) bool {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(answer)), &http.Request{Method: "GET"})
	if err != nil || len(resp.TransferEncoding) == 0 {
		return false
	}
	var one [1]byte
	n, err := resp.Body.Read(one[:])
	return n == 0 && err != nil && err != io.EOF
}

// prefixOf reports a shorter list that begins the longer one.
func prefixOf[T comparable](a, b []T) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return slices.Equal(a, b[:len(a)])
}

// deliberate names the router's documented difference that explains
// router and proxy answering client bytes differently; "" when none.
func deliberate(client []byte, router, proxy []int) string {
	if emptyLineFirst(client) && len(proxy) > 0 && proxy[len(proxy)-1] == http.StatusBadRequest && len(router) >= len(proxy) {
		return "empty lines before a request are ignored (RFC 9112 §2.2); net/http ignores them only after a POST"
	}
	head, whole := firstHead(client)
	if !whole {
		return "" // no whole head: neither answers
	}
	refused := len(router) > 0 && router[len(router)-1] == http.StatusBadRequest
	if h1.BareLF(head, 0) && refused {
		return "a bare LF: 400"
	}
	if bytes.Contains(client, []byte(FeedbackPath)) {
		return "the feedback endpoint is the router's own"
	}
	if _, err := h1.VetHead(head); err != nil && refused {
		return "the gate: " + err.Error()
	}
	if len(router) > 0 && len(proxy) > 0 && router[0] == http.StatusBadRequest && len(router) == 1 {
		// A chunked body the gate refused, or a later head: the proxy
		// may have answered the requests before it.
		return "the gate, later in the stream"
	}
	return ""
}

// firstHead is the first head of a client's bytes, after any empty lines,
// through its empty line, with lines ending in LF or CRLF as a line
// reader sees them; whole is false when it does not end.
func firstHead(client []byte) (head []byte, whole bool) {
	for len(client) > 0 && (client[0] == '\n' || bytes.HasPrefix(client, []byte("\r\n"))) {
		client = client[bytes.IndexByte(client, '\n')+1:]
	}
	for i := 0; i < len(client); {
		j := bytes.IndexByte(client[i:], '\n')
		if j < 0 {
			break
		}
		line := client[i : i+j]
		i += j + 1
		if len(line) == 0 || string(line) == "\r" {
			return client[:i], true
		}
	}
	return nil, false
}

// badStatus reports an answer whose status code net/http reads as below
// 100.
func badStatus(answer []byte) bool {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(answer)), nil)
	return err == nil && resp.StatusCode < 100
}

// emptyLineFirst reports an empty line (CRLF or a bare LF) at the start of
// the stream or right after a head.
func emptyLineFirst(client []byte) bool {
	if bytes.HasPrefix(client, []byte("\n")) || bytes.HasPrefix(client, []byte("\r\n")) {
		return true
	}
	return bytes.Contains(client, []byte("\r\n\r\n\n")) || bytes.Contains(client, []byte("\r\n\r\n\r\n"))
}

func FuzzRouterAgainstReverseProxy(f *testing.F) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for _, s := range [][2]string{
		{get("/v1/m/x"), ok},
		{"HEAD /v1/m/x HTTP/1.1\r\n" + testHost + "\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON"},
		{get("/v1/m/x"), "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON"},
		{get("/v1/m/x"), ok + "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON"},
		{get("/v1/m/x"), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"},
		{get("/v1/m/x"), "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n" + ok},
		{get("/v1/m/x"), "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok},
		{get("/v1/m/x"), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"},
		{post("/v1/m/x", "hello") + "\r\n" + get("/v1/m/y"), ok},
		{"POST /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ok},
		{"POST /v1/m/x HTTP/1.0\r\n" + testHost + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", ok},
		{"POST /v1/m/x HTTP/1.1\r\n" + testHost + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get("/v1/m/y"), ok},
		{get("/v1/m/x") + get("/v1/m/y") + get("/v1/m/z"), ok},
		{get("/v1/m/../x"), ok},
		{get("/v1/m/x", "X-A: a\r\n b\r\n"), ok},
		// The router's own error to a HEAD once had a body (found here).
		{"HEAD /v1/m/ HTTP/1.1\r\nHost:\r\n\r\n", "0"},
		// A HEAD once went twice after a bare LF on a reused connection.
		{"HEAD /v1/m/ HTTP/1.1\r\nHost:\r\n\r\n", "\n"},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	// Go's Transport logs each answer nobody asked for to the standard
	// logger; under -fuzz, the worker would block on a full pipe.
	log.SetOutput(io.Discard)
	f.Cleanup(func() { log.SetOutput(os.Stderr) })
	rb, pb := newFuzzBackend(f), newFuzzBackend(f)
	rt := newTestRouter(f, Options{BackendTimeout: 200 * time.Millisecond})
	mustUpdate(f, rt, mkRoute("m", map[string]string{"v1": rb.url}, weights("v1", 100)))
	ls := startServer(f, rt, ServerOptions{ReadHeaderTimeout: time.Second})
	target, _ := url.Parse(pb.url)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/v1/m")
			pr.Out.URL.RawPath = ""
			if pr.Out.URL.Path == "" {
				pr.Out.URL.Path = "/"
			}
			pr.SetXForwarded()
		},
		Transport: &http.Transport{ResponseHeaderTimeout: 200 * time.Millisecond},
		ErrorLog:  rt.proxyLog,
	}
	// The proxy routes as the router does: only the route's path prefix
	// (by whole segments) is proxied; any other path is a 404.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if p := req.URL.Path; p != "/v1/m" && !strings.HasPrefix(p, "/v1/m/") {
			http.NotFound(w, req)
			return
		}
		rp.ServeHTTP(w, req)
	}))
	f.Cleanup(proxy.Close)
	proxyAddr := strings.TrimPrefix(proxy.URL, "http://")
	f.Fuzz(func(t *testing.T, client, answer []byte) {
		if len(client) > 4096 || len(answer) > 4096 {
			return
		}
		rb.reset(answer)
		pb.reset(answer)
		router, proxied, slow := exchangeBoth(t, ls.addr, proxyAddr, client)
		// The invariant: a fresh client gets its own answer (or the
		// router's error), whatever came before on pooled connections.
		rc := dialRaw(t, ls.addr)
		_ = rc.c.SetDeadline(time.Now().Add(5 * time.Second))
		a := rc.do(get("/v1/m/second"))
		if !(a.resp.StatusCode == 200 && string(a.body) == "/second" || a.resp.StatusCode >= 500 && !bytes.Contains(a.body, answer[min(len(answer), 12):])) {
			t.Fatalf("after client %q and answer %q, a fresh client got %d %q", client, answer, a.resp.StatusCode, a.body)
		}
		if badStatus(answer) {
			// net/http's server panics on the status net/http's client
			// read (so the proxy answers nothing); the router's 502 is
			// tested in adversarial_backend_test.go.
			return
		}
		if n := len(proxied); brokenAtOnce(answer) && len(router) > n && slices.Equal(router[:n], proxied) && router[n] == http.StatusBadGateway {
			// A chunked answer whose first chunk's line gives no size is
			// the version's failure: the router answers its own 502 (as
			// nginx does) and serves the connection on; ReverseProxy
			// closes it without an answer.
			return
		}
		if why := deliberate(client, router, proxied); why != "" {
			if seen := rb.seen(); len(router) > 0 && router[0] == 400 && len(seen) > 0 {
				t.Fatalf("the router refused %q (%s) but the backend read %q", client, why, seen)
			}
			return
		}
		norm := func(codes []int) []int {
			var out []int
			for _, c := range codes {
				switch {
				case c < 200:
					continue // the router passes no interim answer on
				case c == http.StatusGatewayTimeout:
					c = http.StatusBadGateway // the router says 504 for a timeout
				}
				out = append(out, c)
			}
			return out
		}
		// A wait cut short explains fewer answers, never other ones.
		if r, p := norm(router), norm(proxied); !slices.Equal(r, p) && !(slow && prefixOf(r, p)) {
			t.Errorf("client %q, answer %q:\nrouter answered %v, ReverseProxy %v", client, answer, router, proxied)
		}
		if r, p := rb.seen(), pb.seen(); !slices.Equal(r, p) && !(slow && prefixOf(r, p)) {
			t.Errorf("client %q, answer %q:\nthe router's backend read %q, ReverseProxy's %q", client, answer, r, p)
		}
	})
}
