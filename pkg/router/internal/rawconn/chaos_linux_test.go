package rawconn_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// TestChaos: readers, writers and deadlines changed under them, all at
// once on one connection, then a Close with calls in flight. What each
// call returns is not determined, so the kinds are not compared step by
// step; instead both must keep net's promises: every error is a deadline
// or the close, a Write's n is what reached the peer (counted per
// write's byte value), every byte the peer sent is read once, and every
// call made after the Close fails with net.ErrClosed. Under -race it
// also checks rawconn's state for each direction.
func TestChaos(t *testing.T) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			for round := range 3 {
				chaos(t, newEnv(t, k, options{small: round == 2}), uint64(round))
			}
		})
	}
}

func chaos(t *testing.T, e *env, seed uint64) {
	const (
		writers, writes = 3, 60
		readers         = 3
		sent            = 256 << 10
	)
	var mu sync.Mutex
	var wrote [256]int // bytes written, by value
	var read [256]int  // bytes read, by value
	var timeouts int
	bad := func(what string, err error) {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			mu.Lock()
			timeouts++
			mu.Unlock()
		}
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
			return
		}
		t.Errorf("%s: %v, neither a deadline nor the close", what, err)
	}

	// The peer reads everything and counts it, and sends a stream.
	peerRead := blocked(func() (got [256]int) {
		buf := make([]byte, 10_000)
		for {
			n, err := e.peer.Read(buf)
			for _, b := range buf[:n] {
				got[b]++
			}
			if err != nil {
				return got
			}
		}
	})
	stream := pattern(sent)
	go func() {
		e.peer.Write(stream)
		e.peer.CloseWrite()
	}()

	var wg sync.WaitGroup
	stopDeadlines := make(chan struct{})
	deadlinesDone := blocked(func() struct{} {
		rng := rand.New(rand.NewPCG(seed, 1))
		for {
			select {
			case <-stopDeadlines:
				e.c.SetDeadline(time.Time{})
				return struct{}{}
			default:
			}
			var dl time.Time
			switch rng.IntN(3) {
			case 0:
				dl = time.Now().Add(-time.Second)
			case 1:
				dl = time.Now().Add(time.Duration(rng.IntN(2000)) * time.Microsecond)
			}
			if rng.IntN(2) == 0 {
				e.c.SetReadDeadline(dl)
			} else {
				e.c.SetWriteDeadline(dl)
			}
			time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
		}
	})
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)+10))
			for i := range writes {
				v := byte(w*80 + i%80)
				p := make([]byte, rng.IntN(20_000))
				for j := range p {
					p[j] = v
				}
				n, err := e.c.Write(p)
				if n < 0 || n > len(p) || (err == nil && n != len(p)) {
					t.Errorf("Write of %d = %d, %v", len(p), n, err)
				}
				bad("Write", err)
				mu.Lock()
				wrote[v] += max(n, 0)
				mu.Unlock()
			}
		})
	}
	readersDone := make(chan struct{})
	var rg sync.WaitGroup
	for r := range readers {
		rg.Go(func() {
			buf := make([]byte, 1+r*3000)
			for {
				n, err := e.c.Read(buf)
				if n < 0 || n > len(buf) {
					t.Errorf("Read of %d = %d", len(buf), n)
					return
				}
				mu.Lock()
				for _, b := range buf[:n] {
					read[b]++
				}
				mu.Unlock()
				if err == io.EOF {
					return
				}
				bad("Read", err)
				if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					return
				}
			}
		})
	}
	go func() { rg.Wait(); close(readersDone) }()
	wg.Wait()
	close(stopDeadlines)
	if t.Failed() {
		e.c.Close() // so that readers stuck on a broken connection end
	}
	<-deadlinesDone
	<-readersDone

	var want [256]int
	for _, b := range stream {
		want[b]++
	}
	t.Logf("%d calls cut by a deadline", timeouts)
	if read != want {
		t.Errorf("the readers together did not read the peer's stream once")
	}

	// A Close with calls in flight: each fails with net.ErrClosed.
	var inflight sync.WaitGroup
	for range 2 {
		inflight.Go(func() {
			_, err := e.c.Read(make([]byte, 10))
			if err != io.EOF && !errors.Is(err, net.ErrClosed) {
				t.Errorf("Read during Close: %v", err)
			}
		})
		inflight.Go(func() {
			p := make([]byte, 1<<20)
			for i := range p {
				p[i] = 255
			}
			_, err := e.c.Write(p)
			if err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("Write during Close: %v", err)
			}
		})
	}
	time.Sleep(time.Millisecond)
	e.c.Close()
	inflight.Wait()
	for _, f := range []func() error{
		func() error { _, err := e.c.Read(make([]byte, 1)); return err },
		func() error { _, err := e.c.Write([]byte{1}); return err },
		func() error { _, err := e.c.Read(nil); return err },
		func() error { _, err := e.c.Write(nil); return err },
	} {
		if err := f(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("after Close: %v, want net.ErrClosed", err)
		}
	}

	got := <-peerRead
	// The writes during the Close wrote 255s, in amounts not known.
	got[255], wrote[255] = 0, 0
	if got != wrote {
		for v := range got {
			if got[v] != wrote[v] {
				t.Errorf("byte %d: the writes said %d, the peer got %d", v, wrote[v], got[v])
			}
		}
	}
}
