package router

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// load sends GETs from workers goroutines until stop is closed or each has
// sent max requests, and returns how many were sent and how many failed,
// with the versions that answered.
func load(t *testing.T, url string, workers, max int, stop <-chan struct{}) (sent, failed int64, by map[string]int64) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	by = map[string]int64{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < max; i++ {
				select {
				case <-stop:
					return
				default:
				}
				atomic.AddInt64(&sent, 1)
				resp, err := client.Get(url)
				if err != nil {
					atomic.AddInt64(&failed, 1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					atomic.AddInt64(&failed, 1)
				}
				mu.Lock()
				by[resp.Header.Get(hdrVersion)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return sent, failed, by
}

func TestTableSwapsUnderLoadFailNoRequest(t *testing.T) {
	a, b := backendServer(t, "a"), backendServer(t, "b")
	rt := newTestRouter(t, Options{})
	backends := map[string]string{"a": a.URL, "b": b.URL}
	mustUpdate(t, rt, mkRoute("m", backends, weights("a", 100, "b", 0)))
	srv := serve(t, rt)
	stop := make(chan struct{})
	var sent, failed int64
	var by map[string]int64
	done := make(chan struct{})
	go func() {
		sent, failed, by = load(t, srv.URL+"/v1/m/x", 8, 5000, stop)
		close(done)
	}()
	served := func() int64 {
		s := rt.Stats(time.Minute)
		return find(t, s, "m", "production", "a").Requests + find(t, s, "m", "production", "b").Requests
	}
	for i := 1; i <= 100; i++ {
		pa := 100 - i%101
		r := mkRoute("m", backends, []traffic.Weight{{Version: "a", Percent: float64(pa)}, {Version: "b", Percent: float64(100 - pa)}})
		if i%10 == 0 {
			r.Sticky = "header:x-user"
		}
		// Each table answers some of the load before the next one
		// replaces it.
		before := served()
		mustUpdate(t, rt, r)
		eventually(t, "a request answered after the update", func() bool { return served() > before })
	}
	close(stop)
	<-done
	if failed != 0 || sent == 0 {
		t.Fatalf("%d of %d requests failed during 100 table swaps", failed, sent)
	}
	if by["a"] == 0 || by["b"] == 0 {
		t.Fatalf("both versions should have served: %v", by)
	}
	t.Logf("%d requests across 100 swaps: %v", sent, by)
}

func TestKilledBackendCountsAgainstItsVersionOnly(t *testing.T) {
	for _, withFallback := range []bool{false, true} {
		name := "no fallback"
		if withFallback {
			name = "fallback"
		}
		t.Run(name, func(t *testing.T) {
			a, rules := backendServer(t, "a"), backendServer(t, "rules")
			b := backendServer(t, "b")
			rt := newTestRouter(t, Options{})
			r := mkRoute("m", map[string]string{"a": a.URL, "b": b.URL, "rules": rules.URL}, weights("a", 50, "b", 50, "rules", 0))
			if withFallback {
				r.Fallback = "rules"
			}
			mustUpdate(t, rt, r)
			srv := serve(t, rt)
			stop := make(chan struct{})
			var failed int64
			var by map[string]int64
			done := make(chan struct{})
			go func() {
				_, failed, by = load(t, srv.URL+"/v1/m/x", 8, 300, stop)
				close(done)
			}()
			// Kill b mid-load: once it has answered a few requests, with
			// most of the load still to come.
			eventually(t, "b to answer 20 requests", func() bool {
				return find(t, rt.Stats(time.Minute), "m", "production", "b").Requests >= 20
			})
			b.CloseClientConnections()
			b.Listener.Close()
			<-done
			s := rt.Stats(time.Minute)
			va, vb := find(t, s, "m", "production", "a"), find(t, s, "m", "production", "b")
			if va.Errors != 0 {
				t.Errorf("a was blamed for %d errors", va.Errors)
			}
			if vb.Errors == 0 {
				t.Errorf("b's failures were not counted: %+v", vb)
			}
			if withFallback {
				if failed != 0 {
					t.Errorf("%d requests failed despite the fallback", failed)
				}
				if vr := find(t, s, "m", "production", "rules"); vb.Fallbacks != vb.Errors || vr.Requests != vb.Fallbacks {
					t.Errorf("b errors %d, fallbacks %d; rules answered %d", vb.Errors, vb.Fallbacks, vr.Requests)
				}
			} else if failed != vb.Errors {
				t.Errorf("clients saw %d failures, b counted %d", failed, vb.Errors)
			}
			t.Logf("answered by %v; b: %d errors", by, vb.Errors)
		})
	}
}
