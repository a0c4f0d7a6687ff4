//go:build unix && !linux

package rawconn

import "syscall"

// Recv is one recv(2) with flags and MSG_DONTWAIT on the socket fd: it
// never blocks. For callers probing a connection through its
// syscall.RawConn (a peek, or a read that must find nothing).
func Recv(fd uintptr, p []byte, flags int) (int, syscall.Errno) {
	n, _, err := syscall.Recvfrom(int(fd), p, flags|syscall.MSG_DONTWAIT)
	if err == nil {
		return n, 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return 0, e
	}
	return 0, syscall.EIO
}
