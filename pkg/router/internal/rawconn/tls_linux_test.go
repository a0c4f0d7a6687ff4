package rawconn_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/rawconn"
	"github.com/switchyard-dev/switchyard/pkg/tlstest"
)

// TestTLSOverListener: TLS served through Listener works as over net's
// listener (a handshake, a large exchange both ways, the client's
// close_notify as io.EOF, a deadline, a closed connection), and the
// *tls.Conn it gives has a wrapped connection underneath that is still a
// syscall.Conn (the router reads its TCP state through NetConn).
func TestTLSOverListener(t *testing.T) {
	ca := tlstest.NewCA(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "127.0.0.1").Pair(t)}}
	var ref *env
	for _, k := range []struct {
		name string
		wrap func(net.Listener) net.Listener
	}{
		{"net", func(ln net.Listener) net.Listener { return ln }},
		{"rawconn", rawconn.Listener},
	} {
		t.Run(k.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			tln := tls.NewListener(k.wrap(ln), cfg)
			defer tln.Close()
			ch := acceptBehind(tln, func(c net.Conn) error { return c.(*tls.Conn).Handshake() })
			client, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			a := <-ch
			if a.err != nil {
				t.Fatal(a.err)
			}
			sc := a.c.(*tls.Conn)
			defer sc.Close()
			under := sc.NetConn()
			if _, raw := under.(*rawconn.Conn); raw != (k.name == "rawconn") {
				t.Fatalf("under the *tls.Conn: %T", under)
			}
			if _, ok := under.(syscall.Conn); !ok {
				t.Fatalf("%T under the *tls.Conn is not a syscall.Conn", under)
			}
			e := &env{t: t, kind: k.name, c: sc, local: sc.LocalAddr().String(), remote: sc.RemoteAddr().String()}
			up, down := pattern(1<<20), pattern(3 << 20)[1<<20:]
			go func() {
				client.Write(up)
				io.ReadFull(client, make([]byte, len(down)))
				client.Close() // close_notify, then FIN
			}()
			got := make([]byte, len(up))
			_, err = io.ReadFull(sc, got)
			e.note("server read %d: %s", len(got), e.describe(err))
			if !bytes.Equal(got, up) {
				t.Fatal("the server read other bytes than the client wrote")
			}
			sc.SetReadDeadline(time.Now().Add(-time.Second))
			_, _, err = e.read(10)
			e.wantTimeout(err, "read after its deadline")
			sc.SetReadDeadline(time.Time{})
			e.write(down)
			_, _, err = e.read(10)
			if err != io.EOF {
				t.Fatalf("after the client's close_notify: %v, want io.EOF", err)
			}
			sc.Close()
			e.read(10)
			e.write([]byte("x"))
			if ref == nil {
				ref = e
			} else {
				compareSteps(t, ref, e)
			}
		})
	}
}
