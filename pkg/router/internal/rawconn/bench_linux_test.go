package rawconn_test

import (
	"io"
	"testing"
	"time"
)

// BenchmarkPingPong: one small write and one small read each way per
// iteration, the shape of a proxied request, on net's connection and on a
// wrapped one (the peer is plain in both).
func BenchmarkPingPong(b *testing.B) {
	for _, k := range kinds() {
		b.Run(k.name, func(b *testing.B) {
			e := newEnv(b, k, options{})
			e.peer.SetDeadline(time.Time{})
			go func() {
				buf := make([]byte, 64)
				for {
					if _, err := io.ReadFull(e.peer, buf); err != nil {
						return
					}
					if _, err := e.peer.Write(buf); err != nil {
						return
					}
				}
			}()
			msg, buf := make([]byte, 64), make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(e.c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
