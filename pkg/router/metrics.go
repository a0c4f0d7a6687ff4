package router

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the router's Prometheus series.
type metrics struct {
	registry         *prometheus.Registry
	extra            prometheus.Registerer
	collectors       []prometheus.Collector
	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	fallbacks        *prometheus.CounterVec
	shadowCmp        *prometheus.CounterVec
	shadowDur        *prometheus.HistogramVec
	rewards          *prometheus.CounterVec
	rewardSum        *prometheus.CounterVec
	tableUpdates     *prometheus.CounterVec
	feedbackRejected *prometheus.CounterVec
	routes           prometheus.Gauge
	outputs          *prometheus.HistogramVec // numeric outputs (outputs.go)
	grpcCalls        *prometheus.CounterVec   // by grpc-status (grpc.go)
}

var versionLabels = []string{"model", "stage", "version"}

func newMetrics(extra prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_requests_total",
			Help: "Requests proxied by the builtin router, by the version that was tried and the status code returned (502/504 for connection failures and timeouts).",
		}, []string{"model", "stage", "version", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchyard_request_duration_seconds",
			Help:    "Time to answer a proxied request, by version.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, versionLabels),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_fallbacks_total",
			Help: "Requests whose chosen version failed and that were retried on the route's fallback, by the version that failed.",
		}, versionLabels),
		shadowCmp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_shadow_comparisons_total",
			Help: "Shadow copies by outcome: agree, disagree, error (the shadow failed) or dropped (queue full or body too large).",
		}, []string{"model", "stage", "version", "result"}),
		shadowDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchyard_shadow_duration_seconds",
			Help:    "Time the shadow version took to answer a copied request.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, versionLabels),
		rewards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_rewards_total",
			Help: "Feedback rewards received, by version.",
		}, versionLabels),
		rewardSum: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_reward_sum",
			Help: "Sum of the feedback rewards received, by version.",
		}, versionLabels),
		tableUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_table_updates_total",
			Help: "Routing table updates, by result (applied or rejected).",
		}, []string{"result"}),
		feedbackRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_feedback_rejected_total",
			Help: "Feedback posts refused, by reason: unauthorized, rate_limited, invalid, unknown_id, expired, forgotten, duplicate, full.",
		}, []string{"reason"}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_routes",
			Help: "Routes in the live routing table.",
		}),
	}
	m.outputs = newOutputHistogram()
	m.grpcCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_grpc_calls_total",
		Help: "gRPC answers proxied by the builtin router, by version and grpc-status (\"missing\" when the call ended without one); any status but 0 is an error of the version.",
	}, []string{"model", "stage", "version", "grpc_status"})
	cs := []prometheus.Collector{m.requests, m.duration, m.fallbacks, m.shadowCmp, m.shadowDur, m.rewards, m.rewardSum, m.tableUpdates, m.feedbackRejected, m.routes, m.outputs, m.grpcCalls}
	m.collectors = cs
	for _, reason := range rejectReasons {
		m.feedbackRejected.WithLabelValues(reason)
	}
	for _, c := range cs {
		m.registry.MustRegister(c)
	}
	if extra != nil {
		for i, c := range cs {
			if err := extra.Register(c); err != nil {
				for _, done := range cs[:i] {
					extra.Unregister(done)
				}
				return m, err
			}
		}
		m.extra = extra
	}
	return m, nil
}

// unregister removes the collectors from the extra registerer, so that a
// router created after this one can register its own.
func (m *metrics) unregister() {
	if m.extra == nil {
		return
	}
	for _, c := range m.collectors {
		m.extra.Unregister(c)
	}
	m.extra = nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// versionMetrics are one version's series, resolved once so that the hot
// path does no label lookups: counters per status code are created on first
// use and cached.
type versionMetrics struct {
	m                     *metrics
	mu                    sync.Mutex // guards shadowResults
	model, stage, version string
	codes                 [600]atomic.Pointer[counter]
	duration              prometheus.Observer
	fallbacks             prometheus.Counter
	shadowDur             prometheus.Observer
	shadowResults         map[string]prometheus.Counter
	rewards, rewardSum    prometheus.Counter
}

type counter struct{ prometheus.Counter }

func (m *metrics) forVersion(model, stage, version string) *versionMetrics {
	return &versionMetrics{
		m: m, model: model, stage: stage, version: version,
		duration:  m.duration.WithLabelValues(model, stage, version),
		fallbacks: m.fallbacks.WithLabelValues(model, stage, version),
		shadowDur: m.shadowDur.WithLabelValues(model, stage, version),
		// Created on first use, so that only shadows show these series.
		shadowResults: map[string]prometheus.Counter{},
		rewards:       m.rewards.WithLabelValues(model, stage, version),
		rewardSum:     m.rewardSum.WithLabelValues(model, stage, version),
	}
}

func (v *versionMetrics) observe(code int, seconds float64, fellBack bool) {
	if code < 0 || code >= len(v.codes) {
		code = 0
	}
	c := v.codes[code].Load()
	if c == nil {
		c = &counter{v.m.requests.WithLabelValues(v.model, v.stage, v.version, strconv.Itoa(code))}
		v.codes[code].Store(c)
	}
	c.Inc()
	v.duration.Observe(seconds)
	if fellBack {
		v.fallbacks.Inc()
	}
}

func (v *versionMetrics) shadow(result string, seconds float64) {
	v.mu.Lock()
	c, ok := v.shadowResults[result]
	if !ok {
		c = v.m.shadowCmp.WithLabelValues(v.model, v.stage, v.version, result)
		v.shadowResults[result] = c
	}
	v.mu.Unlock()
	c.Inc()
	if result != shadowDropped {
		v.shadowDur.Observe(seconds)
	}
}

// grpc counts a gRPC answer by its status ("" when it had none). The
// label takes gRPC's codes 0 to 16 only, whatever a version sends.
func (v *versionMetrics) grpc(status string) {
	switch n, err := strconv.Atoi(status); {
	case status == "":
		status = "missing"
	case err != nil || n < 0 || n > 16 || strconv.Itoa(n) != status:
		status = "invalid"
	}
	v.m.grpcCalls.WithLabelValues(v.model, v.stage, v.version, status).Inc()
}

func (v *versionMetrics) reward(r float64) {
	v.rewards.Inc()
	v.rewardSum.Add(r)
}
