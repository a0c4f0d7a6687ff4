package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// FuzzVetHead holds the gate to net/http's reading of the same bytes:
// every head both pass, both frame the same way, and
// whatever bytes a client sends, net/http reads through a vetReader only
// requests whose heads the gate passed.
func FuzzVetHead(f *testing.F) {
	for _, s := range []string{
		"GET /v1/m/x HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /v1/m/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\nGET /y HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST /x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /a/%2e%2E/b HTTP/1.1\r\nHost: a\r\n\r\n",
		"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 01\r\n\r\nx",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if end := bytes.Index(data, crlfcrlf); end >= 0 {
			head := data[:end+4]
			if fr, err := VetHead(head); err == nil {
				br := bufio.NewReader(bytes.NewReader(data))
				req, err := http.ReadRequest(br)
				switch {
				case err != nil:
					// net/http refuses it (a 400 all the same)
				case fr.Chunked != (len(req.TransferEncoding) > 0):
					t.Fatalf("chunked: gate %v, net/http %q: %q", fr.Chunked, req.TransferEncoding, head)
				case !fr.Chunked && req.ContentLength != fr.Length && !(req.ContentLength == -1 && fr.Length == 0):
					t.Fatalf("length: gate %d, net/http %d: %q", fr.Length, req.ContentLength, head)
				}
			}
		}
		// Through a vetReader: each request net/http reads had its head
		// passed by the gate; no other bytes become a request.
		v := NewGateReader(bufio.NewReader(bytes.NewReader(data)))
		br := bufio.NewReader(v)
		for range 20 {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.Method == "refused" {
				t.Fatalf("net/http read the refusal as a request: %q", data)
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
		}
	})
}
