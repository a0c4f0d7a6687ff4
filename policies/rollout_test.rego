package switchyard_test

import data.switchyard

with_rollout(m, patch) := object.union(m, {"rollout": object.union(m.rollout, patch)})

test_canary_first_step_above_10_denied if {
	m := with_rollout(good, {"steps": [25, 50]})
	some f in switchyard.deny with input as {"models": [m]}
	f.rule == "canary_first_step"
	f.field == "rollout.steps"
	f.model == "fraud"
	f.stage == "production"
	contains(f.msg, "25%")
}

test_canary_first_step_10_allowed if {
	m := with_rollout(good, {"steps": [10, 50]})
	not "canary_first_step" in rules_of(switchyard.deny) with input as {"models": [m]}
}

test_canary_without_steps_denied if {
	m := with_rollout(good, {"steps": []})
	"canary_first_step" in rules_of(switchyard.deny) with input as {"models": [m]}
}

test_staging_canary_may_start_high if {
	m := with_rollout(staging, {"steps": [50]})
	not "canary_first_step" in rules_of(switchyard.deny) with input as {"models": [m]}
}

test_production_rollout_without_error_rate_denied if {
	m := object.union(object.remove(good, ["checks"]), {"checks": {"lat": {"name": "lat", "metric": "latency_p99", "max": 0.2}}})
	some f in switchyard.deny with input as {"models": [m]}
	f.rule == "error_rate_check"
	f.field == "rollout"
}

test_production_rollout_without_checks_denied if {
	m := object.remove(good, ["checks"])
	"error_rate_check" in rules_of(switchyard.deny) with input as {"models": [m]}
}

test_production_without_rollout_block_needs_no_error_rate if {
	m := object.remove(good, ["rollout"])
	not "error_rate_check" in rules_of(switchyard.deny) with input as {"models": [m]}
}

test_fallback_to_heuristic_allowed if {
	m := with_rollout(good, {"on_failure": "fallback", "fallback": "rules"})
	not "fallback_heuristic" in rules_of(switchyard.deny) with input as {"models": [m]}
}

test_fallback_to_model_denied if {
	m := with_rollout(good, {"on_failure": "fallback", "fallback": "v6"})
	some f in switchyard.deny with input as {"models": [m]}
	f.rule == "fallback_heuristic"
	f.field == "rollout.fallback"
}

test_fallback_without_target_denied if {
	m := with_rollout(good, {"on_failure": "fallback"})
	"fallback_heuristic" in rules_of(switchyard.deny) with input as {"models": [m]}
}

test_short_bake_warned if {
	m := with_rollout(good, {"bake": "15s", "bake_seconds": 15})
	some f in switchyard.warn with input as {"models": [m]}
	f.rule == "bake_two_intervals"
	f.field == "rollout.bake"
}

test_bake_of_two_intervals_allowed if {
	m := with_rollout(good, {"bake": "20s", "bake_seconds": 20})
	not "bake_two_intervals" in rules_of(switchyard.warn) with input as {"models": [m]}
}

test_all_at_once_without_checks_warned if {
	m := object.remove(good, ["rollout", "checks"])
	some f in switchyard.warn with input as {"models": [m]}
	f.rule == "all_at_once_checks"
}

test_all_at_once_with_checks_allowed if {
	m := with_rollout(good, {"strategy": "all_at_once", "steps": []})
	not "all_at_once_checks" in rules_of(switchyard.warn) with input as {"models": [m]}
}

test_all_at_once_in_staging_allowed if {
	m := object.remove(staging, ["rollout", "checks"])
	not "all_at_once_checks" in rules_of(switchyard.warn) with input as {"models": [m]}
}
