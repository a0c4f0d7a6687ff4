package router

import (
	"math"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
)

var _ h1.Watcher = (*clientConn)(nil)

// Watch starts checking, every ServerOptions.ClientCheck while the
// request waits on backend connection c, that the client is still
// connected; when it is not, c is closed, which ends the backend's work on
// the request (as net/http's server cancels the request's context). The
// hand-written path reads no client byte in the meantime: the check peeks.
func (cc *clientConn) Watch(c *h1.Conn) {
	cc.watching.Store(c)
	t := cc.watch.Load()
	if t == nil {
		// The timer is published before it can fire: checkClient, on
		// the timer's goroutine, reads it to re-arm itself.
		t = time.AfterFunc(time.Duration(math.MaxInt64), cc.checkClient)
		cc.watch.Store(t)
	}
	t.Reset(cc.s.opts.ClientCheck)
}

// Unwatch stops the checks (the answer's head arrived, or the exchange
// failed).
func (cc *clientConn) Unwatch() {
	cc.watching.Store(nil)
	if t := cc.watch.Load(); t != nil {
		t.Stop()
	}
}

// Gone reports that a check found the client gone.
func (cc *clientConn) Gone() bool { return cc.gone.Load() }

// checkClient runs on the timer's goroutine.
func (cc *clientConn) checkClient() {
	c := cc.watching.Load()
	if c == nil {
		return
	}
	if clientClosed(cc.c) {
		cc.gone.Store(true)
		c.Close()
		return
	}
	if t := cc.watch.Load(); t != nil && cc.watching.Load() == c {
		t.Reset(cc.s.opts.ClientCheck)
	}
}
