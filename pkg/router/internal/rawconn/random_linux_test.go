package rawconn_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRandomDifferential applies seeded random sequences of operations
// (the peer writing, closing or resetting; reads and writes of random
// sizes, zero-length ones, deadlines in the past or passing while a read
// waits, half and full closes) to a plain connection and a wrapped one in
// lock step, and fails at the first step whose outcome differs. Each
// operation is chosen so that its outcome is determined (the test waits
// for the kernel to deliver what the peer sent before a read, and never
// reads what might block for ever), so any difference is rawconn's.
func TestRandomDifferential(t *testing.T) {
	sequences, steps := 200, 100
	if testing.Short() {
		sequences = 20
	}
	stop := time.Now().Add(20 * time.Second) // a bound on the test, not a timing
	ran := map[string]int{}
	for seq := range sequences {
		if time.Now().After(stop) {
			t.Logf("ran %d sequences within the time bound", seq)
			break
		}
		seed := uint64(seq)*0x9E3779B97F4A7C15 + 1
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			runSequence(t, seed, steps, ran)
		})
		if t.Failed() {
			return
		}
	}
	// The sequences must have tried every kind of operation.
	for _, op := range []string{
		"peer writes ", "read()", "read() until a deadline", "write()",
		"read deadline past=true", "read deadline past=false", "write deadline past=true",
		"write deadline past=false", "peer CloseWrite", "peer Close", "peer reset", "CloseWrite", "Close",
	} {
		if ran[op] == 0 {
			t.Errorf("no sequence did %q (did: %v)", op, ran)
		}
	}
}

// model is what the test knows of both connections, the same for both as
// long as they behave the same.
type model struct {
	unread       int  // bytes the peer sent that the connection did not read
	peerWriteEnd bool // the peer shut its writing side (its FIN arrived)
	peerClosed   bool // the peer closed: it reads nothing more
	reset        bool // the connection was reset (the RST arrived)
	closed       bool // the connection under test was closed
	shutWrite    bool // the connection under test shut its writing side
	readPast     bool // its read deadline has passed
	writePast    bool // its write deadline has passed
	sent         int  // bytes the peer sent, for distinct contents
}

// digits are taken out of an operation's name to count its kind.
var digits = regexp.MustCompile(`[0-9]+`)

func runSequence(t *testing.T, seed uint64, steps int, ran map[string]int) {
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	envs := make([]*env, 0, 2)
	for _, k := range kinds() {
		envs = append(envs, newEnv(t, k, options{}))
	}
	var m model
	var history []string
	afterClose := 5 // steps made on a closed connection
	for step := 0; step < steps && afterClose > 0; step++ {
		if m.closed {
			afterClose--
		}
		op, apply := pick(rng, &m)
		history = append(history, op)
		ran[digits.ReplaceAllString(op, "")]++
		for _, e := range envs {
			apply(e)
		}
		// apply changed the model once per connection: the op's
		// changes to it are made by the last.
		ref, got := envs[0].steps, envs[1].steps
		if strings.Join(ref, "\n") != strings.Join(got, "\n") {
			t.Errorf("step %d (%s): the connections differ\nops: %s", step, op, strings.Join(history, "; "))
			compareSteps(t, envs[0], envs[1])
			return
		}
		if t.Failed() {
			t.Logf("ops: %s", strings.Join(history, "; "))
			return
		}
	}
}

var readSizes = []int{1, 2, 7, 100, 1460, 4096, 65536}

// pick chooses an operation whose outcome is determined in state m and
// returns its name and a function applying it to one connection. The
// function updates m when it runs on the last connection only.
func pick(rng *rand.Rand, m *model) (string, func(*env)) {
	peerOpen := !m.peerClosed && !m.reset
	for {
		switch rng.IntN(17) {
		case 0, 1, 2, 3, 4:
			if !peerOpen || m.peerWriteEnd || m.closed || m.unread > 48<<10 {
				continue
			}
			k := 1 + rng.IntN(5000)
			if rng.IntN(4) == 0 {
				k = 1 + rng.IntN(20)
			}
			p := pattern(m.sent + k)[m.sent:]
			unread := m.unread
			return fmt.Sprintf("peer writes %d", k), last(func(e *env) {
				e.peerWrite(p, unread)
			}, func() { m.unread += k; m.sent += k })
		case 5, 6, 7:
			size := readSizes[rng.IntN(len(readSizes))]
			blocks := !m.closed && !m.readPast && m.unread == 0 && !m.peerWriteEnd && peerOpen
			if blocks {
				// A read that waits for its deadline to pass.
				return fmt.Sprintf("read(%d) until a deadline", size), last(func(e *env) {
					e.c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
					e.read(size)
				}, func() { m.readPast = true })
			}
			var n int
			return fmt.Sprintf("read(%d)", size), func(e *env) {
				n, _, _ = e.read(size)
				if e.kind == lastKind() && n > 0 {
					m.unread = max(m.unread-n, 0)
				}
			}
		case 8:
			if rng.IntN(2) == 0 {
				return "read(0)", func(e *env) { e.read(0) }
			}
			return "write(0)", func(e *env) { e.write(nil) }
		case 9, 10:
			k := 1 + rng.IntN(5000)
			delivered := !m.closed && !m.writePast && !m.shutWrite && !m.reset
			return fmt.Sprintf("write(%d)", k), last(func(e *env) {
				p := pattern(k)
				n, err := e.write(p)
				if !delivered || err != nil {
					return
				}
				if !m.peerClosed {
					got := make([]byte, n)
					e.peer.SetReadDeadline(time.Now().Add(bound))
					_, err := io.ReadFull(e.peer, got)
					e.note("peer got %s %v", show(got), err)
					if !bytes.Equal(got, p[:n]) {
						e.t.Fatalf("the peer got other bytes than were written")
					}
					return
				}
				// The closed peer's kernel answers with a reset.
				e.waitState(tcpClose)
			}, func() {
				if delivered && m.peerClosed {
					m.reset = true
				}
			})
		case 11:
			if m.closed {
				continue
			}
			past := rng.IntN(2) == 0
			dl := time.Time{}
			if past {
				dl = time.Now().Add(-time.Second)
			} else if rng.IntN(2) == 0 {
				dl = time.Now().Add(time.Hour)
			}
			if rng.IntN(2) == 0 {
				return fmt.Sprintf("read deadline past=%v", past), last(func(e *env) {
					e.note("SetReadDeadline: %s", e.describe(e.c.SetReadDeadline(dl)))
				}, func() { m.readPast = past })
			}
			return fmt.Sprintf("write deadline past=%v", past), last(func(e *env) {
				e.note("SetWriteDeadline: %s", e.describe(e.c.SetWriteDeadline(dl)))
			}, func() { m.writePast = past })
		case 12:
			if !peerOpen || m.peerWriteEnd || m.closed || rng.IntN(3) > 0 {
				continue
			}
			return "peer CloseWrite", last(func(e *env) {
				e.peer.CloseWrite()
				e.waitHup()
			}, func() { m.peerWriteEnd = true })
		case 13:
			if !peerOpen || m.closed || rng.IntN(4) > 0 {
				continue
			}
			return "peer Close", last(func(e *env) {
				e.peer.Close()
				e.waitHup()
			}, func() { m.peerClosed, m.peerWriteEnd = true, true })
		case 14:
			if !peerOpen || m.closed || rng.IntN(4) > 0 {
				continue
			}
			return "peer reset", last(func(e *env) {
				e.reset()
			}, func() { m.reset, m.peerWriteEnd, m.unread = true, true, 0 })
		case 15:
			if m.closed || rng.IntN(3) > 0 {
				continue
			}
			return "CloseWrite", last(func(e *env) {
				err := e.c.(interface{ CloseWrite() error }).CloseWrite()
				e.note("CloseWrite: %s", e.describe(err))
			}, func() { m.shutWrite = true })
		case 16:
			if m.closed || rng.IntN(4) > 0 {
				continue
			}
			return "Close", last(func(e *env) {
				e.note("Close: %s", e.describe(e.c.Close()))
			}, func() { m.closed = true })
		}
	}
}

func lastKind() string { k := kinds(); return k[len(k)-1].name }

// last returns a function that applies f to a connection and then, after
// the last connection, changes the model.
func last(f func(*env), change func()) func(*env) {
	return func(e *env) {
		f(e)
		if e.kind == lastKind() {
			change()
		}
	}
}

// waitHup waits until the peer's FIN or reset has reached the connection
// under test, so that a read finds the end of the stream at once.
func (e *env) waitHup() {
	e.t.Helper()
	e.waitFor("the peer's close to arrive", e.tcp, func(fd int) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		n, err := unix.Poll(fds, 0)
		return err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
	})
}
