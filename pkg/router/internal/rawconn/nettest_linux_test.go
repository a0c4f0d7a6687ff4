package rawconn_test

import (
	"net"
	"testing"

	"golang.org/x/net/nettest"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/rawconn"
)

// TestNettest runs x/net's conformance suite for net.Conn implementations
// (basic and racy I/O, deadlines past, present and future, Close while
// reading, concurrent method calls) on a wrapped connection talking to a
// plain one, and on two wrapped ones.
func TestNettest(t *testing.T) {
	for name, wrapPeer := range map[string]bool{"to net": false, "to rawconn": true} {
		t.Run(name, func(t *testing.T) {
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					return nil, nil, nil, err
				}
				defer ln.Close()
				ch := acceptBehind(ln, nil)
				d, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					return nil, nil, nil, err
				}
				a := <-ch
				if a.err != nil {
					d.Close()
					return nil, nil, nil, a.err
				}
				c1, c2 = rawconn.Wrap(d), a.c
				if wrapPeer {
					c2 = rawconn.Wrap(c2)
				}
				return c1, c2, func() { c1.Close(); c2.Close() }, nil
			})
		})
	}
}
