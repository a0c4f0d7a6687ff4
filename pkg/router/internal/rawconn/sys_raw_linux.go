//go:build !race && !386 && !s390x

package rawconn

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysRead and sysWrite are the system calls, made raw: recv and send with
// MSG_DONTWAIT, which are read(2) and write(2) on a TCP socket but never
// block, even on a socket put in blocking mode behind the connection's
// back (a File's Fd does it to the description it shares). A raw call
// that blocked would hold its thread where the scheduler cannot take it
// back: the next garbage collection would freeze the whole program until
// the call returned. (On 386 and s390x, whose recvfrom and sendto came
// only with Linux 4.3, the calls are the syscall package's read and write
// as under -race.) p is never empty.

func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		unix.MSG_DONTWAIT, 0, 0)
	return int(n), e
}

func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		unix.MSG_DONTWAIT, 0, 0)
	return int(n), e
}

// Recv is one recv(2) with flags and MSG_DONTWAIT on the socket fd, made
// raw: it never blocks. For callers probing a connection through its
// syscall.RawConn (a peek, or a read that must find nothing).
func Recv(fd uintptr, p []byte, flags int) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		uintptr(flags|unix.MSG_DONTWAIT), 0, 0)
	return int(n), e
}
