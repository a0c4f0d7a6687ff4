package router

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// This file holds the router's gate (h1.VetHead, h1.GateReader) to its word: a request whose
// framing could be read two ways is answered 400, the connection closed,
// and no byte of it reaches a backend or counts against a version. The
// cases are sent to the hand-written path, the router's data plane, which hands
// anything unusual to net/http behind the gate.

// gatedRouter routes /v1/m to a backend that logs what it reads.
func gatedRouter(t *testing.T) (*Router, *scripted, string) {
	t.Helper()
	be := scriptedBackend(t, func(req *http.Request, nth int) (string, bool) { return ownAnswer(req), false })
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	return rt, be, startServer(t, rt, ServerOptions{}).addr
}

func TestAmbiguousRequestsAre400AndClose(t *testing.T) {
	h := "POST /v1/m/x HTTP/1.1\r\n" + testHost
	cases := map[string]string{
		// Issue 16, item 6: the head used to reach the backend, then the
		// bad chunk made v1 look broken.
		"Content-Length then chunked with a bad chunk": h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"chunked then Content-Length":                  h + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		// Issue 16, item 7.
		"HTTP/1.0 keep-alive chunked": "POST /v1/m/x HTTP/1.0\r\n" + testHost + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"2d\r\nGET /v1/m/smuggled HTTP/1.1\r\nHost: router.test\r\n\r\n\r\n0\r\n\r\n",
		"two equal Content-Lengths":        h + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"two Content-Lengths":              h + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"a Content-Length list":            h + "Content-Length: 5, 5\r\n\r\nhello",
		"a signed Content-Length":          h + "Content-Length: +5\r\n\r\nhello",
		"a Content-Length in hex":          h + "Content-Length: 0x5\r\n\r\nhello",
		"chunked twice in one field":       h + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
		"two Transfer-Encodings":           h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"gzip, chunked":                    h + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"identity":                         h + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello",
		"xchunked":                         h + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
		"chunked with a parameter":         h + "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n",
		"space before the colon":           h + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
		"a vertical tab in the value":      h + "Transfer-Encoding: \vchunked\r\n\r\n0\r\n\r\n",
		"folded Transfer-Encoding":         h + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
		"obs-fold":                         h + "X-A: a\r\n\tb\r\nContent-Length: 0\r\n\r\n",
		"bare LF":                          "POST /v1/m/x HTTP/1.1\nHost: router.test\nContent-Length: 0\n\n",
		"a bare CR":                        h + "X-A: a\rb\r\nContent-Length: 0\r\n\r\n",
		"NUL in a value":                   h + "X-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
		"DEL in a value":                   h + "X-A: a\x7fb\r\nContent-Length: 0\r\n\r\n",
		"a control byte in the target":     "GET /v1/m/\x01 HTTP/1.1\r\n" + testHost + "\r\n",
		"two spaces in the request line":   "GET  /v1/m/x HTTP/1.1\r\n" + testHost + "\r\n",
		"HTTP/1.2":                         "GET /v1/m/x HTTP/1.2\r\n" + testHost + "\r\n",
		"a head over 64 KiB":               "GET /v1/m/x HTTP/1.1\r\n" + testHost + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 70) + "\r\n",
		"dot segments":                     "GET /v1/m/../../admin HTTP/1.1\r\n" + testHost + "\r\n",
		"encoded dot segments":             "GET /v1/m/%2e%2e/%2E%2e/admin HTTP/1.1\r\n" + testHost + "\r\n",
		"dot segments in absolute form":    "GET http://router.test/v1/m/../admin HTTP/1.1\r\n" + testHost + "\r\n",
		"a bad chunk size":                 h + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"a chunk without its CRLF":         h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
		"a chunk size line with a bare LF": h + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
		"a folded trailer":                 h + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n 2\r\n\r\n",
		"a chunk size too large":           h + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nhello\r\n0\r\n\r\n",
	}
	rt, be, addr := gatedRouter(t)
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			rc.send(req)
			a := rc.mustRead(methodOf(req))
			if a.resp.StatusCode != 400 {
				t.Fatalf("%d %q, want 400", a.resp.StatusCode, a.body)
			}
			rc.expectClosed()
		})
	}
	be.mu.Lock()
	seen := be.seen
	be.mu.Unlock()
	if len(seen) > 0 {
		t.Errorf("the backend read %q", seen)
	}
	if v, ok := rt.Stats(time.Hour).Find("m", "production", "v1"); ok && v.Errors > 0 {
		t.Errorf("clients' framing errors counted against v1: %+v", v)
	}
}

// TestWellFormedUnusualRequestsAreServed: what the gate lets through.
func TestWellFormedUnusualRequestsAreServed(t *testing.T) {
	h := "POST /v1/m/x HTTP/1.1\r\n" + testHost
	cases := map[string]string{
		"chunked with extensions and trailers": h + "Transfer-Encoding: Chunked\r\n\r\n2;a=b\r\nhe\r\n3;c\r\nllo\r\n0\r\nX-T: 1\r\n\r\n",
		"an empty line first":                  "\r\n" + h + "Content-Length: 5\r\n\r\nhello",
		"two empty lines first":                "\r\n\r\n" + h + "Content-Length: 5\r\n\r\nhello",
		"HTTP/1.0 with a length":               "POST /v1/m/x HTTP/1.0\r\n" + testHost + "Content-Length: 5\r\n\r\nhello",
		"OWS around the length":                h + "Content-Length: \t5 \r\n\r\nhello",
		"obs-text in a value":                  h + "X-A: caf\xc3\xa9\r\nContent-Length: 5\r\n\r\nhello",
	}
	_, be, addr := gatedRouter(t)
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			before := be.count("POST /x")
			a := dialRaw(t, addr).do(req)
			if a.resp.StatusCode != 200 || string(a.body) != "/x" || be.count("POST /x") != before+1 {
				t.Errorf("%d %q", a.resp.StatusCode, a.body)
			}
		})
	}
}

// TestPipelinedBadRequestAfterAGoodOne: the good one is answered, the bad
// one is a 400, and nothing after it is read.
func TestPipelinedBadRequestAfterAGoodOne(t *testing.T) {
	_, be, addr := gatedRouter(t)
	for _, first := range []string{
		get("/v1/m/good"),
		"POST /v1/m/good HTTP/1.1\r\n" + testHost + "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", // through net/http
	} {
		rc := dialRaw(t, addr)
		rc.send(first + "POST /v1/m/bad HTTP/1.1\r\n" + testHost + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get("/v1/m/after"))
		if a := rc.mustRead(methodOf(first)); a.resp.StatusCode != 200 || string(a.body) != "/good" {
			t.Fatalf("first: %d %q", a.resp.StatusCode, a.body)
		}
		if a := rc.mustRead("POST"); a.resp.StatusCode != 400 {
			t.Fatalf("second: %d %q, want 400", a.resp.StatusCode, a.body)
		}
		rc.expectClosed()
	}
	if n := be.count("POST /bad") + be.count("GET /after"); n != 0 {
		t.Errorf("the backend read %d requests after the bad one", n)
	}
}

// TestAnswerNotWithheldByAPartialNextRequest: issue 16, item 2. A stray
// CRLF after a body, or half a pipelined head, must not hold the answer
// (it used to be dropped when ReadHeaderTimeout closed the connection).
func TestAnswerNotWithheldByAPartialNextRequest(t *testing.T) {
	_, _, addr := gatedRouter(t)
	for name, req := range map[string]string{
		"stray CRLF after a body":   post("/v1/m/x", "hello") + "\r\n",
		"half a pipelined head":     get("/v1/m/x") + "GET /v1/m/y HTTP/1.1\r\nHo",
		"a pipelined head, no LF":   get("/v1/m/x") + "GET /v1/m/y HTTP/1.1\r",
		"chunked, then half a head": "POST /v1/m/x HTTP/1.1\r\n" + testHost + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/m/y HT",
	} {
		t.Run(name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			rc.send(req)
			a := rc.mustRead(methodOf(req))
			if a.resp.StatusCode != 200 || string(a.body) != "/x" {
				t.Fatalf("%d %q", a.resp.StatusCode, a.body)
			}
			if !strings.HasSuffix(req, "\r\n") {
				// The rest of the head, and its answer.
				rc.send(strings.TrimPrefix(get("/v1/m/y"), req[strings.LastIndex(req, "GET /v1/m/y"):]))
				if a := rc.mustRead("GET"); string(a.body) != "/y" {
					t.Errorf("next: %d %q", a.resp.StatusCode, a.body)
				}
			}
		})
	}
}

// TestClientThatStopsReadingIsCutOff: a client that never reads a large
// answer loses its connection after WriteTimeout, and with it the
// backend's.
func TestClientThatStopsReadingIsCutOff(t *testing.T) {
	big := strings.Repeat("x", 16<<20)
	written := make(chan string, 4)
	be := scriptedBackendNotifying(t, written, func(req *http.Request, nth int) (string, bool) {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(big), big), false
	})
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	ls := startServer(t, rt, ServerOptions{WriteTimeout: 200 * time.Millisecond})
	for _, req := range []string{get("/v1/m/x"), "GET /v1/m/x HTTP/1.0\r\n\r\n"} {
		rc := dialRaw(t, ls.addr)
		rc.send(req)
		// The client never reads: the router must give up, closing the
		// backend's connection, which ends the backend's write.
		select {
		case <-written:
		case <-time.After(20 * time.Second):
			t.Fatalf("%q: the backend is still writing to the router", req)
		}
	}
}

// TestBrokenStreamedBodyIsTheClientsFault: a chunked body too large to
// buffer, malformed after its start has been streamed to the backend, is
// the client's 400 and not an error of the version.
func TestBrokenStreamedBodyIsTheClientsFault(t *testing.T) {
	be := scriptedBackend(t, func(req *http.Request, nth int) (string, bool) { return ownAnswer(req), false })
	rt := newTestRouter(t, Options{MaxBodyBytes: 1024})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	rc := dialRaw(t, startServer(t, rt, ServerOptions{}).addr)
	chunk := strings.Repeat("a", 4096)
	rc.send("POST /v1/m/x HTTP/1.1\r\n" + testHost + "Transfer-Encoding: chunked\r\n\r\n" +
		fmt.Sprintf("%x\r\n%s\r\nzz\r\n", len(chunk), chunk))
	a := rc.mustRead("POST")
	if a.resp.StatusCode != 400 || !strings.Contains(string(a.body), "reading the request body") {
		t.Fatalf("%d %q, want the router's 400", a.resp.StatusCode, a.body)
	}
	if v, ok := rt.Stats(time.Hour).Find("m", "production", "v1"); ok && v.Errors > 0 {
		t.Errorf("the client's broken body counted against v1: %+v", v)
	}
}
