package router

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHandWrittenParity(t *testing.T) {
	big := strings.Repeat("b", 10000)
	cases := []parityCase{
		{name: "GET", req: get("/v1/m/predict"), via: viaHandWritten, status: 200, version: "v1",
			check: wantSeen("GET", "/predict", "")},
		{name: "GET with query", req: get("/v1/m/predict?a=1&b=two&c=%20x&d=%2F"), via: viaHandWritten, status: 200, version: "v1",
			check: wantSeen("GET", "/predict?a=1&b=two&c=%20x&d=%2F", "")},
		{name: "query with unusual bytes", req: get(`/v1/m/x?q=a/b?c:d@e&r=[1]{2}|"<>\^` + "`!$'()*+,"), via: viaHandWritten, status: 200,
			check: wantSeen("GET", `/x?q=a/b?c:d@e&r=[1]{2}|"<>\^`+"`!$'()*+,", "")},
		{name: "query with semicolons", req: get("/v1/m/x?b=2;c=3&a=1"), status: 200,
			check: wantSeen("GET", "/x?a=1", "")},
		{name: "query with a bad escape", req: get("/v1/m/x?b=1&a=%zz"), status: 200,
			check: wantSeen("GET", "/x?b=1", "")},
		{name: "empty query", req: get("/v1/m/x?"), via: viaHandWritten, status: 200},
		{name: "POST with body", req: post("/v1/m/predict", `{"x":1}`, "Content-Type: application/json\r\n"), via: viaHandWritten, status: 200,
			check: wantSeen("POST", "/predict", `{"x":1}`)},
		{name: "PUT with empty body", req: "PUT /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 0\r\n\r\n", via: viaHandWritten, status: 200},
		{name: "POST without Content-Length", req: "POST /v1/m/x HTTP/1.1\r\n" + testHost + "\r\n", via: viaHandWritten, status: 200},
		{name: "GET with body", req: "GET /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 5\r\n\r\nhello", via: viaHandWritten, status: 200,
			check: wantSeen("GET", "/x", "hello")},
		{name: "Content-Length with leading zeros", req: "POST /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 005\r\n\r\nhello", via: viaHandWritten, status: 200,
			check: wantSeen("POST", "/x", "hello")},
		{name: "DELETE", req: "DELETE /v1/m/items/7 HTTP/1.1\r\n" + testHost + "\r\n", via: viaHandWritten, status: 200,
			check: wantSeen("DELETE", "/items/7", "")},
		{name: "OPTIONS", req: "OPTIONS /v1/m/x HTTP/1.1\r\n" + testHost + "\r\n", via: viaHandWritten, status: 200},
		{name: "lower-case method", req: "get /v1/m/x HTTP/1.1\r\n" + testHost + "\r\n", via: viaHandWritten, status: 200,
			check: wantSeen("get", "/x", "")},
		{name: "HEAD", req: "HEAD /v1/m/x HTTP/1.1\r\n" + testHost + "\r\n", via: viaHandWritten, status: 200, version: "v1"},
		{name: "custom headers", via: viaHandWritten, status: 200,
			req: get("/v1/m/x", "X-Custom: a\r\n", "x-lower: b\r\n", "X-Multi: 1\r\n", "X-Multi: 2\r\n", "X-Obs: caf\xc3\xa9\r\n",
				"X-Empty:\r\n", "X-Spaces: \t padded  \t\r\n", "User-Agent: raw/1\r\n", "Accept: */*\r\n", "Authorization: Bearer t\r\n"),
			check: func(t *testing.T, s seen) {
				want := http.Header{"X-Custom": {"a"}, "X-Lower": {"b"}, "X-Multi": {"1", "2"}, "X-Obs": {"caf\xc3\xa9"},
					"X-Empty": {""}, "X-Spaces": {"padded"}, "User-Agent": {"raw/1"}, "Accept": {"*/*"}, "Authorization": {"Bearer t"}}
				for k, v := range want {
					if !slices.Equal(s.Header[k], v) {
						t.Errorf("the backend saw %s %q, want %q", k, s.Header[k], v)
					}
				}
			}},
		{name: "forwarding headers", via: viaHandWritten, status: 200,
			req: get("/v1/m/x", "Forwarded: for=192.0.2.9\r\n", "X-Forwarded-For: 192.0.2.9\r\n", "X-Forwarded-Host: evil.test\r\n", "X-Forwarded-Proto: https\r\n"),
			check: func(t *testing.T, s seen) {
				want := http.Header{"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Host": {"router.test"}, "X-Forwarded-Proto": {"http"}}
				for k, v := range want {
					if !slices.Equal(s.Header[k], v) {
						t.Errorf("the backend saw %s %q, want %q", k, s.Header[k], v)
					}
				}
				if s.Header["Forwarded"] != nil {
					t.Errorf("the backend saw Forwarded %q", s.Header["Forwarded"])
				}
			}},
		{name: "hop-by-hop headers", via: viaHandWritten, status: 200,
			req: get("/v1/m/x", "Connection: keep-alive, X-Hop, x-other\r\n", "X-Hop: 1\r\n", "X-Other: 2\r\n", "Keep-Alive: timeout=5\r\n",
				"Proxy-Connection: keep-alive\r\n", "Proxy-Authorization: Basic eA==\r\n", "Trailer: X-T\r\n", "X-Kept: yes\r\n"),
			check: func(t *testing.T, s seen) {
				for _, k := range []string{"Connection", "X-Hop", "X-Other", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Trailer"} {
					if s.Header[k] != nil {
						t.Errorf("the backend saw hop-by-hop %s %q", k, s.Header[k])
					}
				}
				if s.Header.Get("X-Kept") != "yes" {
					t.Errorf("X-Kept %q", s.Header.Get("X-Kept"))
				}
			}},
		{name: "Close named by Connection", req: get("/v1/m/x", "Connection: close\r\n", "Close: 1\r\n"), status: 200,
			check: func(t *testing.T, s seen) {
				if s.Header["Close"] != nil {
					t.Errorf("the backend saw Close %q", s.Header["Close"])
				}
			}},
		{name: "Pragma no-cache", req: get("/v1/m/x", "Pragma: no-cache\r\n"), via: viaHandWritten, status: 200},
		{name: "TE trailers (relayed by net/http)", req: get("/v1/m/x", "TE: trailers\r\n"), via: viaNetHTTP, status: 200},
		{name: "sane request id kept", req: get("/v1/m/x", "X-Request-Id: client-id_1.x\r\n"), via: viaHandWritten, status: 200, keepID: "client-id_1.x"},
		{name: "lower-case request id kept", req: get("/v1/m/x", "x-request-id: abc\r\n"), via: viaHandWritten, status: 200, keepID: "abc"},
		{name: "insane request id replaced", req: get("/v1/m/x", "X-Request-Id: not sane!\r\n"), via: viaHandWritten, status: 200},
		{name: "long request id replaced", req: get("/v1/m/x", "X-Request-Id: "+strings.Repeat("a", 129)+"\r\n"), via: viaHandWritten, status: 200},
		{name: "request id named by Connection", req: get("/v1/m/x", "Connection: X-Request-Id\r\n", "X-Request-Id: abc\r\n"), status: 200, keepID: "abc"},
		{name: "generated request id named by Connection", req: get("/v1/m/x", "Connection: x-request-id\r\n"), status: 200},
		{name: "two request ids replaced", req: get("/v1/m/x", "X-Request-Id: a\r\n", "X-Request-Id: b\r\n"), via: viaHandWritten, status: 200},
		{name: "route without rest", req: get("/v1/m"), via: viaHandWritten, status: 200, check: wantSeen("GET", "/", "")},
		{name: "route with a slash", req: get("/v1/m/"), via: viaHandWritten, status: 200, check: wantSeen("GET", "/", "")},
		{name: "base path and queries", req: get("/v1/based/predict?x=1"), via: viaHandWritten, status: 200, version: "v2",
			check: wantSeen("GET", "/api/v2/predict?key=abc&x=1", "")},
		{name: "base path without rest", req: get("/v1/based"), via: viaHandWritten, status: 200, check: wantSeen("GET", "/api/v2?key=abc", "")},
		{name: "base path with a slash", req: get("/v1/based/"), via: viaHandWritten, status: 200, check: wantSeen("GET", "/api/v2/?key=abc", "")},
		{name: "dot segments", req: get("/v1/m/../../admin"), via: viaNetHTTP, gated: true},
		{name: "encoded dot segments", req: get("/v1/m/%2e%2E/admin"), via: viaNetHTTP, gated: true},
		{name: "dot segment behind an encoded slash", req: get("/v1/m/a%2f..%2fadmin"), via: viaNetHTTP, gated: true},
		{name: "dots that are not a segment", req: get("/v1/m/a..b/...x/.y"), via: viaHandWritten, status: 200, check: wantSeen("GET", "/a..b/...x/.y", "")},
		{name: "sub-delims in the path", req: get("/v1/m/a(b)!*'$&+,;=:@~x"), via: viaHandWritten, status: 200,
			check: wantSeen("GET", "/a(b)!*'$&+,;=:@~x", "")},
		{name: "preview header", req: get("/v1/pv/x", "X-Preview: 1\r\n"), via: viaHandWritten, status: 200, version: "canary"},
		{name: "preview header in lower case", req: get("/v1/pv/x", "x-preview: yes\r\n"), via: viaHandWritten, status: 200, version: "canary"},
		{name: "empty preview header", req: get("/v1/pv/x", "X-Preview:\r\n"), via: viaHandWritten, status: 200, version: "stable"},
		{name: "Connection close", req: get("/v1/m/x", "Connection: close\r\n"), status: 200},
		{name: "Upgrade", req: get("/v1/m/x", "Connection: Upgrade\r\n", "Upgrade: websocket\r\n"), via: viaNetHTTP, status: 200},
		{name: "unknown path", req: get("/nope"), via: viaNetHTTP, status: 404},
		{name: "prefix that is not a segment", req: get("/v1/mx"), via: viaNetHTTP, status: 404},
		{name: "feedback", req: post(FeedbackPath, `{"request_id":"nope","reward":1}`), via: viaNetHTTP, noID: true},
		{name: "percent-encoded path", req: get("/v1/m/a%2Fb%20c"), via: viaNetHTTP, status: 200, check: wantSeen("GET", "/a%2Fb%20c", "")},
		{name: "HTTP/1.0", req: "GET /v1/m/x HTTP/1.0\r\n" + testHost + "\r\n", via: viaNetHTTP, status: 200},
		{name: "HTTP/1.0 keep-alive", req: "GET /v1/m/x HTTP/1.0\r\n" + testHost + "Connection: keep-alive\r\n\r\n", via: viaNetHTTP, status: 200},
		{name: "HTTP/1.0 without Host", req: "GET /v1/m/x HTTP/1.0\r\n\r\n", via: viaNetHTTP, status: 200},
		{name: "Expect 100-continue", req: "POST /v1/m/x HTTP/1.1\r\n" + testHost + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", via: viaNetHTTP, status: 200,
			check: wantSeen("POST", "/x", "hello")},
		{name: "chunked body", req: "POST /v1/m/x HTTP/1.1\r\n" + testHost + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", via: viaNetHTTP, status: 200,
			check: wantSeen("POST", "/x", "hello world")},
		{name: "body over MaxBodyBytes", req: post("/v1/m/x", strings.Repeat("x", 10000)), via: viaNetHTTP, status: 200,
			check: wantSeen("POST", "/x", strings.Repeat("x", 10000))},
		{name: "head over 8 KiB", req: get("/v1/m/x", "X-Big: "+big+"\r\n"), via: viaNetHTTP, status: 200,
			check: func(t *testing.T, s seen) {
				if s.Header.Get("X-Big") != big {
					t.Errorf("X-Big lost")
				}
			}},
		{name: "duplicate Content-Length", req: "POST /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", via: viaNetHTTP, gated: true},
		{name: "absolute-form target", req: "GET http://router.test/v1/m/x HTTP/1.1\r\n" + testHost + "\r\n", via: viaNetHTTP, status: 200},
		{name: "obs-fold", req: get("/v1/m/x", "X-Folded: a\r\n  b\r\n"), via: viaNetHTTP, gated: true},
		{name: "bare LF", req: "GET /v1/m/x HTTP/1.1\n" + testHost[:len(testHost)-2] + "\nX-A: 1\n\n", via: viaNetHTTP, gated: true},
		{name: "bad Content-Length", req: "POST /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 5x\r\n\r\nhello", via: viaNetHTTP, status: 400},
		{name: "no Host", req: "GET /v1/m/x HTTP/1.1\r\n\r\n", via: viaNetHTTP, status: 400},
		{name: "two Hosts", req: "GET /v1/m/x HTTP/1.1\r\n" + testHost + testHost + "\r\n", via: viaNetHTTP, status: 400},
		{name: "malformed Host", req: "GET /v1/m/x HTTP/1.1\r\nHost: router test\r\n\r\n", status: 400},
		{name: "space before colon", req: "GET /v1/m/x HTTP/1.1\r\n" + testHost + "X-A : 1\r\n\r\n", via: viaNetHTTP, gated: true},
		{name: "NUL in a value", req: "GET /v1/m/x HTTP/1.1\r\n" + testHost + "X-A: a\x00b\r\n\r\n", via: viaNetHTTP, status: 400},
		{name: "garbage", req: "HELLO\r\n\r\n", via: viaNetHTTP, status: 400},
	}
	// Heads that just fit the hand-written path's buffer, and just do not.
	pad := connBufSize - len(get("/v1/m/x", "X-Pad: \r\n"))
	cases = append(cases,
		parityCase{name: "head of 8 KiB", req: get("/v1/m/x", "X-Pad: "+strings.Repeat("p", pad)+"\r\n"), via: viaHandWritten, status: 200},
		parityCase{name: "head of 8 KiB and a body", req: post("/v1/m/x", "body", "X-Pad: "+strings.Repeat("p", pad-len("Content-Length: 4\r\n")-len("POST")+len("GET"))+"\r\n"), via: viaHandWritten, status: 200,
			check: wantSeen("POST", "/x", "body")},
		parityCase{name: "head of 8 KiB and a byte", req: get("/v1/m/x", "X-Pad: "+strings.Repeat("p", pad+1)+"\r\n"), via: viaNetHTTP, status: 200},
	)
	rt := parityRouter(t)
	std := serveStd(t, rt)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ls := startServer(t, rt, ServerOptions{})
			lc := dialRaw(t, ls.addr)
			hand := lc.do(c.req)
			nh := dialRaw(t, stdAddr(std)).do(c.req)
			if c.gated {
				// A deliberate difference: the router's gate rejects what
				// net/http's server takes (docs/router.md).
				if hand.resp.StatusCode != 400 {
					t.Errorf("status %d, want the gate's 400: %s", hand.resp.StatusCode, hand.body)
				}
				lc.expectClosed()
			} else {
				for _, d := range diffAnswers(hand, nh) {
					t.Error(d)
				}
			}
			switch n := ls.handoffs.Load(); {
			case c.via == viaHandWritten && n != 0:
				t.Errorf("handed to net/http, want the hand-written path")
			case c.via == viaNetHTTP && n != 1:
				t.Errorf("served by the hand-written path, want it handed to net/http")
			}
			if c.status != 0 && hand.resp.StatusCode != c.status {
				t.Errorf("status %d, want %d: %s", hand.resp.StatusCode, c.status, hand.body)
			}
			if hand.resp.StatusCode == 400 || c.noID {
				return // not the router's answer
			}
			for who, a := range map[string]answer{"hand-written": hand, "net/http": nh} {
				checkIDs(t, who, a, c.keepID)
				if c.version != "" && a.resp.Header.Get(hdrVersion) != c.version {
					t.Errorf("%s: X-Switchyard-Version %q, want %q", who, a.resp.Header.Get(hdrVersion), c.version)
				}
			}
			if c.check != nil && methodOf(c.req) != "HEAD" {
				c.check(t, decodeSeen(t, hand))
			}
		})
	}
}

// wantSeen checks the backend's method, request URI and body.
func wantSeen(method, uri, body string) func(t *testing.T, s seen) {
	return func(t *testing.T, s seen) {
		t.Helper()
		if s.Method != method || s.URI != uri || s.Body != body {
			t.Errorf("the backend saw %s %s %q, want %s %s %q", s.Method, s.URI, s.Body, method, uri, body)
		}
	}
}

func TestHandWrittenExpectContinue(t *testing.T) {
	rt := parityRouter(t)
	std := serveStd(t, rt)
	ls := startServer(t, rt, ServerOptions{})
	for who, addr := range map[string]string{"hand-written": ls.addr, "net/http": stdAddr(std)} {
		rc := dialRaw(t, addr)
		rc.send("POST /v1/m/x HTTP/1.1\r\n" + testHost + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		resp, err := http.ReadResponse(rc.br, nil)
		if err != nil || resp.StatusCode != 100 {
			t.Fatalf("%s: %v %v, want 100 Continue before the body", who, resp, err)
		}
		rc.send("hello")
		a := rc.mustRead("POST")
		if s := decodeSeen(t, a); a.resp.StatusCode != 200 || s.Body != "hello" || s.Header.Get("Expect") != "100-continue" {
			t.Errorf("%s: %d %+v", who, a.resp.StatusCode, s)
		}
		// The connection serves on.
		if a := rc.do(get("/v1/m/again")); decodeSeen(t, a).URI != "/again" {
			t.Errorf("%s: second request: %s", who, a.body)
		}
	}
}

// TestHandWrittenStreamsBodiesOverMaxBodyBytes: a body too large to buffer is
// handed off and streamed: the backend reads its start before the client
// has sent the rest.
func TestHandWrittenStreamsBodiesOverMaxBodyBytes(t *testing.T) {
	const half = 8192
	gotHalf, sendRest := make(chan struct{}), make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, half)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		close(gotHalf)
		rest, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "%d", half+len(rest))
	}))
	t.Cleanup(be.Close)
	rt := newTestRouter(t, Options{MaxBodyBytes: 1024})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	ls := startServer(t, rt, ServerOptions{})
	rc := dialRaw(t, ls.addr)
	rc.send("POST /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: " + strconv.Itoa(2*half) + "\r\n\r\n" + strings.Repeat("a", half))
	go func() {
		select {
		case <-gotHalf:
			close(sendRest)
		case <-time.After(20 * time.Second):
		}
	}()
	select {
	case <-sendRest:
	case <-time.After(25 * time.Second):
		t.Fatal("the backend never got the first half: the body was not streamed")
	}
	rc.send(strings.Repeat("b", half))
	a := rc.mustRead("POST")
	if a.resp.StatusCode != 200 || string(a.body) != strconv.Itoa(2*half) {
		t.Fatalf("%d %q", a.resp.StatusCode, a.body)
	}
	if ls.handoffs.Load() != 1 {
		t.Errorf("handoffs %d, want 1", ls.handoffs.Load())
	}
}

func TestHandWrittenStickyChoosesAsServeHTTP(t *testing.T) {
	a, b := seenBackend(t, "a", nil), seenBackend(t, "b", nil)
	rt := newTestRouter(t, Options{})
	byHeader := mkRoute("h", map[string]string{"a": a.URL, "b": b.URL}, weights("a", 50, "b", 50))
	byHeader.Sticky = "header:x-user"
	byCookie := mkRoute("c", map[string]string{"a": a.URL, "b": b.URL}, weights("a", 50, "b", 50))
	byCookie.Sticky = "cookie:uid"
	mustUpdate(t, rt, byHeader, byCookie)
	ls := startServer(t, rt, ServerOptions{})
	hand, nh := dialRaw(t, ls.addr), dialRaw(t, stdAddr(serveStd(t, rt)))
	count := map[string]int{}
	for i := range 40 {
		key := fmt.Sprintf("u-%d", i)
		reqs := []string{
			get("/v1/h/x", "X-User: "+key+"\r\n"),
			get("/v1/h/x", "x-user: "+key+"\r\n", "X-User: other\r\n"),
			get("/v1/c/x", "Cookie: uid="+key+"\r\n"),
			get("/v1/c/x", `Cookie: uid="`+key+`"`+"\r\n"),
			get("/v1/c/x", "Cookie: a=1; uid="+key+"; b=2\r\n"),
			get("/v1/c/x", "Cookie: a=1\r\n", "Cookie: uid="+key+"\r\n"),
			get("/v1/c/x", `Cookie: uid=bad\v; uid=`+key+"\r\n"),
		}
		first := ""
		for _, req := range reqs {
			l, s := hand.do(req), nh.do(req)
			lv, sv := l.resp.Header.Get(hdrVersion), s.resp.Header.Get(hdrVersion)
			if lv != sv {
				t.Errorf("%q: hand-written chose %q, net/http %q", req, lv, sv)
			}
			if first == "" {
				first = lv
			} else if lv != first {
				t.Errorf("%q: %q, but the same key went to %q before", req, lv, first)
			}
			count[lv]++
		}
	}
	if count["a"] == 0 || count["b"] == 0 {
		t.Errorf("every key went to one version: %v", count)
	}
	if ls.handoffs.Load() != 0 {
		t.Errorf("sticky requests were handed to net/http")
	}
}

// ---- 2. backend answers ----
