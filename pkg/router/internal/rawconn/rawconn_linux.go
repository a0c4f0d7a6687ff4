package rawconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// Conn is a *net.TCPConn whose Read and Write make their system calls
// raw. Every other method is the TCPConn's.
type Conn struct {
	*net.TCPConn
	rc syscall.RawConn
	r  op // under rmu
	w  op // under wmu
	// net.Conn allows Reads (and Writes) from several goroutines at once:
	// each direction's state is kept by one at a time.
	rmu, wmu sync.Mutex
}

// op is one direction's call in progress, and its function for the
// poller, made once per connection so that a call allocates nothing.
type op struct {
	p   []byte
	n   int
	err error // the system call's error
	fn  func(fd uintptr) bool
}

// Wrap returns c with raw reads and writes when it is a *net.TCPConn,
// and c itself otherwise.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	rw := &Conn{TCPConn: tc, rc: rc}
	rw.r.fn = rw.read
	rw.w.fn = rw.write
	return rw
}

// NetConn returns the wrapped connection.
func (c *Conn) NetConn() net.Conn { return c.TCPConn }

// maxRW is the most one system call is asked to move, as in Go's poller.
const maxRW = 1 << 30

func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		// net's own: a zero-length read reads nothing and waits for
		// nothing, but fails on a closed connection.
		return c.TCPConn.Read(p)
	}
	if len(p) > maxRW {
		p = p[:maxRW]
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.r.p, c.r.n, c.r.err = p, 0, nil
	err := c.rc.Read(c.r.fn)
	n, serr := c.r.n, c.r.err
	c.r.p = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case serr != nil:
		return 0, c.opError("read", os.NewSyscallError("read", serr))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// read is the poller's function for Read: true when done, false to wait
// until the socket is readable.
func (c *Conn) read(fd uintptr) bool {
	for {
		n, e := sysRead(fd, c.r.p)
		switch e {
		case 0:
			c.r.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			c.r.err = e
			return true
		}
	}
}

func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		// net's own: a zero-length write is still a system call, which
		// fails on a connection reset or shut for writing (and before
		// it, a closed connection or a passed deadline fail it).
		return c.TCPConn.Write(p)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.w.p, c.w.n, c.w.err = p, 0, nil
	err := c.rc.Write(c.w.fn)
	n, serr := c.w.n, c.w.err
	c.w.p = nil
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case serr == io.ErrUnexpectedEOF:
		return n, c.opError("write", serr) // as net words it
	case serr != nil:
		return n, c.opError("write", os.NewSyscallError("write", serr))
	}
	return n, nil
}

// write is the poller's function for Write: it writes until all of p is
// written (true), the socket is full (false: wait until writable), or an
// error (true).
func (c *Conn) write(fd uintptr) bool {
	for c.w.n < len(c.w.p) {
		rest := c.w.p[c.w.n:]
		if len(rest) > maxRW {
			rest = rest[:maxRW]
		}
		n, e := sysWrite(fd, rest)
		switch e {
		case 0:
			if n == 0 {
				c.w.err = io.ErrUnexpectedEOF // as Go's poller says it
				return true
			}
			c.w.n += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.w.err = e
			return true
		}
	}
	return true
}

// opError words err as net's own Read and Write do: an *net.OpError
// naming the operation and both addresses, around the cause (a closed
// connection, a deadline passed, a system call's error).
func (c *Conn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		// The poller's own errors come from the RawConn as "raw-read"
		// and "raw-write".
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
