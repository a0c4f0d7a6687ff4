package reconcile

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the reconciler's own Prometheus metrics.
type Metrics struct {
	Registry         *prometheus.Registry
	reconcileSeconds prometheus.Histogram
	phases           *prometheus.GaugeVec
	commits          *prometheus.CounterVec
	pushFailures     prometheus.Counter
	fetchFailures    prometheus.Counter
	applyFailures    prometheus.Counter
	rejectedHeads    prometheus.Counter
	ownRejected      prometheus.Counter
	lastFetch        prometheus.Gauge
	pendingCommits   prometheus.Gauge
}

// NewMetrics registers the reconciler's metrics on reg (a new registry
// when nil).
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		Registry: reg,
		reconcileSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchyard_reconcile_duration_seconds",
			Help:    "Time taken by one reconcile pass over every model.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		phases: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_rollouts",
			Help: "Models by rollout phase.",
		}, []string{"phase"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_commits_written_total",
			Help: "Outcome commits written to Git, by Switchyard-Action.",
		}, []string{"action"}),
		pushFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_push_failures_total",
			Help: "Failed attempts to write an outcome commit to the remote.",
		}),
		fetchFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_fetch_failures_total",
			Help: "Failed fetches of the spec repository.",
		}),
		applyFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_apply_failures_total",
			Help: "Failed attempts to apply a routing table to a router.",
		}),
		rejectedHeads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_rejected_heads_total",
			Help: "Fetched heads not applied because validation or policy failed.",
		}),
		ownRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_own_commit_rejected_total",
			Help: "Heads rejected that are the reconciler's own outcome commits (a bug: Git and traffic disagree).",
		}),
		lastFetch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_last_successful_fetch_timestamp_seconds",
			Help: "Unix time of the last successful fetch.",
		}),
		pendingCommits: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_pending_commits",
			Help: "Outcome commits waiting to reach the remote (traffic already restored).",
		}),
	}
	reg.MustRegister(m.reconcileSeconds, m.phases, m.commits, m.pushFailures, m.fetchFailures,
		m.applyFailures, m.rejectedHeads, m.ownRejected, m.lastFetch, m.pendingCommits)
	return m
}

func (d *Daemon) updateGauges() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deps.Metrics.phases.Reset()
	for _, m := range d.state.Models {
		d.deps.Metrics.phases.WithLabelValues(string(m.Phase)).Inc()
	}
	d.deps.Metrics.pendingCommits.Set(float64(len(d.pending)))
}
