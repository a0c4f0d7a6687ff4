package router

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

func TestAdminAPI(t *testing.T) {
	a := backendServer(t, "a")
	rt := newTestRouter(t, Options{})
	admin := NewAdminHandler(rt, "s3cret")
	auth := []string{"Authorization", "Bearer s3cret"}
	good := mkRoute("m", map[string]string{"a": a.URL}, weights("a", 100))
	goodJSON, _ := json.Marshal(traffic.Table{Routes: []traffic.Route{good}})

	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "Basic s3cret"}, {"Authorization", "Bearer s3cret2"}} {
		w := do(admin, "GET", "/v1/routes", "", h...)
		if w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" || !strings.Contains(w.Body.String(), `"error"`) {
			t.Fatalf("with %v: %d %q", h, w.Code, w.Body)
		}
	}
	if w := do(admin, "PUT", "/v1/routes", string(goodJSON), "Authorization", "bearer s3cret"); w.Code != 200 {
		t.Fatalf("PUT good table: %d %s", w.Code, w.Body)
	}
	bad := []struct{ name, body, want string }{
		{"not json", `{"routes": [`, "not valid JSON"},
		{"weights", strings.Replace(string(goodJSON), `"percent":100`, `"percent":90`, 1), "sum to 90"},
		{"unknown version", strings.Replace(string(goodJSON), `"version":"a"`, `"version":"zz"`, 1), `"zz"`},
		{"too large", `{"routes":[` + strings.Repeat(" ", MaxTableBytes) + `]}`, "larger than"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			w := do(admin, "PUT", "/v1/routes", c.body, auth...)
			var e struct{ Error string }
			if (w.Code != 400 && w.Code != 413) || json.Unmarshal(w.Body.Bytes(), &e) != nil || !strings.Contains(e.Error, c.want) {
				t.Fatalf("got %d %s, want a JSON error mentioning %q", w.Code, w.Body, c.want)
			}
		})
	}
	w := do(admin, "GET", "/v1/routes", "", auth...)
	var got traffic.Table
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || len(got.Routes) != 1 || got.Routes[0].Weights[0].Percent != 100 {
		t.Fatalf("GET routes after bad PUTs: %s", w.Body)
	}
	for i := 0; i < 5; i++ {
		do(rt, "GET", "/v1/m/x", "")
	}
	w = do(admin, "GET", "/v1/stats?window=30s", "", auth...)
	var st traffic.Stats
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Window != 30*time.Second {
		t.Fatalf("stats: %d %s", w.Code, w.Body)
	}
	if v := find(t, st, "m", "production", "a"); v.Requests != 5 {
		t.Fatalf("stats over the admin API: %+v", v)
	}
	if w := do(admin, "GET", "/v1/stats?window=soon", "", auth...); w.Code != 400 {
		t.Fatalf("bad window: %d", w.Code)
	}
	w = do(admin, "GET", "/metrics", "", auth...)
	for _, want := range []string{
		`switchyard_requests_total{code="200",model="m",stage="production",version="a"} 5`,
		`switchyard_request_duration_seconds_count{model="m",stage="production",version="a"} 5`,
		`switchyard_table_updates_total{result="rejected"} 2`,
	} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if w := do(NewAdminHandler(rt, ""), "GET", "/v1/routes", "", "Authorization", "Bearer "); w.Code != 401 {
		t.Fatalf("an empty token must refuse every call, got %d", w.Code)
	}
}

func TestMetricsRegisterAndUnregisterWithRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	first := New(Options{Registerer: reg})
	mustUpdate(t, first, mkRoute("m", map[string]string{"a": "http://127.0.0.1:1"}, weights("a", 100)))
	if mfs, err := reg.Gather(); err != nil || len(mfs) == 0 {
		t.Fatalf("nothing gathered from the registerer: %v", err)
	}
	// A second live router on the same registerer still serves its own.
	second := New(Options{Registerer: reg})
	if w := do(second.MetricsHandler(), "GET", "/metrics", ""); w.Code != 200 {
		t.Fatalf("second router's metrics: %d", w.Code)
	}
	_ = second.Close()
	_ = first.Close()
	// Once the first is closed, a new router registers in its place.
	third := New(Options{Registerer: reg})
	defer third.Close()
	if third.metrics.extra == nil {
		t.Fatal("a router created after Close could not register its metrics")
	}
}

func TestMetricsCoverShadowFallbackAndRewards(t *testing.T) {
	live, shadow, rules := backendServer(t, "live"), backendServer(t, "shadow"), backendServer(t, "rules")
	rt := newTestRouter(t, Options{})
	r := mkRoute("m", map[string]string{"live": live.URL, "shadow": shadow.URL, "rules": rules.URL, "dead": deadURL(t)}, weights("live", 100))
	r.Shadow = &traffic.Shadow{Version: "shadow", Percent: 100, Compare: "exact"}
	mustUpdate(t, rt, r)
	id := do(rt, "GET", "/v1/m/x", "").Header().Get(hdrRequestID)
	waitShadow(t, rt, 1)
	if w := do(rt, "POST", FeedbackPath, `{"request_id":"`+id+`","reward":0.5}`); w.Code != 200 {
		t.Fatalf("feedback: %d %s", w.Code, w.Body)
	}
	r2 := mkRoute("f", map[string]string{"dead": deadURL(t), "rules": rules.URL}, weights("dead", 100))
	r2.Fallback = "rules"
	mustUpdate(t, rt, r, r2)
	do(rt, "GET", "/v1/f/x", "")
	body := do(rt.MetricsHandler(), "GET", "/metrics", "").Body.String()
	for _, want := range []string{
		`switchyard_shadow_comparisons_total{model="m",result="disagree",stage="production",version="shadow"} 1`,
		`switchyard_shadow_duration_seconds_count{model="m",stage="production",version="shadow"} 1`,
		`switchyard_rewards_total{model="m",stage="production",version="live"} 1`,
		`switchyard_reward_sum{model="m",stage="production",version="live"} 0.5`,
		`switchyard_fallbacks_total{model="f",stage="production",version="dead"} 1`,
		`switchyard_requests_total{code="502",model="f",stage="production",version="dead"} 1`,
		`switchyard_requests_total{code="200",model="f",stage="production",version="rules"} 1`,
		`switchyard_routes 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A fleet numbers its tables: GET /v1/routes shows the generation of the
// table last PUT, which is how a stale or restarted replica is told apart.
func TestAdminRoutesKeepGeneration(t *testing.T) {
	a := backendServer(t, "a")
	rt := newTestRouter(t, Options{})
	admin := NewAdminHandler(rt, "s3cret")
	auth := []string{"Authorization", "Bearer s3cret"}
	var empty traffic.Table
	if err := json.Unmarshal(do(admin, "GET", "/v1/routes", "", auth...).Body.Bytes(), &empty); err != nil || empty.Generation != 0 {
		t.Fatalf("a fresh router's generation = %d (%v), want 0", empty.Generation, err)
	}
	for _, gen := range []uint64{7, 8} {
		body, _ := json.Marshal(traffic.Table{Generation: gen, Routes: []traffic.Route{mkRoute("m", map[string]string{"a": a.URL}, weights("a", 100))}})
		w := do(admin, "PUT", "/v1/routes", string(body), auth...)
		var put, got traffic.Table
		if err := json.Unmarshal(w.Body.Bytes(), &put); err != nil || put.Generation != gen {
			t.Fatalf("PUT answered generation %d (%v), want %d", put.Generation, err, gen)
		}
		if err := json.Unmarshal(do(admin, "GET", "/v1/routes", "", auth...).Body.Bytes(), &got); err != nil || got.Generation != gen {
			t.Fatalf("GET shows generation %d (%v), want %d", got.Generation, err, gen)
		}
	}
}

// A fleet's reconciler reads every replica's generation every pass and
// sends whole tables every step: GET with If-None-Match answers 304 while
// the generation holds, and PUT with Prefer: return=minimal answers no
// table.
func TestAdminRoutesETagAndMinimalPut(t *testing.T) {
	a := backendServer(t, "a")
	rt := newTestRouter(t, Options{})
	admin := NewAdminHandler(rt, "s3cret")
	auth := []string{"Authorization", "Bearer s3cret"}
	if w := do(admin, "GET", "/v1/routes", "", append(auth, "If-None-Match", "*")...); w.Code != 200 || w.Header().Get("ETag") != "" {
		t.Fatalf("an unnumbered table: %d, ETag %q; want 200 and no ETag", w.Code, w.Header().Get("ETag"))
	}
	body, _ := json.Marshal(traffic.Table{Generation: 12, Routes: []traffic.Route{mkRoute("m", map[string]string{"a": a.URL}, weights("a", 100))}})
	w := do(admin, "PUT", "/v1/routes", string(body), append(auth, "Prefer", "handling=strict, return=minimal")...)
	if w.Code != 204 || w.Body.Len() != 0 || w.Header().Get("ETag") != `"12"` || w.Header().Get("Preference-Applied") != "return=minimal" {
		t.Fatalf("minimal PUT: %d %q ETag %q", w.Code, w.Body, w.Header().Get("ETag"))
	}
	if got := rt.Table(); got.Generation != 12 || len(got.Routes) != 1 {
		t.Fatalf("minimal PUT installed %+v", got)
	}
	for _, c := range []struct {
		inm  string
		want int
	}{{`"12"`, 304}, {`W/"12"`, 304}, {`"11", "12"`, 304}, {`*`, 304}, {`"11"`, 200}, {`"1"`, 200}, {`"120"`, 200}, {"", 200}} {
		w := do(admin, "GET", "/v1/routes", "", append(auth, "If-None-Match", c.inm)...)
		if w.Code != c.want || w.Header().Get("ETag") != `"12"` {
			t.Errorf("If-None-Match %q: %d ETag %q, want %d", c.inm, w.Code, w.Header().Get("ETag"), c.want)
		}
		if c.want == 304 && w.Body.Len() != 0 {
			t.Errorf("If-None-Match %q: 304 with a body %q", c.inm, w.Body)
		}
		var got traffic.Table
		if c.want == 200 && (json.Unmarshal(w.Body.Bytes(), &got) != nil || got.Generation != 12 || len(got.Routes) != 1) {
			t.Errorf("If-None-Match %q: body %q", c.inm, w.Body)
		}
	}
}

// GET /v1/routes says how long the router has held a table (a 304 too),
// counted from its first table, not its latest: a reconciler that did not
// give a restarted router its table again still learns that it measured
// nothing before.
func TestAdminRoutesSayHowLongTheRouterHasServed(t *testing.T) {
	a := backendServer(t, "a")
	clk := newFakeClock()
	rt := newTestRouter(t, Options{Now: clk.Now})
	admin := NewAdminHandler(rt, "s3cret")
	auth := []string{"Authorization", "Bearer s3cret"}
	if w := do(admin, "GET", "/v1/routes", "", auth...); w.Header().Get(traffic.ServingForHeader) != "" {
		t.Fatalf("a router given no table says it served for %q", w.Header().Get(traffic.ServingForHeader))
	}
	put := func(gen uint64) {
		t.Helper()
		body, _ := json.Marshal(traffic.Table{Generation: gen, Routes: []traffic.Route{mkRoute("m", map[string]string{"a": a.URL}, weights("a", 100))}})
		if w := do(admin, "PUT", "/v1/routes", string(body), auth...); w.Code != 200 {
			t.Fatalf("PUT: %d %s", w.Code, w.Body)
		}
	}
	put(1)
	clk.Advance(90 * time.Second)
	put(2) // a new table, same process: its measurements go on
	clk.Advance(1500 * time.Millisecond)
	for _, inm := range []string{"", `"2"`, "*"} {
		w := do(admin, "GET", "/v1/routes", "", append(auth, "If-None-Match", inm)...)
		if got := w.Header().Get(traffic.ServingForHeader); got != "91.500" {
			t.Errorf("If-None-Match %q (%d): served for %q, want 91.500 (since the first table)", inm, w.Code, got)
		}
	}
}
