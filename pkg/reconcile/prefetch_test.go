package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// readAheadMeasurer records, in order, each pass's Prefetch and each
// model's Observe.
type readAheadMeasurer struct {
	fakeMeasurer
	calls []string
}

func (r *readAheadMeasurer) Prefetch(ctx context.Context, tree *spec.Tree, states map[string]rollout.ModelState, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var keys []string
	for _, m := range tree.Models {
		if st, ok := states[m.Key()]; ok && st.Phase != "" {
			keys = append(keys, m.Key()+"@"+string(st.Phase))
		}
	}
	r.calls = append(r.calls, "prefetch "+strings.Join(keys, ","))
}

func (r *readAheadMeasurer) Observe(ctx context.Context, tree *spec.Tree, m *spec.Model, st rollout.ModelState, now time.Time) (rollout.Observations, error) {
	r.mu.Lock()
	r.calls = append(r.calls, "observe "+m.Key())
	r.mu.Unlock()
	return r.fakeMeasurer.Observe(ctx, tree, m, st, now)
}

// A measurer that reads ahead is handed every model and its state once a
// pass, before any model is measured.
func TestPrefetchBeforeEveryPass(t *testing.T) {
	h := newHarness(t)
	ms := &readAheadMeasurer{fakeMeasurer: fakeMeasurer{errorRate: map[string]float64{}}}
	d, err := New(Config{PollInterval: time.Second}, Deps{Repo: h.repo, Check: check, Routers: h.target, Measurer: ms, Store: h.store, Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	h.repo.commit("v1")
	h.run(2, time.Second)
	got := strings.Join(ms.calls, "; ")
	if want := "prefetch ; prefetch fraud/production@idle; observe fraud/production"; got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
}
