package reconcile

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/rollout"
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
	pullRequestAge   *prometheus.GaugeVec
	// Per model, from the status snapshot after each pass.
	weights    *prometheus.GaugeVec
	progress   *prometheus.GaugeVec
	heldFor    *prometheus.GaugeVec
	checkValue *prometheus.GaugeVec
	checkState *prometheus.GaugeVec
	shadowRate *prometheus.GaugeVec
	armSamples *prometheus.GaugeVec
	armMean    *prometheus.GaugeVec
	armBest    *prometheus.GaugeVec
	seriesMu   sync.Mutex
	series     map[*prometheus.GaugeVec]map[string][]string // the label sets setModels set last
}

// checkVerdicts are the values of the verdict label of
// switchyard_check_verdict: each check has one series per verdict.
var checkVerdicts = []string{"pass", "fail", "no_data"}

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
		pullRequestAge: modelGauge("switchyard_pending_pull_request_age_seconds",
			"How long each outcome pull request (--push pr) has been open without being merged: Git disagrees with traffic until it is."),
		weights: modelGauge("switchyard_traffic_weight_percent",
			"The live split the reconciler has set: percent of a model's traffic per version.", "version"),
		progress: modelGauge("switchyard_rollout_progress",
			"Progress of the model's rollout, 0 to 1 (1 when none runs)."),
		heldFor: modelGauge("switchyard_rollout_unacknowledged_seconds",
			"How long the rollout's current step has been held because its router has not acknowledged the step's traffic on every part of it (a fleet replica down); 0 when it is not held. The rollout is paused once this passes five intervals (at least a minute)."),
		checkValue: modelGauge("switchyard_check_value",
			"The last measured value of each check of the rollout in progress.", "check"),
		checkState: modelGauge("switchyard_check_verdict",
			"The last verdict of each check of the rollout in progress: 1 on the series of that verdict (pass, fail or no_data), 0 on the others.", "check", "verdict"),
		shadowRate: modelGauge("switchyard_shadow_agreement",
			"The agreement rate of a shadow assessment so far (0 to 1).", "version"),
		armSamples: modelGauge("switchyard_experiment_arm_samples",
			"Rewards counted per experiment variant.", "version"),
		armMean: modelGauge("switchyard_experiment_arm_mean_reward",
			"Mean reward per experiment variant.", "version"),
		armBest: modelGauge("switchyard_experiment_arm_probability_best",
			"A bandit's probability that each variant is the best.", "version"),
	}
	reg.MustRegister(m.reconcileSeconds, m.phases, m.commits, m.pushFailures, m.fetchFailures,
		m.applyFailures, m.rejectedHeads, m.ownRejected, m.lastFetch, m.pendingCommits, m.pullRequestAge,
		m.weights, m.progress, m.heldFor, m.checkValue, m.checkState, m.shadowRate, m.armSamples, m.armMean, m.armBest)
	// Every action's series exists from the start, so that increase()
	// and alerts see the first outcome commit.
	for _, k := range []rollout.CommitKind{rollout.CommitRollback, rollout.CommitFallback,
		rollout.CommitRollThrough, rollout.CommitPromote, rollout.CommitConclude} {
		m.commits.WithLabelValues(string(k))
	}
	return m
}

// modelGauge is a gauge per model and stage, and the extra labels.
func modelGauge(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help},
		append([]string{"model", "stage"}, labels...))
}

// updateGauges sets the gauges from the snapshot a pass published, so
// that the metrics and the status never disagree.
func (d *Daemon) updateGauges(s *Status) {
	m := d.deps.Metrics
	m.phases.Reset()
	for _, ms := range s.Models {
		if ms.Phase != "" {
			m.phases.WithLabelValues(ms.Phase).Inc()
		}
	}
	m.pendingCommits.Set(float64(len(s.PendingCommits)))
	m.pullRequestAge.Reset()
	for _, p := range agedAt(s.PendingPullRequests, s.Now) {
		for _, ms := range s.Models {
			if ms.Model+"/"+ms.Stage == p.Model {
				m.pullRequestAge.WithLabelValues(ms.Model, ms.Stage).Set(p.AgeSeconds)
			}
		}
	}
	m.setModels(s.Models)
}

// setModels replaces the per-model series with those of models. Values are
// set first and then the series of a model, check or version that went away
// are deleted, so that a scrape never sees a series missing in between.
func (m *Metrics) setModels(models []ModelStatus) {
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	cur := map[*prometheus.GaugeVec]map[string][]string{}
	set := func(g *prometheus.GaugeVec, v float64, labels ...string) {
		g.WithLabelValues(labels...).Set(v)
		if cur[g] == nil {
			cur[g] = map[string][]string{}
		}
		cur[g][strings.Join(labels, "\x00")] = labels
	}
	for _, ms := range models {
		for _, w := range ms.Weights {
			set(m.weights, w.Percent, ms.Model, ms.Stage, w.Version)
		}
		set(m.progress, ms.Progress, ms.Model, ms.Stage)
		// Every model, since the status of one held shows it as its
		// router last took it (often idle).
		set(m.heldFor, ms.unacknowledgedFor.Seconds(), ms.Model, ms.Stage)
		for _, c := range ms.Measurements {
			// Only a rollout's checks: the last verdict of one that ended
			// (a fail that rolled back) is no longer news.
			if c.Verdict == "" || ms.Rollout() == "" {
				continue
			}
			set(m.checkValue, c.Value, ms.Model, ms.Stage, c.Check)
			for _, v := range checkVerdicts {
				on := 0.0
				if v == c.Verdict {
					on = 1
				}
				set(m.checkState, on, ms.Model, ms.Stage, c.Check, v)
			}
		}
		if sh := ms.Shadow; sh != nil && sh.Pairs > 0 {
			set(m.shadowRate, sh.Agreement, ms.Model, ms.Stage, sh.Version)
		}
		if ex := ms.Experiment; ex != nil {
			for _, a := range ex.Arms {
				set(m.armSamples, float64(a.Samples), ms.Model, ms.Stage, a.Version)
				set(m.armMean, a.Mean, ms.Model, ms.Stage, a.Version)
				if ex.Method == "bandit" {
					set(m.armBest, a.ProbBest, ms.Model, ms.Stage, a.Version)
				}
			}
		}
	}
	for g, old := range m.series {
		for k, labels := range old {
			if _, ok := cur[g][k]; !ok {
				g.DeleteLabelValues(labels...)
			}
		}
	}
	m.series = cur
}
