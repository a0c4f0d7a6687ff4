package reconcile

import (
	"context"
	"io/fs"
	"runtime"
	"sort"
	"testing"
	"testing/fstest"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/spec/spectest"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// manyModels is a repository of n production models, one file each, in
// every strategy (spectest's generated tree).
func manyModels(n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range spectest.Tree(n) {
		fsys[name] = &fstest.MapFile{Data: data}
	}
	return fsys
}

type treeRepo struct{ fsys fstest.MapFS }

func (r treeRepo) Fetch(context.Context) (string, error)                      { return "c1", nil }
func (r treeRepo) Tree(context.Context, string) (fs.FS, error)                { return r.fsys, nil }
func (r treeRepo) Write(context.Context, rollout.WriteCommit) (string, error) { return "", nil }
func (r treeRepo) Note(context.Context, string, []byte) error                 { return nil }
func (r treeRepo) NotesHead(context.Context) (string, error)                  { return "", nil }

// BenchmarkReconcile1000 is one full reconcile pass over 1,000 models in
// steady state (the head is already validated; every model is stepped,
// its table compared with the one applied). It also reports the heap in
// use after the passes, as the daemon's steady-state memory.
func BenchmarkReconcile1000(b *testing.B) {
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	rt := router.New(router.Options{Now: clock.Now})
	defer rt.Close()
	d, err := New(Config{PollInterval: time.Hour}, Deps{
		Repo: treeRepo{manyModels(1000)}, Check: check,
		Routers: routerTargets{rt}, Clock: clock, Store: &memStore{m: map[string][]byte{}},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Reconcile(context.Background()); err != nil {
		b.Fatal(err)
	}
	if n := len(d.Status().Models); n != 1000 {
		b.Fatalf("%d models", n)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clock.Advance(time.Second)
		if err := d.Reconcile(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
}

// BenchmarkFirstPass1000 is the first pass over a new head of 1,000
// models: load, validate, step every model, apply one table.
func BenchmarkFirstPass1000(b *testing.B) {
	fsys := manyModels(1000)
	for i := 0; i < b.N; i++ {
		clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
		rt := router.New(router.Options{Now: clock.Now})
		d, err := New(Config{PollInterval: time.Hour}, Deps{
			Repo: treeRepo{fsys}, Check: check, Routers: routerTargets{rt}, Clock: clock,
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Reconcile(context.Background()); err != nil {
			b.Fatal(err)
		}
		rt.Close()
	}
}

type routerTargets struct{ rt *router.Router }

func (r routerTargets) Target(context.Context, *spec.Router) (Target, error) { return r, nil }
func (r routerTargets) Apply(_ context.Context, t traffic.Table) error       { return r.rt.Update(t) }

// timedTarget records when a table restoring 100% on a version lands.
type timedTarget struct {
	rt       *router.Router
	restored time.Time
	want     string
}

func (t *timedTarget) Target(context.Context, *spec.Router) (Target, error) { return t, nil }
func (t *timedTarget) Apply(_ context.Context, tb traffic.Table) error {
	if err := t.rt.Update(tb); err != nil {
		return err
	}
	for _, w := range tb.Routes[0].Weights {
		if w.Version == t.want && w.Percent == 100 && t.restored.IsZero() {
			t.restored = time.Now()
		}
	}
	return nil
}

// timedMeasurer reports a failing error rate for v3 and records when the
// failing measurement was handed to the engine.
type timedMeasurer struct {
	fakeMeasurer
	at time.Time
}

func (m *timedMeasurer) Observe(ctx context.Context, tree *spec.Tree, md *spec.Model, st rollout.ModelState, now time.Time) (rollout.Observations, error) {
	o, err := m.fakeMeasurer.Observe(ctx, tree, md, st, now)
	if _, ok := o.Checks["errors"]; ok && o.Checks["errors"].Version == "v3" && m.at.IsZero() {
		m.at = time.Now()
	}
	return o, err
}

// BenchmarkFailureToTrafficRestored measures, on the real builtin router,
// the time from a failing measurement reaching the engine to the router
// holding 100% on the previous version. Reported as the median over b.N
// failures, in microseconds.
func BenchmarkFailureToTrafficRestored(b *testing.B) {
	var samples []time.Duration
	for i := 0; i < b.N; i++ {
		clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
		rt := router.New(router.Options{Now: clock.Now})
		repo := newFakeRepo()
		repo.commit("v2")
		tgt := &timedTarget{rt: rt, want: "v2"}
		ms := &timedMeasurer{fakeMeasurer: fakeMeasurer{errorRate: map[string]float64{"v3": 0.5}}}
		d, err := New(Config{PollInterval: time.Second}, Deps{Repo: repo, Check: check, Routers: tgt, Measurer: ms, Clock: clock})
		if err != nil {
			b.Fatal(err)
		}
		_ = d.Reconcile(context.Background())
		repo.commit("v3")
		tgt.restored = time.Time{}
		for j := 0; j < 30 && (tgt.restored.IsZero() || ms.at.IsZero()); j++ {
			clock.Advance(time.Second)
			_ = d.Reconcile(context.Background())
		}
		if tgt.restored.IsZero() || ms.at.IsZero() {
			b.Fatal("the failure did not restore traffic")
		}
		samples = append(samples, tgt.restored.Sub(ms.at))
		rt.Close()
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds()), "us-median")
}
