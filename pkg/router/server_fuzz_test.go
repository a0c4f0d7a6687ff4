package router

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/textproto"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

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
		// Ids are issued per request: the client's own, if any, comes first.
		if lr.id != nil && !strings.HasPrefix(stdFields.Get(hdrRequestID), id+".") {
			t.Fatalf("net/http sent request id %q, want the client's %q first", stdFields.Get(hdrRequestID), id)
		}
		stdFields[hdrRequestID] = []string{id}
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
		fc := &clientConn{s: &Server{rt: &Router{now: time.Now}}, c: nopConn{}, bw: bufio.NewWriter(&out)}
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
