package router

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

func answersBackend(t testing.TB) string {
	bigHead := "X-Big: " + strings.Repeat("h", 10000) + "\r\n"
	chunks := ""
	for i := range 40 {
		chunks += fmt.Sprintf("%x\r\n%s\r\n", 2500+i, strings.Repeat(string(rune('a'+i%26)), 2500+i))
	}
	return rawBackend(t, func(req *http.Request) (string, bool) {
		switch strings.TrimPrefix(req.URL.Path, "/") {
		case "cl":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Answer: cl\r\nContent-Length: 5\r\n\r\nhello", false
		case "head-cl":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n", false
		case "head-chunked":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n", false
		case "chunked":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
				"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n", false
		case "chunked-big":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n", false
		case "chunked-and-length":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false
		case "close":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" + strings.Repeat("c", 20000), true
		case "http10":
			return "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nold style", true
		case "204":
			return "HTTP/1.1 204 No Content\r\nX-Answer: none\r\n\r\n", false
		case "304":
			return "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nCache-Control: max-age=60\r\n\r\n", false
		case "304-length":
			return "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n", false
		case "103":
			return "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok", false
		case "100":
			return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok", false
		case "big-head":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + bigHead + "Content-Length: 5\r\n\r\nhello", false
		case "big-head-chunked":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + bigHead + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false
		case "head-big-head":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + bigHead + "Content-Length: 5\r\n\r\n", false
		case "dup-length":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", false
		case "conflicting-length":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nContent-Length: 11\r\n\r\nhello world", true
		case "bad-length":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: -5\r\n\r\nhello", true
		case "cut":
			return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"score\":", true
		case "cut-chunked":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", true
		case "bad-chunk":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", true
		case "500":
			return "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\noops!", false
		case "ids":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Switchyard-Version: forged\r\nX-Request-Id: forged\r\nContent-Length: 2\r\n\r\nok", false
		case "hop":
			return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: X-Private\r\nX-Private: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nContent-Length: 2\r\n\r\nok", false
		case "no-type":
			return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false
		}
		return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false
	})
}

func TestHandWrittenRelaysBackendAnswers(t *testing.T) {
	cases := []struct {
		name, method, path string
		status             int
		body               string
		// brokenBody: the client must see the answer cut short (net/http
		// sends nothing of an answer with a length that breaks off, the
		// hand-written path the head and what came), and the connection closed.
		brokenBody bool
		closed     bool
		sniffed    bool // no Content-Type: net/http sniffs one, the hand-written path does not
		check      func(t *testing.T, a answer)
	}{
		{name: "Content-Length", path: "cl", status: 200, body: "hello", check: func(t *testing.T, a answer) {
			if a.resp.ContentLength != 5 || a.resp.Header.Get("X-Answer") != "cl" {
				t.Errorf("length %d, X-Answer %q", a.resp.ContentLength, a.resp.Header.Get("X-Answer"))
			}
		}},
		{name: "chunked with trailers", path: "chunked", status: 200, body: "hello world", check: rechunked},
		{name: "many chunks", path: "chunked-big", status: 200, check: func(t *testing.T, a answer) {
			rechunked(t, a)
			if len(a.body) != 40*2500+39*40/2 {
				t.Errorf("got %d bytes", len(a.body))
			}
		}},
		{name: "chunked and Content-Length", path: "chunked-and-length", status: 200, body: "hello", check: rechunked},
		{name: "close-delimited", path: "close", status: 200, body: strings.Repeat("c", 20000), check: rechunked},
		{name: "HTTP/1.0 close-delimited", path: "http10", status: 200, body: "old style", check: rechunked},
		{name: "204", path: "204", status: 204, check: func(t *testing.T, a answer) {
			if a.resp.Header.Get("X-Answer") != "none" {
				t.Errorf("X-Answer lost")
			}
		}},
		{name: "304", path: "304", status: 304},
		{name: "304 with Content-Length", path: "304-length", status: 304},
		{name: "103 before the answer", path: "103", status: 200, body: "ok"},
		{name: "unasked 100 before the answer", path: "100", status: 200, body: "ok"},
		{name: "head over 8 KiB", path: "big-head", status: 200, body: "hello", check: func(t *testing.T, a answer) {
			if len(a.resp.Header.Get("X-Big")) != 10000 || a.resp.ContentLength != 5 {
				t.Errorf("X-Big %d bytes, length %d", len(a.resp.Header.Get("X-Big")), a.resp.ContentLength)
			}
		}},
		{name: "head over 8 KiB, chunked", path: "big-head-chunked", status: 200, body: "hello", check: rechunked},
		{name: "HEAD", method: "HEAD", path: "head-cl", status: 200, check: func(t *testing.T, a answer) {
			if a.resp.ContentLength != 5 {
				t.Errorf("length %d, want the backend's 5", a.resp.ContentLength)
			}
		}},
		{name: "HEAD, chunked", method: "HEAD", path: "head-chunked", status: 200},
		{name: "HEAD, head over 8 KiB", method: "HEAD", path: "head-big-head", status: 200},
		{name: "same Content-Length twice", path: "dup-length", status: 200, body: "hello"},
		{name: "conflicting Content-Lengths", path: "conflicting-length", status: 502, check: noBackendBody},
		{name: "negative Content-Length", path: "bad-length", status: 502, check: noBackendBody},
		{name: "cut mid-body", path: "cut", status: 200, brokenBody: true, closed: true},
		{name: "cut mid-chunk", path: "cut-chunked", status: 200, brokenBody: true, closed: true},
		{name: "malformed chunk", path: "bad-chunk", status: 200, brokenBody: true, closed: true},
		{name: "500", path: "500", status: 500, body: "oops!"},
		{name: "forged version and id", path: "ids", status: 200, body: "ok", check: func(t *testing.T, a answer) {
			if a.resp.Header.Get(hdrVersion) != "raw" || a.resp.Header.Get(hdrRequestID) == "forged" || len(a.resp.Header[hdrVersion]) != 1 {
				t.Errorf("version %q, id %q", a.resp.Header[hdrVersion], a.resp.Header[hdrRequestID])
			}
		}},
		{name: "hop-by-hop", path: "hop", status: 200, body: "ok", check: func(t *testing.T, a answer) {
			for _, k := range []string{"X-Private", "Keep-Alive", "Proxy-Authenticate"} {
				if a.resp.Header[k] != nil {
					t.Errorf("the client got %s", k)
				}
			}
		}},
		// Intended: net/http's server sniffs a Content-Type for an answer
		// without one; the hand-written path relays the answer as the backend
		// sent it, as nginx does.
		{name: "no Content-Type", path: "no-type", status: 200, body: "hello", sniffed: true},
	}
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("raw", map[string]string{"raw": answersBackend(t)}, weights("raw", 100)))
	std := serveStd(t, rt)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = "GET"
			}
			req := method + " /v1/raw/" + c.path + " HTTP/1.1\r\n" + testHost + "\r\n"
			ls := startServer(t, rt, ServerOptions{})
			var got [2]answer
			for i, addr := range []string{ls.addr, stdAddr(std)} {
				rc := dialRaw(t, addr)
				who := [2]string{"hand-written", "net/http"}[i]
				rc.send(req)
				a, err := rc.read(method)
				if err != nil && c.brokenBody {
					rc.expectClosed()
					continue
				}
				if err != nil {
					t.Fatalf("%s: reading the answer: %v", who, err)
				}
				got[i] = a
				if a.resp.StatusCode != c.status {
					t.Fatalf("%s: status %d, want %d: %q", who, a.resp.StatusCode, c.status, a.body)
				}
				if a.resp.Header.Get(hdrVersion) != "raw" || !saneID(a.resp.Header.Get(hdrRequestID)) {
					t.Errorf("%s: version %q, id %q", who, a.resp.Header.Get(hdrVersion), a.resp.Header.Get(hdrRequestID))
				}
				if c.brokenBody {
					if a.bodyErr == nil {
						t.Errorf("%s: the body %q reads as whole", who, a.body)
					}
				} else if a.bodyErr != nil || string(a.body) != c.body && c.body != "" {
					t.Errorf("%s: body %.80q (%v), want %.80q", who, a.body, a.bodyErr, c.body)
				}
				if c.check != nil {
					c.check(t, a)
				}
				if c.closed {
					rc.expectClosed()
					continue
				}
				if a.resp.Close {
					continue // the answer said so
				}
				// The client's connection serves on.
				if b := rc.do(get("/v1/raw/cl")); b.resp.StatusCode != 200 || string(b.body) != "hello" {
					t.Errorf("%s: next request: %d %q", who, b.resp.StatusCode, b.body)
				}
			}
			if c.sniffed {
				if ct := got[0].resp.Header.Get("Content-Type"); ct != "" {
					t.Errorf("hand-written: Content-Type %q added to an answer without one", ct)
				}
				if ct := got[1].resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
					t.Errorf("net/http: Content-Type %q, want its sniffed text/plain", ct)
				}
				got[1].resp.Header.Del("Content-Type")
			}
			if !c.brokenBody {
				for _, d := range diffAnswers(got[0], got[1]) {
					t.Error(d)
				}
			}
			if ls.handoffs.Load() != 0 {
				t.Errorf("handed to net/http")
			}
		})
	}
}

// rechunked checks that an answer without a length reached the client
// chunked.
func rechunked(t *testing.T, a answer) {
	t.Helper()
	if !slices.Equal(a.resp.TransferEncoding, []string{"chunked"}) || a.resp.ContentLength != -1 {
		t.Errorf("transfer encoding %q, length %d, want chunked", a.resp.TransferEncoding, a.resp.ContentLength)
	}
}

// noBackendBody checks a router error: JSON, not the backend's bytes.
func noBackendBody(t *testing.T, a answer) {
	t.Helper()
	if a.resp.Header.Get("Content-Type") != "application/json" || bytes.Contains(a.body, []byte("hello")) {
		t.Errorf("%q %q", a.resp.Header.Get("Content-Type"), a.body)
	}
}

// TestHandWrittenBackendCutMidBodyIsA502OfItsVersion: the client's connection
// is closed (not left waiting for the rest), and the version is charged
// with a 502, as ServeHTTP does.
func TestHandWrittenBackendCutMidBodyIsA502OfItsVersion(t *testing.T) {
	be := answersBackend(t)
	for _, path := range []string{"cut", "cut-chunked", "bad-chunk"} {
		t.Run(path, func(t *testing.T) {
			for _, hand := range []bool{true, false} {
				rt := newTestRouter(t, Options{})
				mustUpdate(t, rt, mkRoute("raw", map[string]string{"raw": be, "other": be}, weights("raw", 100)))
				addr := stdAddr(serveStd(t, rt))
				if hand {
					addr = startServer(t, rt, ServerOptions{}).addr
				}
				rc := dialRaw(t, addr)
				rc.send(get("/v1/raw/" + path))
				// net/http sends nothing of an answer with a length that
				// breaks off, the hand-written path the head and what came.
				if a, err := rc.read("GET"); err == nil && a.bodyErr == nil {
					t.Fatalf("hand-written %v: the body %q reads as whole", hand, a.body)
				}
				rc.expectClosed()
				var v traffic.VersionStats
				// net/http counts after the connection is closed.
				eventually(t, "the request to be counted", func() bool {
					v = find(t, rt.Stats(time.Minute), "raw", "production", "raw")
					return v.Requests > 0
				})
				if v.Requests != 1 || v.Errors != 1 || v.Fallbacks != 0 {
					t.Errorf("hand-written %v: stats %+v, want one request, one error", hand, v)
				}
			}
		})
	}
}

// ---- 3. connections ----
