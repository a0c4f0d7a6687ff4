package rawconn_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/rawconn"
)

// The tests are differential: each scenario runs on a plain *net.TCPConn,
// the reference, and on the same kind of connection wrapped by
// rawconn.Wrap, and what the two saw (every n, byte and error, words and
// identity) must be the same. Each scenario also checks what net is
// documented to do, so that a scenario that stopped testing anything
// fails too.

// kind is how the connection under test is made from the dialed one.
type kind struct {
	name string
	wrap func(net.Conn) net.Conn
}

func kinds() []kind {
	return []kind{
		{"net", func(c net.Conn) net.Conn { return c }},
		{"rawconn", rawconn.Wrap},
	}
}

// env is one loopback TCP connection: c is the connection under test,
// tcp its socket as net opened it, peer the other end (always plain).
type env struct {
	t    testing.TB
	kind string
	k    kind
	o    options
	c    net.Conn
	tcp  *net.TCPConn
	peer *net.TCPConn
	// The connection's addresses, which error texts name: replaced by L
	// and R so that texts from two connections compare.
	local, remote string
	// steps is what the scenario saw, in order.
	steps []string
}

// small makes both ends' socket buffers as small as Linux allows, so that
// a write blocks (EAGAIN) after a few KiB the peer has not read.
type options struct{ small bool }

// bufferControl sets tiny send and receive buffers on a socket before it
// connects (an accepted socket inherits its listener's).
func bufferControl(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		for _, opt := range []int{unix.SO_SNDBUF, unix.SO_RCVBUF} {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, 4096); e != nil {
				serr = e
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

func newEnv(t testing.TB, k kind, o options) *env {
	t.Helper()
	var lc net.ListenConfig
	var d net.Dialer
	if o.small {
		lc.Control, d.Control = bufferControl, bufferControl
	}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := acceptBehind(ln, nil)
	dc, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a.err != nil {
		dc.Close()
		t.Fatal(a.err)
	}
	e := &env{t: t, kind: k.name, k: k, o: o, tcp: dc.(*net.TCPConn), peer: a.c.(*net.TCPConn)}
	e.c = k.wrap(dc)
	// The peer's reads and writes are bounded, so that a connection under
	// test that loses bytes fails the test rather than hanging it.
	if err := e.peer.SetDeadline(time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	e.local, e.remote = dc.LocalAddr().String(), dc.RemoteAddr().String()
	t.Cleanup(func() {
		e.c.Close()
		e.peer.Close()
	})
	return e
}

// again replaces e's connection with a new one of the same kind, for a
// run made again; the steps seen so far are forgotten.
func (e *env) again() {
	e.c.Close()
	e.peer.Close()
	*e = *newEnv(e.t, e.k, e.o)
}

type accepted struct {
	c   net.Conn
	err error
}

// acceptBehind accepts one connection on ln in a goroutine, and calls
// then (when not nil) on it there.
func acceptBehind(ln net.Listener, then func(net.Conn) error) <-chan accepted {
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil && then != nil {
			err = then(c)
		}
		ch <- accepted{c, err}
	}()
	return ch
}

// differ runs scenario once per kind, each on a new connection, and
// fails when the steps they recorded differ.
func differ(t *testing.T, o options, scenario func(e *env)) {
	t.Helper()
	var ref *env
	for _, k := range kinds() {
		var e *env
		t.Run(k.name, func(t *testing.T) {
			e = newEnv(t, k, o)
			scenario(e)
		})
		if e == nil || t.Failed() {
			return
		}
		if ref == nil {
			ref = e
			continue
		}
		compareSteps(t, ref, e)
	}
}

func compareSteps(t *testing.T, ref, e *env) {
	t.Helper()
	if reflect.DeepEqual(ref.steps, e.steps) {
		return
	}
	var b strings.Builder
	for i := 0; i < max(len(ref.steps), len(e.steps)); i++ {
		r, g := "(none)", "(none)"
		if i < len(ref.steps) {
			r = ref.steps[i]
		}
		if i < len(e.steps) {
			g = e.steps[i]
		}
		mark := "  "
		if r != g {
			mark = "!="
		}
		fmt.Fprintf(&b, "%s %2d %s: %s\n   %2d %s: %s\n", mark, i, ref.kind, r, i, e.kind, g)
	}
	t.Errorf("%s and %s differ:\n%s", ref.kind, e.kind, b.String())
}

// note records a step of the scenario.
func (e *env) note(format string, args ...any) {
	e.steps = append(e.steps, fmt.Sprintf(format, args...))
}

// read reads once into a buffer of size and records what it got.
func (e *env) read(size int) (int, []byte, error) {
	buf := make([]byte, size)
	n, err := e.c.Read(buf)
	e.note("read(%d) = %d %s %s", size, n, show(buf[:max(n, 0)]), e.describe(err))
	return n, buf[:max(n, 0)], err
}

// show is bytes for a step: short ones quoted, long ones hashed.
func show(p []byte) string {
	if len(p) <= 64 {
		return fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf("sha256:%x", sha256.Sum256(p))[:20]
}

// write writes p once and records n and the error.
func (e *env) write(p []byte) (int, error) {
	n, err := e.c.Write(p)
	e.note("write(%d) = %d %s", len(p), n, e.describe(err))
	return n, err
}

// describe words an error with everything a caller may look at: its
// text (the connection's addresses replaced), the types it wraps, its
// identity as io.EOF, what errors.Is finds and what net.Error says.
func (e *env) describe(err error) string {
	if err == nil {
		return "<nil>"
	}
	if err == io.EOF {
		return "io.EOF"
	}
	var types []string
	for u := err; u != nil; u = errors.Unwrap(u) {
		types = append(types, fmt.Sprintf("%T", u))
	}
	text := strings.NewReplacer(e.local, "L", e.remote, "R").Replace(err.Error())
	var is []string
	for _, target := range []struct {
		name string
		err  error
	}{
		{"EOF", io.EOF}, {"ErrUnexpectedEOF", io.ErrUnexpectedEOF},
		{"ErrClosed", net.ErrClosed}, {"ErrDeadlineExceeded", os.ErrDeadlineExceeded},
		{"ECONNRESET", syscall.ECONNRESET}, {"EPIPE", syscall.EPIPE},
	} {
		if errors.Is(err, target.err) {
			is = append(is, target.name)
		}
	}
	var ne net.Error
	timeout := errors.As(err, &ne) && ne.Timeout()
	return fmt.Sprintf("err %q types=%s is=%s timeout=%v", text, strings.Join(types, ">"), strings.Join(is, ","), timeout)
}

// Checks of what net does, made on both kinds.

func (e *env) wantErr(err error, target error, what string) {
	e.t.Helper()
	if !errors.Is(err, target) {
		e.t.Fatalf("%s: got %v, want an error that is %v", what, err, target)
	}
}

func (e *env) wantTimeout(err error, what string) {
	e.t.Helper()
	e.wantErr(err, os.ErrDeadlineExceeded, what)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		e.t.Fatalf("%s: %v is not a net.Error with Timeout()", what, err)
	}
}

// bound is how long a wait for the kernel may take before the test gives
// up: a bound, never a timing that is asserted.
const bound = 5 * time.Second

// waitFor polls cond on the connection's socket until it holds.
func (e *env) waitFor(what string, c *net.TCPConn, cond func(fd int) bool) {
	e.t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(bound)
	for {
		ok := false
		if err := rc.Control(func(fd uintptr) { ok = cond(int(fd)) }); err != nil {
			e.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// inq is how many bytes wait unread in a socket.
func inq(fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	if err != nil {
		return -1
	}
	return n
}

// waitInq waits until c's socket holds exactly n unread bytes (all that
// was sent to it arrived).
func (e *env) waitInq(c *net.TCPConn, n int) {
	e.t.Helper()
	e.waitFor(fmt.Sprintf("%d bytes to arrive", n), c, func(fd int) bool { return inq(fd) == n })
}

// waitSome waits until c's socket holds unread bytes.
func (e *env) waitSome(c *net.TCPConn) {
	e.t.Helper()
	e.waitFor("bytes to arrive", c, func(fd int) bool { return inq(fd) > 0 })
}

// TCP states of linux/include/net/tcp_states.h.
const (
	tcpClose     = 7
	tcpCloseWait = 8
)

func tcpState(fd int) uint8 {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0
	}
	return info.State
}

// waitState waits until the socket under test is in one of states: the
// peer's FIN (CLOSE_WAIT) or reset (CLOSE) has arrived.
func (e *env) waitState(states ...uint8) {
	e.t.Helper()
	e.waitFor(fmt.Sprintf("TCP state in %v", states), e.tcp, func(fd int) bool {
		s := tcpState(fd)
		for _, want := range states {
			if s == want {
				return true
			}
		}
		return false
	})
}

// reset makes the peer abort the connection: an RST, not a FIN.
func (e *env) reset() {
	e.t.Helper()
	if err := e.peer.SetLinger(0); err != nil {
		e.t.Fatal(err)
	}
	e.peer.Close()
	e.waitState(tcpClose)
}

// peerWrite writes p from the peer and waits until it all arrived.
func (e *env) peerWrite(p []byte, unread int) {
	e.t.Helper()
	if _, err := e.peer.Write(p); err != nil {
		e.t.Fatal(err)
	}
	e.waitInq(e.tcp, unread+len(p))
}

// peerReadAll reads everything the peer gets until the end of the stream.
func (e *env) peerReadAll() []byte {
	e.t.Helper()
	if err := e.peer.SetReadDeadline(time.Now().Add(bound)); err != nil {
		e.t.Fatal(err)
	}
	b, err := io.ReadAll(e.peer)
	if err != nil {
		e.t.Fatalf("peer reading: %v", err)
	}
	return b
}

// pattern is n bytes that tell where in a stream they are.
func pattern(n int) []byte {
	p := make([]byte, n)
	x := uint32(2463534242)
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
	return p
}
