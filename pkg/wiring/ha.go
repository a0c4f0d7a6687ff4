package wiring

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/ha"
	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
	"github.com/switchyard-dev/switchyard/pkg/wait"
)

// Run reconciles until ctx ends. Alone, it runs the daemon. With etcd,
// it campaigns for leadership and, for each term it wins, runs a daemon
// restored from etcd until the term ends (its lease lost, or another
// replica leads), then campaigns again: a standby touches neither traffic
// nor Git.
func (r *Running) Run(ctx context.Context) error {
	if r.node == nil {
		return r.Daemon.Run(ctx)
	}
	r.log.Info("standby: campaigning for leadership in etcd", "id", r.node.ID())
	for ctx.Err() == nil {
		term, err := r.node.Campaign(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			r.log.Warn("campaigning for leadership failed; trying again", "err", err)
			_ = wait.Sleep(ctx, time.Second)
			continue
		}
		r.lead(ctx, term)
	}
	return nil
}

// lead runs one term: a daemon whose every state write, traffic change
// and Git write is fenced by the term, stopped as soon as the term ends.
func (r *Running) lead(ctx context.Context, term *ha.Term) {
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	r.log.Info("elected leader: resuming every model from the state in etcd", "id", r.node.ID())
	go func() {
		select {
		case <-term.Done():
			r.log.Error("lost the etcd lease: no longer the leader; stopped acting, traffic stays as it is", "id", r.node.ID())
			stop()
		case <-lctx.Done():
		}
	}()
	fence := func(ctx context.Context) error {
		err := term.Fence(ctx)
		if errors.Is(err, ha.ErrDeposed) {
			r.log.Error("deposed: another replica leads; stopped acting", "id", r.node.ID(), "err", err)
			stop()
		}
		return err
	}
	d, err := r.newDaemon(fencedStore{Store: term.Store(), deposed: stop}, fence)
	if err != nil {
		r.log.Error("cannot resume from the state in etcd; giving up the leadership", "err", err)
		r.resign(term)
		return
	}
	r.setCurrent(d)
	_ = d.Run(lctx)
	r.setCurrent(nil)
	// A new term starts from what the routers hold, not from this one's
	// cache (another leader may have moved a fleet's generation).
	r.Routers.Close()
	r.resign(term)
}

func (r *Running) resign(term *ha.Term) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = term.Resign(ctx)
}

func (r *Running) setCurrent(d *reconcile.Daemon) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.daemon, r.handler = d, nil
	if d != nil {
		r.handler = d.Handler(r.hook)
	}
}

func (r *Running) current() *reconcile.Daemon {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.daemon
}

// trigger asks the running daemon for a fetch; on a standby the webhook
// is accepted and the leader's next poll picks the push up.
func (r *Running) trigger() {
	if d := r.current(); d != nil {
		d.Trigger()
	}
}

// Status is the daemon's status with every router fleet's replicas and,
// with etcd, this replica's role and the leader's ID.
func (r *Running) Status(ctx context.Context) reconcile.Status {
	var s reconcile.Status
	if d := r.current(); d != nil {
		s = d.Status()
	} else {
		s = reconcile.Status{Models: []reconcile.ModelStatus{}, Now: r.clock.Now()}
	}
	if f := r.Routers.Fleets(); len(f) > 0 {
		s.Fleets = f
	}
	if r.node != nil {
		s.ID, s.Role = r.node.ID(), "standby"
		if r.current() != nil {
			s.Role = "leader"
		}
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if l, err := r.node.Leader(lctx); err == nil {
			s.Leader = l
		} else {
			s.FetchError = "cannot read the leader from etcd: " + err.Error()
		}
	}
	return s
}

// ServeHTTP is the reconciler's HTTP surface: the running daemon's, with
// GET /api/status from Status. A standby answers the status, accepts the
// webhook (the leader's next fetch picks the push up) and refuses the rest.
func (r *Running) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodGet && req.URL.Path == "/api/status" {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r.Status(req.Context()))
		return
	}
	r.mu.Lock()
	h := r.handler
	r.mu.Unlock()
	if h != nil {
		h.ServeHTTP(w, req)
		return
	}
	if req.Method == http.MethodPost && req.URL.Path == "/webhook/github" && r.hook != nil {
		r.hook.ServeHTTP(w, req)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "this reconciler is a standby; ask the leader (GET /api/status names it)"})
}

// fencedStore stops the term when a write finds it deposed.
type fencedStore struct {
	*ha.Store
	deposed func()
}

func (s fencedStore) Save(key string, value []byte) error {
	return s.check(s.Store.Save(key, value))
}

func (s fencedStore) Delete(key string) error { return s.check(s.Store.Delete(key)) }

// SaveAll writes many states in a few fenced transactions.
func (s fencedStore) SaveAll(values map[string][]byte) error {
	return s.check(s.Store.SaveAll(values))
}

var _ reconcile.BatchStore = fencedStore{}

func (s fencedStore) check(err error) error {
	if errors.Is(err, ha.ErrDeposed) {
		s.deposed()
	}
	return err
}

// fencedRepo writes to Git only while the term leads. It reads as the
// repoAdapter it wraps (own outcome commits, opened pull requests).
type fencedRepo struct {
	*repoAdapter
	fence func(context.Context) error
}

func (f fencedRepo) Write(ctx context.Context, o rollout.WriteCommit) (string, error) {
	if err := f.fence(ctx); err != nil {
		return "", err
	}
	return f.repoAdapter.Write(ctx, o)
}

func (f fencedRepo) Note(ctx context.Context, commit string, note []byte) error {
	if err := f.fence(ctx); err != nil {
		return err
	}
	return f.repoAdapter.Note(ctx, commit, note)
}

func (f fencedRepo) CloseStalePullRequests(ctx context.Context, awaiting map[string]rollout.WriteCommit, why func(key string) string) ([]string, error) {
	if err := f.fence(ctx); err != nil {
		return nil, err
	}
	return f.repoAdapter.CloseStalePullRequests(ctx, awaiting, why)
}

// fencedRouters changes traffic only while the term leads.
type fencedRouters struct {
	inner reconcile.Routers
	fence func(context.Context) error
}

func (f fencedRouters) Target(ctx context.Context, r *spec.Router) (reconcile.Target, error) {
	t, err := f.inner.Target(ctx, r)
	if err != nil {
		return nil, err
	}
	return fencedTarget{inner: t, fence: f.fence}, nil
}

type fencedTarget struct {
	inner reconcile.Target
	fence func(context.Context) error
}

func (f fencedTarget) Apply(ctx context.Context, t traffic.Table) error {
	if err := f.fence(ctx); err != nil {
		return err
	}
	return f.inner.Apply(ctx, t)
}

// Resync repairs a fleet's stale replicas, fenced like Apply.
func (f fencedTarget) Resync(ctx context.Context) error {
	rs, ok := f.inner.(reconcile.Resyncer)
	if !ok {
		return nil
	}
	if err := f.fence(ctx); err != nil {
		return err
	}
	return rs.Resync(ctx)
}

// Replicas reports the inner target's replicas (none when it has none),
// so that a held step names the replicas behind under HA too.
func (f fencedTarget) Replicas() []traffic.ReplicaStatus {
	if rs, ok := f.inner.(reconcile.Replicated); ok {
		return rs.Replicas()
	}
	return nil
}
