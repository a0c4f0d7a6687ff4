// Package router is Switchyard's builtin data plane: it proxies each
// model's requests to a version chosen from an atomically swapped routing
// table (weighted split, sticky users, preview header, Thompson-sampling
// bandit), copies requests to a shadow and compares the answers, retries on
// a fallback, takes feedback, and measures it all per model, stage and
// version.
package router

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Options configure a Router. Zero values take the defaults noted.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Transport carries live requests, and shadow copies when it is set
	// (default: the router's own keep-alive HTTP/1.1 transport, see
	// h1.Transport, with BackendTimeout as its response header timeout;
	// shadow copies then get a pool of their own).
	Transport http.RoundTripper
	// BackendTimeout bounds the wait for a live backend's response headers
	// when the default transport is used (default 30s; like every timeout
	// of the router, it fires up to an eighth later: h1.Deadlines).
	BackendTimeout time.Duration
	// Seed seeds the generators of the weighted split and the bandit.
	Seed uint64
	// ShadowQueue is how many shadow copies may wait (default 1024);
	// ShadowWorkers send them (default 32; 64/ShadowPipeline with
	// pipelining, so that copies wait to be batched); ShadowTimeout bounds
	// each (default 5s).
	ShadowQueue   int
	ShadowWorkers int
	ShadowTimeout time.Duration
	// ShadowPipeline, above 1, lets each shadow worker send up to that
	// many waiting copies to an http:// shadow in one write over its own
	// connection (HTTP/1.1 pipelining) instead of one by one through
	// Transport: far less CPU per copy, for shadows that handle pipelining.
	ShadowPipeline int
	// MaxBodyBytes is the most of a request or response body buffered for
	// shadow copies, comparisons and fallback replays (default 1 MiB).
	// Larger requests are proxied without a shadow copy or a fallback.
	MaxBodyBytes int64
	// ReadFile reads the routes' CA files (default os.ReadFile).
	ReadFile func(string) ([]byte, error)
	// StatsHorizon is the longest window Stats can cover (default 10m).
	StatsHorizon time.Duration
	// RequestIDs is how many recent request ids are remembered for
	// feedback (default 65536).
	RequestIDs int
	// RequestIDKey signs the request ids the router issues; feedback is
	// taken only for ids it signed. Routers of a fleet share one so that
	// feedback may reach any of them (default: random, this router only).
	RequestIDKey []byte
	// FeedbackWindow is how long after its request feedback is taken
	// (default 24h).
	FeedbackWindow time.Duration
	// FeedbackIDs is the most request ids with feedback remembered within
	// the window, to take each kind once per id; past it feedback is
	// refused (default 1<<20).
	FeedbackIDs int
	// FeedbackToken, when set, is the bearer token feedback must carry.
	FeedbackToken string
	// FeedbackRate, above 0, is how many feedback posts per second one
	// client address may make.
	FeedbackRate int
	// Logger receives operational messages (default: discarded).
	Logger *slog.Logger
	// Registerer, when set, also receives the router's Prometheus
	// collectors; MetricsHandler always serves them.
	Registerer prometheus.Registerer
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	if o.BackendTimeout <= 0 {
		o.BackendTimeout = 30 * time.Second
	}
	if o.Transport == nil {
		o.Transport = h1.NewTransport(o.BackendTimeout, 0, newTransport(o.BackendTimeout))
	}
	if o.ShadowQueue <= 0 {
		o.ShadowQueue = 1024
	}
	if o.ShadowWorkers <= 0 {
		o.ShadowWorkers = 32
		if o.ShadowPipeline > 1 {
			// A worker sends whatever copies wait when it is free: many
			// workers each take one copy as it comes and batch nothing.
			// As many copies may be in flight as with 64 workers of one.
			o.ShadowWorkers = max(1, 64/o.ShadowPipeline)
		}
	}
	if o.ShadowTimeout <= 0 {
		o.ShadowTimeout = 5 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.StatsHorizon < time.Second {
		o.StatsHorizon = 10 * time.Minute
	}
	if o.RequestIDs <= 0 {
		o.RequestIDs = 1 << 16
	}
	if o.FeedbackWindow <= 0 {
		o.FeedbackWindow = 24 * time.Hour
	}
	if o.FeedbackIDs <= 0 {
		o.FeedbackIDs = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func newTransport(headerTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass bodies through as the backend encoded them
		// https:// versions whose server offers HTTP/2 by ALPN are
		// reached over it (multiplexed); HTTP/1.1 otherwise.
		ForceAttemptHTTP2: true,
	}
}

// Router is the builtin router. Its methods are safe for concurrent use.
type Router struct {
	opts         Options
	now          func() time.Time
	table        atomic.Pointer[compiled]
	rands        *randPool
	metrics      *metrics
	ids          *idMemory
	feedback     *feedbackGuard
	recent       *behaviour.Recent // outputs awaiting labels (outputs.go)
	shadow       *shadowQueue
	bufs         sync.Pool // *bytes.Buffer for captured live answers
	exch         sync.Pool // *exchange
	copyBufs     copyPool
	ownTransport *h1.Transport // Options.Transport when it is the router's own
	proxyLog     *log.Logger   // ReverseProxy's own messages, at debug level

	mu      sync.Mutex // serialises Update and guards stats, byModel and cas
	stats   map[[3]string]*versionStats
	byModel map[[2]string][]*versionStats // stats by model and stage
	cas     map[string]*caTransport       // by CA file (backendtls.go)
	h2c     *h2cTransport                 // h2c:// versions (grpc.go)

	// servingSince is when the router was first given a table (nil
	// before): its measurements cover nothing before. Kept with its
	// monotonic reading, so that a wall clock stepped back does not
	// shorten how long the router has served.
	servingSince atomic.Pointer[time.Time]
}

// New returns a router with an empty table (every path answers 404) and
// starts its shadow workers; Close stops them.
func New(opts Options) *Router {
	ownTransport := opts.Transport == nil
	opts.defaults()
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		// Still served by MetricsHandler; typically a second live router
		// on the same registerer (wrap it with a constant label).
		opts.Logger.Warn("router metrics not registered with the given registerer", "err", err)
	}
	rt := &Router{
		opts:    opts,
		now:     opts.Now,
		rands:   newRandPool(opts.Seed),
		metrics: m,
		ids:     newIDMemory(opts.RequestIDs, opts.RequestIDKey),
		recent:  newRecentOutputs(opts.RequestIDs, opts.FeedbackWindow),
		stats:   map[[3]string]*versionStats{},
		byModel: map[[2]string][]*versionStats{},
	}
	rt.feedback = newFeedbackGuard(opts)
	rt.proxyLog = slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug)
	rt.exch.New = func() any { return new(exchange) }
	rt.ownTransport, _ = opts.Transport.(*h1.Transport)
	rt.h2c = newH2CTransport(opts.BackendTimeout)
	rt.table.Store(&compiled{byPath: map[string]*route{}, byName: map[string]*route{}})
	rt.shadow = newShadowQueue(rt)
	rt.shadow.transport = opts.Transport
	if ownTransport {
		// Shadows get their own pool, whose deadline bounds each whole
		// copy: no timer per copy.
		st := h1.NewTransport(opts.ShadowTimeout, opts.ShadowTimeout, newTransport(opts.ShadowTimeout))
		rt.shadow.transport, rt.shadow.bounded = st, true
	}
	return rt
}

// Update validates t and, when it can be served, swaps it in atomically:
// requests in flight finish on the table they started with and new ones
// see only the new one. A bad table changes nothing.
func (rt *Router) Update(t traffic.Table) error {
	if err := validate(t); err != nil {
		rt.metrics.tableUpdates.WithLabelValues("rejected").Inc()
		return fmt.Errorf("routing table rejected: %w", err)
	}
	rt.mu.Lock()
	cas, err := rt.caTransports(t)
	if err != nil {
		rt.mu.Unlock()
		rt.metrics.tableUpdates.WithLabelValues("rejected").Inc()
		return fmt.Errorf("routing table rejected: %w", err)
	}
	rt.swapCATransports(cas)
	c := rt.compile(t)
	rt.table.Store(c)
	if rt.servingSince.Load() == nil {
		now := rt.now()
		rt.servingSince.Store(&now)
	}
	rt.mu.Unlock()
	rt.metrics.tableUpdates.WithLabelValues("applied").Inc()
	rt.metrics.routes.Set(float64(len(t.Routes)))
	rt.opts.Logger.Info("routing table applied", "routes", len(t.Routes), "generation", t.Generation)
	return nil
}

// ServingSince is when the router was first given a table (zero before
// any): its measurements cover nothing before, whatever it measured in
// a previous life.
func (rt *Router) ServingSince() time.Time {
	if p := rt.servingSince.Load(); p != nil {
		return *p
	}
	return time.Time{}
}

// Table returns a copy of the live routing table.
func (rt *Router) Table() traffic.Table {
	return copyTable(rt.table.Load().table)
}

// statsFor returns the measurements of one version, kept across table
// updates. The caller holds rt.mu.
func (rt *Router) statsFor(model, stage, version string) *versionStats {
	k := [3]string{model, stage, version}
	s, ok := rt.stats[k]
	if !ok {
		s = newVersionStats(model, stage, version, int(rt.opts.StatsHorizon/time.Second), rt.metrics)
		rt.stats[k] = s
		rt.byModel[[2]string{model, stage}] = append(rt.byModel[[2]string{model, stage}], s)
	}
	return s
}

// Stats returns what was measured over the last window (at most the
// StatsHorizon; the current second included), for every version of the
// live table and every other version that was measured in that window,
// sorted by model, stage, version.
func (rt *Router) Stats(window time.Duration) traffic.Stats {
	now := rt.now()
	return rt.collect(window, "", "", func(s *versionStats) traffic.VersionStats { return s.snapshot(now, window) })
}

// StatsRange is Stats over the whole seconds from from up to, not
// including, to's second: successive ranges that share their ends count
// every measurement exactly once (the reconciler's windows tile time so).
func (rt *Router) StatsRange(from, to time.Time) traffic.Stats {
	return rt.ModelStatsRange("", "", from, to)
}

// ModelStatsRange is StatsRange of one model at one stage only (model "":
// every model). The reconciler measures each model this way: its cost
// does not grow with the other models on the router.
func (rt *Router) ModelStatsRange(model, stage string, from, to time.Time) traffic.Stats {
	lo, hi := from.Unix(), to.Unix()-1
	window := time.Duration(max(hi-lo+1, 0)) * time.Second
	return rt.collect(window, model, stage, func(s *versionStats) traffic.VersionStats {
		if hi < lo {
			return traffic.VersionStats{Model: s.model, Stage: s.stage, Version: s.version}
		}
		return s.sum(lo, hi)
	})
}

// collect gathers one snapshot per measured version (of one model and
// stage, or of all with model ""): the live table's versions always,
// others only when they measured something.
func (rt *Router) collect(window time.Duration, model, stage string, snapshot func(*versionStats) traffic.VersionStats) traffic.Stats {
	live := map[[3]string]bool{}
	c := rt.table.Load()
	routes := c.table.Routes
	if model != "" {
		routes = nil
		if r, ok := c.byName[model+"/"+stage]; ok {
			for v := range r.backends {
				live[[3]string{model, stage, v}] = true
			}
		}
	}
	for _, r := range routes {
		for v := range r.Backends {
			live[[3]string{r.Model, r.Stage, v}] = true
		}
	}
	rt.mu.Lock()
	var all []*versionStats
	if model != "" {
		all = append(all, rt.byModel[[2]string{model, stage}]...)
	} else {
		all = make([]*versionStats, 0, len(rt.stats))
		for _, s := range rt.stats {
			all = append(all, s)
		}
	}
	rt.mu.Unlock()
	out := traffic.Stats{Window: window}
	for _, s := range all {
		vs := snapshot(s)
		if !live[[3]string{s.model, s.stage, s.version}] && vs.Requests == 0 && vs.ShadowPairs == 0 && vs.ShadowDropped == 0 && vs.Rewards == 0 {
			continue
		}
		out.Versions = append(out.Versions, vs)
	}
	sort.Slice(out.Versions, func(i, j int) bool {
		a, b := out.Versions[i], out.Versions[j]
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		if a.Stage != b.Stage {
			return a.Stage < b.Stage
		}
		return a.Version < b.Version
	})
	return out
}

// MetricsHandler serves the router's Prometheus metrics.
func (rt *Router) MetricsHandler() http.Handler { return rt.metrics.handler() }

// Shutdown stops taking shadow copies and waits for the queued ones to be
// sent and compared, or for ctx to end (then the rest are abandoned). It
// also unregisters the metrics from Options.Registerer.
func (rt *Router) Shutdown(ctx context.Context) error {
	err := rt.shadow.shutdown(ctx)
	for _, t := range []http.RoundTripper{rt.opts.Transport, rt.shadow.transport, rt.h2c} {
		if c, ok := t.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
	rt.mu.Lock()
	for _, ct := range rt.cas {
		ct.t.CloseIdleConnections()
	}
	rt.metrics.unregister()
	rt.mu.Unlock()
	return err
}

// Close is Shutdown bounded by the shadow timeout.
func (rt *Router) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), rt.opts.ShadowTimeout)
	defer cancel()
	return rt.Shutdown(ctx)
}
