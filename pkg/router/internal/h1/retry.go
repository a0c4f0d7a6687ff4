package h1

import (
	"bufio"
	"errors"
	"net"
	"net/http"
)

// This file is the one retry rule of every HTTP/1.1 client of the router
// (Transport.Send, Transport.RoundTrip, the shadow's pipeliner).

// ErrStale marks a failure on a reused connection before any answer.
var ErrStale = errors.New("reused connection closed before answering")

// stale is err marked ErrStale when the connection was reused (it may
// have been closed by the backend while it idled) and failed before any
// byte of an answer arrived, not by a timeout; nil otherwise.
func stale(err error, reused bool, br *bufio.Reader) error {
	if Stale(err, reused, br) {
		return errors.Join(ErrStale, err)
	}
	return nil
}

// Stale reports a failure (err) of a reused connection before any byte of
// an answer arrived, not by a timeout: the connection, not the request,
// failed, and the request may be sent again under the retry rule.
func Stale(err error, reused bool, br *bufio.Reader) bool {
	var ne net.Error
	return reused && !(errors.As(err, &ne) && ne.Timeout()) && br.Buffered() == 0
}

// Replayable is the router's one retry rule, Go's Transport's: a request
// that met a reused connection that died before answering is sent again
// only when its method is idempotent (GET, HEAD, OPTIONS, TRACE; exact
// case, as Go compares) or it carries an Idempotency-Key (or
// X-Idempotency-Key). Anything else may have reached the backend already:
// the client gets a 502 rather than the backend a second copy.
func Replayable(method string, idempotencyKey bool) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return idempotencyKey
}

// retryOnNew reports whether an exchange that failed with err is sent
// again on a new connection: only a stale one, under the retry rule.
func retryOnNew(err error, method []byte, idempotencyKey bool) bool {
	return errors.Is(err, ErrStale) && Replayable(string(method), idempotencyKey)
}

// HasIdempotencyKey reports the fields of the retry rule in a header.
func HasIdempotencyKey(h http.Header) bool {
	_, a := h["Idempotency-Key"]
	_, b := h["X-Idempotency-Key"]
	return a || b
}
