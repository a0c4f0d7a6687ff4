package router

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is what the router knows of gRPC and of h2c:// versions
// (docs/router.md, "HTTP/2 and gRPC"). A gRPC call is an HTTP/2 request
// like any other to the router: it is routed, proxied (trailers included,
// by httputil.ReverseProxy) and measured on the net/http path. What gRPC
// adds is that a call can fail with a 200: its outcome is the grpc-status
// field, in the answer's trailers or, for an answer without a message, in
// its headers.

// h2cTransport reaches h2c:// versions: HTTP/2 in clear text with prior
// knowledge (RFC 9113 §3.3), over pooled connections that each carry many
// requests at once. It is net/http's Transport with unencrypted HTTP/2
// only, which is golang.org/x/net/http2's client bundled, with the
// router's dial, pool and answer-header timeout.
type h2cTransport struct{ t *http.Transport }

var _ http.RoundTripper = (*h2cTransport)(nil)

func newH2CTransport(headerTimeout time.Duration) *h2cTransport {
	t := newTransport(headerTimeout)
	t.Protocols = new(http.Protocols)
	t.Protocols.SetUnencryptedHTTP2(true)
	return &h2cTransport{t: t}
}

// RoundTrip sends req, whose URL's scheme is h2c (or http), over HTTP/2.
func (t *h2cTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "h2c" {
		out := *req
		u := *req.URL
		u.Scheme = "http"
		out.URL = &u
		req = &out
	}
	return t.t.RoundTrip(req)
}

// CloseIdleConnections closes the pooled connections no request uses.
func (t *h2cTransport) CloseIdleConnections() { t.t.CloseIdleConnections() }

// hdrGRPCStatus is gRPC's outcome field; as a trailer httputil.ReverseProxy
// sets it on the client's answer under http.TrailerPrefix.
const (
	hdrGRPCStatus        = "Grpc-Status"
	hdrGRPCStatusTrailer = http.TrailerPrefix + hdrGRPCStatus
)

// isGRPC reports a gRPC request or answer: Content-Type application/grpc,
// alone or with a +format suffix (gRPC over HTTP/2, PROTOCOL-HTTP2.md).
func isGRPC(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	v := ct[0]
	const p = "application/grpc"
	if len(v) < len(p) || !strings.EqualFold(v[:len(p)], p) {
		return false
	}
	return len(v) == len(p) || v[len(p)] == '+' || v[len(p)] == ';'
}

// grpcStatus is the grpc-status of an answer with headers h and trailers
// tr (nil when the trailers were merged into h), "" when it has none;
// ok is false when the answer is not gRPC.
func grpcStatus(h, tr http.Header) (status string, ok bool) {
	if !isGRPC(h) {
		return "", false
	}
	for _, m := range []http.Header{h, tr} {
		if v := m[hdrGRPCStatus]; len(v) > 0 {
			return v[0], true
		}
	}
	if v := h[hdrGRPCStatusTrailer]; len(v) > 0 {
		return v[0], true
	}
	return "", true
}

// grpcOutcome counts a gRPC answer of version b, whose headers and
// trailers are h (as written to the client), by its grpc-status, and
// reports whether it failed: its status is not 0, or it has none (the
// call ended without its outcome). Other answers are not counted.
func grpcOutcome(b *backend, h http.Header) (failed bool) {
	st, ok := grpcStatus(h, nil)
	if !ok {
		return false
	}
	b.stats.series().grpc(st)
	return st != "0"
}

// grpcError is a gRPC call that failed with the status it holds.
type grpcError string

func (e grpcError) Error() string { return "grpc-status " + string(e) }

// streamGRPC forwards a gRPC call's request messages as they arrive,
// instead of reading the body whole first: a streaming client may send its
// next message only once it has an answer. At most max bytes of it are
// copied for the shadow. Such a call is never replayed on the fallback.
func (x *exchange) streamGRPC(max int) {
	req := x.in
	if req.Body == nil || req.Body == http.NoBody {
		return
	}
	x.replayable = false
	x.grpcBody = &grpcBody{r: req.Body, max: max}
	x.streamed = &clientBody{ReadCloser: x.grpcBody}
	req.Body = x.streamed
}

// grpcBody is a streamed gRPC request body that keeps a copy of what was
// read. The transport may still read it after the answer ended: the copy
// is guarded.
type grpcBody struct {
	r   io.ReadCloser
	max int

	mu       sync.Mutex
	buf      []byte
	overflow bool
	ended    bool
}

func (b *grpcBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.mu.Lock()
	if !b.overflow {
		if len(b.buf)+n > b.max {
			b.overflow, b.buf = true, nil
		} else {
			b.buf = append(b.buf, p[:n]...)
		}
	}
	if err == io.EOF {
		b.ended = true
	}
	b.mu.Unlock()
	return n, err
}

func (b *grpcBody) Close() error { return b.r.Close() }

// copy returns the body read, and whether it can stand for the whole
// call: read to its end, or made of whole messages. The transport may read
// the end of a body only after the answer ended, but every byte the
// version answered had been read through here first, so whole messages
// are what the live version was sent.
func (b *grpcBody) copy() ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.overflow {
		return nil, false
	}
	return b.buf, b.ended || wholeMessages(b.buf)
}

// wholeMessages reports whether buf is one or more complete gRPC
// length-prefixed messages (a flag byte, a 4-byte big-endian length, the
// message).
func wholeMessages(buf []byte) bool {
	if len(buf) == 0 {
		return false
	}
	for len(buf) > 0 {
		if len(buf) < 5 {
			return false
		}
		n := uint64(binary.BigEndian.Uint32(buf[1:5]))
		if uint64(len(buf)-5) < n {
			return false
		}
		buf = buf[5+n:]
	}
	return true
}

// writeErrorFor answers the router's own error to a request with header
// h: to a gRPC call as a gRPC status in an answer without a message (a
// gRPC client reads grpc-message only there), else as writeError does.
// The exchange still records code, for the version's measurements.
func writeErrorFor(h http.Header, w http.ResponseWriter, code int, msg string) {
	if !isGRPC(h) {
		writeError(w, code, msg)
		return
	}
	if x, ok := w.(*exchange); ok {
		x.code, w = code, x.w
	}
	wh := w.Header()
	wh.Set("Content-Type", "application/grpc")
	wh.Set(hdrGRPCStatus, strconv.Itoa(grpcCodeFor(code)))
	wh.Set("Grpc-Message", grpcMessage(msg))
	w.WriteHeader(http.StatusOK)
}

// grpcCodeFor maps the router's HTTP error to a gRPC status as gRPC's
// clients map HTTP statuses (doc/http-grpc-status-mapping.md).
func grpcCodeFor(code int) int {
	switch code {
	case http.StatusBadRequest:
		return 13 // INTERNAL
	case http.StatusNotFound:
		return 12 // UNIMPLEMENTED
	case http.StatusGatewayTimeout:
		return 4 // DEADLINE_EXCEEDED: the version did not answer in time
	}
	return 14 // UNAVAILABLE
}

// grpcMessage percent-encodes msg for grpc-message (PROTOCOL-HTTP2.md).
func grpcMessage(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
