package router

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1/h1test"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

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

// FuzzRequestHead feeds arbitrary bytes to the hand-written path's head
// parsing (h1.FindHead, h1.Request.Parse) and, whenever it would serve them,
// checks them against net/http: http.ReadRequest (and its server) must
// accept the same request, with the same method, target, head length,
// body length and fields, the same sticky keys, and the request the hand-written
// path writes to the backend must be the one ServeHTTP's proxy writes.
func FuzzRequestHead(f *testing.F) {
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
		n, ok, err := h1.FindHead(fc.br)
		h1test.SameInPieces(t, data, connBufSize, n, ok, err)
		if err != nil || !ok {
			return // handed to net/http
		}
		head, _ := fc.br.Peek(n)
		if !fc.req.Parse(head, saneID[[]byte]) {
			return // handed to net/http
		}
		lr := &fc.req

		// net/http reads the same bytes.
		rd2 := bytes.NewReader(data)
		br := bufio.NewReader(rd2)
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("the hand-written path takes a head net/http rejects (%v): %q", err, data[:n])
		}
		raw := h1test.HeadFields(t, data)
		if why := serverRejects(req, raw); why != "" {
			t.Fatalf("the hand-written path takes a head net/http's server rejects (%s): %q", why, data[:n])
		}
		if used := len(data) - rd2.Len() - br.Buffered(); used != n {
			t.Fatalf("head of %d bytes for the hand-written path, %d for net/http: %q", n, used, data)
		}
		target := string(lr.Path)
		if lr.Query != nil {
			target += "?" + string(lr.Query)
		}
		length := max(lr.Length, 0)
		if req.Method != string(lr.Method) || req.RequestURI != target || req.Host != string(lr.Host) ||
			req.ContentLength != length || req.TransferEncoding != nil || req.Close != lr.Close {
			t.Fatalf("hand-written %s %s host %q length %d close %v; net/http %s %s host %q length %d %q close %v",
				lr.Method, target, lr.Host, length, lr.Close, req.Method, req.RequestURI, req.Host, req.ContentLength, req.TransferEncoding, req.Close)
		}
		fields := http.Header{}
		for _, f := range lr.Fields {
			k := http.CanonicalHeaderKey(string(f.Name))
			fields[k] = append(fields[k], string(f.Value))
		}
		if !reflect.DeepEqual(fields, raw) {
			t.Fatalf("fields: hand-written %q, net/http %q", fields, raw)
		}
		lk, sk := (*parsedKeys)(lr), (*stdKeys)(req)
		for _, h := range []string{"X-User", "X-Preview"} {
			if lk.header(h) != sk.header(h) || lk.hasHeader(h) != sk.hasHeader(h) {
				t.Fatalf("header %s: hand-written %q, net/http %q", h, lk.header(h), sk.header(h))
			}
		}
		if lk.cookie("uid") != sk.cookie("uid") {
			t.Fatalf("cookie uid: hand-written %q, net/http %q", lk.cookie("uid"), sk.cookie("uid"))
		}

		// What each writes to the backend, when the hand-written path serves it.
		r, rest := rt.table.Load().lookupBytes(lr.Path)
		if r == nil || string(lr.Path) == FeedbackPath || int64(len(data)) < int64(n)+length {
			return
		}
		fc.body = data[n : int64(n)+length]
		id := "generated"
		if lr.ID != nil {
			id = string(lr.ID)
		}
		fc.x.id = id
		fc.upstreamHead(r.choices[0], rest)
		handOut, err := http.ReadRequest(bufio.NewReader(io.MultiReader(bytes.NewReader(fc.out), bytes.NewReader(fc.body))))
		if err != nil {
			t.Fatalf("the hand-written path writes a head net/http cannot read (%v): %q", err, fc.out)
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
		handFields, stdFields := h1test.HeadFields(t, fc.out), h1test.HeadFields(t, ct.wire)
		// Ids are issued per request: the client's own, if any, comes first.
		if lr.ID != nil && !strings.HasPrefix(stdFields.Get(hdrRequestID), id+".") {
			t.Fatalf("net/http sent request id %q, want the client's %q first", stdFields.Get(hdrRequestID), id)
		}
		stdFields[hdrRequestID] = []string{id}
		lb, _ := io.ReadAll(handOut.Body)
		sb, _ := io.ReadAll(stdOut.Body)
		if handOut.Method != stdOut.Method || handOut.RequestURI != stdOut.RequestURI || handOut.Host != stdOut.Host ||
			handOut.ContentLength != stdOut.ContentLength || !reflect.DeepEqual(handOut.TransferEncoding, stdOut.TransferEncoding) ||
			!bytes.Equal(lb, sb) || !reflect.DeepEqual(handFields, stdFields) {
			t.Fatalf("to the backend:\nhand     %q\nnet/http %q", append(fc.out, fc.body...), ct.wire)
		}
	})
}

// nopConn is a connection that takes deadlines and closes without effect.
type nopConn struct{ net.Conn }

func (nopConn) Close() error                     { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }
