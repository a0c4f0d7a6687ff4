package router

import (
	"math"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
)

var _ h1.Watcher = (*clientConn)(nil)

// Watch starts checking, at least every ServerOptions.ClientCheck while
// the request waits on backend connection c, that the client is still
// connected; when it is not, c is closed, which ends the backend's work on
// the request (as net/http's server cancels the request's context). The
// hand-written path reads no client byte in the meantime: the check peeks.
//
// The timer is not stopped by Unwatch, nor moved by every Watch: it is
// armed when a request is watched and it is not, and re-arms itself while
// requests are watched. A connection answering request after request
// thus costs a timer update per ClientCheck, not two per request; a
// request may be checked sooner than ClientCheck after it began.
func (cc *clientConn) Watch(c *h1.Conn) {
	cc.watchMu.Lock()
	cc.watching = c
	arm := !cc.watchArmed
	cc.watchArmed = true
	cc.watchMu.Unlock()
	if !arm {
		return
	}
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
// failed): once it returns, the connection it watched is not closed by a
// check.
func (cc *clientConn) Unwatch() {
	cc.watchMu.Lock()
	cc.watching = nil
	cc.watchMu.Unlock()
}

// Gone reports that a check found the client gone.
func (cc *clientConn) Gone() bool { return cc.gone.Load() }

// checkClient runs on the timer's goroutine.
func (cc *clientConn) checkClient() {
	cc.watchMu.Lock()
	defer cc.watchMu.Unlock()
	c := cc.watching
	if c == nil {
		cc.watchArmed = false // the next Watch arms it
		return
	}
	if clientClosed(cc.c) {
		cc.gone.Store(true)
		c.Close()
		cc.watchArmed = false
		return
	}
	if t := cc.watch.Load(); t != nil {
		t.Reset(cc.s.opts.ClientCheck)
	}
}
