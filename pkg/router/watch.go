package router

import (
	"errors"
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
	if fc.watch == nil {
		fc.watch = time.AfterFunc(fc.s.opts.ClientCheck, fc.checkClient)
		return
	}
	fc.watch.Reset(fc.s.opts.ClientCheck)
}

// unwatch stops the checks (the answer's head arrived, or the exchange
// failed).
func (fc *clientConn) unwatch() {
	fc.watching.Store(nil)
	fc.watch.Stop()
}

// checkClient runs on the timer's goroutine.
func (fc *clientConn) checkClient() {
	c := fc.watching.Load()
	if c == nil {
		return
	}
	if peerClosed(fc.c) {
		fc.gone.Store(true)
		c.c.Close()
		return
	}
	if fc.watching.Load() == c {
		fc.watch.Reset(fc.s.opts.ClientCheck)
	}
}
