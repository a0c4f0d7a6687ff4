// Command grpc is a closed-loop gRPC unary load generator: -c callers share
// -conns HTTP/2 connections to -addr (h2c, or TLS trusting -ca) and call
// -method with a small message for -d, then it prints the calls per
// second, the median and p99 latency in milliseconds and the calls that
// failed (a transport error, or a grpc-status other than 0). gRPC framing
// is written by hand (a 5-byte prefix per message), so no generated code
// is needed. Loopback only: it refuses an address outside 127.0.0.0/8.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

func main() {
	addr := flag.String("addr", "", "the server's `HOST:PORT` (127.0.0.1 only)")
	method := flag.String("method", "/switchyard.test.Predictor/Predict", "the gRPC method's path")
	callers := flag.Int("c", 32, "concurrent callers")
	conns := flag.Int("conns", 2, "HTTP/2 connections the callers share")
	d := flag.Duration("d", 10*time.Second, "how long to call")
	caFile := flag.String("ca", "", "use TLS, trusting the PEM `FILE`")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Fatalf("grpc: %q is not a loopback address", *addr)
	}
	scheme := "http"
	var tlsCfg *tls.Config
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			log.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			log.Fatalf("grpc: no certificate in %s", *caFile)
		}
		scheme, tlsCfg = "https", &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}}
	}
	clients := make([]*http.Client, *conns)
	for i := range clients {
		t := &http2.Transport{TLSClientConfig: tlsCfg}
		if tlsCfg == nil {
			t.AllowHTTP = true
			t.DialTLSContext = func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
				var dl net.Dialer
				return dl.DialContext(ctx, network, a)
			}
		}
		clients[i] = &http.Client{Transport: t, Timeout: 10 * time.Second}
	}
	url := scheme + "://" + *addr + *method
	// Warm up: every connection open before the clock starts.
	for _, c := range clients {
		if err := call(c, url); err != nil {
			log.Fatalf("grpc: first call: %v", err)
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	failed := 0
	end := time.Now().Add(*d)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range *callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[i%len(clients)]
			var mine []time.Duration
			bad := 0
			for time.Now().Before(end) {
				t0 := time.Now()
				if err := call(c, url); err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			failed += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	fmt.Printf("%.0f %.2f %.2f %d\n", float64(len(lat))/elapsed.Seconds(), q(0.5), q(0.99), failed)
}

var message = func() []byte {
	msg := []byte(`{"features":[0.1,0.2,0.3,0.4]}`)
	var b bytes.Buffer
	b.WriteByte(0)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(msg)))
	b.Write(msg)
	return b.Bytes()
}()

// call makes one unary call; an error for a failed exchange or a
// grpc-status other than 0.
func call(c *http.Client, url string) error {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(message))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	st := resp.Trailer.Get("Grpc-Status")
	if st == "" {
		st = resp.Header.Get("Grpc-Status")
	}
	if st != "0" {
		return fmt.Errorf("grpc-status %q (HTTP %d)", st, resp.StatusCode)
	}
	return nil
}
