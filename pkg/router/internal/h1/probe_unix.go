//go:build unix

package h1

import (
	"net"
	"syscall"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/rawconn"
)

// alive reports whether an idle connection is still open and quiet: one
// non-blocking read must find nothing to read (EAGAIN), neither the end of
// the stream nor unexpected bytes.
func alive(c net.Conn) bool { return NewProbe(c).Alive() }

// Probe is alive's non-blocking read, made once per connection so that
// probing before every reuse allocates nothing.
type Probe struct {
	rc  syscall.RawConn // nil: the connection cannot be probed
	fn  func(fd uintptr) bool
	ok  bool
	buf [1]byte

	// WriteIfAlive's state, kept here so that its read function is made
	// once.
	wfn     func(fd uintptr) bool
	write   func() error
	probed  bool
	written bool
}

func NewProbe(c net.Conn) *Probe {
	p := &Probe{}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			p.rc = rc
		}
	}
	p.fn = func(fd uintptr) bool {
		p.ok = p.quiet(fd)
		return true // never wait
	}
	p.wfn = func(fd uintptr) bool {
		if p.probed {
			// The poller saw the connection readable (or a deadline
			// passed, or it was closed): the answer's reader takes it
			// from here.
			return true
		}
		p.probed = true
		if p.ok = p.quiet(fd); !p.ok {
			return true
		}
		p.written = true
		// After a failed write, the reader reads at once (an early
		// answer, or the error again).
		return p.write() != nil
	}
	return p
}

// quiet is the probe's read: true when it finds nothing to read (EAGAIN),
// false for the end of the stream, an error, or bytes nobody asked for
// (which are consumed: the connection is not used again).
func (p *Probe) quiet(fd uintptr) bool {
	n, e := rawconn.Recv(fd, p.buf[:], 0)
	switch {
	case e == syscall.EAGAIN || e == syscall.EINTR: // open and quiet
		return true
	case e != 0, n == 0: // broken, or closed by the backend
		return false
	default: // n > 0: bytes nobody asked for
		return false
	}
}

func (p *Probe) Alive() bool {
	if p.rc == nil {
		return true
	}
	p.ok = false
	err := p.rc.Read(p.fn)
	return p.ok && err == nil
}

// WriteIfAlive probes the connection as Alive does and, when it is alive,
// calls write (which writes a request on it), then waits until the
// connection is readable (or its read deadline passes, or it is closed),
// all within one read through the poller. It reports whether write was
// called; write's error is for write to keep.
//
// The point is one system call fewer per exchange: Go's poller watches
// the connection from before the probe's read, which found it empty, so
// the answer's arrival is never missed and the first read of the answer
// needs no attempt before waiting (a read that fails with EAGAIN). Arm
// the read deadline in write: the wait honours it.
func (p *Probe) WriteIfAlive(write func() error) bool {
	if p.rc == nil {
		_ = write()
		return true
	}
	p.write, p.probed, p.written, p.ok = write, false, false, false
	// An error after the write (a deadline, a close) is met again by
	// the answer's reader, which reports it; one before (a close, a
	// deadline passed while idle) leaves the connection unwritten.
	_ = p.rc.Read(p.wfn)
	p.write = nil
	return p.written
}

// PeerClosed reports whether the other end of c closed it (or it broke):
// one non-blocking peek that finds the end of the stream or an error.
// Bytes waiting to be read (a pipelined request) are left where they are.
func PeerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, e := rawconn.Recv(fd, buf[:], syscall.MSG_PEEK)
		switch {
		case e == syscall.EAGAIN || e == syscall.EINTR: // open and quiet
		case e != 0, n == 0: // broken, or closed by the client
			closed = true
		}
		return true // never wait
	})
	return closed && err == nil
}
