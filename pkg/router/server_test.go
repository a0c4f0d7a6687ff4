package router

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// This file holds the hand-written path (server.go, proxy_h1.go, internal/h1) to
// the behaviour of net/http's server with Router.ServeHTTP: the same
// request, sent over a raw connection to each, must reach the backend the
// same way and come back the same way. It also covers what only the hand-written
// server does (connections, timeouts, Shutdown, Close, handing off) and
// fuzzes its head parsers against net/http's.
//
// Tests assert behaviour, never timings: every wait is bounded, and a
// bound only turns a hang into a failure.

const testHost = "Host: router.test\r\n"

// ---- servers and raw clients ----

// testServer is a Server on 127.0.0.1.
type testServer struct {
	*Server
	addr     string
	served   chan error   // what Serve returned
	handoffs atomic.Int64 // connections handed to net/http
}

func startServer(t testing.TB, rt *Router, opts ServerOptions) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls := &testServer{Server: NewServer(rt, opts), addr: ln.Addr().String(), served: make(chan error, 1)}
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

func (ls *testServer) tracked() int {
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
	return scriptedBackend(t, func(req *http.Request, _ int) (string, bool) { return answer(req) }).URL
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

// diffAnswers lists how the hand-written path's answer differs from net/http's.
func diffAnswers(hand, std answer) []string {
	var d []string
	add := func(what string, l, s any) {
		if !reflect.DeepEqual(l, s) {
			d = append(d, fmt.Sprintf("%s: hand-written %v, net/http %v", what, l, s))
		}
	}
	add("interim answers", hand.interim, std.interim)
	add("status", hand.resp.StatusCode, std.resp.StatusCode)
	add("proto", hand.resp.Proto, std.resp.Proto)
	add("header", comparableHeader(hand.resp.Header), comparableHeader(std.resp.Header))
	add("content length", hand.resp.ContentLength, std.resp.ContentLength)
	add("transfer encoding", hand.resp.TransferEncoding, std.resp.TransferEncoding)
	add("close", hand.resp.Close, std.resp.Close)
	add("body error", hand.bodyErr != nil, std.bodyErr != nil)
	if hand.bodyErr == nil && std.bodyErr == nil && !bytes.Equal(hand.body, std.body) {
		d = append(d, fmt.Sprintf("body:\nhand     %s\nnet/http %s", hand.body, std.body))
	}
	return d
}

// checkIDs checks the answer's request id: sane, the one the backend saw,
// issued by the router, and after the client's when keep is set.
func checkIDs(t testing.TB, who string, a answer, keep string) {
	t.Helper()
	id := a.resp.Header.Get(hdrRequestID)
	if !saneID(id) {
		t.Errorf("%s: X-Request-Id %q", who, id)
	}
	if saw := a.resp.Header.Get("X-Backend-Saw-Id"); saw != "" && saw != id {
		t.Errorf("%s: the backend saw request id %q, the client got %q", who, saw, id)
	}
	if keep != "" && !strings.HasPrefix(id, keep+".") {
		t.Errorf("%s: request id %q, want the client's %q first", who, id, keep)
	}
	if _, ok := idToken(id); !ok {
		t.Errorf("%s: request id %q has no token the router issued", who, id)
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
	viaHandWritten = "hand-written"
	viaNetHTTP     = "net/http"
)

type parityCase struct {
	name, req string
	via       string // which path answers (viaHandWritten, viaNetHTTP); "" when either
	status    int
	version   string // X-Switchyard-Version, when a backend answers
	keepID    string // the client's request id, to be kept
	noID      bool   // an answer without a request id (feedback)
	gated     bool   // rejected by the router's gate (h1.VetHead), served by net/http's server
	check     func(t *testing.T, s seen)
}
