package h1

import (
	"net"
	"time"
)

// Deadlines keeps a connection's read and write deadlines with few
// updates. Each update takes the poller's lock and moves a runtime timer,
// and a connection serving request after request would otherwise make
// several per request: here a timeout of d is armed between d and d+d/8
// from now, and moved only when it falls outside that window, so about
// once per d/8 while the same timeout applies. A timeout of d therefore
// fires after d at the earliest and d+d/8 at the latest.
//
// The connection's deadlines must be set only through its Deadlines.
type Deadlines struct {
	read, write time.Time // armed; zero: none
}

// slack is the fraction of a timeout by which a deadline may lie further.
const slack = 8

func inWindow(at, now time.Time, d time.Duration) bool {
	left := at.Sub(now)
	return !at.IsZero() && left >= d && left <= d+d/slack
}

// Read arms c's read deadline d from now (within the window).
func (l *Deadlines) Read(c net.Conn, now time.Time, d time.Duration) {
	if inWindow(l.read, now, d) {
		return
	}
	l.read = now.Add(d + d/slack)
	_ = c.SetReadDeadline(l.read)
}

// Write arms c's write deadline d from now (within the window).
func (l *Deadlines) Write(c net.Conn, now time.Time, d time.Duration) {
	if inWindow(l.write, now, d) {
		return
	}
	l.write = now.Add(d + d/slack)
	_ = c.SetWriteDeadline(l.write)
}

// Both arms c's read and write deadlines d from now (within the window).
func (l *Deadlines) Both(c net.Conn, now time.Time, d time.Duration) {
	if inWindow(l.read, now, d) && inWindow(l.write, now, d) {
		return
	}
	l.read = now.Add(d + d/slack)
	l.write = l.read
	_ = c.SetDeadline(l.read)
}

// Exactly sets both of c's deadlines to t (zero: none), as
// net.Conn.SetDeadline.
func (l *Deadlines) Exactly(c net.Conn, t time.Time) {
	l.read, l.write = t, t
	_ = c.SetDeadline(t)
}

// ClearRead lifts c's read deadline.
func (l *Deadlines) ClearRead(c net.Conn) {
	if l.read.IsZero() {
		return
	}
	l.read = time.Time{}
	_ = c.SetReadDeadline(time.Time{})
}

// LiftIfNear lifts c's deadlines when one, read or write, has passed or
// will within a moment: an idle connection's, left from its last
// exchange, before it is probed and written, which would otherwise fail
// at once.
func (l *Deadlines) LiftIfNear(c net.Conn, now time.Time) {
	if !l.read.IsZero() && l.read.Sub(now) < liftMargin || !l.write.IsZero() && l.write.Sub(now) < liftMargin {
		l.Exactly(c, time.Time{})
	}
}

// liftMargin: how near a deadline LiftIfNear lifts.
const liftMargin = 100 * time.Millisecond
