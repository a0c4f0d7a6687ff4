package reconcile

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// TestModelSeriesFollowStatus checks the per-model series against a status
// snapshot, and that a model that went away leaves no series behind.
func TestModelSeriesFollowStatus(t *testing.T) {
	m := NewMetrics(nil)
	m.setModels([]ModelStatus{{
		Model: "fraud", Stage: "production", Progress: 0.5, From: "v7", To: "v8",
		Weights:      []traffic.Weight{{Version: "v7", Percent: 75}, {Version: "v8", Percent: 25}},
		Measurements: []Measurement{{Check: "errors", Value: 0.02, Verdict: "fail"}, {Check: "latency"}},
		Shadow:       &ShadowStatus{Version: "v9", Pairs: 10, Agreement: 0.9},
		Experiment: &ExperimentStatus{Method: "bandit", Arms: []ArmStatus{
			{Version: "a", Samples: 40, Mean: 0.25, ProbBest: 0.7}, {Version: "b", Samples: 60, Mean: 0.1, ProbBest: 0.3}}},
	}})
	want := `
# HELP switchyard_check_verdict The last verdict of each check of the rollout in progress: 1 on the series of that verdict (pass, fail or no_data), 0 on the others.
# TYPE switchyard_check_verdict gauge
switchyard_check_verdict{check="errors",model="fraud",stage="production",verdict="fail"} 1
switchyard_check_verdict{check="errors",model="fraud",stage="production",verdict="no_data"} 0
switchyard_check_verdict{check="errors",model="fraud",stage="production",verdict="pass"} 0
# HELP switchyard_traffic_weight_percent The live split the reconciler has set: percent of a model's traffic per version.
# TYPE switchyard_traffic_weight_percent gauge
switchyard_traffic_weight_percent{model="fraud",stage="production",version="v7"} 75
switchyard_traffic_weight_percent{model="fraud",stage="production",version="v8"} 25
# HELP switchyard_experiment_arm_probability_best A bandit's probability that each variant is the best.
# TYPE switchyard_experiment_arm_probability_best gauge
switchyard_experiment_arm_probability_best{model="fraud",stage="production",version="a"} 0.7
switchyard_experiment_arm_probability_best{model="fraud",stage="production",version="b"} 0.3
# HELP switchyard_shadow_agreement The agreement rate of a shadow assessment so far (0 to 1).
# TYPE switchyard_shadow_agreement gauge
switchyard_shadow_agreement{model="fraud",stage="production",version="v9"} 0.9
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want),
		"switchyard_check_verdict", "switchyard_traffic_weight_percent",
		"switchyard_experiment_arm_probability_best", "switchyard_shadow_agreement"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.checkValue.WithLabelValues("fraud", "production", "errors")); got != 0.02 {
		t.Errorf("check value = %v, want 0.02", got)
	}

	m.setModels([]ModelStatus{{Model: "search", Stage: "staging", Progress: 1,
		Weights:      []traffic.Weight{{Version: "v1", Percent: 100}},
		Measurements: []Measurement{{Check: "errors", Value: 0.2, Verdict: "fail"}}}})
	n, err := testutil.GatherAndCount(m.Registry, "switchyard_traffic_weight_percent", "switchyard_check_verdict",
		"switchyard_shadow_agreement", "switchyard_experiment_arm_samples")
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("after the model went away: %d series, want only search's weight (no rollout runs: no check series)", n)
	}
}

// TestOutcomeSeriesExistBeforeTheFirstCommit: every action has a series at
// zero, so that increase() sees the first outcome.
func TestOutcomeSeriesExistBeforeTheFirstCommit(t *testing.T) {
	m := NewMetrics(nil)
	if n := testutil.CollectAndCount(m.commits); n != 5 {
		t.Errorf("%d outcome series, want one per action (5)", n)
	}
}
