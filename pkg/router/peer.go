package router

import (
	"crypto/tls"
	"net"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
)

// clientClosed reports whether the client of c closed it (or it broke):
// h1.PeerClosed's peek on a plain connection; on a TLS one, whose
// close_notify waits unread in front of the end of the stream, the TCP
// state (tlsPeerClosed).
func clientClosed(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		return tlsPeerClosed(tc)
	}
	return h1.PeerClosed(c)
}
