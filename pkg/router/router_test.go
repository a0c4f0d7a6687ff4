package router

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

func TestProxyRoutesByLongestPrefixAndRewritesPath(t *testing.T) {
	a, b, root := backendServer(t, "a"), backendServer(t, "b"), backendServer(t, "root")
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt,
		traffic.Route{Model: "fraud", Stage: "production", Path: "/v1/fraud", Backends: map[string]string{"a": a.URL}, Weights: weights("a", 100)},
		traffic.Route{Model: "fraud", Stage: "special", Path: "/v1/fraud/special/", Backends: map[string]string{"b": b.URL + "/base"}, Weights: weights("b", 100)},
		traffic.Route{Model: "all", Stage: "production", Path: "/", Backends: map[string]string{"root": root.URL}, Weights: weights("root", 100)},
	)
	cases := []struct {
		target, version, path, query string
	}{
		{"/v1/fraud/predict?x=1", "a", "/predict", "x=1"},
		{"/v1/fraud", "a", "/", ""},
		{"/v1/fraud/", "a", "/", ""},
		{"/v1/fraud/special/score", "b", "/base/score", ""},
		{"/v1/fraud/special", "b", "/base", ""},
		{"/v1/fraudulent", "root", "/v1/fraudulent", ""},
		{"/other", "root", "/other", ""},
	}
	for _, c := range cases {
		t.Run(c.target, func(t *testing.T) {
			w := do(rt, "GET", c.target, "")
			if w.Code != 200 {
				t.Fatalf("code %d: %s", w.Code, w.Body)
			}
			e := decodeEcho(t, w)
			if e.Version != c.version || e.Path != c.path || e.Query != c.query {
				t.Errorf("reached %s %s?%s, want %s %s?%s", e.Version, e.Path, e.Query, c.version, c.path, c.query)
			}
			if got := w.Header().Get(hdrVersion); got != c.version {
				t.Errorf("X-Switchyard-Version %q, want %q", got, c.version)
			}
			if e.Headers["X-Forwarded-For"] != "192.0.2.1" {
				t.Errorf("X-Forwarded-For %q", e.Headers["X-Forwarded-For"])
			}
		})
	}
}

func TestUnknownPathIs404JSON(t *testing.T) {
	rt := newTestRouter(t, Options{})
	w := do(rt, "GET", "/nothing", "")
	if w.Code != 404 || !strings.Contains(w.Body.String(), `"error"`) || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %s %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if w.Header().Get(hdrRequestID) == "" {
		t.Error("no request id on a 404")
	}
}

// Every request gets an id the router issued; a client's sane id stays
// first, for traces.
func TestRequestIDIssuedAfterTheClientsWhenSane(t *testing.T) {
	a := backendServer(t, "a")
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("fraud", map[string]string{"a": a.URL}, weights("a", 100)))
	cases := []struct {
		name, sent string
		kept       bool
	}{
		{"sane", "req-123_abc.DEF", true},
		{"none", "", false},
		{"spaces", "has space", false},
		{"too long", strings.Repeat("x", 129), false},
		{"longest", strings.Repeat("x", 128), true},
		{"injection", "a\"b", false},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.sent != "" {
				hdr = []string{"X-Request-Id", c.sent}
			}
			w := do(rt, "GET", "/v1/fraud/x", "", hdr...)
			got := w.Header().Get(hdrRequestID)
			e := decodeEcho(t, w)
			if e.Headers["X-Request-Id"] != got {
				t.Errorf("backend saw id %q, client got %q", e.Headers["X-Request-Id"], got)
			}
			tok, ok := idToken(got)
			if _, valid := rt.ids.issuer.check(got); !ok || !valid || seen[tok] {
				t.Errorf("id %q is not a fresh id the router issued", got)
			}
			if client := strings.TrimSuffix(got, tok); c.kept && client != c.sent+"." || !c.kept && client != "" {
				t.Errorf("id %q for a client that sent %q", got, c.sent)
			}
			seen[tok] = true
		})
	}
}

func TestUpdateRejectsBadTablesAndChangesNothing(t *testing.T) {
	rt := newTestRouter(t, Options{})
	good := mkRoute("fraud", map[string]string{"a": "http://127.0.0.1:1", "b": "http://127.0.0.1:2"}, weights("a", 90, "b", 10))
	mustUpdate(t, rt, good)
	cases := []struct {
		name string
		edit func(r *traffic.Route) []traffic.Route
		want string
	}{
		{"weights sum", func(r *traffic.Route) []traffic.Route { r.Weights = weights("a", 90, "b", 20); return nil }, "sum to 110"},
		{"unknown weighted version", func(r *traffic.Route) []traffic.Route { r.Weights = weights("a", 90, "c", 10); return nil }, `"c"`},
		{"bad url", func(r *traffic.Route) []traffic.Route {
			r.Backends = map[string]string{"a": "ftp://x", "b": "http://h"}
			return nil
		}, "scheme"},
		{"no host", func(r *traffic.Route) []traffic.Route {
			r.Backends = map[string]string{"a": "http://", "b": "http://h"}
			return nil
		}, "no host"},
		{"unknown shadow", func(r *traffic.Route) []traffic.Route {
			r.Shadow = &traffic.Shadow{Version: "z", Percent: 100}
			return nil
		}, "shadow names version"},
		{"unknown preview", func(r *traffic.Route) []traffic.Route {
			r.Preview = &traffic.Preview{Header: "x-p", Version: "z"}
			return nil
		}, "preview names version"},
		{"unknown fallback", func(r *traffic.Route) []traffic.Route { r.Fallback = "z"; return nil }, "fallback names"},
		{"unknown arm", func(r *traffic.Route) []traffic.Route {
			r.Bandit = &traffic.Bandit{Arms: []string{"a", "z"}, ExploreFloor: 0.05}
			return nil
		}, "bandit arms names"},
		{"bad sticky", func(r *traffic.Route) []traffic.Route { r.Sticky = "query:x"; return nil }, "sticky"},
		{"bad compare", func(r *traffic.Route) []traffic.Route {
			r.Shadow = &traffic.Shadow{Version: "b", Percent: 100, Compare: "fuzzy"}
			return nil
		}, "compare"},
		{"duplicate path", func(r *traffic.Route) []traffic.Route {
			o := *r
			o.Stage = "staging"
			o.Path = r.Path + "/"
			return []traffic.Route{o}
		}, "already routed"},
		{"relative path", func(r *traffic.Route) []traffic.Route { r.Path = "v1"; return nil }, "start with /"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := copyTable(traffic.Table{Routes: []traffic.Route{good}}).Routes[0]
			extra := c.edit(&r)
			err := rt.Update(traffic.Table{Routes: append([]traffic.Route{r}, extra...)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q", err, c.want)
			}
			if got := rt.Table(); len(got.Routes) != 1 || got.Routes[0].Weights[0].Percent != 90 {
				t.Fatalf("table changed: %+v", got)
			}
		})
	}
}

// chiSquare returns the statistic of observed counts against percentages.
func chiSquare(obs map[string]int, ws []traffic.Weight, n int) float64 {
	var x2 float64
	for _, w := range ws {
		exp := float64(n) * w.Percent / 100
		d := float64(obs[w.Version]) - exp
		x2 += d * d / exp
	}
	return x2
}

func TestWeightedSplitMatchesWeights(t *testing.T) {
	ws := weights("v1", 70, "v2", 20, "v3", 10)
	rt := newTestRouter(t, Options{Seed: 7})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": "http://127.0.0.1:1", "v2": "http://127.0.0.1:2", "v3": "http://127.0.0.1:3"}, ws))
	r, _ := rt.table.Load().lookup("/v1/m/x")
	rnd := rand.New(rand.NewPCG(7, 7))
	req, _ := http.NewRequest("GET", "http://x/v1/m/x", nil)
	const n = 100000
	obs := map[string]int{}
	for i := 0; i < n; i++ {
		obs[r.choose((*stdKeys)(req), rnd).version]++
	}
	// 2 degrees of freedom: P(X² > 13.8) = 0.001.
	if x2 := chiSquare(obs, ws, n); x2 > 13.8 {
		t.Fatalf("split %v is off the weights: chi-square %.1f", obs, x2)
	}
}

func TestStickyUsersOnlyMoveIntoTheGrowingCanary(t *testing.T) {
	rt := newTestRouter(t, Options{})
	backends := map[string]string{"stable": "http://127.0.0.1:1", "canary": "http://127.0.0.1:2", "rules": "http://127.0.0.1:3"}
	const users = 10000
	assign := func(ws []traffic.Weight) map[string]string {
		r := mkRoute("m", backends, ws)
		r.Sticky = "header:x-user-id"
		mustUpdate(t, rt, r)
		// Choose as ServeHTTP does, on the live table, without proxying.
		live, _ := rt.table.Load().lookup("/v1/m/x")
		rnd := rand.New(rand.NewPCG(1, 2))
		got := map[string]string{}
		for i := 0; i < users; i++ {
			u := fmt.Sprintf("user-%d", i)
			req, _ := http.NewRequest("GET", "http://x/v1/m/x", nil)
			req.Header.Set("x-user-id", u)
			got[u] = live.choose((*stdKeys)(req), rnd).version
		}
		return got
	}
	steps := [][]traffic.Weight{
		weights("stable", 95, "canary", 5, "rules", 0),
		weights("stable", 75, "canary", 25, "rules", 0),
		weights("stable", 50, "canary", 50, "rules", 0),
		weights("stable", 0, "canary", 100, "rules", 0),
	}
	prev := assign(steps[0])
	for _, step := range steps[1:] {
		next := assign(step)
		counts := map[string]int{}
		for u, v := range next {
			counts[v]++
			if prev[u] == "canary" && v != "canary" {
				t.Fatalf("at %v user %s moved out of the canary to %s", step, u, v)
			}
		}
		share := float64(counts["canary"]) / users
		if want := step[1].Percent / 100; math.Abs(share-want) > 0.02 {
			t.Errorf("at %v the canary has %.3f of users, want %.2f", step, share, want)
		}
		prev = next
	}
	// Same weights again: nobody moves.
	again := assign(steps[len(steps)-1])
	for u, v := range again {
		if prev[u] != v {
			t.Fatalf("user %s moved from %s to %s without a weight change", u, prev[u], v)
		}
	}
}

func TestStickyByCookie(t *testing.T) {
	a, b := backendServer(t, "a"), backendServer(t, "b")
	rt := newTestRouter(t, Options{})
	r := mkRoute("m", map[string]string{"a": a.URL, "b": b.URL}, weights("a", 50, "b", 50))
	r.Sticky = "cookie:uid"
	mustUpdate(t, rt, r)
	for i := 0; i < 50; i++ {
		uid := fmt.Sprintf("u%d", i)
		first := do(rt, "GET", "/v1/m", "", "Cookie", "uid="+uid).Header().Get(hdrVersion)
		for j := 0; j < 3; j++ {
			if got := do(rt, "GET", "/v1/m", "", "Cookie", "other=1; uid="+uid).Header().Get(hdrVersion); got != first {
				t.Fatalf("user %s went to %s then %s", uid, first, got)
			}
		}
	}
}

func TestPreviewHeaderReachesPreviewVersion(t *testing.T) {
	blue, green := backendServer(t, "blue"), backendServer(t, "green")
	rt := newTestRouter(t, Options{})
	r := mkRoute("m", map[string]string{"blue": blue.URL, "green": green.URL}, weights("blue", 100, "green", 0))
	r.Preview = &traffic.Preview{Header: "x-switchyard-preview", Version: "green"}
	mustUpdate(t, rt, r)
	for i := 0; i < 20; i++ {
		if v := decodeEcho(t, do(rt, "GET", "/v1/m", "")).Version; v != "blue" {
			t.Fatalf("live request reached %s", v)
		}
		if v := decodeEcho(t, do(rt, "GET", "/v1/m", "", "X-Switchyard-Preview", "1")).Version; v != "green" {
			t.Fatalf("preview request reached %s", v)
		}
	}
}

func TestStatsCoverTheLastWindowOnly(t *testing.T) {
	a := backendServer(t, "a")
	clock := newFakeClock()
	rt := newTestRouter(t, Options{Now: clock.Now})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"a": a.URL}, weights("a", 100)))
	for i := 0; i < 30; i++ {
		do(rt, "GET", "/v1/m", "")
	}
	clock.Advance(20 * time.Second)
	for i := 0; i < 10; i++ {
		do(rt, "GET", "/v1/m", "")
	}
	s := find(t, rt.Stats(10*time.Second), "m", "production", "a")
	if s.Requests != 10 || s.RequestRate != 1 || s.Errors != 0 {
		t.Fatalf("10s window: %+v", s)
	}
	if len(s.LatencySample) != 10 {
		t.Errorf("latency sample has %d entries, want 10", len(s.LatencySample))
	}
	if s = find(t, rt.Stats(time.Minute), "m", "production", "a"); s.Requests != 40 {
		t.Fatalf("1m window: %d requests, want 40", s.Requests)
	}
	clock.Advance(11 * time.Minute)
	if s = find(t, rt.Stats(time.Minute), "m", "production", "a"); s.Requests != 0 {
		t.Fatalf("after 11m: %d requests, want 0", s.Requests)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h [histBuckets]uint64
	for i := 1; i <= 1000; i++ {
		h[histIndex(float64(i)/1000)]++ // 1ms .. 1s, uniform
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 0.5}, {0.9, 0.9}, {0.99, 0.99}} {
		got := histQuantile(&h, 1000, c.q)
		if math.Abs(got-c.want)/c.want > 0.2 {
			t.Errorf("p%v = %.3f, want about %.3f", c.q*100, got, c.want)
		}
	}
}
