package h1_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1/h1test"
)

// removeHopByHop removes the fields that end at a proxy, as
// httputil.ReverseProxy does.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		h.Del(name)
	}
}

// FuzzAnswerHead feeds arbitrary bytes as a backend's answer to the
// hand-written answer parsing (h1.FindHead, h1.Answer.Parse, h1.Relay) and, when it
// takes them, checks them against http.ReadResponse: the same status,
// framing, fields, and body, ending at the same byte (so that a reused
// backend connection is read from the same place).
func FuzzAnswerHead(f *testing.F) {
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
		n, ok, err := h1.FindHead(src)
		h1test.SameInPieces(t, data, 4096, n, ok, err)
		if err != nil || !ok {
			return // read by net/http
		}
		raw, _ := src.Peek(n)
		var h h1.Answer
		if !h.Parse(raw, head) {
			return // read by net/http
		}
		rd2 := bytes.NewReader(data)
		br := bufio.NewReader(rd2)
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("the hand-written path takes an answer head net/http rejects (%v): %q", err, raw)
		}
		if resp.StatusCode != h.Status {
			t.Fatalf("status: hand-written path %d, net/http %d", h.Status, resp.StatusCode)
		}
		if resp.Close && !h.Close && h.Framing != h1.FramingClose {
			t.Fatalf("net/http closes the connection after %q, the hand-written path would reuse it", raw)
		}
		fields := http.Header{}
		for _, f := range h.Fields {
			if !f.Drop {
				k := http.CanonicalHeaderKey(string(f.Name))
				fields[k] = append(fields[k], string(f.Value))
			}
		}
		// The fields as they came (ReadResponse drops a Connection field
		// that says close, and with it what it names), less hop-by-hop
		// ones, and less Content-Length when net/http drops it (chunked).
		want := h1test.HeadFields(t, data)
		removeHopByHop(want)
		if resp.Header["Content-Length"] == nil {
			delete(want, "Content-Length")
		}
		if !reflect.DeepEqual(fields, want) {
			t.Fatalf("fields: hand-written path %q, net/http %q", fields, want)
		}
		if h.Status < 200 {
			return // skipped by both
		}
		var framing h1.Framing
		switch {
		case head || h.Status == 204 || h.Status == 304:
			framing = h1.FramingNone
		case slices.Equal(resp.TransferEncoding, []string{"chunked"}):
			framing = h1.FramingChunked
		case resp.ContentLength >= 0:
			framing = h1.FramingLength
		default:
			framing = h1.FramingClose
		}
		if framing != h.Framing {
			t.Fatalf("framing: hand-written path %d, net/http %d (length %d, %q)", h.Framing, framing, resp.ContentLength, resp.TransferEncoding)
		}
		if framing == h1.FramingNone {
			return
		}
		_, _ = src.Discard(n)
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		relay := h1.Relay{W: w, Flush: func() error { return w.Flush() }, Seen: func([]byte) {}}
		handErr := relay.Copy(src, h.Framing, h.Length)
		_ = w.Flush()
		stdBody, stdErr := io.ReadAll(resp.Body)
		if handErr != nil {
			return // cut short: the client's connection is closed
		}
		if stdErr != nil {
			// Laxer than net/http about a backend's chunk lines; the
			// client gets a body of the hand-written path's own framing.
			t.Logf("net/http: %v; hand-written path: whole", stdErr)
			return
		}
		handBody := out.Bytes()
		if h.Framing != h1.FramingLength {
			if handBody, err = io.ReadAll(httputil.NewChunkedReader(&out)); err != nil {
				t.Fatalf("the hand-written path's re-chunked body: %v", err)
			}
		}
		if !bytes.Equal(handBody, stdBody) {
			t.Fatalf("body: hand-written path %q, net/http %q", handBody, stdBody)
		}
		if l, s := rd.Len()+src.Buffered(), rd2.Len()+br.Buffered(); l != s {
			t.Fatalf("after the answer: hand-written path leaves %d bytes, net/http %d", l, s)
		}
	})
}
