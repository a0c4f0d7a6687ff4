package router

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/tlstest"
)

// Over TLS too, a client that leaves while its request is with the
// backend ends the backend's work, although its close_notify arrives
// before its FIN.
func TestClientGoneOverTLSEndsTheBackendsWork(t *testing.T) {
	be, entered, cancelled := waitingBackend(t, "")
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be}, weights("v1", 100)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ca := tlstest.NewCA(t)
	s := NewServer(rt, ServerOptions{ClientCheck: 10 * time.Millisecond})
	go func() {
		_ = s.ServeTLS(ln, &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "router").Pair(t)}})
	}()
	t.Cleanup(func() { _ = s.Close() })

	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("GET /v1/m/think HTTP/1.1\r\nHost: router\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	<-entered
	c.Close() // close_notify, then FIN
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend kept working for a TLS client that had left")
	}
}
