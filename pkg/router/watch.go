package router

import (
	"errors"
	"math"
	"time"
)

// errClientGone: the client closed its connection while its request was
// with the backend.
var errClientGone = errors.New("the client went away before the answer")

// watchClient starts checking, every ServerOptions.ClientCheck while the
// request waits on backend connection c, that the client is still
// connected; when it is not, c is closed, which ends the backend's work on
// the request (as net/http's server cancels the request's context). The
// lean server reads no client byte in the meantime: the check peeks.
func (fc *clientConn) watchClient(c *leanConn) {
	fc.watching.Store(c)
	t := fc.watch.Load()
	if t == nil {
		// The timer is published before it can fire: checkClient, on
		// the timer's goroutine, reads it to re-arm itself.
		t = time.AfterFunc(time.Duration(math.MaxInt64), fc.checkClient)
		fc.watch.Store(t)
	}
	t.Reset(fc.s.opts.ClientCheck)
}

// unwatch stops the checks (the answer's head arrived, or the exchange
// failed).
func (fc *clientConn) unwatch() {
	fc.watching.Store(nil)
	if t := fc.watch.Load(); t != nil {
		t.Stop()
	}
}

// checkClient runs on the timer's goroutine.
func (fc *clientConn) checkClient() {
	c := fc.watching.Load()
	if c == nil {
		return
	}
	if clientClosed(fc.c) {
		fc.gone.Store(true)
		c.c.Close()
		return
	}
	if t := fc.watch.Load(); t != nil && fc.watching.Load() == c {
		t.Reset(fc.s.opts.ClientCheck)
	}
}
