package router

import (
	"crypto/tls"
	"syscall"

	"golang.org/x/sys/unix"
)

// tlsPeerClosed reports whether the client of a TLS connection closed it
// (or it broke). Peeking cannot tell: a TLS client sends close_notify
// before its FIN, and those bytes wait unread in front of the end of the
// stream. The kernel's TCP state can: CLOSE_WAIT once the client's FIN
// arrived, CLOSE once the connection is gone.
func tlsPeerClosed(c *tls.Conn) bool {
	sc, ok := c.NetConn().(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	err = rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err == nil {
			closed = info.State == tcpCloseWait || info.State == tcpClose
		}
	})
	return closed && err == nil
}

// TCP states of linux/include/net/tcp_states.h.
const (
	tcpClose     = 7
	tcpCloseWait = 8
)
