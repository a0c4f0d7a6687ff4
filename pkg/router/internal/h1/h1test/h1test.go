// Package h1test holds what the tests of the router's hand-written HTTP/1.1
// share: reading heads the way net/http does, to hold the hand-written
// parsers to it.
package h1test

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"testing"
	"testing/iotest"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
)

// HeadFields are the fields of a message head as net/http's server reads
// them, before ReadRequest moves Host out and adds Cache-Control for
// Pragma: no-cache.
func HeadFields(t testing.TB, head []byte) http.Header {
	t.Helper()
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	_, _ = tp.ReadLine()
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("%v: %q", err, head)
	}
	return http.Header(h)
}

// SameInPieces checks that h1.FindHead finds the same head in data (n,
// ok, err with a buffer of size) when it arrives a byte at a time.
func SameInPieces(t testing.TB, data []byte, size, n int, ok bool, err error) {
	t.Helper()
	n1, ok1, err1 := h1.FindHead(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), size))
	if n1 != n || ok1 != ok || (err1 == nil) != (err == nil) {
		t.Fatalf("FindHead: %d %v %v at once, %d %v %v a byte at a time", n, ok, err, n1, ok1, err1)
	}
}
