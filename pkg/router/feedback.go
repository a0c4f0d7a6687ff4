package router

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// idMemory remembers which version answered recent request ids, in bounded
// memory: a direct-mapped table where a newer id evicts an older one that
// hashes to the same slot. It matters when the fallback answered: an id
// names the version chosen first. Its issuer makes the ids.
type idMemory struct {
	seed   maphash.Seed
	slots  []idSlot
	mask   uint64
	locks  [64]sync.Mutex
	issuer *idIssuer
}

type idSlot struct {
	h  uint64
	vs *versionStats
}

func newIDMemory(size int, key []byte) *idMemory {
	n := 1
	for n < size {
		n <<= 1
	}
	return &idMemory{
		seed:   maphash.MakeSeed(),
		slots:  make([]idSlot, n),
		mask:   uint64(n - 1),
		issuer: newIDIssuer(key),
	}
}

// slot hashes the token part of id: feedback may name an id with or
// without the client's part.
func (m *idMemory) slot(id string) (uint64, *sync.Mutex, uint64) {
	if tok, ok := idToken(id); ok {
		id = tok
	}
	h := maphash.String(m.seed, id)
	i := h & m.mask
	return h, &m.locks[i%uint64(len(m.locks))], i
}

func (m *idMemory) put(id string, vs *versionStats) {
	h, l, i := m.slot(id)
	l.Lock()
	m.slots[i] = idSlot{h: h, vs: vs}
	l.Unlock()
}

func (m *idMemory) get(id string) *versionStats {
	h, l, i := m.slot(id)
	l.Lock()
	s := m.slots[i]
	l.Unlock()
	if s.h != h {
		return nil
	}
	return s.vs
}

// Feedback is the body of POST /_switchyard/feedback: a reward in [0,1]
// for the version that answered RequestID, an id this router (or its
// fleet) issued. Model and Stage, when set, must name the route that
// answered; Key is accepted for older clients and ignored: the id alone
// says which version answered.
type Feedback struct {
	RequestID string   `json:"request_id,omitempty"`
	Model     string   `json:"model,omitempty"`
	Stage     string   `json:"stage,omitempty"`
	Key       string   `json:"key,omitempty"`
	Reward    *float64 `json:"reward"`
	// Label is the ground truth for the answer to RequestID, scored
	// against its outputs (outputs.go), beside or instead of Reward.
	Label json.RawMessage `json:"label,omitempty"`
}

const maxFeedbackBytes = 64 << 10

// Why feedback was refused, as counted in
// switchyard_feedback_rejected_total.
const (
	rejectUnauthorized = "unauthorized" // no or wrong bearer token
	rejectRateLimited  = "rate_limited" // too many posts from one address
	rejectInvalid      = "invalid"      // not JSON, or no reward in [0,1]
	rejectUnknownID    = "unknown_id"   // no id, or one this router did not issue
	rejectExpired      = "expired"      // issued longer ago than the feedback window
	rejectForgotten    = "forgotten"    // issued for a version no longer in the routing table
	rejectDuplicate    = "duplicate"    // this id already had feedback of this kind
	rejectFull         = "full"         // too many ids with feedback in the window
	rejectNoOutput     = "no_output"    // a label for an answer whose outputs are not kept (outputs.go)
)

var rejectReasons = []string{rejectUnauthorized, rejectRateLimited, rejectInvalid, rejectUnknownID, rejectExpired, rejectForgotten, rejectDuplicate, rejectFull, rejectNoOutput}

// feedbackGuard holds what feedback must pass: the bearer token, the rate
// limit and the once-per-id rule.
type feedbackGuard struct {
	token  *[sha256.Size]byte // nil: no token needed
	window time.Duration
	once   *onceSet
	rate   *rateLimit // nil: no limit
}

func newFeedbackGuard(o Options) *feedbackGuard {
	g := &feedbackGuard{window: o.FeedbackWindow, once: newOnceSet(o.FeedbackWindow, o.FeedbackIDs)}
	if o.FeedbackToken != "" {
		sum := sha256.Sum256([]byte(o.FeedbackToken))
		g.token = &sum
	}
	if o.FeedbackRate > 0 {
		g.rate = newRateLimit(o.FeedbackRate)
	}
	return g
}

// authorized compares the bearer token in constant time (of hashes, so
// the length of the token does not show either).
func (g *feedbackGuard) authorized(req *http.Request) bool {
	if g.token == nil {
		return true
	}
	auth := req.Header.Get("Authorization")
	const scheme = "Bearer "
	if len(auth) < len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) {
		return false
	}
	got := sha256.Sum256([]byte(auth[len(scheme):]))
	return subtle.ConstantTimeCompare(got[:], g.token[:]) == 1
}

// feedbackRejection is a refused post: its status, reason and message.
type feedbackRejection struct {
	code   int
	reason string
	msg    string
}

func (rt *Router) serveFeedback(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "feedback is POSTed")
		return
	}
	vs, rej := rt.acceptFeedback(req, w)
	if rej != nil {
		rt.metrics.feedbackRejected.WithLabelValues(rej.reason).Inc()
		h := w.Header()
		if rej.reason == rejectUnauthorized {
			h.Set("WWW-Authenticate", `Bearer realm="switchyard feedback"`)
		}
		h.Set("Content-Type", "application/json")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(rej.code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": rej.msg, "reason": rej.reason})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"model": vs.model, "stage": vs.stage, "version": vs.version})
}

// acceptFeedback checks a post in order (token, rate, body, id, time,
// version, once) and records its reward.
func (rt *Router) acceptFeedback(req *http.Request, w http.ResponseWriter) (*versionStats, *feedbackRejection) {
	g := rt.feedback
	if !g.authorized(req) {
		return nil, &feedbackRejection{http.StatusUnauthorized, rejectUnauthorized, "feedback needs the router's bearer token (Authorization: Bearer ...)"}
	}
	now := rt.now()
	if g.rate != nil && !g.rate.allow(clientAddr(req), now) {
		return nil, &feedbackRejection{http.StatusTooManyRequests, rejectRateLimited, "too much feedback from this address; slow down"}
	}
	var fb Feedback
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxFeedbackBytes))
	if err := dec.Decode(&fb); err != nil {
		return nil, &feedbackRejection{http.StatusBadRequest, rejectInvalid, "feedback is not valid JSON: " + err.Error()}
	}
	if fb.Reward == nil && fb.Label == nil {
		return nil, &feedbackRejection{http.StatusBadRequest, rejectInvalid, `feedback needs "reward", a number in [0,1], or "label", the true output`}
	}
	if fb.Reward != nil {
		if r := *fb.Reward; r < 0 || r > 1 || math.IsNaN(r) {
			return nil, &feedbackRejection{http.StatusBadRequest, rejectInvalid, fmt.Sprintf("reward is %g, want a number in [0,1]", r)}
		}
	}
	var label any
	if fb.Label != nil {
		if err := json.Unmarshal(fb.Label, &label); err != nil {
			return nil, &feedbackRejection{http.StatusBadRequest, rejectInvalid, "label is not valid JSON: " + err.Error()}
		}
	}
	vs, p, rej := rt.feedbackTarget(fb, now)
	if rej != nil {
		return nil, rej
	}
	if fb.Label != nil {
		if rej := rt.acceptLabel(vs, p, fb.RequestID, label, now); rej != nil {
			return nil, rej
		}
		if fb.Reward == nil {
			return vs, nil
		}
	}
	switch rt.feedback.once.claim(p, kindReward, now) {
	case claimDuplicate:
		return nil, &feedbackRejection{http.StatusConflict, rejectDuplicate, fmt.Sprintf("request id %q already has a reward", fb.RequestID)}
	case claimFull:
		return nil, &feedbackRejection{http.StatusServiceUnavailable, rejectFull, "too many request ids have feedback in the window; try again later"}
	}
	vs.recordReward(now, *fb.Reward)
	return vs, nil
}

// feedbackTarget is the version that answered fb's request id, when the
// id is one this router's key signed, issued within the window, and
// still remembered.
func (rt *Router) feedbackTarget(fb Feedback, now time.Time) (*versionStats, idPayload, *feedbackRejection) {
	if fb.RequestID == "" {
		msg := `feedback needs "request_id": send the X-Request-Id header of the answer being rewarded`
		if fb.Key != "" {
			msg = `feedback by "key" alone is not accepted (it needs no request, so anyone could reward the version a made-up user is routed to): ` +
				`send "request_id", the X-Request-Id header of the answer being rewarded, as {"request_id": "...", "reward": 1}`
		}
		return nil, idPayload{}, &feedbackRejection{http.StatusBadRequest, rejectUnknownID, msg}
	}
	p, ok := rt.ids.issuer.check(fb.RequestID)
	if !ok || p.issued().After(now.Add(idMaxSkew)) {
		return nil, p, &feedbackRejection{http.StatusNotFound, rejectUnknownID, fmt.Sprintf("request id %q was not issued by this router", fb.RequestID)}
	}
	if age := now.Sub(p.issued()); age > rt.feedback.window {
		return nil, p, &feedbackRejection{http.StatusGone, rejectExpired, fmt.Sprintf("request id %q was issued %s ago; feedback is taken for %s", fb.RequestID, age.Truncate(time.Second), rt.feedback.window)}
	}
	vs := rt.ids.get(fb.RequestID)
	if vs == nil {
		vs = rt.versionByRef(p.ref())
	}
	if vs == nil {
		return nil, p, &feedbackRejection{http.StatusNotFound, rejectForgotten, fmt.Sprintf("request id %q names no version of the routing table (the version is gone, or the request found no route)", fb.RequestID)}
	}
	if fb.Model != "" && fb.Model != vs.model || fb.Stage != "" && fb.Stage != vs.stage {
		return nil, p, &feedbackRejection{http.StatusNotFound, rejectUnknownID, fmt.Sprintf("request id %q was answered by %s/%s, not %s/%s", fb.RequestID, vs.model, vs.stage, fb.Model, fb.Stage)}
	}
	return vs, p, nil
}

// versionByRef finds the version of the live table that ref names, unless
// two share it.
func (rt *Router) versionByRef(ref uint32) *versionStats {
	if ref == 0 {
		return nil
	}
	var found *versionStats
	for _, r := range rt.table.Load().byName {
		for _, b := range r.backends {
			if b.stats.ref != ref || b.stats == found {
				continue
			}
			if found != nil {
				return nil
			}
			found = b.stats
		}
	}
	return found
}

// clientAddr is the host of the peer that posted.
func clientAddr(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

// Reward records a reward in [0,1] for one version of a live route, as
// feedback does, for callers in the same process.
func (rt *Router) Reward(model, stage, version string, reward float64) error {
	if reward < 0 || reward > 1 || math.IsNaN(reward) {
		return fmt.Errorf("reward is %g, want a number in [0,1]", reward)
	}
	r := rt.table.Load().byName[model+"/"+stage]
	if r == nil || r.backends[version] == nil {
		return fmt.Errorf("no version %q of %s/%s in the routing table", version, model, stage)
	}
	r.backends[version].stats.recordReward(rt.now(), reward)
	return nil
}
