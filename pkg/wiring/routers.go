package wiring

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/targets"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Routers creates one target per router block on first use. A builtin
// router with `listen` is started in this process on that address.
type Routers struct {
	Getenv     func(string) string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
	Runner     targets.Runner // nil: exec
	// ReadFile reads a router block's ca_file (default os.ReadFile).
	ReadFile func(string) ([]byte, error)
	// ReplicaTimeout bounds one call to one replica of a router fleet
	// (0: targets.DefaultReplicaTimeout).
	ReplicaTimeout time.Duration

	mu      sync.Mutex
	entries map[string]*routerEntry
}

type routerEntry struct {
	spec    spec.Router
	target  targets.Target
	inproc  *router.Router
	server  *router.Server
	stats   analysis.RangeFunc
	batch   func(ctx context.Context, qs []traffic.StatsQuery) ([]traffic.Stats, []error)
	closeFn func()
}

var _ reconcile.Routers = (*Routers)(nil)

// Target returns the router block's target, (re)creating it when the
// block changed.
func (rs *Routers) Target(ctx context.Context, r *spec.Router) (reconcile.Target, error) {
	e, err := rs.entry(ctx, r)
	if err != nil {
		return nil, err
	}
	return e.target, nil
}

func (rs *Routers) entry(ctx context.Context, r *spec.Router) (*routerEntry, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.entries == nil {
		rs.entries = map[string]*routerEntry{}
	}
	if e, ok := rs.entries[r.Name]; ok {
		if sameRouter(e.spec, *r) {
			return e, nil
		}
		e.closeFn()
		delete(rs.entries, r.Name)
	}
	e, err := rs.start(r)
	if err != nil {
		return nil, err
	}
	rs.entries[r.Name] = e
	return e, nil
}

// sameRouter reports whether two blocks describe the same router (the
// file it is written in does not matter).
func sameRouter(a, b spec.Router) bool {
	a.File, b.File = "", ""
	return reflect.DeepEqual(a, b)
}

func (rs *Routers) start(r *spec.Router) (*routerEntry, error) {
	deps := targets.Deps{Getenv: rs.Getenv, Runner: rs.Runner}
	e := &routerEntry{spec: *r, closeFn: func() {}}
	if r.Type == "builtin" && r.Admin == "" {
		logger := rs.Logger
		if logger == nil {
			logger = slog.New(slog.DiscardHandler)
		}
		var reg prometheus.Registerer
		if rs.Registerer != nil {
			// Several builtin routers share the reconciler's /metrics: a
			// router label keeps their series apart.
			reg = prometheus.WrapRegistererWith(prometheus.Labels{"router": r.Name}, rs.Registerer)
		}
		opts := router.Options{Now: rs.Now, Logger: logger.With("router", r.Name), Registerer: reg}
		if r.FeedbackTokenEnv != "" {
			if rs.Getenv != nil {
				opts.FeedbackToken = rs.Getenv(r.FeedbackTokenEnv)
			}
			if opts.FeedbackToken == "" {
				return nil, fmt.Errorf("router %q: environment variable %s (feedback_token_env) is empty or unset", r.Name, r.FeedbackTokenEnv)
			}
		}
		var tlsCfg *tls.Config
		if r.TLSCert != "" {
			cr, err := router.NewCertReloader(r.TLSCert, r.TLSKey, router.CertOptions{Now: rs.Now, Logger: opts.Logger})
			if err != nil {
				return nil, fmt.Errorf("router %q: %w", r.Name, err)
			}
			tlsCfg = router.TLSConfig(cr)
		}
		rt := router.New(opts)
		ln, err := net.Listen("tcp", r.Listen)
		if err != nil {
			rt.Close()
			return nil, fmt.Errorf("router %q: cannot listen on %s: %w", r.Name, r.Listen, err)
		}
		srv := router.NewServer(rt, router.ServerOptions{ReadHeaderTimeout: 10 * time.Second})
		serve := func() error { return srv.Serve(ln) }
		if tlsCfg != nil {
			serve = func() error { return srv.ServeTLS(ln, tlsCfg) }
		}
		go func() {
			if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("router stopped", "router", r.Name, "err", err)
			}
		}()
		deps.Builtin = rt
		e.inproc, e.server = rt, srv
		e.stats = func(ctx context.Context, model, stage string, from, to time.Time) (traffic.Stats, error) {
			return rt.ModelStatsRange(model, stage, from, to), nil
		}
		e.batch = func(ctx context.Context, qs []traffic.StatsQuery) ([]traffic.Stats, []error) {
			out := make([]traffic.Stats, len(qs))
			for i, q := range qs {
				out[i] = rt.ModelStatsRange(q.Model, q.Stage, time.Unix(q.From, 0), time.Unix(q.To, 0))
			}
			return out, make([]error, len(qs))
		}
		e.closeFn = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			_ = rt.Shutdown(ctx)
			_ = rt.Close()
		}
	}
	if rs.Logger != nil {
		deps.Logger = rs.Logger
	}
	deps.Now = rs.Now
	deps.ReplicaTimeout = rs.ReplicaTimeout
	client := &http.Client{Timeout: 10 * time.Second}
	if r.Type == "builtin" && r.Admin != "" && r.CAFile != "" {
		tr, err := rs.adminTransport(r)
		if err != nil {
			e.closeFn()
			return nil, err
		}
		client.Transport = tr
		deps.HTTPClient = client
	}
	t, err := targets.New(r, deps)
	if err != nil {
		e.closeFn()
		return nil, err
	}
	e.target = t
	if r.Type == "builtin" && r.Admin != "" {
		token := ""
		if r.TokenEnv != "" && rs.Getenv != nil {
			token = rs.Getenv(r.TokenEnv)
		}
		e.stats = (&analysis.StatsClient{BaseURL: r.Admin, Token: token, HTTP: client}).StatsRange
		if fleet, ok := t.(*targets.Fleet); ok {
			// A fleet's window is the sum of its replicas', and no data
			// unless every replica was read and whole.
			fs := analysis.FleetStats{Ready: fleet.Measurable}
			fb := analysis.FleetBatch{Ready: fleet.Measurable}
			for _, a := range fleet.Admins() {
				c := &analysis.StatsClient{BaseURL: a, Token: token, HTTP: client}
				fs.Replicas = append(fs.Replicas, c.StatsRange)
				fb.Replicas = append(fb.Replicas, c.Batch)
			}
			e.stats, e.batch = fs.StatsRange, fb.Batch
		}
	}
	return e, nil
}

// adminTransport trusts the CAs in the router block's ca_file, for a
// standalone router's https:// admin API.
func (rs *Routers) adminTransport(r *spec.Router) (*http.Transport, error) {
	read := rs.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	pem, err := read(r.CAFile)
	if err != nil {
		return nil, fmt.Errorf("router %q: ca_file: %w", r.Name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("router %q: ca_file %s holds no PEM certificate", r.Name, r.CAFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}

// Fleets reports, per router fleet started so far, every replica's table
// generation, last contact and last error.
func (rs *Routers) Fleets() map[string][]targets.ReplicaStatus {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := map[string][]targets.ReplicaStatus{}
	for name, e := range rs.entries {
		if f, ok := e.target.(reconcile.Replicated); ok {
			if reps := f.Replicas(); len(reps) > 0 {
				out[name] = reps
			}
		}
	}
	return out
}

// StatsRange returns the measurements of one model at one stage by a
// router that measures itself (the builtin router, in-process or over its
// admin API) over the whole seconds from from up to, not including, to's
// second.
func (rs *Routers) StatsRange(ctx context.Context, r *spec.Router, model, stage string, from, to time.Time) (traffic.Stats, error) {
	e, err := rs.entry(ctx, r)
	if err != nil {
		return traffic.Stats{}, err
	}
	if e.stats == nil {
		return traffic.Stats{}, fmt.Errorf("router %q (%s) does not measure traffic itself: use a metrics source", r.Name, r.Type)
	}
	return e.stats(ctx, model, stage, from, to)
}

// StatsBatch reads many models' stats from one router that measures
// itself in one request per replica (an in-process router: no request),
// one answer or error per query. ok is false when the router cannot
// (it does not measure itself, or is not a fleet or in-process): read
// model by model then.
func (rs *Routers) StatsBatch(ctx context.Context, r *spec.Router, qs []traffic.StatsQuery) (stats []traffic.Stats, errs []error, ok bool) {
	e, err := rs.entry(ctx, r)
	if err != nil || e.batch == nil {
		return nil, nil, false
	}
	stats, errs = e.batch(ctx, qs)
	return stats, errs, true
}

// Close stops every in-process router.
func (rs *Routers) Close() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for n, e := range rs.entries {
		e.closeFn()
		delete(rs.entries, n)
	}
}
