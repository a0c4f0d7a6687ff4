package router

import "net/http"

// This file holds the two rules every HTTP/1.1 client of the router (the
// lean server's request path, leanTransport, the shadow pipeliner) follows
// for pooled backend connections: when one may be reused, and when a
// request that met a dead reused connection may be sent again.

// replayable is the router's one retry rule, Go's Transport's: a request
// that met a reused connection that died before answering is sent again
// only when its method is idempotent (GET, HEAD, OPTIONS, TRACE; exact
// case, as Go compares) or it carries an Idempotency-Key (or
// X-Idempotency-Key). Anything else may have reached the backend already:
// the client gets a 502 rather than the backend a second copy.
func replayable(method string, idempotencyKey bool) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return idempotencyKey
}

// hasIdempotencyKey reports the fields of the retry rule in a header.
func hasIdempotencyKey(h http.Header) bool {
	_, a := h["Idempotency-Key"]
	_, b := h["X-Idempotency-Key"]
	return a || b
}

// getClean pops the most recently used idle connection to host that is
// provably clean: nothing left in its buffer and, by one non-blocking
// read, nothing arriving and not closed. Every other one is closed: bytes
// nobody asked for are a previous answer's leftovers, and a connection
// carrying them would hand one client's answer to the next. nil when none.
func (t *leanTransport) getClean(host string) *leanConn {
	for c := t.get(host); c != nil; c = t.get(host) {
		if c.probe == nil {
			c.probe = newProbe(c.c)
		}
		if c.br.Buffered() == 0 && c.probe.alive() {
			return c
		}
		c.c.Close()
	}
	return nil
}

// putIfClean pools c when its answer was read to its framed end (done)
// and nothing beyond it is buffered; otherwise it closes c.
func (t *leanTransport) putIfClean(host string, c *leanConn, done bool) {
	if done && c.br.Buffered() == 0 {
		t.put(host, c)
		return
	}
	c.c.Close()
}
