package router

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// idMemory remembers which version answered recent request ids, in bounded
// memory: a direct-mapped table where a newer id evicts an older one that
// hashes to the same slot. It also makes request ids.
type idMemory struct {
	seed   maphash.Seed
	slots  []idSlot
	mask   uint64
	locks  [64]sync.Mutex
	prefix string
	n      atomic.Uint64
}

type idSlot struct {
	h  uint64
	vs *versionStats
}

func newIDMemory(size int) *idMemory {
	n := 1
	for n < size {
		n <<= 1
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &idMemory{
		seed:   maphash.MakeSeed(),
		slots:  make([]idSlot, n),
		mask:   uint64(n - 1),
		prefix: strconv.FormatUint(uint64(binary.BigEndian.Uint16(b[:2]))<<32|uint64(binary.BigEndian.Uint32(b[2:])), 36) + "-",
	}
}

// next makes a request id unique to this router's lifetime.
func (m *idMemory) next() string {
	var buf [32]byte
	out := append(buf[:0], m.prefix...)
	out = strconv.AppendUint(out, m.n.Add(1), 36)
	return string(out)
}

func (m *idMemory) put(id string, vs *versionStats) {
	h := maphash.String(m.seed, id)
	i := h & m.mask
	l := &m.locks[i%uint64(len(m.locks))]
	l.Lock()
	m.slots[i] = idSlot{h: h, vs: vs}
	l.Unlock()
}

func (m *idMemory) get(id string) *versionStats {
	h := maphash.String(m.seed, id)
	i := h & m.mask
	l := &m.locks[i%uint64(len(m.locks))]
	l.Lock()
	s := m.slots[i]
	l.Unlock()
	if s.h != h {
		return nil
	}
	return s.vs
}

// Feedback is the body of POST /_switchyard/feedback: a reward in [0,1]
// for the version that answered RequestID, or for the version that the
// sticky Key of Model/Stage is routed to.
type Feedback struct {
	RequestID string   `json:"request_id,omitempty"`
	Model     string   `json:"model,omitempty"`
	Stage     string   `json:"stage,omitempty"`
	Key       string   `json:"key,omitempty"`
	Reward    *float64 `json:"reward"`
}

const maxFeedbackBytes = 64 << 10

func (rt *Router) serveFeedback(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "feedback is POSTed")
		return
	}
	var fb Feedback
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxFeedbackBytes))
	if err := dec.Decode(&fb); err != nil {
		writeError(w, http.StatusBadRequest, "feedback is not valid JSON: "+err.Error())
		return
	}
	vs, code, err := rt.feedbackTarget(fb)
	if err != nil {
		writeError(w, code, err.Error())
		return
	}
	vs.recordReward(rt.now(), *fb.Reward)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"model": vs.model, "stage": vs.stage, "version": vs.version})
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

func (rt *Router) feedbackTarget(fb Feedback) (*versionStats, int, error) {
	if fb.Reward == nil {
		return nil, http.StatusBadRequest, fmt.Errorf(`feedback needs "reward", a number in [0,1]`)
	}
	if r := *fb.Reward; r < 0 || r > 1 || math.IsNaN(r) {
		return nil, http.StatusBadRequest, fmt.Errorf("reward is %g, want a number in [0,1]", r)
	}
	switch {
	case fb.RequestID != "":
		vs := rt.ids.get(fb.RequestID)
		if vs == nil {
			return nil, http.StatusNotFound, fmt.Errorf("request id %q is unknown or too old", fb.RequestID)
		}
		return vs, 0, nil
	case fb.Key != "":
		r := rt.table.Load().byName[fb.Model+"/"+fb.Stage]
		if r == nil {
			return nil, http.StatusNotFound, fmt.Errorf("no route for model %q stage %q", fb.Model, fb.Stage)
		}
		rnd := rt.rands.get()
		b := r.versionForKey(fb.Key, rnd)
		rt.rands.put(rnd)
		if b == nil {
			return nil, http.StatusBadRequest, fmt.Errorf("route %s/%s has no sticky key: send request_id instead", fb.Model, fb.Stage)
		}
		return b.stats, 0, nil
	}
	return nil, http.StatusBadRequest, fmt.Errorf(`feedback needs "request_id", or "model", "stage" and "key"`)
}
