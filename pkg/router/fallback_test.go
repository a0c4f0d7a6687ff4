package router

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// deadURL is an address where nothing listens.
func deadURL(t *testing.T) string {
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

func TestFallbackAnswersWhenTheChosenVersionFails(t *testing.T) {
	rules := backendServer(t, "rules")
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "model crashed", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) })
	cases := []struct {
		name, url string
		code      int // answered without a fallback
	}{
		{"500", failing.URL, 500},
		{"connection refused", deadURL(t), 502},
		{"timeout", hanging.URL, 504},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rt := newTestRouter(t, Options{BackendTimeout: 300 * time.Millisecond})
			r := mkRoute("m", map[string]string{"v7": c.url, "rules": rules.URL}, weights("v7", 100, "rules", 0))
			mustUpdate(t, rt, r)
			w := do(rt, "POST", "/v1/m/predict", `{"x":1}`)
			if w.Code != c.code || w.Header().Get(hdrVersion) != "v7" || w.Header().Get(hdrRequestID) == "" {
				t.Fatalf("without fallback: %d from %q id %q", w.Code, w.Header().Get(hdrVersion), w.Header().Get(hdrRequestID))
			}
			r.Fallback = "rules"
			mustUpdate(t, rt, r)
			w = do(rt, "POST", "/v1/m/predict", `{"x":1}`)
			e := decodeEcho(t, w)
			if w.Code != 200 || e.Version != "rules" || w.Header().Get(hdrVersion) != "rules" {
				t.Fatalf("with fallback: %d from %s", w.Code, e.Version)
			}
			if e.Body != `{"x":1}` || e.Path != "/predict" {
				t.Fatalf("fallback got body %q path %q", e.Body, e.Path)
			}
			s := rt.Stats(time.Minute)
			if v := find(t, s, "m", "production", "v7"); v.Requests != 2 || v.Errors != 2 || v.Fallbacks != 1 {
				t.Errorf("v7 stats %+v", v)
			}
			if v := find(t, s, "m", "production", "rules"); v.Requests != 1 || v.Errors != 0 {
				t.Errorf("rules stats %+v", v)
			}
		})
	}
}

func TestBanditLearnsFromFeedback(t *testing.T) {
	a, b := backendServer(t, "a"), backendServer(t, "b")
	rt := newTestRouter(t, Options{Seed: 3})
	r := mkRoute("m", map[string]string{"a": a.URL, "b": b.URL}, weights("a", 50, "b", 50))
	r.Bandit = &traffic.Bandit{Arms: []string{"a", "b"}, ExploreFloor: 0.05}
	mustUpdate(t, rt, r)
	srv := serve(t, rt)
	// b converts 80% of the time, a 20%: feedback by request id.
	counts := map[string]int{}
	for i := 0; i < 600; i++ {
		resp, err := http.Get(srv.URL + "/v1/m/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		v, id := resp.Header.Get(hdrVersion), resp.Header.Get(hdrRequestID)
		if i >= 400 {
			counts[v]++
		}
		reward := 0.0
		if (v == "b" && i%5 != 0) || (v == "a" && i%5 == 0) {
			reward = 1
		}
		body, _ := json.Marshal(map[string]any{"request_id": id, "reward": reward})
		fr, err := http.Post(srv.URL+FeedbackPath, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		fr.Body.Close()
		if fr.StatusCode != 200 {
			t.Fatalf("feedback: %d", fr.StatusCode)
		}
	}
	if share := float64(counts["b"]) / 200; share < 0.8 {
		t.Fatalf("the better arm has %.2f of the last 200 requests: %v", share, counts)
	}
	if counts["a"] == 0 {
		t.Fatalf("the explore floor should keep some traffic on a: %v", counts)
	}
	s := rt.Stats(time.Minute)
	va, vb := find(t, s, "m", "production", "a"), find(t, s, "m", "production", "b")
	if va.Rewards+vb.Rewards != 600 || va.Requests+vb.Requests != 600 {
		t.Fatalf("rewards %d+%d, requests %d+%d", va.Rewards, vb.Rewards, va.Requests, vb.Requests)
	}
}

func TestBanditExploreFloor(t *testing.T) {
	rt := newTestRouter(t, Options{})
	r := mkRoute("m", map[string]string{"a": "http://127.0.0.1:1", "b": "http://127.0.0.1:2", "c": "http://127.0.0.1:3"}, weights("a", 40, "b", 30, "c", 30))
	r.Bandit = &traffic.Bandit{Arms: []string{"a", "b", "c"}, ExploreFloor: 0.1}
	mustUpdate(t, rt, r)
	for i := 0; i < 200; i++ {
		if err := rt.Reward("m", "production", "a", 1); err != nil {
			t.Fatal(err)
		}
		_ = rt.Reward("m", "production", "b", 0)
		_ = rt.Reward("m", "production", "c", 0)
	}
	live, _ := rt.table.Load().lookup("/v1/m")
	req, _ := http.NewRequest("GET", "http://x/v1/m", nil)
	rnd := rt.rands.get()
	counts := map[string]int{}
	const n = 20000
	for i := 0; i < n; i++ {
		counts[live.choose((*stdKeys)(req), rnd).version]++
	}
	for _, v := range []string{"b", "c"} {
		if share := float64(counts[v]) / n; math.Abs(share-0.1) > 0.015 {
			t.Errorf("arm %s has %.3f of traffic, want the floor 0.10", v, share)
		}
	}
	// Sticky keys follow the same allocation and stay put within it.
	r.Sticky = "header:x-user"
	mustUpdate(t, rt, r)
	live, _ = rt.table.Load().lookup("/v1/m")
	req.Header.Set("X-User", "u1")
	first := live.choose((*stdKeys)(req), rnd)
	for i := 0; i < 10; i++ {
		if live.choose((*stdKeys)(req), rnd) != first {
			t.Fatal("a sticky user changed arm")
		}
	}
}

func TestBackendDyingMidAnswerIsAnErrorOfItsVersion(t *testing.T) {
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		io.WriteString(w, `{"score":`)
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(cut.Close)
	shadow := backendServer(t, "shadow")
	rt := newTestRouter(t, Options{})
	r := mkShadowRoute(cut.URL, shadow.URL, "json", 0)
	mustUpdate(t, rt, r)
	srv := serve(t, rt)
	resp, err := http.Get(srv.URL + "/v1/m/x")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("the client should see the answer cut short")
	}
	var live, sh traffic.VersionStats
	eventually(t, "the request to be counted", func() bool {
		s := rt.Stats(time.Minute)
		live, sh = find(t, s, "m", "production", "live"), find(t, s, "m", "production", "shadow")
		return live.Requests == 1
	})
	if live.Errors != 1 || sh.ShadowPairs != 0 || sh.ShadowDropped != 1 {
		t.Fatalf("live %+v shadow %+v: want one error and the copy dropped", live, sh)
	}
}
