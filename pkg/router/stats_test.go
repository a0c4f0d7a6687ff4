package router

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Ranges that share their ends count every reward exactly once, and leave
// out the second still running; the last-window form includes it.
func TestStatsRangesTileTime(t *testing.T) {
	clock := newFakeClock()
	rt := newTestRouter(t, Options{Now: clock.Now})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": "http://127.0.0.1:1"}, weights("v1", 100)))
	start := clock.Now()
	// 3 rewards a second, at 0.0, 0.3 and 0.6 past each second, for 10 s.
	for sec := 0; sec < 10; sec++ {
		for k := 0; k < 3; k++ {
			if err := rt.Reward("m", "production", "v1", 1); err != nil {
				t.Fatal(err)
			}
			clock.Advance(300 * time.Millisecond)
		}
		clock.Advance(100 * time.Millisecond)
	}
	now := clock.Now() // start + 10s: every second complete
	rewards := func(from, to time.Time) int64 {
		return find(t, rt.StatsRange(from, to), "m", "production", "v1").Rewards
	}
	// Measurements at uneven times, each window from the previous end.
	ends := []time.Duration{1300 * time.Millisecond, 2100 * time.Millisecond, 4900 * time.Millisecond, 5 * time.Second, 9999 * time.Millisecond, 10 * time.Second}
	var total int64
	from := start
	for _, e := range ends {
		to := start.Add(e)
		total += rewards(from.Truncate(time.Second), to.Truncate(time.Second))
		from = to
	}
	if total != 30 {
		t.Fatalf("windows that tile counted %d rewards, want all 30 once", total)
	}
	if got := rewards(now.Add(-3*time.Second), now); got != 9 {
		t.Fatalf("the last 3 whole seconds hold %d rewards, want 9", got)
	}
	if err := rt.Reward("m", "production", "v1", 1); err != nil { // in the running second
		t.Fatal(err)
	}
	if got := rewards(now.Add(-time.Second), now); got != 3 {
		t.Fatalf("a range counted the running second: %d", got)
	}
	if got := find(t, rt.Stats(time.Second), "m", "production", "v1").Rewards; got != 1 {
		t.Fatalf("the last second (running) has %d rewards, want 1", got)
	}
}

func TestAdminStatsRange(t *testing.T) {
	clock := newFakeClock()
	rt := newTestRouter(t, Options{Now: clock.Now})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": "http://127.0.0.1:1"}, weights("v1", 100)))
	_ = rt.Reward("m", "production", "v1", 1)
	clock.Advance(time.Second)
	admin := NewAdminHandler(rt, "tok")
	get := func(q string) *httptest.ResponseRecorder {
		return do(admin, "GET", "/v1/stats?"+q, "", "Authorization", "Bearer tok")
	}
	sec := clock.Now().Unix()
	w := get(fmt.Sprintf("from=%d&to=%d", sec-1, sec))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"rewards": 1`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	for _, q := range []string{"from=5&to=1", "from=x&to=1", "from=1"} {
		if w := get(q); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Unix times") {
			t.Errorf("%s: %d %s", q, w.Code, w.Body)
		}
	}
}

// The reconciler measures one model at a time: stats of one model and
// stage hold that route's versions (and a version gone from the table that
// measured something in the window), nothing of the other models.
func TestModelStatsRange(t *testing.T) {
	clock := newFakeClock()
	rt := newTestRouter(t, Options{Now: clock.Now})
	a, b := mkRoute("a", map[string]string{"v1": "http://127.0.0.1:1", "v2": "http://127.0.0.1:2"}, weights("v1", 100)),
		mkRoute("b", map[string]string{"v1": "http://127.0.0.1:3"}, weights("v1", 100))
	mustUpdate(t, rt, a, b)
	from := clock.Now()
	_ = rt.Reward("a", "production", "v2", 1)
	_ = rt.Reward("b", "production", "v1", 1)
	// v2 leaves a's table; its reward in the window still counts.
	a2 := mkRoute("a", map[string]string{"v1": "http://127.0.0.1:1"}, weights("v1", 100))
	mustUpdate(t, rt, a2, b)
	clock.Advance(time.Second)
	to := clock.Now()
	names := func(s traffic.Stats) string {
		var out []string
		for _, v := range s.Versions {
			out = append(out, v.Model+"/"+v.Version)
		}
		return strings.Join(out, " ")
	}
	if got := names(rt.ModelStatsRange("a", "production", from, to)); got != "a/v1 a/v2" {
		t.Errorf("model a: %q, want a/v1 a/v2", got)
	}
	if got := names(rt.ModelStatsRange("c", "production", from, to)); got != "" {
		t.Errorf("a model the router does not know: %q, want nothing", got)
	}
	if got := names(rt.StatsRange(from, to)); got != "a/v1 a/v2 b/v1" {
		t.Errorf("every model: %q", got)
	}
	admin := NewAdminHandler(rt, "tok")
	get := func(q string) *httptest.ResponseRecorder {
		return do(admin, "GET", "/v1/stats?"+q, "", "Authorization", "Bearer tok")
	}
	w := get(fmt.Sprintf("from=%d&to=%d&model=b&stage=production", from.Unix(), to.Unix()))
	var s traffic.Stats
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || names(s) != "b/v1" || s.Versions[0].Rewards != 1 {
		t.Errorf("GET for model b: %d %s", w.Code, w.Body)
	}
	if w := get(fmt.Sprintf("from=%d&to=%d&model=b", from.Unix(), to.Unix())); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "model and stage go together") {
		t.Errorf("model without stage: %d %s", w.Code, w.Body)
	}
}

// POST /v1/stats answers many models' windows in one request, in order.
func TestAdminStatsBatch(t *testing.T) {
	clock := newFakeClock()
	rt := newTestRouter(t, Options{Now: clock.Now})
	mustUpdate(t, rt, mkRoute("a", map[string]string{"v1": "http://127.0.0.1:1"}, weights("v1", 100)),
		mkRoute("b", map[string]string{"v1": "http://127.0.0.1:2"}, weights("v1", 100)))
	from := clock.Now().Unix()
	_ = rt.Reward("b", "production", "v1", 1)
	clock.Advance(time.Second)
	to := clock.Now().Unix()
	admin := NewAdminHandler(rt, "tok")
	body := fmt.Sprintf(`{"queries":[{"model":"b","stage":"production","from":%d,"to":%d},{"model":"a","stage":"production","from":%d,"to":%d}]}`, from, to, from, to)
	w := do(admin, "POST", "/v1/stats", body, "Authorization", "Bearer tok")
	var a traffic.StatsBatchAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || len(a.Stats) != 2 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if b, _ := a.Stats[0].Find("b", "production", "v1"); b.Rewards != 1 || len(a.Stats[0].Versions) != 1 {
		t.Errorf("first answer %+v, want model b's with its reward", a.Stats[0])
	}
	if len(a.Stats[1].Versions) != 1 || a.Stats[1].Versions[0].Model != "a" {
		t.Errorf("second answer %+v, want model a's only", a.Stats[1])
	}
	if w := do(admin, "POST", "/v1/stats", `{"queries":[{"model":"a","from":2,"to":1}]}`, "Authorization", "Bearer tok"); w.Code != http.StatusBadRequest {
		t.Errorf("a bad query: %d %s", w.Code, w.Body)
	}
}

// The shadow copies' latency quantiles are their own: a blue/green
// preview_mirror judges the new version's latency checks on them.
func TestShadowLatencyQuantiles(t *testing.T) {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newVersionStats("m", "production", "v2", 60, m)
	now := time.Unix(1_700_000_000, 0)
	// 85 fast copies, 14 slow ones and a failed, very slow one
	// (a pair too); a dropped copy has no latency.
	for i := 0; i < 85; i++ {
		s.recordShadow(now, shadowAgree, 2*time.Millisecond)
	}
	for i := 0; i < 14; i++ {
		s.recordShadow(now, shadowDisagree, 200*time.Millisecond)
	}
	s.recordShadow(now, shadowError, 2*time.Second)
	s.recordShadow(now, shadowDropped, 0)
	got := s.sum(now.Unix(), now.Unix())
	if got.ShadowPairs != 100 || got.ShadowErrors != 1 || got.ShadowDropped != 1 || got.Requests != 0 {
		t.Fatalf("pairs %d errors %d dropped %d requests %d", got.ShadowPairs, got.ShadowErrors, got.ShadowDropped, got.Requests)
	}
	if got.ShadowLatencyP50 <= 0 || got.ShadowLatencyP50 > 0.005 {
		t.Errorf("shadow p50 %g, want about 0.002", got.ShadowLatencyP50)
	}
	if got.ShadowLatencyP90 < 0.1 || got.ShadowLatencyP90 > 0.3 {
		t.Errorf("shadow p90 %g, want about 0.2", got.ShadowLatencyP90)
	}
	if got.ShadowLatencyP99 < 0.1 || got.ShadowLatencyP99 < got.ShadowLatencyP90 {
		t.Errorf("shadow p99 %g below p90 %g", got.ShadowLatencyP99, got.ShadowLatencyP90)
	}
	if got.LatencyP50 != 0 || got.LatencyP99 != 0 {
		t.Errorf("copies counted as the version's own latency: p50 %g p99 %g", got.LatencyP50, got.LatencyP99)
	}
}
