package h1

import (
	"bufio"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// connPair is a connection dialled to a listener on 127.0.0.1, and the
// listener's end of it.
func connPair(t *testing.T) (c, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer = <-accepted
	if peer == nil {
		t.Fatal("no connection accepted")
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	return c, peer
}

// echoLine answers every line the peer reads with the same line.
func echoLine(peer net.Conn) {
	br := bufio.NewReader(peer)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := peer.Write([]byte(line)); err != nil {
			return
		}
	}
}

// TestWriteIfAliveExchanges: on a clean connection the request is
// written and its answer read, exchange after exchange, whether the
// answer comes at once or later: the wait inside the probe never misses
// it.
func TestWriteIfAliveExchanges(t *testing.T) {
	c, peer := connPair(t)
	go echoLine(peer)
	p, br := NewProbe(c), bufio.NewReader(c)
	for i := range 200 {
		msg := []byte{'a' + byte(i%26), '\n'}
		var werr error
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if !WriteIfClean(br, p, func() error { _, werr = c.Write(msg); return werr }) {
			t.Fatalf("exchange %d: a clean connection was not written", i)
		}
		if werr != nil {
			t.Fatal(werr)
		}
		line, err := br.ReadString('\n')
		if err != nil || line != string(msg) {
			t.Fatalf("exchange %d: read %q, %v; want %q", i, line, err, msg)
		}
	}
}

// TestWriteIfAliveRefuses: leftover bytes, buffered or arriving, and a
// closed connection are never written to.
func TestWriteIfAliveRefuses(t *testing.T) {
	written := func() error { t.Error("written to a connection that is not clean"); return nil }

	c, peer := connPair(t)
	br := bufio.NewReader(c)
	peer.Write([]byte("leftover"))
	if _, err := br.Peek(1); err != nil {
		t.Fatal(err)
	}
	if WriteIfClean(br, NewProbe(c), written) {
		t.Error("bytes in the buffer: reported clean")
	}

	c, peer = connPair(t)
	p := NewProbe(c)
	peer.Write([]byte("x"))
	waitFor(t, "the probe to see the stray byte", func() bool { return !WriteIfClean(bufio.NewReader(c), p, written) })

	c, peer = connPair(t)
	p = NewProbe(c)
	peer.Close()
	waitFor(t, "the probe to see the close", func() bool { return !WriteIfClean(bufio.NewReader(c), p, written) })

	c, _ = connPair(t)
	p = NewProbe(c)
	c.Close()
	if WriteIfClean(bufio.NewReader(c), p, written) {
		t.Error("a closed connection reported clean")
	}
}

// TestWriteIfAliveDeadline: the wait for the answer honours the read
// deadline that write arms, and the reader meets it afterwards; a failed
// write returns without waiting.
func TestWriteIfAliveDeadline(t *testing.T) {
	c, _ := connPair(t)
	p := NewProbe(c)
	if !p.WriteIfAlive(func() error { return c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)) }) {
		t.Fatal("a quiet connection was not written")
	}
	if _, err := bufio.NewReader(c).ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after the deadline: %v, want the deadline's error", err)
	}

	c, _ = connPair(t)
	_ = c.SetReadDeadline(time.Time{})
	done := make(chan bool, 1)
	go func() { done <- NewProbe(c).WriteIfAlive(func() error { return errors.New("write failed") }) }()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("a failed write was reported as not written")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waited for an answer after a failed write")
	}
}
