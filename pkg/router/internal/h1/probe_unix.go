//go:build unix

package h1

import (
	"net"
	"syscall"
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
}

func NewProbe(c net.Conn) *Probe {
	p := &Probe{}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			p.rc = rc
		}
	}
	p.fn = func(fd uintptr) bool {
		n, err := syscall.Read(int(fd), p.buf[:])
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR: // open and quiet
			p.ok = true
		case err != nil, n == 0: // broken, or closed by the backend
			p.ok = false
		default: // n > 0: bytes nobody asked for
			p.ok = false
		}
		return true // never wait
	}
	return p
}

func (p *Probe) Alive() bool {
	if p.rc == nil {
		return true
	}
	p.ok = false
	err := p.rc.Read(p.fn)
	return p.ok && err == nil
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
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR: // open and quiet
		case err != nil, n == 0: // broken, or closed by the client
			closed = true
		}
		return true // never wait
	})
	return closed && err == nil
}
