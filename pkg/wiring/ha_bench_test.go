package wiring_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/admission"
	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/ha"
	"github.com/switchyard-dev/switchyard/pkg/ha/etcdtest"
	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/spec/spectest"
	"github.com/switchyard-dev/switchyard/pkg/wiring"
)

type benchRepo struct{ fsys fstest.MapFS }

func (r benchRepo) Fetch(context.Context) (string, error)                      { return "c1", nil }
func (r benchRepo) Tree(context.Context, string) (fs.FS, error)                { return r.fsys, nil }
func (r benchRepo) Write(context.Context, rollout.WriteCommit) (string, error) { return "", nil }
func (r benchRepo) Note(context.Context, string, []byte) error                 { return nil }
func (r benchRepo) NotesHead(context.Context) (string, error)                  { return "", nil }

// countingStore counts the keys written to etcd, and the calls that wrote
// them (a SaveAll is one call of a few transactions).
type countingStore struct {
	*ha.Store
	writes, calls atomic.Int64
}

func (s *countingStore) Save(k string, v []byte) error {
	s.writes.Add(1)
	s.calls.Add(1)
	return s.Store.Save(k, v)
}

func (s *countingStore) Delete(k string) error {
	s.writes.Add(1)
	s.calls.Add(1)
	return s.Store.Delete(k)
}

func (s *countingStore) SaveAll(values map[string][]byte) error {
	s.writes.Add(int64(len(values)))
	s.calls.Add(1)
	return s.Store.SaveAll(values)
}

type benchClock struct{ t atomic.Int64 }

func (c *benchClock) Now() time.Time { return time.Unix(0, c.t.Load()) }

// BenchmarkHAPass10000Models10Replicas is one reconcile pass of a leader
// over 10,000 models (spectest's generated tree, every strategy) whose
// router is a fleet of 10 standalone routers over HTTP, with the state in
// a real etcd and every write fenced. It reports the etcd writes per pass
// in steady state (the goal is none) and the first pass's time and writes.
func BenchmarkHAPass10000Models10Replicas(b *testing.B) { benchHAPass(b, 10000, 10, false) }

// BenchmarkHAPass10000Models10ReplicasMeasured is the same with the
// reconciler's measurer and 10s between passes, so that every model is
// due: each is measured (or, idle, its reference windows remembered) from
// its router stats, read from all 10 replicas (the Prometheus source it
// names does not answer: those checks have no data).
func BenchmarkHAPass10000Models10ReplicasMeasured(b *testing.B) { benchHAPass(b, 10000, 10, true) }

// BenchmarkHAPass1000Models10Replicas is the same over 1,000 models.
func BenchmarkHAPass1000Models10Replicas(b *testing.B) { benchHAPass(b, 1000, 10, false) }

func benchHAPass(b *testing.B, models, replicas int, measured bool) {
	srv := etcdtest.Start(b)
	var admins []string
	var first *router.Router
	for i := 0; i < replicas; i++ {
		rt := router.New(router.Options{})
		if first == nil {
			first = rt
		}
		b.Cleanup(func() { rt.Close() })
		s := httptest.NewServer(router.NewAdminHandler(rt, "tok"))
		b.Cleanup(s.Close)
		admins = append(admins, fmt.Sprintf("%q", s.URL))
	}
	fsys := fstest.MapFS{}
	for name, data := range spectest.Tree(models) {
		fsys[name] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(string(data), `router = "web"`, `router = "edge"`))}
	}
	fsys["rollouts/routers.hcl"] = &fstest.MapFile{Data: []byte(`router "edge" {
  type      = "builtin"
  admin     = [` + strings.Join(admins, ", ") + `]
  token_env = "EDGE_TOKEN"
}

metrics "prom" {
  type = "prometheus"
  url  = "http://127.0.0.1:9090"
}
`)}
	node, err := ha.Connect(ha.Config{Endpoints: []string{srv.Endpoint}, ID: "bench", LeaseTTL: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close()
	term, err := node.Campaign(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer term.Close()
	store := &countingStore{Store: term.Store()}
	clock := &benchClock{}
	clock.t.Store(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC).UnixNano())
	// A table of 10,000 routes takes longer than the default 2s per
	// replica to send on a shared machine.
	routers := &wiring.Routers{Getenv: func(string) string { return "tok" }, Now: clock.Now, ReplicaTimeout: time.Minute}
	defer routers.Close()
	deps := reconcile.Deps{
		Repo: benchRepo{fsys}, Check: admission.Checker("rollouts", "", nil, clock),
		Routers: routers, Store: store, Clock: clock,
	}
	if measured {
		deps.Measurer = &wiring.Measurer{Routers: routers, HTTP: &http.Client{Timeout: time.Second}, References: analysis.NewReferences()}
	}
	d, err := reconcile.New(reconcile.Config{PollInterval: time.Hour}, deps)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := d.Reconcile(context.Background()); err != nil {
		b.Fatal(err)
	}
	firstPass, firstWrites := time.Since(start), store.writes.Load()
	if n := len(d.Status().Models); n != models {
		b.Fatalf("%d models", n)
	}
	// Let every rollout the first pass started settle into steady state.
	for i := 0; i < 3; i++ {
		clock.t.Add(int64(time.Hour))
		_ = d.Reconcile(context.Background())
	}
	store.writes.Store(0)
	b.ResetTimer()
	step := time.Second
	if measured {
		// Every model's window is due: idle models on the builtin router
		// read their previous version's reference windows every 10s too.
		step = 10 * time.Second
	}
	for i := 0; i < b.N; i++ {
		clock.t.Add(int64(step))
		// Measured, the checks on the silent Prometheus source fail.
		if err := d.Reconcile(context.Background()); err != nil && !measured {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(store.writes.Load())/float64(b.N), "etcd-writes/pass")
	b.ReportMetric(firstPass.Seconds(), "first-pass-s")
	b.ReportMetric(float64(firstWrites), "first-pass-writes")
	// The table every replica is sent (the admin API takes at most
	// router.MaxTableBytes).
	if table, err := json.Marshal(first.Table()); err == nil {
		b.ReportMetric(float64(len(table))/(1<<20), "table-MiB")
	}
}
