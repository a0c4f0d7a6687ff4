package router

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Model behaviour (SPEC.md §8): for a route whose table entry lists
// outputs, the router reads each answer's outputs (JSON pointers into a
// JSON body) into per-second sketches of the version that answered, and
// keeps them by request id until a label arrives as feedback, to score
// them. Answers of routes without outputs are never parsed.

// compileOutputs parses a route's output pointers; a malformed one is
// left out (the spec validator rejects them first).
func compileOutputs(ptrs []string) []behaviour.Pointer {
	var out []behaviour.Pointer
	for _, p := range ptrs {
		if pp, err := behaviour.ParsePointer(p); err == nil && p != "" {
			out = append(out, pp)
		}
	}
	return out
}

// outputBucket is one second of one version's outputs and label scores.
type outputBucket struct {
	sec      int64
	sketches map[string]*behaviour.Sketch
	quality  map[string]*behaviour.Quality
}

// outputStats is one version's ring of outputBuckets, allocated on the
// first answer read.
type outputStats struct {
	mu      sync.Mutex
	horizon int
	ring    []outputBucket
	hist    map[string]prometheus.Observer // numeric outputs, by pointer
}

func (o *outputStats) at(sec int64) *outputBucket {
	if o.ring == nil {
		o.ring = make([]outputBucket, o.horizon)
	}
	b := &o.ring[int(sec%int64(o.horizon))]
	if b.sec != sec {
		*b = outputBucket{sec: sec}
	}
	return b
}

// outputsOf returns vs's output stats, creating them on first use.
func (s *versionStats) outputsOf() *outputStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outputs == nil {
		s.outputs = &outputStats{horizon: s.horizon, hist: map[string]prometheus.Observer{}}
	}
	return s.outputs
}

// observeOutputs reads a 2xx answer's outputs (a route's pointers) into
// b's sketches, and keeps them under the request id for a later label (no
// id: a shadow's answer, not kept). body is nil when the answer was too
// large to keep; it counts as missing.
func (rt *Router) observeOutputs(ptrs []behaviour.Pointer, b *backend, id string, code int, body []byte) {
	if len(ptrs) == 0 || code < 200 || code > 299 {
		return
	}
	var doc any
	if body == nil || json.Unmarshal(body, &doc) != nil {
		doc = nil
	}
	now := rt.now()
	o := b.stats.outputsOf()
	outs := make([]behaviour.Output, len(ptrs))
	o.mu.Lock()
	bk := o.at(now.Unix())
	if bk.sketches == nil {
		bk.sketches = make(map[string]*behaviour.Sketch, len(ptrs))
	}
	for i, p := range ptrs {
		v, _, _, _ := p.Lookup(doc)
		out := behaviour.OutputOf(v)
		out.Version = b.version
		outs[i] = out
		sk := bk.sketches[p.Text]
		if sk == nil {
			sk = &behaviour.Sketch{}
			bk.sketches[p.Text] = sk
		}
		out.AddTo(sk)
		if out.Kind == behaviour.OutNumber {
			h := o.hist[p.Text]
			if h == nil {
				h = rt.metrics.outputs.WithLabelValues(b.stats.model, b.stats.stage, b.version, p.Text)
				o.hist[p.Text] = h
			}
			h.Observe(out.Num)
		}
	}
	o.mu.Unlock()
	if id != "" {
		for i, p := range ptrs {
			rt.recent.Put(now, id+"\x00"+p.Text, outs[i])
		}
	}
}

// sumOutputs adds the buckets of the whole seconds oldest..newest to out.
func (o *outputStats) sumOutputs(out *traffic.VersionStats, oldest, newest int64) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.ring {
		b := &o.ring[i]
		if b.sec < oldest || b.sec > newest || b.sec == 0 {
			continue
		}
		for p, sk := range b.sketches {
			if out.Outputs == nil {
				out.Outputs = map[string]behaviour.Sketch{}
			}
			cur := out.Outputs[p]
			cur.Merge(*sk)
			out.Outputs[p] = cur
		}
		for p, q := range b.quality {
			if out.Quality == nil {
				out.Quality = map[string]behaviour.Quality{}
			}
			cur := out.Quality[p]
			cur.Merge(*q)
			out.Quality[p] = cur
		}
	}
}

// acceptLabel scores a label (ground truth, a decoded JSON value) against
// the outputs kept for the request id, for vs, the version that answered
// it (feedbackTarget checked the id): accuracy, mae, rmse and log_loss by
// output. A request takes one label.
func (rt *Router) acceptLabel(vs *versionStats, p idPayload, id string, label any, now time.Time) *feedbackRejection {
	r := rt.table.Load().byName[vs.model+"/"+vs.stage]
	if r == nil || len(r.outputs) == 0 {
		return &feedbackRejection{http.StatusNotFound, rejectNoOutput,
			fmt.Sprintf("model %s/%s reads no outputs: no check has an output to score a label against", vs.model, vs.stage)}
	}
	switch rt.feedback.once.claim(p, kindLabel, now) {
	case claimDuplicate:
		return &feedbackRejection{http.StatusConflict, rejectDuplicate, fmt.Sprintf("request id %q already has a label", id)}
	case claimFull:
		return &feedbackRejection{http.StatusServiceUnavailable, rejectFull, "too many request ids have feedback in the window; try again later"}
	}
	scored := 0
	o := vs.outputsOf()
	for _, ptr := range r.outputs {
		out, err := rt.recent.Take(now, id+"\x00"+ptr.Text)
		if err != nil || out.Version != vs.version {
			continue
		}
		o.mu.Lock()
		b := o.at(now.Unix())
		if b.quality == nil {
			b.quality = map[string]*behaviour.Quality{}
		}
		q := b.quality[ptr.Text]
		if q == nil {
			q = &behaviour.Quality{}
			b.quality[ptr.Text] = q
		}
		q.Add(out, label)
		o.mu.Unlock()
		scored++
	}
	if scored == 0 {
		return &feedbackRejection{http.StatusNotFound, rejectNoOutput,
			fmt.Sprintf("request id %q: no output kept for it (answered before the route read outputs, not a 2xx, or evicted)", id)}
	}
	return nil
}

// newOutputHistogram is the Prometheus histogram of numeric outputs.
func newOutputHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchyard_output_value",
		Help:    "Numeric outputs of the answers (the JSON pointer of a behaviour check), by version.",
		Buckets: []float64{-1, 0, .05, .1, .2, .3, .4, .5, .6, .7, .8, .9, .95, 1, 2, 5, 10, 100, 1000},
	}, []string{"model", "stage", "version", "output"})
}

// recentOutputs is the router's store of outputs awaiting labels.
func newRecentOutputs(max int, ttl time.Duration) *behaviour.Recent {
	return &behaviour.Recent{Max: max, TTL: ttl}
}
