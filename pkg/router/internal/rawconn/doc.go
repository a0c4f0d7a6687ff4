// Package rawconn reads and writes TCP connections with raw system calls
// made through Go's poller, so that a busy proxy's many small reads and
// writes skip the scheduler's system-call bookkeeping.
//
// The sockets Go's net package opens are non-blocking: a read or write
// either does what it can at once or fails with EAGAIN, after which the
// poller waits for the socket to be ready, as for any net.Conn. Such a
// call never blocks the thread, so it needs none of what the runtime does
// around a system call that might (entersyscall and exitsyscall, and
// waking the sysmon thread whenever the process was idle). Measured on the
// router (bench/RESULTS.md), that bookkeeping and sysmon's wake-ups were
// several percent of its CPU time per request.
//
// Wrap returns a net.Conn with the same behaviour as the one given: the
// same errors (a closed connection, a deadline passed, a reset), io.EOF at
// the end of the stream, writes that write everything or fail. Anything
// other than a *net.TCPConn, and every platform but Linux, is returned as
// it is. The tests hold it to that: every scenario, and seeded random
// sequences of operations, run on a plain *net.TCPConn and on a wrapped
// one, and must see the same.
//
// One difference is deliberate: the raw calls are recv and send with
// MSG_DONTWAIT, which never block, so on a socket put in blocking mode
// behind the connection's back (os.File.Fd on a File from it) a read or
// write still waits in the poller and still honours its deadline, where
// net's blocks in the kernel and ignores it (as Fd's documentation
// warns). A raw call that blocked would freeze the whole program at the
// next garbage collection.
//
// Built with -race (and on 386 and s390x), the calls are the syscall
// package's (the ones net makes), which tell the race detector what a
// read or write on a socket orders; raw calls would tell it nothing.
package rawconn
