package reconcile

import (
	"time"

	"github.com/switchyard-dev/switchyard/pkg/notify"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// History sizes: the status page draws each check's last CheckPoints
// measurements and lists the last RecentEvents events.
const (
	CheckPoints  = 60
	RecentEvents = 50
)

// Point is one measurement of a check.
type Point struct {
	At       time.Time `json:"at"`
	Version  string    `json:"version,omitempty"`
	Value    float64   `json:"value"`
	Baseline float64   `json:"baseline,omitempty"`
	Requests int64     `json:"requests"`
	Verdict  string    `json:"verdict"` // pass | fail | no_data
}

// history is the daemon's bounded memory of what it measured and did, for
// the status page. It lives in memory only: a restart starts it afresh.
// The pass owns it, like the rest of the daemon's state.
type history struct {
	checks map[string]*modelHistory // model key -> its checks
	events []notify.Event           // oldest first, at most RecentEvents
}

// modelHistory is one model's check rings during one rollout.
type modelHistory struct {
	rollout time.Time // StartedAt of the rollout measured (zero: none)
	points  map[string][]Point
}

// recordStep keeps the measurements a Step consumed. A new rollout starts
// the model's charts afresh: points of another pair of versions would
// mislead.
func (h *history) recordStep(key string, next rollout.ModelState) {
	if h.checks == nil {
		h.checks = map[string]*modelHistory{}
	}
	mh := h.checks[key]
	var started time.Time
	if next.Rollout != nil {
		started = next.Rollout.StartedAt
	}
	if mh == nil || (next.Rollout != nil && !mh.rollout.Equal(started)) {
		mh = &modelHistory{rollout: started, points: map[string][]Point{}}
		h.checks[key] = mh
	}
	for name, c := range next.Last {
		ps := mh.points[name]
		if n := len(ps); n > 0 && !c.At.After(ps[n-1].At) {
			continue // already kept
		}
		ps = append(ps, Point{At: c.At, Version: c.Version, Value: c.Value, Baseline: c.Baseline, Requests: c.Requests, Verdict: c.Verdict})
		if len(ps) > CheckPoints {
			ps = append(ps[:0], ps[len(ps)-CheckPoints:]...)
		}
		mh.points[name] = ps
	}
}

// forget drops the history of models no longer in the tree.
func (h *history) forget(keep func(key string) bool) {
	for k := range h.checks {
		if !keep(k) {
			delete(h.checks, k)
		}
	}
}

// recordEvent keeps ev among the recent events.
func (h *history) recordEvent(ev notify.Event) {
	h.events = append(h.events, ev)
	if len(h.events) > RecentEvents {
		h.events = append(h.events[:0], h.events[len(h.events)-RecentEvents:]...)
	}
}

// points is a copy of a check's ring, oldest first.
func (h *history) points(key, check string) []Point {
	mh := h.checks[key]
	if mh == nil {
		return nil
	}
	return append([]Point(nil), mh.points[check]...)
}

// recent is a copy of the recent events, newest first.
func (h *history) recent() []notify.Event {
	out := make([]notify.Event, len(h.events))
	for i, ev := range h.events {
		out[len(out)-1-i] = ev
	}
	return out
}

// decorate adds to a model's status what the history and the spec know:
// each check's thresholds and recent measurements, and, while a rollout
// runs, the checks not measured yet.
func (d *Daemon) decorate(ms *ModelStatus, m *spec.Model) {
	have := map[string]int{}
	for i, x := range ms.Measurements {
		have[x.Check] = i
	}
	rolling := ms.Rollout() != ""
	for _, c := range m.Checks {
		i, ok := have[c.Name]
		if !ok && !rolling {
			continue
		}
		if !ok {
			ms.Measurements = append(ms.Measurements, Measurement{Check: c.Name, Verdict: "no_data"})
			i = len(ms.Measurements) - 1
		}
		x := &ms.Measurements[i]
		x.Metric, x.Max, x.Min, x.MaxRatio, x.MinRatio = c.Metric, c.Max, c.Min, c.MaxRatio, c.MinRatio
		if x.Metric == "" {
			x.Metric = c.Query
		}
		x.History = d.hist.points(m.Key(), c.Name)
	}
}
