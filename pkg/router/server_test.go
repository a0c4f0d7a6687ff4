package router

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/textproto"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// This file holds the lean server (server.go, fast.go, httphead.go) to
// the behaviour of net/http's server with Router.ServeHTTP: the same
// request, sent over a raw connection to each, must reach the backend the
// same way and come back the same way. It also covers what only the lean
// server does (connections, timeouts, Shutdown, Close, handing off) and
// fuzzes its head parsers against net/http's.
//
// Tests assert behaviour, never timings: every wait is bounded, and a
// bound only turns a hang into a failure.

const testHost = "Host: router.test\r\n"

// ---- servers and raw clients ----

// leanServer is a lean Server on 127.0.0.1.
type leanServer struct {
	*Server
	addr     string
	served   chan error   // what Serve returned
	handoffs atomic.Int64 // connections handed to net/http
}

func startLean(t testing.TB, rt *Router, opts ServerOptions) *leanServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls := &leanServer{Server: NewServer(rt, opts), addr: ln.Addr().String(), served: make(chan error, 1)}
	// net/http reports each connection it is given before reading from
	// it, so the count is exact once an answer is read.
	ls.std.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			ls.handoffs.Add(1)
		}
	}
	go func() { ls.served <- ls.Serve(ln) }()
	t.Cleanup(func() { _ = ls.Close() })
	return ls
}

func (ls *leanServer) tracked() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.conns)
}

func stdAddr(s served) string { return strings.TrimPrefix(s.URL, "http://") }

// rawConn is a client connection that writes bytes as given.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// A bound against a hanging test, never an assertion.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatalf("writing the request: %v", err)
	}
}

// answer is what a client read: interim 1xx codes, then the final answer.
type answer struct {
	interim []int
	resp    *http.Response
	body    []byte
	bodyErr error
}

func (rc *rawConn) read(method string) (answer, error) {
	var a answer
	for range 10 {
		resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
		if err != nil {
			return a, err
		}
		if resp.StatusCode < 200 {
			a.interim = append(a.interim, resp.StatusCode)
			continue
		}
		a.resp = resp
		a.body, a.bodyErr = io.ReadAll(resp.Body)
		resp.Body.Close()
		return a, nil
	}
	return a, errors.New("more than 10 interim answers")
}

func (rc *rawConn) mustRead(method string) answer {
	rc.t.Helper()
	a, err := rc.read(method)
	if err != nil {
		rc.t.Fatalf("reading the answer: %v", err)
	}
	return a
}

// do sends a request and reads its answer.
func (rc *rawConn) do(req string) answer {
	rc.t.Helper()
	rc.send(req)
	return rc.mustRead(methodOf(req))
}

func methodOf(req string) string {
	m, _, _ := strings.Cut(req, " ")
	return m
}

// expectClosed checks that the server closed the connection: a read
// finds the end of the stream (or a reset), not bytes, and not our bound.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	b, err := rc.br.ReadByte()
	switch {
	case err == nil:
		rest, _ := rc.br.Peek(rc.br.Buffered())
		rc.t.Fatalf("the connection is still open: read %q", append([]byte{b}, rest...))
	case isTimeout(err):
		rc.t.Fatal("the connection was left open")
	}
}

func get(path string, hdr ...string) string {
	return "GET " + path + " HTTP/1.1\r\n" + testHost + strings.Join(hdr, "") + "\r\n"
}

func post(path, body string, hdr ...string) string {
	return "POST " + path + " HTTP/1.1\r\n" + testHost + strings.Join(hdr, "") +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// ---- backends ----

// seen is what a test backend saw of a request; it is the answer's body.
// The request id is left out of it (it is answered as X-Backend-Saw-Id),
// so that answers through both servers have the same bytes.
type seen struct {
	Version       string      `json:"version"`
	Method        string      `json:"method"`
	URI           string      `json:"uri"`
	Host          string      `json:"host"`
	Proto         string      `json:"proto"`
	Header        http.Header `json:"header"`
	Body          string      `json:"body"`
	ContentLength int64       `json:"content_length"`
	TE            []string    `json:"te"`
}

// seenBackend answers every request with what it saw. gate, when set,
// runs first (to hold an answer back).
func seenBackend(t testing.TB, version string, gate func(r *http.Request)) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(seenHandler(version, gate))
	t.Cleanup(s.Close)
	return s
}

func seenHandler(version string, gate func(r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gate != nil {
			gate(r)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		h := r.Header.Clone()
		w.Header()["X-Backend-Saw-Id"] = h[hdrRequestID]
		delete(h, hdrRequestID)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{
			Version: version, Method: r.Method, URI: r.RequestURI, Host: r.Host, Proto: r.Proto,
			Header: h, Body: string(body), ContentLength: r.ContentLength, TE: r.TransferEncoding,
		})
	})
}

func decodeSeen(t testing.TB, a answer) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal(a.body, &s); err != nil {
		t.Fatalf("answer %d %q is not what a backend saw: %v", a.resp.StatusCode, a.body, err)
	}
	return s
}

// rawBackend answers each request with the bytes answer gives for it, and
// closes the connection after when answer says so.
func rawBackend(t testing.TB, answer func(req *http.Request) (raw string, close bool)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					raw, close := answer(req)
					if _, err := io.WriteString(c, raw); err != nil || close {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// ---- comparing answers ----

// comparableHeader leaves out what differs by nature: Date and the ids.
func comparableHeader(h http.Header) http.Header {
	c := h.Clone()
	for _, k := range []string{"Date", hdrRequestID, "X-Backend-Saw-Id"} {
		delete(c, k)
	}
	return c
}

// diffAnswers lists how the lean server's answer differs from net/http's.
func diffAnswers(lean, std answer) []string {
	var d []string
	add := func(what string, l, s any) {
		if !reflect.DeepEqual(l, s) {
			d = append(d, fmt.Sprintf("%s: lean %v, net/http %v", what, l, s))
		}
	}
	add("interim answers", lean.interim, std.interim)
	add("status", lean.resp.StatusCode, std.resp.StatusCode)
	add("proto", lean.resp.Proto, std.resp.Proto)
	add("header", comparableHeader(lean.resp.Header), comparableHeader(std.resp.Header))
	add("content length", lean.resp.ContentLength, std.resp.ContentLength)
	add("transfer encoding", lean.resp.TransferEncoding, std.resp.TransferEncoding)
	add("close", lean.resp.Close, std.resp.Close)
	add("body error", lean.bodyErr != nil, std.bodyErr != nil)
	if lean.bodyErr == nil && std.bodyErr == nil && !bytes.Equal(lean.body, std.body) {
		d = append(d, fmt.Sprintf("body:\nlean     %s\nnet/http %s", lean.body, std.body))
	}
	return d
}

// checkIDs checks the answer's request id: sane, the one the backend saw,
// and the client's when keep is set.
func checkIDs(t testing.TB, who string, a answer, keep string) {
	t.Helper()
	id := a.resp.Header.Get(hdrRequestID)
	if !saneID(id) {
		t.Errorf("%s: X-Request-Id %q", who, id)
	}
	if saw := a.resp.Header.Get("X-Backend-Saw-Id"); saw != "" && saw != id {
		t.Errorf("%s: the backend saw request id %q, the client got %q", who, saw, id)
	}
	if keep != "" && id != keep {
		t.Errorf("%s: request id %q, want the client's %q", who, id, keep)
	}
}

// ---- 1. parity of requests ----

// parityRouter routes /v1/m to v1, /v1/based to v2 behind a base path and
// query, and /v1/pv to stable with a preview header for canary; bodies
// over 4 KiB are not buffered.
func parityRouter(t testing.TB) *Router {
	t.Helper()
	rt := newTestRouter(t, Options{MaxBodyBytes: 4096})
	pv := mkRoute("pv", map[string]string{"stable": seenBackend(t, "stable", nil).URL, "canary": seenBackend(t, "canary", nil).URL}, weights("stable", 100))
	pv.Preview = &traffic.Preview{Header: "x-preview", Version: "canary"}
	mustUpdate(t, rt,
		mkRoute("m", map[string]string{"v1": seenBackend(t, "v1", nil).URL}, weights("v1", 100)),
		traffic.Route{Model: "based", Stage: "production", Path: "/v1/based/", Backends: map[string]string{"v2": seenBackend(t, "v2", nil).URL + "/api/v2/?key=abc"}, Weights: weights("v2", 100)},
		pv,
	)
	return rt
}

const (
	viaLean    = "lean"
	viaNetHTTP = "net/http"
)

type parityCase struct {
	name, req string
	via       string // which path of the lean server answers; "" when either
	status    int
	version   string // X-Switchyard-Version, when a backend answers
	keepID    string // the client's request id, to be kept
	noID      bool   // an answer without a request id (feedback)
	check     func(t *testing.T, s seen)
}

func TestLeanParity(t *testing.T) {
	big := strings.Repeat("b", 10000)
	cases := []parityCase{
		{name: "GET", req: get("/v1/m/predict"), via: viaLean, status: 200, version: "v1",
			check: wantSeen("GET", "/predict", "")},
		{name: "GET with query", req: get("/v1/m/predict?a=1&b=two&c=%20x&d=%2F"), via: viaLean, status: 200, version: "v1",
			check: wantSeen("GET", "/predict?a=1&b=two&c=%20x&d=%2F", "")},
		{name: "query with unusual bytes", req: get(`/v1/m/x?q=a/b?c:d@e&r=[1]{2}|"<>\^` + "`!$'()*+,"), via: viaLean, status: 200,
			check: wantSeen("GET", `/x?q=a/b?c:d@e&r=[1]{2}|"<>\^`+"`!$'()*+,", "")},
		{name: "query with semicolons", req: get("/v1/m/x?b=2;c=3&a=1"), status: 200,
			check: wantSeen("GET", "/x?a=1", "")},
		{name: "query with a bad escape", req: get("/v1/m/x?b=1&a=%zz"), status: 200,
			check: wantSeen("GET", "/x?b=1", "")},
		{name: "empty query", req: get("/v1/m/x?"), via: viaLean, status: 200},
		{name: "POST with body", req: post("/v1/m/predict", `{"x":1}`, "Content-Type: application/json\r\n"), via: viaLean, status: 200,
			check: wantSeen("POST", "/predict", `{"x":1}`)},
		{name: "PUT with empty body", req: "PUT /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 0\r\n\r\n", via: viaLean, status: 200},
		{name: "POST without Content-Length", req: "POST /v1/m/x HTTP/1.1\r\n" + testHost + "\r\n", via: viaLean, status: 200},
		{name: "GET with body", req: "GET /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 5\r\n\r\nhello", via: viaLean, status: 200,
			check: wantSeen("GET", "/x", "hello")},
		{name: "Content-Length with leading zeros", req: "POST /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 005\r\n\r\nhello", via: viaLean, status: 200,
			check: wantSeen("POST", "/x", "hello")},
		{name: "DELETE", req: "DELETE /v1/m/items/7 HTTP/1.1\r\n" + testHost + "\r\n", via: viaLean, status: 200,
			check: wantSeen("DELETE", "/items/7", "")},
		{name: "OPTIONS", req: "OPTIONS /v1/m/x HTTP/1.1\r\n" + testHost + "\r\n", via: viaLean, status: 200},
		{name: "lower-case method", req: "get /v1/m/x HTTP/1.1\r\n" + testHost + "\r\n", via: viaLean, status: 200,
			check: wantSeen("get", "/x", "")},
		{name: "HEAD", req: "HEAD /v1/m/x HTTP/1.1\r\n" + testHost + "\r\n", via: viaLean, status: 200, version: "v1"},
		{name: "custom headers", via: viaLean, status: 200,
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
		{name: "forwarding headers", via: viaLean, status: 200,
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
		{name: "hop-by-hop headers", via: viaLean, status: 200,
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
		{name: "Pragma no-cache", req: get("/v1/m/x", "Pragma: no-cache\r\n"), via: viaLean, status: 200},
		{name: "TE trailers (relayed by net/http)", req: get("/v1/m/x", "TE: trailers\r\n"), via: viaNetHTTP, status: 200},
		{name: "sane request id kept", req: get("/v1/m/x", "X-Request-Id: client-id_1.x\r\n"), via: viaLean, status: 200, keepID: "client-id_1.x"},
		{name: "lower-case request id kept", req: get("/v1/m/x", "x-request-id: abc\r\n"), via: viaLean, status: 200, keepID: "abc"},
		{name: "insane request id replaced", req: get("/v1/m/x", "X-Request-Id: not sane!\r\n"), via: viaLean, status: 200},
		{name: "long request id replaced", req: get("/v1/m/x", "X-Request-Id: "+strings.Repeat("a", 129)+"\r\n"), via: viaLean, status: 200},
		{name: "two request ids replaced", req: get("/v1/m/x", "X-Request-Id: a\r\n", "X-Request-Id: b\r\n"), via: viaLean, status: 200},
		{name: "route without rest", req: get("/v1/m"), via: viaLean, status: 200, check: wantSeen("GET", "/", "")},
		{name: "route with a slash", req: get("/v1/m/"), via: viaLean, status: 200, check: wantSeen("GET", "/", "")},
		{name: "base path and queries", req: get("/v1/based/predict?x=1"), via: viaLean, status: 200, version: "v2",
			check: wantSeen("GET", "/api/v2/predict?key=abc&x=1", "")},
		{name: "base path without rest", req: get("/v1/based"), via: viaLean, status: 200, check: wantSeen("GET", "/api/v2?key=abc", "")},
		{name: "base path with a slash", req: get("/v1/based/"), via: viaLean, status: 200, check: wantSeen("GET", "/api/v2/?key=abc", "")},
		{name: "dot segments", req: get("/v1/m/../../admin"), via: viaLean, status: 200, check: wantSeen("GET", "/../../admin", "")},
		{name: "sub-delims in the path", req: get("/v1/m/a(b)!*'$&+,;=:@~x"), via: viaLean, status: 200,
			check: wantSeen("GET", "/a(b)!*'$&+,;=:@~x", "")},
		{name: "preview header", req: get("/v1/pv/x", "X-Preview: 1\r\n"), via: viaLean, status: 200, version: "canary"},
		{name: "preview header in lower case", req: get("/v1/pv/x", "x-preview: yes\r\n"), via: viaLean, status: 200, version: "canary"},
		{name: "empty preview header", req: get("/v1/pv/x", "X-Preview:\r\n"), via: viaLean, status: 200, version: "stable"},
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
		{name: "duplicate Content-Length", req: "POST /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", via: viaNetHTTP, status: 200},
		{name: "absolute-form target", req: "GET http://router.test/v1/m/x HTTP/1.1\r\n" + testHost + "\r\n", via: viaNetHTTP, status: 200},
		{name: "obs-fold", req: get("/v1/m/x", "X-Folded: a\r\n  b\r\n"), via: viaNetHTTP},
		{name: "bare LF", req: "GET /v1/m/x HTTP/1.1\n" + testHost[:len(testHost)-2] + "\nX-A: 1\n\n", via: viaNetHTTP, status: 200},
		{name: "bad Content-Length", req: "POST /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 5x\r\n\r\nhello", via: viaNetHTTP, status: 400},
		{name: "no Host", req: "GET /v1/m/x HTTP/1.1\r\n\r\n", via: viaNetHTTP, status: 400},
		{name: "two Hosts", req: "GET /v1/m/x HTTP/1.1\r\n" + testHost + testHost + "\r\n", via: viaNetHTTP, status: 400},
		{name: "malformed Host", req: "GET /v1/m/x HTTP/1.1\r\nHost: router test\r\n\r\n", status: 400},
		{name: "space before colon", req: "GET /v1/m/x HTTP/1.1\r\n" + testHost + "X-A : 1\r\n\r\n", via: viaNetHTTP, status: 400},
		{name: "NUL in a value", req: "GET /v1/m/x HTTP/1.1\r\n" + testHost + "X-A: a\x00b\r\n\r\n", via: viaNetHTTP, status: 400},
		{name: "garbage", req: "HELLO\r\n\r\n", via: viaNetHTTP, status: 400},
	}
	// Heads that just fit the lean server's buffer, and just do not.
	pad := connBufSize - len(get("/v1/m/x", "X-Pad: \r\n"))
	cases = append(cases,
		parityCase{name: "head of 8 KiB", req: get("/v1/m/x", "X-Pad: "+strings.Repeat("p", pad)+"\r\n"), via: viaLean, status: 200},
		parityCase{name: "head of 8 KiB and a body", req: post("/v1/m/x", "body", "X-Pad: "+strings.Repeat("p", pad-len("Content-Length: 4\r\n")-len("POST")+len("GET"))+"\r\n"), via: viaLean, status: 200,
			check: wantSeen("POST", "/x", "body")},
		parityCase{name: "head of 8 KiB and a byte", req: get("/v1/m/x", "X-Pad: "+strings.Repeat("p", pad+1)+"\r\n"), via: viaNetHTTP, status: 200},
	)
	rt := parityRouter(t)
	std := serveStd(t, rt)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ls := startLean(t, rt, ServerOptions{})
			lean := dialRaw(t, ls.addr).do(c.req)
			nh := dialRaw(t, stdAddr(std)).do(c.req)
			for _, d := range diffAnswers(lean, nh) {
				t.Error(d)
			}
			switch n := ls.handoffs.Load(); {
			case c.via == viaLean && n != 0:
				t.Errorf("handed to net/http, want the lean path")
			case c.via == viaNetHTTP && n != 1:
				t.Errorf("served by the lean path, want it handed to net/http")
			}
			if c.status != 0 && lean.resp.StatusCode != c.status {
				t.Errorf("status %d, want %d: %s", lean.resp.StatusCode, c.status, lean.body)
			}
			if lean.resp.StatusCode == 400 || c.noID {
				return // not the router's answer
			}
			for who, a := range map[string]answer{"lean": lean, "net/http": nh} {
				checkIDs(t, who, a, c.keepID)
				if c.version != "" && a.resp.Header.Get(hdrVersion) != c.version {
					t.Errorf("%s: X-Switchyard-Version %q, want %q", who, a.resp.Header.Get(hdrVersion), c.version)
				}
			}
			if c.check != nil && methodOf(c.req) != "HEAD" {
				c.check(t, decodeSeen(t, lean))
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

func TestLeanExpectContinue(t *testing.T) {
	rt := parityRouter(t)
	std := serveStd(t, rt)
	ls := startLean(t, rt, ServerOptions{})
	for who, addr := range map[string]string{"lean": ls.addr, "net/http": stdAddr(std)} {
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

// TestLeanStreamsBodiesOverMaxBodyBytes: a body too large to buffer is
// handed off and streamed: the backend reads its start before the client
// has sent the rest.
func TestLeanStreamsBodiesOverMaxBodyBytes(t *testing.T) {
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
	ls := startLean(t, rt, ServerOptions{})
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

func TestLeanStickyChoosesAsServeHTTP(t *testing.T) {
	a, b := seenBackend(t, "a", nil), seenBackend(t, "b", nil)
	rt := newTestRouter(t, Options{})
	byHeader := mkRoute("h", map[string]string{"a": a.URL, "b": b.URL}, weights("a", 50, "b", 50))
	byHeader.Sticky = "header:x-user"
	byCookie := mkRoute("c", map[string]string{"a": a.URL, "b": b.URL}, weights("a", 50, "b", 50))
	byCookie.Sticky = "cookie:uid"
	mustUpdate(t, rt, byHeader, byCookie)
	ls := startLean(t, rt, ServerOptions{})
	lean, nh := dialRaw(t, ls.addr), dialRaw(t, stdAddr(serveStd(t, rt)))
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
			l, s := lean.do(req), nh.do(req)
			lv, sv := l.resp.Header.Get(hdrVersion), s.resp.Header.Get(hdrVersion)
			if lv != sv {
				t.Errorf("%q: lean chose %q, net/http %q", req, lv, sv)
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

// TestLeanCookieKeyMatchesNetHTTP: the sticky cookie the lean path reads
// is the one Request.Cookie finds.
func TestLeanCookieKeyMatchesNetHTTP(t *testing.T) {
	lines := [][]string{
		{"uid=1"}, {`uid="1"`}, {`uid=""`}, {`uid="`}, {`uid="1`}, {`uid=1"`},
		{"uid =1"}, {" uid=1 "}, {"uid= 1"}, {"uid=1 2"}, {"uid\t=1"},
		{"a=1;uid=2"}, {"a=1; uid=2;"}, {"a=1 ; uid=2 ; uid=3"}, {`uid=b\ad; uid=ok`}, {`uid=b"ad; uid=ok`},
		{"UID=1"}, {"uid"}, {"uid; uid=2"}, {"uid=; uid=2"}, {"=uid; uid=2"}, {"a b=1; uid=2"},
		{"uid=1\xc2\xa0"}, {"uid=\xc2\xa01"}, {"uid=caf\xe9; uid=2"}, {"uid=1,2"},
		{"a=1", "uid=2"}, {"uid=1", "uid=2"}, {"", "uid=2"},
		{strings.Repeat("a=1;", 3000) + "uid=1"},
		{strings.Repeat("a=1;", 2999) + "uid=1"},
		{strings.Repeat("a=1;", 1500), strings.Repeat("a=1;", 1500) + "uid=1"},
	}
	for _, vs := range lines {
		var fs []field
		h := http.Header{}
		for _, v := range vs {
			fs = append(fs, field{name: []byte("cookie"), value: trimOWS([]byte(v))})
			h.Add("Cookie", v)
		}
		lk := (*leanKeys)(&leanReq{fields: fs})
		sk := (*stdKeys)(&http.Request{Header: h})
		if l, s := lk.cookie("uid"), sk.cookie("uid"); l != s {
			name := fmt.Sprintf("%q", vs)
			if len(name) > 80 {
				name = name[:40] + "..." + name[len(name)-40:]
			}
			t.Errorf("Cookie %s: lean key %q, net/http %q", name, l, s)
		}
	}
}

// ---- 2. backend answers ----

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

func TestLeanRelaysBackendAnswers(t *testing.T) {
	cases := []struct {
		name, method, path string
		status             int
		body               string
		// brokenBody: the client must see the answer cut short (net/http
		// sends nothing of an answer with a length that breaks off, the
		// lean path the head and what came), and the connection closed.
		brokenBody  bool
		closed      bool
		routerError bool // answered by the router itself
		sniffed     bool // no Content-Type: net/http sniffs one, the lean path does not
		check       func(t *testing.T, a answer)
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
		{name: "conflicting Content-Lengths", path: "conflicting-length", status: 502, check: noBackendBody, routerError: true},
		{name: "negative Content-Length", path: "bad-length", status: 502, check: noBackendBody, routerError: true},
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
		// without one; the lean path relays the answer as the backend
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
			ls := startLean(t, rt, ServerOptions{})
			var got [2]answer
			for i, addr := range []string{ls.addr, stdAddr(std)} {
				rc := dialRaw(t, addr)
				who := [2]string{"lean", "net/http"}[i]
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
					t.Errorf("lean: Content-Type %q added to an answer without one", ct)
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

// TestLeanBackendCutMidBodyIsA502OfItsVersion: the client's connection
// is closed (not left waiting for the rest), and the version is charged
// with a 502, as ServeHTTP does.
func TestLeanBackendCutMidBodyIsA502OfItsVersion(t *testing.T) {
	be := answersBackend(t)
	for _, path := range []string{"cut", "cut-chunked", "bad-chunk"} {
		t.Run(path, func(t *testing.T) {
			for _, lean := range []bool{true, false} {
				rt := newTestRouter(t, Options{})
				mustUpdate(t, rt, mkRoute("raw", map[string]string{"raw": be, "other": be}, weights("raw", 100)))
				addr := stdAddr(serveStd(t, rt))
				if lean {
					addr = startLean(t, rt, ServerOptions{}).addr
				}
				rc := dialRaw(t, addr)
				rc.send(get("/v1/raw/" + path))
				// net/http sends nothing of an answer with a length that
				// breaks off, the lean path the head and what came.
				if a, err := rc.read("GET"); err == nil && a.bodyErr == nil {
					t.Fatalf("lean %v: the body %q reads as whole", lean, a.body)
				}
				rc.expectClosed()
				var v traffic.VersionStats
				for range 1000 { // net/http counts after the connection is closed
					if v = find(t, rt.Stats(time.Minute), "raw", "production", "raw"); v.Requests > 0 {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				if v.Requests != 1 || v.Errors != 1 || v.Fallbacks != 0 {
					t.Errorf("lean %v: stats %+v, want one request, one error", lean, v)
				}
			}
		})
	}
}

// ---- 3. connections ----

func TestLeanKeepAliveManyRequests(t *testing.T) {
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
	ls := startLean(t, rt, ServerOptions{})
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
		t.Errorf("handoffs %d, lean connections %d", ls.handoffs.Load(), ls.tracked())
	}
}

func TestLeanPipelining(t *testing.T) {
	rt := parityRouter(t)
	ls := startLean(t, rt, ServerOptions{})
	type want struct{ method, uri, body string }
	t.Run("lean", func(t *testing.T) {
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

func TestLeanClientConnectionClose(t *testing.T) {
	rt := parityRouter(t)
	ls := startLean(t, rt, ServerOptions{})
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

func TestLeanUnusualHeadsGoToNetHTTP(t *testing.T) {
	rt := parityRouter(t)
	cases := []struct {
		name, req string
		status    int
		check     func(t *testing.T, s seen)
	}{
		{"bare LF", "GET /v1/m/x HTTP/1.1\nHost: router.test\nX-A: 1\n\n", 200, func(t *testing.T, s seen) {
			if s.URI != "/x" || s.Header.Get("X-A") != "1" {
				t.Errorf("%+v", s)
			}
		}},
		{"bare LF after CRLF", "GET /v1/m/x HTTP/1.1\r\nHost: router.test\r\nX-A: 1\n\r\n", 200, nil},
		{"obs-fold", "GET /v1/m/x HTTP/1.1\r\nHost: router.test\r\nX-Folded: a\r\n  b\r\n\r\n", 200, func(t *testing.T, s seen) {
			if s.Header.Get("X-Folded") != "a b" {
				t.Errorf("X-Folded %q", s.Header.Get("X-Folded"))
			}
		}},
		{"header line without colon", "GET /v1/m/x HTTP/1.1\r\nHost: router.test\r\nBad Header\r\n\r\n", 400, nil},
		{"request line without version", "GET /v1/m/x\r\nHost: router.test\r\n\r\n", 400, nil},
		{"control byte in the path", "GET /v1/m/\x01 HTTP/1.1\r\nHost: router.test\r\n\r\n", 400, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ls := startLean(t, rt, ServerOptions{})
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
				t.Errorf("served by the lean path")
			}
		})
	}
}

// TestLeanHeadInPieces: a head (and body) that arrives a byte at a time
// is read whole, however the reads fall, bare LFs included.
func TestLeanHeadInPieces(t *testing.T) {
	rt := parityRouter(t)
	ls := startLean(t, rt, ServerOptions{})
	for _, c := range []struct{ req, via string }{
		{post("/v1/m/x?q=1", "hello", "X-A: 1\r\n"), viaLean},
		{"POST /v1/m/x?q=1 HTTP/1.1\nHost: router.test\nX-A: 1\nContent-Length: 5\n\nhello", viaNetHTTP},
		{"POST /v1/m/x?q=1 HTTP/1.1\r\nHost: router.test\r\nX-A: 1\nContent-Length: 5\r\n\r\nhello", viaNetHTTP},
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
		if handed := ls.handoffs.Load() - before; handed != map[string]int64{viaLean: 0, viaNetHTTP: 1}[c.via] {
			t.Errorf("%q: %d handoffs, want the %s path", c.req, handed, c.via)
		}
	}
}

// TestLeanAnswerHeadInPieces: a backend's answer head that arrives in
// pieces is read by the lean path, which keeps the backend's connection.
func TestLeanAnswerHeadInPieces(t *testing.T) {
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
	rc := dialRaw(t, startLean(t, rt, ServerOptions{}).addr)
	for i := range 5 {
		if a := rc.do(get("/v1/m/x")); a.resp.StatusCode != 200 || string(a.body) != "hello" || a.resp.Header.Get("X-A") != "1" {
			t.Fatalf("answer %d: %d %q", i, a.resp.StatusCode, a.body)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d backend connections for 5 requests, want 1 kept alive", n)
	}
}

// TestLeanBodyTimeout: a body that stops coming closes the connection,
// and nothing of the request reaches the backend.
func TestLeanBodyTimeout(t *testing.T) {
	var reached atomic.Int64
	be := seenBackend(t, "v1", func(*http.Request) { reached.Add(1) })
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	ls := startLean(t, rt, ServerOptions{BodyTimeout: 50 * time.Millisecond})
	rc := dialRaw(t, ls.addr)
	rc.send("POST /v1/m/x HTTP/1.1\r\n" + testHost + "Content-Length: 10\r\n\r\nhalf")
	rc.expectClosed()
	if reached.Load() != 0 {
		t.Errorf("the backend got the request")
	}
}

func TestLeanHeaderAndIdleTimeouts(t *testing.T) {
	rt := parityRouter(t)
	ls := startLean(t, rt, ServerOptions{ReadHeaderTimeout: 50 * time.Millisecond, IdleTimeout: 50 * time.Millisecond})
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

func TestLeanShutdownWaitsForRequestsInFlight(t *testing.T) {
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
	ls := startLean(t, rt, ServerOptions{})

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

// TestLeanShutdownAnswerSaysClose: an answer written while the server
// shuts down says Connection: close, as net/http's does, so that the
// client does not send another request on a connection about to close.
func TestLeanShutdownAnswerSaysClose(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	be := seenBackend(t, "v1", func(r *http.Request) {
		close(arrived)
		<-release
	})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100)))
	ls := startLean(t, rt, ServerOptions{})
	busy := dialRaw(t, ls.addr)
	busy.send(get("/v1/m/slow"))
	<-arrived
	shut := make(chan error, 1)
	go func() { shut <- ls.Shutdown(context.Background()) }()
	for range 1000 { // until Shutdown has begun
		if ls.closing.Load() {
			break
		}
		time.Sleep(time.Millisecond)
	}
	once.Do(func() { close(release) })
	if a := busy.mustRead("GET"); !a.resp.Close {
		t.Errorf("the answer does not say Connection: close")
	}
	busy.expectClosed()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

func TestLeanClose(t *testing.T) {
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
	ls := startLean(t, rt, ServerOptions{})
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

func TestLeanServeAfterShutdown(t *testing.T) {
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

func TestLeanFallbackAndErrorsAsServeHTTP(t *testing.T) {
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
				for i, lean := range []bool{true, false} {
					rt := newTestRouter(t, Options{BackendTimeout: 200 * time.Millisecond})
					r := mkRoute("m", map[string]string{"v7": c.url, "rules": rules.URL}, weights("v7", 100, "rules", 0))
					if fallback {
						r.Fallback = "rules"
					}
					mustUpdate(t, rt, r)
					addr := stdAddr(serveStd(t, rt))
					if lean {
						addr = startLean(t, rt, ServerOptions{}).addr
					}
					got[i] = dialRaw(t, addr).do(post("/v1/m/predict", `{"x":1}`, "X-Request-Id: req-1\r\n"))
					stats[i] = rt.Stats(time.Minute)
				}
				lean, nh := got[0], got[1]
				if !c.sameBody {
					lean.body, nh.body = nil, nil
				}
				for _, d := range diffAnswers(lean, nh) {
					t.Error(d)
				}
				a := got[0]
				if a.resp.Header.Get(hdrRequestID) != "req-1" {
					t.Errorf("X-Request-Id %q", a.resp.Header.Get(hdrRequestID))
				}
				if fallback {
					if s := decodeSeen(t, a); a.resp.StatusCode != 200 || s.Version != "rules" || s.Body != `{"x":1}` || s.URI != "/predict" ||
						a.resp.Header.Get(hdrVersion) != "rules" || a.resp.Header.Get("X-Backend-Saw-Id") != "req-1" {
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
						t.Errorf("%s stats: lean %+v, net/http %+v", v, l, s)
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

// TestLeanRouterErrorLeavesConnectionUsable: after an error the router
// answers itself (the version failed before answering), the client's
// connection serves on, or the answer says Connection: close.
func TestLeanRouterErrorLeavesConnectionUsable(t *testing.T) {
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt,
		mkRoute("dead", map[string]string{"v7": deadURL(t)}, weights("v7", 100)),
		mkRoute("m", map[string]string{"v1": seenBackend(t, "v1", nil).URL}, weights("v1", 100)))
	for _, lean := range []bool{false, true} {
		t.Run(map[bool]string{true: "lean", false: "net/http"}[lean], func(t *testing.T) {
			addr := stdAddr(serveStd(t, rt))
			if lean {
				addr = startLean(t, rt, ServerOptions{}).addr
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

// captureTransport records the request ServeHTTP's proxy sends, as the
// router's own transport would write it.
type captureTransport struct{ wire []byte }

func (c *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var b bytes.Buffer
	if err := req.Write(&b); err != nil {
		return nil, err
	}
	c.wire = b.Bytes()
	return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// validHostByte is httpguts' (net/http's server rejects a Host with any
// other byte).
var validHostByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!$%&()*+,-.:;=[]'_~", byte(c)) >= 0
	}
	return t
}()

// serverRejects is what net/http's server refuses beyond http.ReadRequest
// (server.go, readRequest), given the request's fields as it reads them.
func serverRejects(req *http.Request, fields http.Header) string {
	hosts := fields["Host"]
	switch {
	case req.ProtoAtLeast(1, 1) && len(hosts) == 0 && req.Method != "CONNECT":
		return "missing Host"
	case len(hosts) > 1:
		return "too many Host headers"
	case len(hosts) == 1:
		for i := 0; i < len(hosts[0]); i++ {
			if !validHostByte[hosts[0][i]] {
				return "malformed Host header"
			}
		}
	}
	return ""
}

// knownLeanBug names an intended difference between the lean path and
// ServeHTTP's proxy, for FuzzLeanHead to skip such inputs.
func knownLeanBug(req *http.Request, fields http.Header) string {
	for _, v := range fields["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), hdrRequestID) {
				// Not the lean path's: ServeHTTP's proxy then drops the
				// request id it set, the lean path sends it.
				return "Connection names X-Request-Id"
			}
		}
	}
	return ""
}

// headFields are the fields of a message head as net/http's server reads
// them, before ReadRequest moves Host out and adds Cache-Control for
// Pragma: no-cache.
func headFields(t *testing.T, head []byte) http.Header {
	t.Helper()
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	_, _ = tp.ReadLine()
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("%v: %q", err, head)
	}
	return http.Header(h)
}

// sameInPieces checks that findHead finds the same head in data when it
// arrives a byte at a time.
func sameInPieces(t *testing.T, data []byte, size, n int, ok bool, err error) {
	t.Helper()
	n1, ok1, err1 := findHead(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), size))
	if n1 != n || ok1 != ok || (err1 == nil) != (err == nil) {
		t.Fatalf("findHead: %d %v %v at once, %d %v %v a byte at a time", n, ok, err, n1, ok1, err1)
	}
}

// FuzzLeanHead feeds arbitrary bytes to the lean server's head parsing
// (findHead, parseRequest) and, whenever the lean path would serve them,
// checks them against net/http: http.ReadRequest (and its server) must
// accept the same request, with the same method, target, head length,
// body length and fields, the same sticky keys, and the request the lean
// path writes to the backend must be the one ServeHTTP's proxy writes.
func FuzzLeanHead(f *testing.F) {
	for _, s := range []string{
		get("/v1/m/x"),
		post("/v1/m/predict?a=1", `{"x":1}`, "Content-Type: application/json\r\n", "X-Request-Id: abc\r\n"),
		get("/v1/m/x", "Connection: close, X-Hop\r\n", "X-Hop: 1\r\n", "Cookie: a=1; uid=\"u7\"\r\n", "X-User: u8\r\n"),
		get("/v1/m", "X-Forwarded-For: 1.2.3.4\r\n", "Forwarded: for=x\r\n", "X-Request-Id: bad id\r\n"),
		"GET /v1/m/x HTTP/1.1\r\nHost: a\r\nX: \t v \t\r\n\r\n",
		"HEAD /v1/m/../x?q=1 HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n",
		"GET /v1/m/x HTTP/1.1\nHost: a\n\n",
		"GET /v1/m/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"GET /v1/m/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /v1/m/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nClose: 1\r\nPragma: no-cache\r\n\r\n",
		"GET /v1/m/x HTTP/1.1\r\nHost: a\r\nCookie: uid =1; uid\r\nCookie: uid=\"2\"\r\nx-user:\r\nX-User: b\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	ct := &captureTransport{}
	rt := New(Options{Transport: ct, Seed: 1})
	defer rt.Close()
	mustUpdate(f, rt, traffic.Route{Model: "m", Stage: "production", Path: "/v1/m", Backends: map[string]string{"v1": "http://backend.test:8080/base/?k=v"}, Weights: weights("v1", 100)})
	f.Fuzz(func(t *testing.T, data []byte) {
		rd := bytes.NewReader(data)
		fc := &clientConn{br: bufio.NewReaderSize(rd, connBufSize), ip: "127.0.0.1"}
		n, ok, err := findHead(fc.br)
		sameInPieces(t, data, connBufSize, n, ok, err)
		if err != nil || !ok || !fc.parseRequest(n) {
			return // handed to net/http
		}
		lr := &fc.req

		// net/http reads the same bytes.
		rd2 := bytes.NewReader(data)
		br := bufio.NewReader(rd2)
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("the lean path takes a head net/http rejects (%v): %q", err, data[:n])
		}
		raw := headFields(t, data)
		if why := knownLeanBug(req, raw); why != "" {
			t.Skip("known: " + why)
		}
		if why := serverRejects(req, raw); why != "" {
			t.Fatalf("the lean path takes a head net/http's server rejects (%s): %q", why, data[:n])
		}
		if used := len(data) - rd2.Len() - br.Buffered(); used != n {
			t.Fatalf("head of %d bytes for the lean path, %d for net/http: %q", n, used, data)
		}
		target := string(lr.path)
		if lr.query != nil {
			target += "?" + string(lr.query)
		}
		length := max(lr.length, 0)
		if req.Method != string(lr.method) || req.RequestURI != target || req.Host != string(lr.host) ||
			req.ContentLength != length || req.TransferEncoding != nil || req.Close != lr.close {
			t.Fatalf("lean %s %s host %q length %d close %v; net/http %s %s host %q length %d %q close %v",
				lr.method, target, lr.host, length, lr.close, req.Method, req.RequestURI, req.Host, req.ContentLength, req.TransferEncoding, req.Close)
		}
		fields := http.Header{}
		for _, f := range lr.fields {
			k := http.CanonicalHeaderKey(string(f.name))
			fields[k] = append(fields[k], string(f.value))
		}
		if !reflect.DeepEqual(fields, raw) {
			t.Fatalf("fields: lean %q, net/http %q", fields, raw)
		}
		lk, sk := (*leanKeys)(lr), (*stdKeys)(req)
		for _, h := range []string{"X-User", "X-Preview"} {
			if lk.header(h) != sk.header(h) || lk.hasHeader(h) != sk.hasHeader(h) {
				t.Fatalf("header %s: lean %q, net/http %q", h, lk.header(h), sk.header(h))
			}
		}
		if lk.cookie("uid") != sk.cookie("uid") {
			t.Fatalf("cookie uid: lean %q, net/http %q", lk.cookie("uid"), sk.cookie("uid"))
		}

		// What each writes to the backend, when the lean path serves it.
		r, rest := rt.table.Load().lookupBytes(lr.path)
		if r == nil || string(lr.path) == FeedbackPath || int64(len(data)) < int64(n)+length {
			return
		}
		fc.body = data[n : int64(n)+length]
		id := "generated"
		if lr.id != nil {
			id = string(lr.id)
		}
		fc.x.id = id
		fc.upstreamHead(r.choices[0], rest)
		leanOut, err := http.ReadRequest(bufio.NewReader(io.MultiReader(bytes.NewReader(fc.out), bytes.NewReader(fc.body))))
		if err != nil {
			t.Fatalf("the lean path writes a head net/http cannot read (%v): %q", err, fc.out)
		}
		req.RemoteAddr = "127.0.0.1:4321"
		ct.wire = nil
		rt.ServeHTTP(httptest.NewRecorder(), req)
		if ct.wire == nil {
			t.Fatalf("ServeHTTP sent nothing for %q", data)
		}
		stdOut, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(ct.wire)))
		if err != nil {
			t.Fatal(err)
		}
		leanFields, stdFields := headFields(t, fc.out), headFields(t, ct.wire)
		if lr.id == nil {
			stdFields[hdrRequestID] = []string{id}
		}
		lb, _ := io.ReadAll(leanOut.Body)
		sb, _ := io.ReadAll(stdOut.Body)
		if leanOut.Method != stdOut.Method || leanOut.RequestURI != stdOut.RequestURI || leanOut.Host != stdOut.Host ||
			leanOut.ContentLength != stdOut.ContentLength || !reflect.DeepEqual(leanOut.TransferEncoding, stdOut.TransferEncoding) ||
			!bytes.Equal(lb, sb) || !reflect.DeepEqual(leanFields, stdFields) {
			t.Fatalf("to the backend:\nlean     %q\nnet/http %q", append(fc.out, fc.body...), ct.wire)
		}
	})
}

// FuzzLeanAnswer feeds arbitrary bytes as a backend's answer to the lean
// path's answer parsing (findHead, respHead.parse, relayBody) and, when it
// takes them, checks them against http.ReadResponse: the same status,
// framing, fields, and body, ending at the same byte (so that a reused
// backend connection is read from the same place).
func FuzzLeanAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n5;e=1\r\nhello\r\n0\r\nX: 1\r\n\r\nNEXT",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close",
		"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nokNEXT",
		"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nNEXT",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close, X-A\r\nClose: 1\r\nX-A: 1\r\nContent-Length: 1\r\n\r\na",
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		rd := bytes.NewReader(data)
		src := bufio.NewReaderSize(rd, 4096)
		n, ok, err := findHead(src)
		sameInPieces(t, data, 4096, n, ok, err)
		if err != nil || !ok {
			return // read by net/http
		}
		raw, _ := src.Peek(n)
		var h respHead
		if !h.parse(raw, head) {
			return // read by net/http
		}
		rd2 := bytes.NewReader(data)
		br := bufio.NewReader(rd2)
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("the lean path takes an answer head net/http rejects (%v): %q", err, raw)
		}
		if resp.StatusCode != h.status {
			t.Fatalf("status: lean %d, net/http %d", h.status, resp.StatusCode)
		}
		if resp.Close && !h.close && h.framing != framingClose {
			t.Fatalf("net/http closes the connection after %q, the lean path would reuse it", raw)
		}
		fields := http.Header{}
		for _, f := range h.fields {
			if !f.drop {
				k := http.CanonicalHeaderKey(string(f.name))
				fields[k] = append(fields[k], string(f.value))
			}
		}
		// The fields as they came (ReadResponse drops a Connection field
		// that says close, and with it what it names), less hop-by-hop
		// ones, and less Content-Length when net/http drops it (chunked).
		want := headFields(t, data)
		removeHopByHop(want)
		delete(want, hdrVersion)
		delete(want, hdrRequestID)
		if resp.Header["Content-Length"] == nil {
			delete(want, "Content-Length")
		}
		if !reflect.DeepEqual(fields, want) {
			t.Fatalf("fields: lean %q, net/http %q", fields, want)
		}
		if h.status < 200 {
			return // skipped by both
		}
		var framing int
		switch {
		case head || h.status == 204 || h.status == 304:
			framing = framingNone
		case slices.Equal(resp.TransferEncoding, []string{"chunked"}):
			framing = framingChunked
		case resp.ContentLength >= 0:
			framing = framingLength
		default:
			framing = framingClose
		}
		if framing != h.framing {
			t.Fatalf("framing: lean %d, net/http %d (length %d, %q)", h.framing, framing, resp.ContentLength, resp.TransferEncoding)
		}
		if framing == framingNone {
			return
		}
		_, _ = src.Discard(n)
		var out bytes.Buffer
		fc := &clientConn{bw: bufio.NewWriter(&out)}
		leanErr := fc.relayBody(src, h.framing, h.length)
		_ = fc.bw.Flush()
		stdBody, stdErr := io.ReadAll(resp.Body)
		if leanErr != nil {
			return // cut short: the client's connection is closed
		}
		if stdErr != nil {
			// Laxer than net/http about a backend's chunk lines; the
			// client gets a body of the lean path's own framing.
			t.Logf("net/http: %v; lean path: whole", stdErr)
			return
		}
		leanBody := out.Bytes()
		if h.framing != framingLength {
			if leanBody, err = io.ReadAll(httputil.NewChunkedReader(&out)); err != nil {
				t.Fatalf("the lean path's re-chunked body: %v", err)
			}
		}
		if !bytes.Equal(leanBody, stdBody) {
			t.Fatalf("body: lean %q, net/http %q", leanBody, stdBody)
		}
		if l, s := rd.Len()+src.Buffered(), rd2.Len()+br.Buffered(); l != s {
			t.Fatalf("after the answer: lean leaves %d bytes, net/http %d", l, s)
		}
	})
}
