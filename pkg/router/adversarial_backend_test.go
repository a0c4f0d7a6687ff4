package router

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// This file holds the router to Switchyard's data-plane invariant against
// backends that misbehave (DESIGN.md invariant 9): whatever bytes a backend
// sends, no client gets an answer meant for another, and no request that
// is not idempotent reaches a backend twice. Every case runs through both
// the hand-written path and net/http's server with Router.ServeHTTP.

// scripted is a raw-socket backend. For each request read on a connection
// it asks answer(req, nth) for the bytes to write (nth counts the
// connection's requests from 0) and whether to close after; it logs
// "METHOD path" of every request it read.
type scripted struct {
	URL     string
	written chan string // when set, gets each path after its answer is written
	gate    chan struct{}
	mu      sync.Mutex
	seen    []string
}

func scriptedBackend(t testing.TB, answer func(req *http.Request, nth int) (raw string, close bool)) *scripted {
	t.Helper()
	return scriptedBackendNotifying(t, nil, answer)
}

func scriptedBackendNotifying(t testing.TB, written chan string, answer func(req *http.Request, nth int) (raw string, close bool)) *scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{URL: "http://" + ln.Addr().String(), written: written}
	if written != nil {
		s.gate = make(chan struct{})
	}
	var wg sync.WaitGroup
	conns := map[net.Conn]bool{}
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		s.mu.Lock()
		for c := range conns {
			c.Close()
		}
		s.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			conns[c] = true
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for nth := 0; ; nth++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, err := io.ReadAll(req.Body)
					if err != nil {
						return
					}
					req.Body = io.NopCloser(bytes.NewReader(body))
					s.mu.Lock()
					s.seen = append(s.seen, req.Method+" "+req.URL.Path)
					s.mu.Unlock()
					raw, close := answer(req, nth)
					// With a gate (when notifying), a NUL splits an answer
					// into writes of their own, each after the test says so
					// (once its client has the answer, say).
					pieces := []string{raw}
					if s.gate != nil {
						pieces = strings.Split(raw, "\x00")
					}
					for i, piece := range pieces {
						if i > 0 && s.gate != nil {
							select {
							case <-s.gate:
							case <-done:
								return
							}
						}
						if _, err := io.WriteString(c, piece); err != nil {
							close = true
							break
						}
					}
					if s.written != nil {
						s.written <- req.URL.Path
					}
					if close {
						return
					}
				}
			}()
		}
	}()
	return s
}

func (s *scripted) count(what string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, x := range s.seen {
		if x == what {
			n++
		}
	}
	return n
}

// bothServers serves rt through the hand-written path and through net/http's.
func bothServers(t testing.TB, rt *Router) map[string]string {
	t.Helper()
	return map[string]string{"hand-written": startServer(t, rt, ServerOptions{}).addr, "net/http": stdAddr(serveStd(t, rt))}
}

// ownAnswer answers a GET with its own path as the body, so that a client
// can tell its answer from another's.
func ownAnswer(req *http.Request) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
}

// checkOwnAnswers sends GETs, each on a new client connection, and checks
// that each gets its own answer, or an error of the router's: never bytes
// meant for another request.
func checkOwnAnswers(t *testing.T, who, addr string, n int) {
	t.Helper()
	for i := range n {
		path := fmt.Sprintf("/v1/m/get-%d", i)
		a := dialRaw(t, addr).do(get(path))
		switch {
		case a.resp.StatusCode == 200 && string(a.body) == "/get-"+fmt.Sprint(i):
		case a.resp.StatusCode == 502 && !strings.Contains(string(a.body), "POISON"):
		default:
			t.Errorf("%s: GET %s got %d %q, not its own answer", who, path, a.resp.StatusCode, a.body)
		}
	}
}

func TestPoisonedBackendConnectionsAreNeverReused(t *testing.T) {
	poison := "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON"
	cases := []struct {
		name, first string // the request before the GETs, and what the backend answers it
		answer      string
	}{
		{"HEAD answered with a body", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 97\r\n\r\n\x00" + strings.Repeat("POISON-", 13) + "POISON"},
		{"HEAD answered with a whole answer after it", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n\x00" + poison},
		{"204 with a body", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 6\r\n\r\n\x00POISON"},
		{"204 then an answer", "GET", "HTTP/1.1 204 No Content\r\n\r\n" + poison},
		{"304 with a body", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 6\r\n\r\n\x00POISON"},
		{"304 with a chunked body", "GET", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n\x00" + "6\r\nPOISON\r\n0\r\n\r\n"},
		{"extra bytes after a sized body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\x00" + poison},
		{"extra bytes with a sized body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + poison},
		{"extra bytes after a chunked body", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n\x00" + poison},
		{"Content-Length and chunked", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n\x00" + poison},
		{"chunked and Content-Length", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 200\r\n\r\n2\r\nok\r\n0\r\n\r\n\x00" + poison},
		{"two equal Content-Lengths", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok\x00" + poison},
		{"100 Continue then an answer then more", "GET", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\x00" + poison},
		{"answer head not plain, with extra bytes", "GET", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok\x00" + poison},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := scriptedBackendNotifying(t, make(chan string, 100), func(req *http.Request, nth int) (string, bool) {
				if strings.HasSuffix(req.URL.Path, "/first") {
					return tc.answer, false
				}
				return ownAnswer(req), false
			})
			rt := newTestRouter(t, Options{})
			mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
			for who, addr := range bothServers(t, rt) {
				rc := dialRaw(t, addr)
				rc.send(tc.first + " /v1/m/first HTTP/1.1\r\n" + testHost + "\r\n")
				if _, err := rc.read(tc.first); err != nil {
					t.Fatalf("%s: %v", who, err)
				}
				if strings.Contains(tc.answer, "\x00") {
					// The rest comes once the router has pooled the connection.
					be.gate <- struct{}{}
					for p := range be.written {
						if p == "/first" {
							break
						}
					}
				}
				checkOwnAnswers(t, who, addr, 6)
			}
		})
	}
}

// TestBytesArrivingOnAnIdleConnectionCloseIt: a backend that sends bytes
// after its answer is complete, while the connection idles in the pool:
// the probe before reuse sees them.
func TestBytesArrivingOnAnIdleConnectionCloseIt(t *testing.T) {
	written := make(chan string, 100)
	be := scriptedBackendNotifying(t, written, func(req *http.Request, nth int) (string, bool) {
		if strings.HasSuffix(req.URL.Path, "/first") {
			return ownAnswer(req) + "\x00HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON", false
		}
		return ownAnswer(req), false
	})
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	for who, addr := range bothServers(t, rt) {
		a := dialRaw(t, addr).do(get("/v1/m/first"))
		if string(a.body) != "/first" {
			t.Fatalf("%s: %q", who, a.body)
		}
		be.gate <- struct{}{}
		for p := range written {
			if p == "/first" {
				break // the late bytes are on their way
			}
		}
		checkOwnAnswers(t, who, addr, 3)
	}
}

// TestPythonHTTPServerAnsweringHEADWithABody is the reproduction:
// Python's http.server with do_HEAD = do_GET.
func TestPythonHTTPServerAnsweringHEADWithABody(t *testing.T) {
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("no /usr/bin/python3")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "backend.py")
	src := `import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("answer for " + self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_HEAD = do_GET
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
`
	if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	port, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + strings.TrimSpace(port)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": url}, weights("v1", 100)))
	for who, addr := range bothServers(t, rt) {
		for i := range 10 {
			rc := dialRaw(t, addr)
			rc.send("HEAD /v1/m/head-" + fmt.Sprint(i) + " HTTP/1.1\r\n" + testHost + "\r\n")
			if a := rc.mustRead("HEAD"); a.resp.StatusCode != 200 {
				t.Fatalf("%s: HEAD %d", who, a.resp.StatusCode)
			}
			a := dialRaw(t, addr).do(get("/v1/m/get-" + fmt.Sprint(i)))
			if a.resp.StatusCode != 200 || string(a.body) != "answer for /get-"+fmt.Sprint(i) {
				t.Errorf("%s: GET /get-%d got %d %q", who, i, a.resp.StatusCode, a.body)
			}
		}
	}
}

// TestNonIdempotentRequestsAreNotReplayed: a reused connection that the
// backend closes after reading the request, without answering.
func TestNonIdempotentRequestsAreNotReplayed(t *testing.T) {
	cases := []struct {
		req    string
		replay bool
	}{
		{"DELETE /v1/m/del HTTP/1.1\r\n" + testHost + "\r\n", false},
		{"POST /v1/m/post0 HTTP/1.1\r\n" + testHost + "Content-Length: 0\r\n\r\n", false},
		{"POST /v1/m/post HTTP/1.1\r\n" + testHost + "Content-Length: 2\r\n\r\nhi", false},
		{"PATCH /v1/m/patch HTTP/1.1\r\n" + testHost + "\r\n", false},
		{"get /v1/m/lower HTTP/1.1\r\n" + testHost + "\r\n", false},
		{"GET /v1/m/get HTTP/1.1\r\n" + testHost + "\r\n", true},
		{"OPTIONS /v1/m/opt HTTP/1.1\r\n" + testHost + "\r\n", true},
		{"DELETE /v1/m/keyed HTTP/1.1\r\n" + testHost + "Idempotency-Key: k1\r\n\r\n", true},
		{"POST /v1/m/xkeyed HTTP/1.1\r\n" + testHost + "X-Idempotency-Key: k2\r\nContent-Length: 0\r\n\r\n", true},
	}
	for _, tc := range cases {
		method, rest, _ := strings.Cut(tc.req, " ")
		path, _, _ := strings.Cut(rest, " ")
		t.Run(method+" "+path, func(t *testing.T) {
			be := scriptedBackend(t, func(req *http.Request, nth int) (string, bool) {
				if nth == 1 {
					return "", true // read it, then die without a word
				}
				return ownAnswer(req), false
			})
			rt := newTestRouter(t, Options{})
			mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
			for who, addr := range bothServers(t, rt) {
				before := be.count(method + " " + strings.TrimPrefix(path, "/v1/m"))
				rc := dialRaw(t, addr)
				if a := rc.do(get("/v1/m/warm")); a.resp.StatusCode != 200 {
					t.Fatalf("%s: warm-up %d", who, a.resp.StatusCode)
				}
				a := rc.do(tc.req)
				n := be.count(method+" "+strings.TrimPrefix(path, "/v1/m")) - before
				switch {
				case tc.replay && (a.resp.StatusCode != 200 || n != 2):
					t.Errorf("%s: %d, the backend saw it %d times; want it replayed on a new connection", who, a.resp.StatusCode, n)
				case !tc.replay && (a.resp.StatusCode != 502 || n != 1):
					t.Errorf("%s: %d, the backend saw it %d times; want 502 and once", who, a.resp.StatusCode, n)
				}
			}
		})
	}
}

// TestAnsweredRequestsAreNotReplayed: a reused connection on which the
// backend answered something, even junk or an interim answer, and then
// failed did not die before answering: the request, idempotent or not, is
// not sent again (the differential fuzzer found a HEAD sent twice after a
// bare LF).
func TestAnsweredRequestsAreNotReplayed(t *testing.T) {
	for name, answer := range map[string]string{
		"a bare LF":                  "\n",
		"junk":                       "POISON\r\n\r\n",
		"an interim answer, a close": "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			be := scriptedBackend(t, func(req *http.Request, nth int) (string, bool) {
				if nth == 1 {
					return answer, true
				}
				return ownAnswer(req), false
			})
			rt := newTestRouter(t, Options{})
			mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
			for who, addr := range bothServers(t, rt) {
				before := be.count("GET /x")
				rc := dialRaw(t, addr)
				if a := rc.do(get("/v1/m/warm")); a.resp.StatusCode != 200 {
					t.Fatalf("%s: warm-up %d", who, a.resp.StatusCode)
				}
				a := rc.do(get("/v1/m/x"))
				if n := be.count("GET /x") - before; a.resp.StatusCode != 502 || n != 1 {
					t.Errorf("%s: %d, the backend saw it %d times; want 502 and once", who, a.resp.StatusCode, n)
				}
			}
		})
	}
}

// TestUnaskedSwitchingProtocolsIsA502: a 101 to a request that asked for
// no upgrade, plain or not, is the backend's failure.
func TestUnaskedSwitchingProtocolsIsA502(t *testing.T) {
	for name, answer := range map[string]string{
		"plain":         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON",
		"bare LF":       "HTTP/1.1 101 Switching Protocols\nUpgrade: x\nConnection: upgrade\n\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON",
		"over 4 KiB":    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\nX-Pad: " + strings.Repeat("p", 5000) + "\r\n\r\n",
		"without field": "HTTP/1.1 101 Switching Protocols\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			be := scriptedBackend(t, func(req *http.Request, nth int) (string, bool) { return answer, false })
			rt := newTestRouter(t, Options{})
			mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
			for who, addr := range bothServers(t, rt) {
				rc := dialRaw(t, addr)
				if a := rc.do(get("/v1/m/x")); a.resp.StatusCode != 502 || len(a.interim) > 0 {
					t.Errorf("%s: %v %d %q, want 502", who, a.interim, a.resp.StatusCode, a.body)
				}
				// The client's connection still speaks HTTP, and holds no
				// answer nobody asked for.
				if a := rc.do(get("/v1/m/again")); a.resp.StatusCode != 502 {
					t.Errorf("%s: next answer %d %q, want the router's 502", who, a.resp.StatusCode, a.body)
				}
			}
		})
	}
}

// TestStalledAndBrokenAnswers: a backend that never answers, answers half
// a head, or closes mid-body: the client gets the router's error (504 for
// a timeout, 502 otherwise) or a cut answer, never another's bytes, and
// the next client its own answer.
func TestStalledAndBrokenAnswers(t *testing.T) {
	cases := map[string]struct {
		answer string
		close  bool
		codes  []int // acceptable statuses; nil: the answer is cut (no status)
	}{
		"no answer at all":        {"", false, []int{504}},
		"half a head":             {"HTTP/1.1 200 OK\r\nContent-Le", false, []int{504}},
		"half a head, then close": {"HTTP/1.1 200 OK\r\nContent-Le", true, []int{502}},
		"closed before answering": {"", true, []int{502}},
		"a body cut short":        {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nPOIS", true, nil},
		"a chunk cut short":       {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nPOIS", true, nil},
		"a malformed later chunk": {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\nPOISON\r\n0\r\n\r\n", false, nil},
		// Broken before any of the body could reach the client: the
		// hand-written path answers its own 502, as nginx does (the
		// differential fuzzer found the head relayed and then cut off);
		// net/http's path cuts it.
		"a malformed first chunk": {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nPOISON\r\n0\r\n\r\n", false, nil},
		"a status line of junk":   {"POISON\r\n\r\n", false, []int{502}},
		"HTTP/2 preface":          {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false, []int{502}},
		// net/http reads "010" as status 10: no interim answer to skip
		// (the differential fuzzer found it waiting for a timeout).
		"a status below 100":       {"HTTP/1.0 010 \n\r\n", false, []int{502}},
		"a plain status below 100": {"HTTP/1.1 099 X\r\nContent-Length: 0\r\n\r\n", false, []int{502}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			be := scriptedBackend(t, func(req *http.Request, nth int) (string, bool) {
				if strings.HasSuffix(req.URL.Path, "/bad") {
					return tc.answer, tc.close
				}
				return ownAnswer(req), false
			})
			rt := newTestRouter(t, Options{BackendTimeout: 300 * time.Millisecond})
			mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
			for who, addr := range bothServers(t, rt) {
				rc := dialRaw(t, addr)
				rc.send(get("/v1/m/bad"))
				a, err := rc.read("GET")
				want := tc.codes
				if name == "a malformed first chunk" && who == "hand-written" {
					want = []int{502}
				}
				switch {
				case want == nil && err == nil && a.bodyErr == nil:
					t.Errorf("%s: %d %q, want a cut answer", who, a.resp.StatusCode, a.body)
				case want != nil && (err != nil || !slices.Contains(want, a.resp.StatusCode)):
					t.Errorf("%s: %v %v, want %v", who, a.resp, err, want)
				}
				checkOwnAnswers(t, who, addr, 3)
			}
		})
	}
}

// TestRouterErrorToHEADHasNoBody: the router's own error answer to a HEAD
// (its version failed) says its length and sends no body, on both paths,
// so that the client's next answer on the connection is its own.
func TestRouterErrorToHEADHasNoBody(t *testing.T) {
	be := scriptedBackend(t, func(req *http.Request, nth int) (string, bool) {
		if req.Method == "HEAD" {
			return "", true // closed before answering: a 502
		}
		return ownAnswer(req), false
	})
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	for who, addr := range bothServers(t, rt) {
		rc := dialRaw(t, addr)
		if a := rc.do("HEAD /v1/m/x HTTP/1.1\r\n" + testHost + "\r\n"); a.resp.StatusCode != 502 || len(a.body) != 0 {
			t.Errorf("%s: HEAD got %d %q, want a 502 without a body", who, a.resp.StatusCode, a.body)
		}
		if a := rc.do(get("/v1/m/next")); a.resp.StatusCode != 200 || string(a.body) != "/next" {
			t.Errorf("%s: the next answer is %d %q, want its own", who, a.resp.StatusCode, a.body)
		}
	}
}

// TestSlowBodyAndIdlePastTheHeadDeadline: BackendTimeout bounds the wait
// for an answer's head only: a body that comes later is relayed whole,
// and a pooled connection that idled past its last head's deadline (left
// armed when the answer came whole with its head: the deadlines move
// lazily) is reused, not failed or thrown away.
func TestSlowBodyAndIdlePastTheHeadDeadline(t *testing.T) {
	const timeout = 50 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // a bound against a hang
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(req.URL.Path))
					if strings.Contains(req.URL.Path, "slow") {
						io.WriteString(c, head)
						time.Sleep(3 * timeout) // the body comes after the head's timeout
						io.WriteString(c, req.URL.Path)
					} else {
						io.WriteString(c, head+req.URL.Path) // read whole with its head
					}
				}
			}()
		}
	}()
	rt := newTestRouter(t, Options{BackendTimeout: timeout})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": "http://" + ln.Addr().String()}, weights("v1", 100)))
	for who, addr := range bothServers(t, rt) {
		rc := dialRaw(t, addr)
		for i, kind := range []string{"slow", "whole", "whole"} {
			path := fmt.Sprintf("/%s-%s-%d", strings.ReplaceAll(who, "/", ""), kind, i)
			if a := rc.do(get("/v1/m" + path)); a.resp.StatusCode != 200 || string(a.body) != path {
				t.Fatalf("%s, request %d: %d %q, want 200 %q", who, i, a.resp.StatusCode, a.body, path)
			}
			time.Sleep(3 * timeout) // idle past the head's deadline
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d backend connections for 6 requests one after another, want 1: an idle one was not reused", n)
	}
}
