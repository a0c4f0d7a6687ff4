package h1

import (
	"bufio"
	"context"
	"net"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/rawconn"
)

// This file is the Transport's pool of idle backend connections, and its
// rule for reuse: a connection is reused only when provably clean.

// Conn is a backend connection.
type Conn struct {
	Raw    net.Conn
	R      *bufio.Reader
	W      *bufio.Writer
	idleAt time.Time
	probe  *Probe // made at the first reuse
	dl     Deadlines
	// liftRead: the answer's head is read, and its deadline is to be
	// lifted before any read of its body (connReader).
	liftRead bool

	// The request being written by send, for writeOutFn (c.writeOut,
	// made once so that writing through the probe allocates nothing).
	t          *Transport
	out        *Outgoing
	writeErr   error
	writeOutFn func() error
}

// writeIfClean is WriteIfClean for a pooled connection, whose deadlines
// left from its last exchange are lifted first if they are near.
func (c *Conn) writeIfClean(write func() error) bool {
	if c.probe == nil {
		c.probe = NewProbe(c.Raw)
	}
	c.dl.LiftIfNear(c.Raw, time.Now())
	return WriteIfClean(c.R, c.probe, write)
}

// connReader is what a Conn's buffered reader reads: the connection,
// once the deadline of the answer's head is lifted if it is to be. An
// answer read whole with its head (most) never needs it lifted, and the
// deadline stays for the next exchange (Deadlines).
type connReader struct{ c *Conn }

func (r connReader) Read(p []byte) (int, error) {
	if c := r.c; c.liftRead {
		c.liftRead = false
		c.dl.ClearRead(c.Raw)
	}
	return r.c.Raw.Read(p)
}

// Close closes the connection (it is not pooled again).
func (c *Conn) Close() error { return c.Raw.Close() }

func (t *Transport) dial(ctx context.Context, host string) (*Conn, error) {
	nc, err := t.dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	nc = rawconn.Wrap(nc)
	c := &Conn{Raw: nc, W: bufio.NewWriterSize(nc, 4096)}
	c.R = bufio.NewReaderSize(connReader{c}, 4096)
	c.writeOutFn = c.writeOut
	return c, nil
}

// get pops the most recently used live connection to host; nil when none.
func (t *Transport) get(host string) *Conn {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.idle[host]
	for len(l) > 0 {
		c := l[len(l)-1]
		l[len(l)-1] = nil
		l = l[:len(l)-1]
		if now.Sub(c.idleAt) < t.idleTimeout {
			t.idle[host] = l
			return c
		}
		c.Raw.Close()
	}
	t.idle[host] = l
	return nil
}

func (t *Transport) put(host string, c *Conn) {
	now := t.now()
	c.idleAt = now
	var expired []*Conn
	t.mu.Lock()
	if len(t.idle[host]) < t.maxIdle {
		t.idle[host] = append(t.idle[host], c)
		c = nil
	}
	// Now and then, close what idled too long, such as the connections to
	// backends that left the routing table.
	if now.Sub(t.lastSweep) > t.idleTimeout {
		t.lastSweep = now
		for h, l := range t.idle {
			kept := l[:0]
			for _, ic := range l {
				if now.Sub(ic.idleAt) < t.idleTimeout {
					kept = append(kept, ic)
				} else {
					expired = append(expired, ic)
				}
			}
			clear(l[len(kept):])
			if len(kept) == 0 {
				delete(t.idle, h)
			} else {
				t.idle[h] = kept
			}
		}
	}
	t.mu.Unlock()
	if c != nil {
		c.Raw.Close()
	}
	for _, ic := range expired {
		ic.Raw.Close()
	}
}

// WriteIfClean writes on an idle connection (read through br, probed by
// p) only when it is provably clean: nothing left in its buffer and, by
// one non-blocking read, nothing arriving and not closed. It reports
// whether write was called (Probe.WriteIfAlive: then the connection was
// readable, or its deadline passed, or it was closed, when it returns).
// One that is not clean must be closed: bytes nobody asked for are a
// previous answer's leftovers, and a connection carrying them would hand
// one client's answer to the next.
func WriteIfClean(br *bufio.Reader, p *Probe, write func() error) bool {
	return br.Buffered() == 0 && p.WriteIfAlive(write)
}

// putIfClean pools c when its answer was read to its framed end (done)
// and nothing beyond it is buffered; otherwise it closes c.
func (t *Transport) putIfClean(host string, c *Conn, done bool) {
	if done && c.R.Buffered() == 0 {
		t.put(host, c)
		return
	}
	c.Raw.Close()
}

// CloseIdleConnections closes every pooled connection.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*Conn{}
	t.mu.Unlock()
	for _, l := range idle {
		for _, c := range l {
			c.Raw.Close()
		}
	}
	t.tls.CloseIdleConnections()
}
