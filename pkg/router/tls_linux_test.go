package router

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/rawconn"
)

// TestServeTLSReadsRaw: under TLS, as under Serve, the client's TCP
// connection is read and written with raw system calls (rawconn), and
// the check that a TLS client left (tlsPeerClosed) still reaches its
// socket through the *tls.Conn, so the backend's work ends when it does.
func TestServeTLSReadsRaw(t *testing.T) {
	rt, s, c, cancelled := thinkingRequest(t, true)
	var served []*tls.Conn
	s.mu.Lock()
	for cc := range s.conns {
		tc, ok := cc.c.(*tls.Conn)
		if !ok {
			t.Errorf("a connection served over TLS is a %T", cc.c)
			continue
		}
		served = append(served, tc)
	}
	s.mu.Unlock()
	if len(served) != 1 {
		t.Fatalf("%d connections served, want 1", len(served))
	}
	tc := served[0]
	if _, ok := tc.NetConn().(*rawconn.Conn); !ok {
		t.Errorf("under the *tls.Conn: %T, want *rawconn.Conn", tc.NetConn())
	}
	if tlsPeerClosed(tc) {
		t.Error("tlsPeerClosed while the client is there")
	}
	c.Close()
	for stop := time.Now().Add(10 * time.Second); !tlsPeerClosed(tc); {
		if time.Now().After(stop) {
			t.Fatal("tlsPeerClosed never saw the client leave")
		}
		time.Sleep(time.Millisecond)
	}
	workEnded(t, rt, cancelled)
}
