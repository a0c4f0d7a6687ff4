package rawconn_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/rawconn"
)

func TestWrapOnlyTCP(t *testing.T) {
	e := newEnv(t, kinds()[1], options{})
	rc, ok := e.c.(*rawconn.Conn)
	if !ok {
		t.Fatalf("Wrap(*net.TCPConn) = %T, want *rawconn.Conn", e.c)
	}
	if rc.NetConn() != e.tcp {
		t.Error("NetConn is not the wrapped connection")
	}
	if _, ok := e.c.(syscall.Conn); !ok {
		t.Error("a wrapped connection is no longer a syscall.Conn")
	}
	if _, ok := e.c.(io.ReaderFrom); !ok {
		t.Error("a wrapped connection is no longer an io.ReaderFrom")
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if c := rawconn.Wrap(p1); c != p1 {
		t.Errorf("Wrap(net.Pipe) = %T, want it unchanged", c)
	}
	if c := rawconn.Wrap(e.c); c != e.c {
		t.Errorf("Wrap(Wrap(c)) = %T, want it unchanged", c)
	}
}

func TestReadsAndEOF(t *testing.T) {
	differ(t, options{}, func(e *env) {
		e.peerWrite([]byte("hello, world"), 0)
		e.read(5)
		e.read(1)
		e.read(100)
		if err := e.peer.CloseWrite(); err != nil {
			e.t.Fatal(err)
		}
		_, _, err := e.read(10)
		if err != io.EOF {
			e.t.Fatalf("read at the end of the stream: %v, want io.EOF itself", err)
		}
		e.read(10) // again
		e.read(0)
	})
}

func TestReadAllAtOnce(t *testing.T) {
	differ(t, options{}, func(e *env) {
		p := pattern(100_000)
		go func() {
			e.peer.Write(p)
			e.peer.CloseWrite()
		}()
		got, err := io.ReadAll(e.c)
		e.note("ReadAll = %d %x %s", len(got), sha256.Sum256(got), e.describe(err))
		if !bytes.Equal(got, p) {
			e.t.Fatalf("read %d bytes, not the %d written", len(got), len(p))
		}
	})
}

func TestZeroLengthReadAndWrite(t *testing.T) {
	differ(t, options{}, func(e *env) {
		e.read(0)
		e.write(nil)
		e.write([]byte{})
		e.peerWrite([]byte("waiting"), 0)
		e.read(0) // reads nothing of what waits
		e.c.SetReadDeadline(time.Now().Add(-time.Second))
		e.c.SetWriteDeadline(time.Now().Add(-time.Second))
		e.read(0)
		_, err := e.write(nil)
		e.wantTimeout(err, "zero-length write after the write deadline")
		e.c.SetReadDeadline(time.Time{})
		e.c.SetWriteDeadline(time.Time{})
		e.read(100)
		if err := e.c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			e.t.Fatal(err)
		}
		_, err = e.write(nil)
		e.wantErr(err, syscall.EPIPE, "zero-length write after CloseWrite")
		e.c.Close()
		_, _, err = e.read(0)
		e.wantErr(err, net.ErrClosed, "zero-length read after Close")
		_, err = e.write(nil)
		e.wantErr(err, net.ErrClosed, "zero-length write after Close")
	})
}

func TestZeroLengthWriteAfterReset(t *testing.T) {
	differ(t, options{}, func(e *env) {
		e.reset()
		_, err := e.write(nil)
		e.wantErr(err, syscall.ECONNRESET, "zero-length write after a reset")
		e.write(nil)
		e.read(0)
	})
}

func TestClose(t *testing.T) {
	differ(t, options{}, func(e *env) {
		e.peerWrite([]byte("unread"), 0)
		if err := e.c.Close(); err != nil {
			e.t.Fatal(err)
		}
		_, _, err := e.read(10)
		e.wantErr(err, net.ErrClosed, "read after Close")
		_, err = e.write([]byte("x"))
		e.wantErr(err, net.ErrClosed, "write after Close")
		err = e.c.Close()
		e.note("Close again: %s", e.describe(err))
		e.wantErr(err, net.ErrClosed, "second Close")
		e.note("SetDeadline: %s", e.describe(e.c.SetDeadline(time.Now())))
	})
}

// blocked starts f in a goroutine and returns its outcome's channel.
func blocked[T any](f func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	return ch
}

type result struct {
	n   int
	err error
}

// readBehind starts a read of size bytes in a goroutine.
func (e *env) readBehind(size int) <-chan result {
	return blocked(func() result {
		n, err := e.c.Read(make([]byte, size))
		return result{n, err}
	})
}

// writeBehind starts a write of p in a goroutine.
func (e *env) writeBehind(p []byte) <-chan result {
	return blocked(func() result {
		n, err := e.c.Write(p)
		return result{n, err}
	})
}

func TestCloseWakesBlockedRead(t *testing.T) {
	differ(t, options{}, func(e *env) {
		ch := e.readBehind(10)
		time.Sleep(10 * time.Millisecond) // mostly, the read waits by now; either way it must fail so
		e.c.Close()
		r := <-ch
		e.note("blocked read = %d %s", r.n, e.describe(r.err))
		e.wantErr(r.err, net.ErrClosed, "read blocked when Close came")
	})
}

func TestCloseWakesConcurrentReads(t *testing.T) {
	differ(t, options{}, func(e *env) {
		var chs []<-chan result
		for range 4 {
			chs = append(chs, e.readBehind(10))
		}
		time.Sleep(10 * time.Millisecond)
		e.c.Close()
		for _, ch := range chs {
			r := <-ch
			e.note("blocked read = %d %s", r.n, e.describe(r.err))
			e.wantErr(r.err, net.ErrClosed, "read blocked when Close came")
		}
	})
}

func TestCloseWakesBlockedWrite(t *testing.T) {
	differ(t, options{small: true}, func(e *env) {
		p := pattern(8 << 20)
		ch := e.writeBehind(p)
		e.waitSome(e.peer)
		e.c.Close()
		r := <-ch
		e.note("blocked write: partial=%v %s", 0 < r.n && r.n < len(p), e.describe(r.err))
		e.wantErr(r.err, net.ErrClosed, "write blocked when Close came")
		if got := e.peerReadAll(); !bytes.Equal(got, p[:r.n]) {
			e.t.Fatalf("write said %d bytes, the peer got %d", r.n, len(got))
		}
	})
}

func TestReadDeadlines(t *testing.T) {
	differ(t, options{}, func(e *env) {
		e.peerWrite([]byte("abc"), 0)
		// A passed deadline fails a read although bytes wait.
		e.c.SetReadDeadline(time.Now().Add(-time.Second))
		_, _, err := e.read(10)
		e.wantTimeout(err, "read after its deadline")
		e.c.SetReadDeadline(time.Time{})
		e.read(10)
		// A deadline that passes while the read waits.
		e.c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, _, err = e.read(10)
		e.wantTimeout(err, "read waiting past its deadline")
		// The connection still reads once the deadline is moved.
		e.c.SetReadDeadline(time.Now().Add(time.Hour))
		e.peerWrite([]byte("more"), 0)
		e.read(10)
	})
}

func TestReadDeadlineShortenedWhileBlocked(t *testing.T) {
	differ(t, options{}, func(e *env) {
		ch := e.readBehind(10)
		time.Sleep(10 * time.Millisecond)
		e.c.SetReadDeadline(time.Now().Add(-time.Second))
		r := <-ch
		e.note("blocked read = %d %s", r.n, e.describe(r.err))
		e.wantTimeout(r.err, "read whose deadline passed while it waited")
	})
}

// TestReadDeadlineExtendedWhileBlocked: a read waiting with a deadline
// that is moved later keeps waiting past the first one. When the machine
// was so slow that the deadline passed before it was moved, the run
// proves nothing and is made again.
func TestReadDeadlineExtendedWhileBlocked(t *testing.T) {
	differ(t, options{}, func(e *env) {
		for try := 0; ; try++ {
			first := time.Now().Add(200 * time.Millisecond)
			e.c.SetReadDeadline(first)
			ch := e.readBehind(10)
			time.Sleep(10 * time.Millisecond)
			e.c.SetReadDeadline(time.Now().Add(time.Hour))
			late := time.Now().After(first)
			time.Sleep(time.Until(first) + 100*time.Millisecond)
			e.peer.Write([]byte("late"))
			r := <-ch
			if r.err != nil && late && try < 3 {
				e.t.Logf("the deadline passed before it was moved: again")
				e.again()
				continue
			}
			e.note("read = %d %s", r.n, e.describe(r.err))
			if r.err != nil {
				e.t.Fatalf("read whose deadline was moved later: %v", r.err)
			}
			return
		}
	})
}

func TestWriteDeadlines(t *testing.T) {
	differ(t, options{small: true}, func(e *env) {
		e.c.SetWriteDeadline(time.Now().Add(-time.Second))
		_, err := e.write([]byte("x"))
		e.wantTimeout(err, "write after its deadline")
		e.c.SetWriteDeadline(time.Time{})
		e.write([]byte("y"))
		if got := make([]byte, 1); true {
			io.ReadFull(e.peer, got)
			e.note("peer got %q", got)
		}
	})
}

// TestWriteDeadlinePartial: a write to a peer that does not read, cut by
// its deadline (passing while it waits, or set in the past while it
// waits), says how much it wrote, and that much reached the peer.
func TestWriteDeadlinePartial(t *testing.T) {
	for _, how := range []string{"expires", "shortened"} {
		t.Run(how, func(t *testing.T) {
			differ(t, options{small: true}, func(e *env) {
				p := pattern(8 << 20)
				ch := e.writeBehind(p)
				e.waitSome(e.peer)
				if how == "expires" {
					e.c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
				} else {
					e.c.SetWriteDeadline(time.Now().Add(-time.Second))
				}
				r := <-ch
				e.note("write: partial=%v %s", 0 < r.n && r.n < len(p), e.describe(r.err))
				e.wantTimeout(r.err, "write cut by its deadline")
				if r.n <= 0 || r.n >= len(p) {
					e.t.Fatalf("write cut by its deadline says %d bytes of %d", r.n, len(p))
				}
				e.c.Close()
				if got := e.peerReadAll(); !bytes.Equal(got, p[:r.n]) {
					e.t.Fatalf("write said %d bytes, the peer got %d", r.n, len(got))
				}
			})
		})
	}
}

func TestWriteDeadlineExtendedWhileBlocked(t *testing.T) {
	differ(t, options{small: true}, func(e *env) {
		for try := 0; ; try++ {
			p := pattern(1 << 20)
			first := time.Now().Add(200 * time.Millisecond)
			e.c.SetWriteDeadline(first)
			ch := e.writeBehind(p)
			e.waitSome(e.peer)
			e.c.SetWriteDeadline(time.Time{})
			late := time.Now().After(first)
			time.Sleep(time.Until(first) + 100*time.Millisecond)
			got := make([]byte, len(p))
			done := blocked(func() error { _, err := io.ReadFull(e.peer, got); return err })
			r := <-ch
			if r.err != nil && late && try < 3 {
				e.t.Logf("the deadline passed before it was moved: again")
				e.again()
				continue
			}
			e.note("write = %d %s", r.n, e.describe(r.err))
			if r.err != nil || r.n != len(p) {
				e.t.Fatalf("write whose deadline was lifted: %d of %d, %v", r.n, len(p), r.err)
			}
			if err := <-done; err != nil || !bytes.Equal(got, p) {
				e.t.Fatalf("the peer did not get the write: %v", err)
			}
			return
		}
	})
}

// TestLargeWriteToSlowReader: an 8 MiB write to a peer with tiny buffers
// must wait for the socket again and again, and finish whole.
func TestLargeWriteToSlowReader(t *testing.T) {
	differ(t, options{small: true}, func(e *env) {
		p := pattern(8 << 20)
		ch := e.writeBehind(p)
		e.waitSome(e.peer)
		select {
		case r := <-ch:
			e.t.Fatalf("an 8 MiB write finished (%d, %v) before the peer read anything", r.n, r.err)
		default:
		}
		var got bytes.Buffer
		buf := make([]byte, 3000)
		for got.Len() < len(p) {
			n, err := e.peer.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				e.t.Fatalf("peer: %v after %d bytes", err, got.Len())
			}
		}
		r := <-ch
		e.note("write = %d %s", r.n, e.describe(r.err))
		if !bytes.Equal(got.Bytes(), p) {
			e.t.Fatal("the peer got other bytes than were written")
		}
	})
}

func TestReset(t *testing.T) {
	differ(t, options{}, func(e *env) {
		e.reset()
		_, _, err := e.read(10)
		e.wantErr(err, syscall.ECONNRESET, "read after the peer reset")
		e.read(10)
		_, err = e.write([]byte("x"))
		e.wantErr(err, syscall.EPIPE, "write after the reset was read")
	})
}

func TestResetWhileReading(t *testing.T) {
	differ(t, options{}, func(e *env) {
		ch := e.readBehind(10)
		time.Sleep(10 * time.Millisecond)
		e.peer.SetLinger(0)
		e.peer.Close()
		r := <-ch
		e.note("blocked read = %d %s", r.n, e.describe(r.err))
		e.wantErr(r.err, syscall.ECONNRESET, "read waiting when the peer reset")
	})
}

func TestResetThenWrite(t *testing.T) {
	differ(t, options{}, func(e *env) {
		e.reset()
		_, err := e.write([]byte("x"))
		e.wantErr(err, syscall.ECONNRESET, "write after the peer reset")
		_, err = e.write([]byte("x"))
		e.wantErr(err, syscall.EPIPE, "second write after the peer reset")
		e.read(10)
	})
}

// TestWriteAfterPeerClosed: the first write after the peer closed
// succeeds (the peer's kernel answers it with a reset), the next fails.
func TestWriteAfterPeerClosed(t *testing.T) {
	differ(t, options{}, func(e *env) {
		e.peer.Close()
		e.waitState(tcpCloseWait)
		e.write([]byte("first"))
		e.waitState(tcpClose)
		_, err := e.write([]byte("second"))
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			e.t.Fatalf("write to a closed peer: %v, want ECONNRESET or EPIPE", err)
		}
		e.write([]byte("third"))
		e.read(10)
	})
}

func TestWriteWhileBlockedOnClosedPeer(t *testing.T) {
	differ(t, options{small: true}, func(e *env) {
		p := pattern(8 << 20)
		ch := e.writeBehind(p)
		e.waitSome(e.peer)
		e.peer.SetLinger(0)
		e.peer.Close()
		r := <-ch
		e.note("write: partial=%v %s", 0 < r.n && r.n < len(p), e.describe(r.err))
		if !errors.Is(r.err, syscall.ECONNRESET) && !errors.Is(r.err, syscall.EPIPE) {
			e.t.Fatalf("write blocked when the peer reset: %v", r.err)
		}
	})
}

func TestHalfClose(t *testing.T) {
	differ(t, options{}, func(e *env) {
		e.write([]byte("request"))
		if err := e.c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			e.t.Fatal(err)
		}
		got := e.peerReadAll()
		e.note("peer got %q", got)
		_, err := e.write([]byte("more"))
		e.wantErr(err, syscall.EPIPE, "write after CloseWrite")
		e.peerWrite([]byte("answer"), 0)
		e.peer.CloseWrite()
		e.read(100)
		_, _, err = e.read(100)
		if err != io.EOF {
			e.t.Fatalf("read at the end: %v", err)
		}
	})
}

func TestCloseRead(t *testing.T) {
	differ(t, options{}, func(e *env) {
		if err := e.c.(interface{ CloseRead() error }).CloseRead(); err != nil {
			e.t.Fatal(err)
		}
		e.read(10)
		e.write([]byte("still writes"))
	})
}

// TestCopy: io.Copy in both directions goes through the TCPConn's
// ReadFrom and WriteTo, which a wrapped connection keeps.
func TestCopy(t *testing.T) {
	differ(t, options{}, func(e *env) {
		p := pattern(1 << 20)
		done := blocked(func() []byte { return e.peerReadAll() })
		n, err := io.Copy(e.c, bytes.NewReader(p))
		e.note("Copy to = %d %s", n, e.describe(err))
		e.c.(interface{ CloseWrite() error }).CloseWrite()
		if got := <-done; !bytes.Equal(got, p) {
			e.t.Fatalf("the peer got %d bytes, not the %d copied", len(got), len(p))
		}
		go func() {
			e.peer.Write(p)
			e.peer.CloseWrite()
		}()
		var got bytes.Buffer
		n, err = io.Copy(&got, e.c)
		e.note("Copy from = %d %s", n, e.describe(err))
		if !bytes.Equal(got.Bytes(), p) {
			e.t.Fatalf("copied %d bytes, not the %d written", got.Len(), len(p))
		}
	})
}

// TestCopyBetweenConnections: io.Copy from one connection to another
// (splice between two TCP sockets when both are net's).
func TestCopyBetweenConnections(t *testing.T) {
	differ(t, options{}, func(e *env) {
		other := newEnv(e.t, e.k, options{})
		p := pattern(1 << 20)
		go func() {
			e.peer.Write(p)
			e.peer.CloseWrite()
		}()
		done := blocked(func() []byte { return other.peerReadAll() })
		n, err := io.Copy(other.c, e.c)
		e.note("Copy = %d %s", n, e.describe(err))
		other.c.(interface{ CloseWrite() error }).CloseWrite()
		if got := <-done; !bytes.Equal(got, p) {
			e.t.Fatalf("the peer got %d bytes, not the %d copied", len(got), len(p))
		}
	})
}

func TestConcurrentReadAndWrite(t *testing.T) {
	differ(t, options{small: true}, func(e *env) {
		in, out := pattern(1<<20), pattern(3 << 20)[1<<20:]
		go func() {
			e.peer.Write(in)
			e.peer.CloseWrite()
		}()
		peerGot := blocked(func() []byte { return e.peerReadAll() })
		wrote := blocked(func() result {
			var n int
			for off := 0; off < len(out); off += 10_000 {
				m, err := e.c.Write(out[off:min(off+10_000, len(out))])
				n += m
				if err != nil {
					return result{n, err}
				}
			}
			return result{n, e.c.(interface{ CloseWrite() error }).CloseWrite()}
		})
		var got bytes.Buffer
		buf := make([]byte, 7000)
		var rerr error
		for {
			n, err := e.c.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				rerr = err
				break
			}
		}
		w := <-wrote
		e.note("read %d then %s; wrote %d %s", got.Len(), e.describe(rerr), w.n, e.describe(w.err))
		if !bytes.Equal(got.Bytes(), in) {
			e.t.Fatal("read other bytes than the peer wrote")
		}
		if pg := <-peerGot; !bytes.Equal(pg, out) {
			e.t.Fatal("the peer got other bytes than were written")
		}
	})
}

// TestConcurrentReads: reads from several goroutines at once each get a
// piece of the stream; together, all of it, each byte once.
func TestConcurrentReads(t *testing.T) {
	differ(t, options{}, func(e *env) {
		const size = 1 << 20
		p := pattern(size)
		go func() {
			for off := 0; off < size; off += 1000 {
				e.peer.Write(p[off:min(off+1000, size)])
			}
			e.peer.CloseWrite()
		}()
		var mu sync.Mutex
		var total int
		var count [256]int
		var wg sync.WaitGroup
		var errs []string
		for g := range 4 {
			wg.Go(func() {
				buf := make([]byte, 100+g*997)
				for {
					n, err := e.c.Read(buf)
					mu.Lock()
					total += n
					for _, b := range buf[:n] {
						count[b]++
					}
					if n >= 32 && !bytes.Contains(p, buf[:n]) {
						e.t.Errorf("read %d bytes that are nowhere in the stream", n)
					}
					mu.Unlock()
					if err != nil {
						mu.Lock()
						errs = append(errs, e.describe(err))
						mu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
		var want [256]int
		for _, b := range p {
			want[b]++
		}
		e.note("read %d bytes in all, ends %v", total, errs)
		if total != size || count != want {
			e.t.Fatalf("concurrent reads got %d bytes, not the %d written once each", total, size)
		}
	})
}

// TestHappensBefore: a write to a socket and the read of it order what
// the writer did before and what the reader does after, for Go's race
// detector as for the program: under -race, net's reads and writes tell
// the detector so, and a wrapped connection must too, or every program
// that hands data through a socket reports races that are not there.
func TestHappensBefore(t *testing.T) {
	differ(t, options{}, func(e *env) {
		x := 0
		go func() {
			x = 1
			e.peer.Write([]byte{1})
		}()
		e.read(1)
		e.note("x = %d", x)
		y := 0
		done := blocked(func() int {
			io.ReadFull(e.peer, make([]byte, 1))
			return y
		})
		y = 2
		e.write([]byte{1})
		e.note("y = %d", <-done)
	})
}
