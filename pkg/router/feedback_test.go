package router

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// feedbackRouter is a router with one route "m" over versions a and b,
// sticky on x-user-id, for the feedback tests.
func feedbackRouter(t *testing.T, opts Options) *Router {
	t.Helper()
	a, b := backendServer(t, "a"), backendServer(t, "b")
	rt := newTestRouter(t, opts)
	r := mkRoute("m", map[string]string{"a": a.URL, "b": b.URL}, weights("a", 50, "b", 50))
	r.Sticky = "header:x-user-id"
	mustUpdate(t, rt, r)
	return rt
}

// answered asks the router once and returns the answer's request id and
// version.
func answered(t *testing.T, rt *Router, hdr ...string) (id, version string) {
	t.Helper()
	w := do(rt, "GET", "/v1/m/x", "", hdr...)
	if w.Code != 200 {
		t.Fatalf("request: %d %s", w.Code, w.Body)
	}
	return w.Header().Get(hdrRequestID), w.Header().Get(hdrVersion)
}

type feedbackAnswer struct {
	code                   int
	Version, Reason, Error string
}

func postFeedback(rt *Router, body string, hdr ...string) feedbackAnswer {
	w := do(rt, "POST", FeedbackPath, body, hdr...)
	var a feedbackAnswer
	_ = json.Unmarshal(w.Body.Bytes(), &a)
	a.code = w.Code
	return a
}

func rewardBody(id string, reward float64) string {
	return fmt.Sprintf(`{"request_id":%q,"reward":%g}`, id, reward)
}

func rewards(t *testing.T, rt *Router) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, v := range []string{"a", "b"} {
		out[v] = find(t, rt.Stats(time.Hour), "m", "production", v).Rewards
	}
	return out
}

func rejected(rt *Router, reason string) string {
	body := do(rt.MetricsHandler(), "GET", "/metrics", "").Body.String()
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, `switchyard_feedback_rejected_total{reason="`+reason+`"} `) {
			return strings.Fields(l)[1]
		}
	}
	return "absent"
}

func TestFeedbackCountsOncePerRequestID(t *testing.T) {
	rt := feedbackRouter(t, Options{})
	id, v := answered(t, rt)
	for i := 0; i < 200; i++ {
		a := postFeedback(rt, rewardBody(id, 1))
		switch {
		case i == 0 && (a.code != 200 || a.Version != v):
			t.Fatalf("first feedback: %+v, want 200 for %s", a, v)
		case i > 0 && (a.code != 409 || a.Reason != rejectDuplicate):
			t.Fatalf("feedback %d: %+v, want 409 duplicate", i+1, a)
		}
	}
	if got := rewards(t, rt); got[v] != 1 || got["a"]+got["b"] != 1 {
		t.Errorf("rewards %v after 200 posts for one id, want 1 for %s", got, v)
	}
	if got := rejected(rt, rejectDuplicate); got != "199" {
		t.Errorf("duplicates counted %s, want 199", got)
	}
	// The same id with the client's part left off is the same id.
	cid, _ := answered(t, rt, "X-Request-Id", "trace-7")
	tok, _ := idToken(cid)
	if !strings.HasPrefix(cid, "trace-7.") {
		t.Fatalf("id %q does not keep the client's trace-7", cid)
	}
	if a := postFeedback(rt, rewardBody(tok, 1)); a.code != 200 {
		t.Fatalf("feedback by token: %+v", a)
	}
	if a := postFeedback(rt, rewardBody(cid, 1)); a.code != 409 {
		t.Fatalf("feedback by the whole id after its token: %+v, want 409", a)
	}
}

func TestFeedbackTakesOnlyIDsTheRouterIssued(t *testing.T) {
	rt := feedbackRouter(t, Options{})
	id, _ := answered(t, rt)
	other := feedbackRouter(t, Options{})
	foreign, _ := answered(t, other)
	tok, _ := idToken(id)
	flip := []byte(tok)
	flip[len(flip)-3] ^= 1
	// The client chose its own id, which then is only its part.
	own, _ := answered(t, rt, "X-Request-Id", "mine")
	for name, bad := range map[string]string{
		"invented":            "nope",
		"counter style":       "lz3k2a-1f",
		"another router's":    foreign,
		"tampered":            string(flip),
		"client's own part":   strings.TrimSuffix(own, own[strings.LastIndexByte(own, '.'):]),
		"token without a dot": "x" + tok,
	} {
		if a := postFeedback(rt, rewardBody(bad, 1)); a.code != 404 || a.Reason != rejectUnknownID {
			t.Errorf("%s id %q: %+v, want 404 unknown_id", name, bad, a)
		}
	}
	if got := rewards(t, rt); got["a"]+got["b"] != 0 {
		t.Errorf("rewards %v for ids the router did not issue", got)
	}
	if got := rejected(rt, rejectUnknownID); got != "6" {
		t.Errorf("unknown ids counted %s, want 6", got)
	}
	// Routers sharing a key take each other's ids, once each.
	key := []byte("fleet key, shared")
	r1, r2 := feedbackRouter(t, Options{RequestIDKey: key}), feedbackRouter(t, Options{RequestIDKey: key})
	id1, v1 := answered(t, r1)
	for i, want := range []int{200, 409} {
		if a := postFeedback(r2, rewardBody(id1, 1)); a.code != want || want == 200 && a.Version != v1 {
			t.Errorf("fleet id at another router, post %d: %+v, want %d for %s", i+1, a, want, v1)
		}
	}
}

// An id names the version it went to: feedback does not depend on the
// router remembering it, and a version taken out of the table takes no
// more feedback.
func TestFeedbackOutlivesTheIDMemory(t *testing.T) {
	rt := feedbackRouter(t, Options{RequestIDs: 1})
	type sent struct{ id, version string }
	var all []sent
	for i := 0; i < 50; i++ {
		id, v := answered(t, rt)
		all = append(all, sent{id, v})
	}
	for _, s := range all {
		if a := postFeedback(rt, rewardBody(s.id, 1)); a.code != 200 || a.Version != s.version {
			t.Fatalf("feedback for %s: %+v, want 200 for %s", s.id, a, s.version)
		}
	}
	got := rewards(t, rt)
	want := map[string]int64{}
	for _, s := range all {
		want[s.version]++
	}
	if got["a"] != want["a"] || got["b"] != want["b"] {
		t.Errorf("rewards %v, want %v", got, want)
	}
	id, v := answered(t, rt)
	answered(t, rt) // evicts id from the one-slot memory
	other := map[string]string{"a": "b", "b": "a"}[v]
	srv := backendServer(t, other)
	mustUpdate(t, rt, mkRoute("m", map[string]string{other: srv.URL}, weights(other, 100)))
	if a := postFeedback(rt, rewardBody(id, 1)); a.code != 404 || a.Reason != rejectForgotten {
		t.Errorf("feedback for a version gone from the table: %+v, want 404 forgotten", a)
	}
}

// The reward goes to the version that answered: the fallback, when the
// chosen version failed.
func TestFeedbackRewardsTheFallbackThatAnswered(t *testing.T) {
	rules := backendServer(t, "rules")
	rt := newTestRouter(t, Options{})
	r := mkRoute("m", map[string]string{"dead": deadURL(t), "rules": rules.URL}, weights("dead", 100))
	r.Fallback = "rules"
	mustUpdate(t, rt, r)
	for _, srv := range []func() string{
		func() string { return do(rt, "GET", "/v1/m/x", "").Header().Get(hdrRequestID) },
		func() string {
			a := dialRaw(t, startServer(t, rt, ServerOptions{}).addr).do(get("/v1/m/x"))
			return a.resp.Header.Get(hdrRequestID)
		},
	} {
		id := srv()
		if a := postFeedback(rt, rewardBody(id, 1)); a.code != 200 || a.Version != "rules" {
			t.Errorf("feedback after a fallback: %+v, want 200 for rules", a)
		}
	}
}

func TestFeedbackExpiresAfterTheWindow(t *testing.T) {
	clk := newFakeClock()
	rt := feedbackRouter(t, Options{Now: clk.Now, FeedbackWindow: 2 * time.Hour})
	early, _ := answered(t, rt)
	clk.Advance(time.Hour)
	late, _ := answered(t, rt)
	clk.Advance(time.Hour + time.Second)
	if a := postFeedback(rt, rewardBody(early, 1)); a.code != 410 || a.Reason != rejectExpired {
		t.Errorf("feedback 2h1s after the request: %+v, want 410 expired", a)
	}
	if a := postFeedback(rt, rewardBody(late, 1)); a.code != 200 {
		t.Errorf("feedback 1h1s after the request: %+v, want 200", a)
	}
	// The default window is 24 hours.
	rt = feedbackRouter(t, Options{Now: clk.Now})
	day, _ := answered(t, rt)
	clk.Advance(24*time.Hour + time.Second)
	if a := postFeedback(rt, rewardBody(day, 1)); a.code != 410 {
		t.Errorf("feedback a day and a second later: %+v, want 410", a)
	}
	if got := rejected(rt, rejectExpired); got != "1" {
		t.Errorf("expired counted %s, want 1", got)
	}
	// An id stamped well in the future is no id this router issued.
	ahead := feedbackRouter(t, Options{Now: clk.Now, RequestIDKey: []byte("k")})
	clk.Advance(time.Hour)
	future, _ := answered(t, ahead)
	behind := feedbackRouter(t, Options{Now: func() time.Time { return clk.Now().Add(-time.Hour) }, RequestIDKey: []byte("k")})
	behind.ids.put(future, behind.table.Load().byName["m/production"].backends["a"].stats)
	if a := postFeedback(behind, rewardBody(future, 1)); a.code != 404 || a.Reason != rejectUnknownID {
		t.Errorf("id issued an hour ahead: %+v, want 404 unknown_id", a)
	}
}

func TestFeedbackOnceSetIsBoundedAndRefusesRatherThanForgets(t *testing.T) {
	clk := newFakeClock()
	rt := feedbackRouter(t, Options{Now: clk.Now, FeedbackIDs: 2, FeedbackWindow: time.Hour})
	var ids []string
	for i := 0; i < 3; i++ {
		id, _ := answered(t, rt)
		ids = append(ids, id)
	}
	for i, want := range []int{200, 200, 503} {
		if a := postFeedback(rt, rewardBody(ids[i], 1)); a.code != want {
			t.Errorf("feedback %d: %+v, want %d", i+1, a, want)
		}
	}
	if a := postFeedback(rt, rewardBody(ids[0], 1)); a.code != 409 {
		t.Errorf("a remembered id at the cap: %+v, want 409 duplicate", a)
	}
	// Once the first ids expire, their room is free again.
	clk.Advance(time.Hour + 10*time.Minute)
	fresh, _ := answered(t, rt)
	if a := postFeedback(rt, rewardBody(fresh, 1)); a.code != 200 {
		t.Errorf("feedback after the window freed the set: %+v", a)
	}
	if got := rejected(rt, rejectFull); got != "1" {
		t.Errorf("full counted %s, want 1", got)
	}
}

func TestFeedbackBearerToken(t *testing.T) {
	rt := feedbackRouter(t, Options{FeedbackToken: "s3cret"})
	id, _ := answered(t, rt)
	for name, hdr := range map[string][]string{
		"none":        nil,
		"wrong":       {"Authorization", "Bearer s3cres"},
		"longer":      {"Authorization", "Bearer s3cret2"},
		"basic":       {"Authorization", "Basic s3cret"},
		"only scheme": {"Authorization", "Bearer"},
	} {
		if a := postFeedback(rt, rewardBody(id, 1), hdr...); a.code != 401 || a.Reason != rejectUnauthorized {
			t.Errorf("%s token: %+v, want 401", name, a)
		}
	}
	if got := rejected(rt, rejectUnauthorized); got != "5" {
		t.Errorf("unauthorized counted %s, want 5", got)
	}
	if a := postFeedback(rt, rewardBody(id, 1), "Authorization", "Bearer s3cret"); a.code != 200 {
		t.Errorf("right token: %+v", a)
	}
	if w := do(rt, "POST", FeedbackPath, rewardBody(id, 1)); w.Header().Get("WWW-Authenticate") == "" {
		t.Error("a 401 without WWW-Authenticate")
	}
}

func TestFeedbackByKeyNeedsTheRequestsID(t *testing.T) {
	rt := feedbackRouter(t, Options{})
	// SPEC.md's old form, {"model","stage","key"}: refused, saying what to send instead.
	a := postFeedback(rt, `{"model":"m","stage":"production","key":"u1","reward":1}`)
	if a.code != 400 || a.Reason != rejectUnknownID ||
		!strings.Contains(a.Error, `feedback by "key" alone is not accepted`) || !strings.Contains(a.Error, `send "request_id", the X-Request-Id header of the answer`) {
		t.Errorf("feedback by key alone: %+v, want 400 saying to send the answer's request_id", a)
	}
	if a := postFeedback(rt, `{"model":"m","stage":"production","reward":1}`); a.code != 400 || !strings.Contains(a.Error, `feedback needs "request_id": send the X-Request-Id header`) {
		t.Errorf("feedback without an id: %+v, want 400 saying to send the answer's request_id", a)
	}
	id, v := answered(t, rt, "x-user-id", "u1")
	if a := postFeedback(rt, fmt.Sprintf(`{"request_id":%q,"model":"m","stage":"production","key":"u1","reward":1}`, id)); a.code != 200 || a.Version != v {
		t.Errorf("feedback by id and key: %+v, want 200 for %s", a, v)
	}
	id, _ = answered(t, rt)
	if a := postFeedback(rt, fmt.Sprintf(`{"request_id":%q,"model":"other","stage":"production","reward":1}`, id)); a.code != 404 {
		t.Errorf("feedback naming another route: %+v, want 404", a)
	}
	if got := rewards(t, rt); got["a"]+got["b"] != 1 {
		t.Errorf("rewards %v, want 1", got)
	}
}

func TestFeedbackErrors(t *testing.T) {
	rt := feedbackRouter(t, Options{FeedbackRate: 4, Now: newFakeClock().Now})
	id, _ := answered(t, rt)
	cases := []struct {
		name, method, body string
		code               int
	}{
		{"get", "GET", "", 405},
		{"bad json", "POST", `{`, 400},
		{"no reward", "POST", `{"request_id":"` + id + `"}`, 400},
		{"reward out of range", "POST", `{"request_id":"` + id + `","reward":2}`, 400},
		{"nothing", "POST", `{"reward":1}`, 400},
		// The fifth post from one address within a second.
		{"rate limited", "POST", rewardBody(id, 1), 429},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := do(rt, c.method, FeedbackPath, c.body)
			if w.Code != c.code || !strings.Contains(w.Body.String(), `"error"`) {
				t.Fatalf("got %d %s, want %d with a JSON error", w.Code, w.Body, c.code)
			}
		})
	}
}

func TestOnceSetDropsExpiredBuckets(t *testing.T) {
	s := newOnceSet(24*time.Hour, 1000)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := func(at time.Time, n byte) idPayload {
		var p idPayload
		p[0], p[1], p[2], p[3] = byte(at.Unix()>>24), byte(at.Unix()>>16), byte(at.Unix()>>8), byte(at.Unix())
		p[15] = n
		return p
	}
	for i := 0; i < 48; i++ {
		at := t0.Add(time.Duration(i) * 30 * time.Minute)
		if s.claim(p(at, 1), kindReward, at) != claimOK || s.claim(p(at, 1), kindReward, at) != claimDuplicate {
			t.Fatalf("claim at %s", at)
		}
	}
	now := t0.Add(48 * time.Hour)
	s.claim(p(now, 2), kindReward, now)
	if s.n > 1+24*2+2 || s.n != countEntries(s) {
		t.Errorf("%d entries (%d in buckets) after a day and more, want the last day's only", s.n, countEntries(s))
	}
	// Kinds are claimed separately.
	if s.claim(p(now, 2), kindReward+1, now) != claimOK {
		t.Error("another kind for the same id was refused")
	}
}

func countEntries(s *onceSet) int {
	n := 0
	for _, b := range s.buckets {
		n += len(b)
	}
	return n
}

// BenchmarkIssueID is the cost of a signed request id on every request.
func BenchmarkIssueID(b *testing.B) {
	rt := newTestRouter(b, Options{})
	be := &backend{stats: &versionStats{ref: 7}}
	b.ReportAllocs()
	for b.Loop() {
		_ = issueID(rt, []byte(nil), be)
	}
}

// FuzzCheckID: no byte string is taken as an issued id unless the issuer
// made it, and none makes the check fail other than by refusing.
func FuzzCheckID(f *testing.F) {
	is := newIDIssuer([]byte("fuzz key"))
	is.instance = [6]byte{1, 2, 3, 4, 5, 6} // the same in every fuzz worker
	good := string(is.appendToken(nil, time.Unix(1_800_000_000, 0), 7))
	for _, s := range []string{good, "x." + good, good[1:], good + "A", "", ".", strings.Repeat("A", idTokenLen), "a." + strings.Repeat("-", idTokenLen)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		p, ok := is.check(id)
		if !ok {
			return
		}
		tok, _ := idToken(id)
		if tok != good || p.ref() != 7 || p.issued().Unix() != 1_800_000_000 {
			t.Fatalf("%q taken as an issued id (payload %x)", id, p)
		}
	})
}

// Posts for one id racing each other still count once, over the network.
func TestFeedbackOnceUnderConcurrentPosts(t *testing.T) {
	rt := feedbackRouter(t, Options{})
	srv := serve(t, rt)
	id, v := answered(t, rt)
	var wg sync.WaitGroup
	codes := make([]int, 50)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(srv.URL+FeedbackPath, "application/json", strings.NewReader(rewardBody(id, 1)))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[200] != 1 || count[409] != len(codes)-1 {
		t.Errorf("status codes %v, want one 200 and %d 409", count, len(codes)-1)
	}
	if got := rewards(t, rt); got[v] != 1 {
		t.Errorf("rewards %v, want 1 for %s", got, v)
	}
}
