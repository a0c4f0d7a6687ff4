// Command stream measures the time to the first event of a server-sent
// event stream, as an LLM server streams tokens: with -serve it is the
// model server (the first event at once, then one every -every); with -url
// it is the client, which opens -n streams one after another and prints
// the median, p90 and p99 time to the first event and to the stream's end.
// Loopback only: both refuse an address outside 127.0.0.0/8.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

func main() {
	serve := flag.String("serve", "", "serve the stream on `ADDR` (127.0.0.1:port)")
	events := flag.Int("events", 5, "events per stream")
	every := flag.Duration("every", 300*time.Millisecond, "time between events")
	target := flag.String("url", "", "measure streams from `URL`")
	n := flag.Int("n", 20, "streams to measure")
	flag.Parse()
	switch {
	case *serve != "":
		mustLoopback(*serve)
		log.Fatal(serveStream(*serve, *events, *every))
	case *target != "":
		u, err := url.Parse(*target)
		if err != nil {
			log.Fatal(err)
		}
		mustLoopback(u.Host)
		if err := measure(*target, *n); err != nil {
			log.Fatal(err)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func mustLoopback(hostport string) {
	host, _, err := net.SplitHostPort(hostport)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Fatalf("stream: %q is not a loopback address", hostport)
	}
}

func serveStream(addr string, events int, every time.Duration) error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := 0; i < events; i++ {
			if i > 0 {
				select {
				case <-time.After(every):
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprintf(w, "data: {\"token\": %d}\n\n", i)
			if rc.Flush() != nil {
				return
			}
		}
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

// measure opens n streams in turn and prints "first_p50 first_p90
// first_p99 end_p50" in milliseconds.
func measure(target string, n int) error {
	cl := &http.Client{Timeout: time.Minute}
	var first, end []float64
	for i := 0; i < n; i++ {
		start := time.Now()
		resp, err := cl.Get(target)
		if err != nil {
			return err
		}
		br := bufio.NewReader(resp.Body)
		got := false
		for {
			line, err := br.ReadString('\n')
			if strings.HasPrefix(line, "data: ") && !got {
				first = append(first, ms(time.Since(start)))
				got = true
			}
			if err != nil {
				break
			}
		}
		resp.Body.Close()
		if !got {
			return fmt.Errorf("%s: no event in the answer (%d)", target, resp.StatusCode)
		}
		end = append(end, ms(time.Since(start)))
	}
	slices.Sort(first)
	slices.Sort(end)
	fmt.Printf("%.2f %.2f %.2f %.1f\n", q(first, 0.5), q(first, 0.9), q(first, 0.99), q(end, 0.5))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func q(s []float64, p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
