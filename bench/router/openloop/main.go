// Command openloop is a constant-rate (open-loop) HTTP load generator for
// the router benchmark: request i is due at start + i/rate whether or not
// earlier ones have been answered, and its latency is measured from that
// due time, so a stall shows in the percentiles instead of slowing the
// load down (no coordinated omission, unlike wrk). It sends a bounded
// number of requests, only to loopback addresses, and prints one line:
//
//	sent ok errors late p50_ms p90_ms p99_ms p999_ms max_ms achieved_rps
//
// where late counts requests sent more than 1 ms after their due time
// (the generator itself falling behind).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	target := flag.String("url", "", "`URL` to GET (loopback only)")
	rate := flag.Float64("rate", 2000, "requests per `second`")
	dur := flag.Duration("d", 10*time.Second, "how long to send (at most 5m)")
	warm := flag.Duration("warmup", time.Second, "send at the rate for this long first, unmeasured")
	conns := flag.Int("c", 64, "most requests in flight (and keep-alive connections)")
	flag.Parse()
	if err := run(*target, *rate, *dur, *warm, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(2)
	}
}

func run(target string, rate float64, dur, warm time.Duration, conns int) error {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("-url %q: want an http:// URL", target)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q: only loopback addresses (127.0.0.0/8, ::1)", target)
	}
	if rate <= 0 || rate > 100000 || dur <= 0 || dur > 5*time.Minute || conns < 1 || conns > 4096 {
		return errors.New("want 0 < -rate <= 100000, 0 < -d <= 5m, 1 <= -c <= 4096")
	}
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		},
	}
	if warm > 0 {
		load(client, target, rate, int(rate*warm.Seconds()), conns)
	}
	r := load(client, target, rate, int(rate*dur.Seconds()), conns)
	slices.Sort(r.lat)
	q := func(p float64) float64 {
		if len(r.lat) == 0 {
			return 0
		}
		i := min(int(p*float64(len(r.lat))), len(r.lat)-1)
		return float64(r.lat[i]) / 1e6
	}
	fmt.Printf("%d %d %d %d %.3f %.3f %.3f %.3f %.3f %.0f\n", r.sent, len(r.lat), r.errors, r.late,
		q(0.50), q(0.90), q(0.99), q(0.999), q(1), float64(r.sent)/r.took.Seconds())
	return nil
}

type result struct {
	sent, errors, late int
	lat                []time.Duration // of the successful requests
	took               time.Duration
}

// load sends n requests at rate through at most conns workers.
func load(client *http.Client, target string, rate float64, n, conns int) result {
	interval := time.Duration(float64(time.Second) / rate)
	lats := make([]time.Duration, n)
	ok := make([]bool, n)
	var next atomic.Int64
	var errs, late atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n)*interval+30*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				due := start.Add(time.Duration(i) * interval)
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				} else if d < -time.Millisecond {
					late.Add(1)
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				lats[i], ok[i] = time.Since(due), true
			}
		}()
	}
	wg.Wait()
	r := result{sent: n, errors: int(errs.Load()), late: int(late.Load()), took: time.Since(start)}
	for i, l := range lats {
		if ok[i] {
			r.lat = append(r.lat, l)
		}
	}
	return r
}
