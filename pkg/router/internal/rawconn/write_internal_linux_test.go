package rawconn

import (
	"errors"
	"io"
	"net"
	"testing"
)

// TestWriteReturningZero: a write(2) that writes nothing of a non-empty
// buffer without an error (TCP never does; Go's poller calls it
// io.ErrUnexpectedEOF) fails the Write with that error inside the
// *net.OpError that net's conn.Write wraps every error in. No real socket
// does it, so the system call's outcome is put in place of the call.
func TestWriteReturningZero(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := Wrap(d).(*Conn)
	c.w.fn = func(uintptr) bool {
		c.w.err = io.ErrUnexpectedEOF // what write makes of (0, no error)
		return true
	}
	n, err := c.Write([]byte("x"))
	var oe *net.OpError
	if n != 0 || !errors.As(err, &oe) || oe.Err != io.ErrUnexpectedEOF {
		t.Fatalf("Write = %d, %#v; want 0 and a *net.OpError around io.ErrUnexpectedEOF", n, err)
	}
	want := "write tcp " + d.LocalAddr().String() + "->" + d.RemoteAddr().String() + ": unexpected EOF"
	if err.Error() != want {
		t.Errorf("Write's error says %q, want %q", err, want)
	}
}
