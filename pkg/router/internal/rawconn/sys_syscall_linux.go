//go:build race || 386 || s390x

package rawconn

import "syscall"

// Under the race detector, sysRead and sysWrite are the syscall
// package's, the calls net makes: they tell the detector that the buffer
// was written or read, and that a read happens after the writes before it
// on any descriptor (which is how the detector learns that bytes handed
// through a socket order what the two sides do). Raw calls tell it
// nothing, so a program reading a wrapped connection would report races
// that are not there. Only the scheduler's bookkeeping differs from the
// raw calls, which the tests run without -race exercise. (On 386 and
// s390x, which have no raw recv and send before Linux 4.3, the calls are
// these too: see sys_raw_linux.go.)

func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	return n, errno(err)
}

func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	return n, errno(err)
}

func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	return err.(syscall.Errno) // the syscall package's errors are
}

// Recv is one recv(2) with flags and MSG_DONTWAIT on the socket fd: it
// never blocks. For callers probing a connection through its
// syscall.RawConn (a peek, or a read that must find nothing).
func Recv(fd uintptr, p []byte, flags int) (int, syscall.Errno) {
	n, _, err := syscall.Recvfrom(int(fd), p, flags|syscall.MSG_DONTWAIT)
	return n, errno(err)
}
