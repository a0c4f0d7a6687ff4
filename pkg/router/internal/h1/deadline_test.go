package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// setCounter is a connection that records its deadlines.
type setCounter struct {
	net.Conn
	sets        int
	read, write time.Time
}

func (c *setCounter) SetReadDeadline(t time.Time) error  { c.sets++; c.read = t; return nil }
func (c *setCounter) SetWriteDeadline(t time.Time) error { c.sets++; c.write = t; return nil }
func (c *setCounter) SetDeadline(t time.Time) error {
	c.sets++
	c.read, c.write = t, t
	return nil
}

func TestDeadlinesMoveOncePerWindow(t *testing.T) {
	c := &setCounter{}
	var l Deadlines
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	d := 8 * time.Second
	l.Read(c, t0, d)
	if c.sets != 1 || c.read.Sub(t0) < d || c.read.Sub(t0) > d+d/slack {
		t.Fatalf("first arming: %d updates, deadline %v after now; want 1, within [d, d+d/8]", c.sets, c.read.Sub(t0))
	}
	for now := t0; now.Sub(t0) <= d/slack; now = now.Add(d / 64) {
		l.Read(c, now, d)
		if left := c.read.Sub(now); left < d {
			t.Fatalf("at %v: %v left, less than the timeout", now.Sub(t0), left)
		}
	}
	if c.sets != 1 {
		t.Fatalf("%d updates within the window, want 1", c.sets)
	}
	l.Read(c, t0.Add(d/slack+time.Millisecond), d)
	if c.sets != 2 {
		t.Fatalf("past the window: %d updates, want 2", c.sets)
	}
	// A shorter timeout (a head's after the idle wait's) is armed at once.
	l.Read(c, t0.Add(d/slack+2*time.Millisecond), time.Second)
	if c.sets != 3 || c.read.Sub(t0.Add(d/slack+2*time.Millisecond)) > time.Second+time.Second/slack {
		t.Fatalf("a shorter timeout: %d updates, deadline %v; want it armed", c.sets, c.read)
	}
	l.Write(c, t0, d)
	l.Write(c, t0.Add(time.Millisecond), d)
	if c.sets != 4 {
		t.Fatalf("write deadline: %d updates, want 4", c.sets)
	}
	// An idle connection's deadline that passed is lifted; one far off is not.
	l.LiftIfNear(c, t0.Add(time.Hour))
	if c.sets != 5 || !c.read.IsZero() || !c.write.IsZero() {
		t.Fatalf("a passed deadline was not lifted: %d updates, read %v, write %v", c.sets, c.read, c.write)
	}
	l.Both(c, t0, d)
	l.LiftIfNear(c, t0)
	if c.sets != 6 || c.read.IsZero() {
		t.Fatalf("a far deadline was lifted: %d updates", c.sets)
	}
}

// TestPooledConnectionOutlivesItsHeadDeadline: the deadline left on an
// idle connection by its last answer's head does not fail its next use.
func TestPooledConnectionOutlivesItsHeadDeadline(t *testing.T) {
	var conns atomic.Int32
	a := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	a.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	a.Start()
	t.Cleanup(a.Close)
	tr := newTestTransport(30 * time.Millisecond)
	for i := range 3 {
		if code, body := do(t, tr, "GET", a.URL+"/x", ""); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
		time.Sleep(100 * time.Millisecond) // idle past the head's deadline
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 3 requests, want 1: the idle one was not reused", n)
	}
}

// TestHeadDeadlineLiftedForTheBody: an answer's body may come after the
// head's timeout; only the head is bounded by it.
func TestHeadDeadlineLiftedForTheBody(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
			time.Sleep(150 * time.Millisecond)
			io.WriteString(c, "body")
		}
	}()
	tr := newTestTransport(30 * time.Millisecond)
	for i := range 2 {
		if code, body := do(t, tr, "GET", "http://"+ln.Addr().String()+"/x", ""); code != 200 || body != "body" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
}
