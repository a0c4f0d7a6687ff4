package switchyard_test

import data.switchyard

ab := {
	"method": "ab", "variants": {"v6": 50, "v7": 50}, "reward": "feedback",
	"alpha": 0.05, "min_samples": 1000, "auto_promote": true,
	"explore_floor": 0, "promote_when": 0.95,
}

bandit := object.union(ab, {"method": "bandit", "explore_floor": 0.05})

with_experiment(m, patch) := object.union(m, {"experiment": object.union(ab, patch)})

shadow := {"version": "v6", "percent": 100, "compare": "json", "tolerance": 0.001, "min_agreement": 0.98, "min_samples": 500}

test_sound_ab_allowed if {
	count(switchyard.deny) == 0 with input as {"models": [with_experiment(good, {})]}
}

test_ab_auto_promote_few_samples_denied if {
	m := with_experiment(good, {"min_samples": 50})
	some f in switchyard.deny with input as {"models": [m]}
	f.rule == "ab_auto_promote"
	f.field == "experiment.min_samples"
}

test_ab_auto_promote_high_alpha_denied if {
	m := with_experiment(good, {"alpha": 0.2})
	some f in switchyard.deny with input as {"models": [m]}
	f.rule == "ab_auto_promote"
	f.field == "experiment.alpha"
}

test_ab_without_auto_promote_may_peek if {
	m := with_experiment(good, {"alpha": 0.2, "min_samples": 10, "auto_promote": false})
	not "ab_auto_promote" in rules_of(switchyard.deny) with input as {"models": [m]}
}

test_heuristic_variant_in_production_denied if {
	m := with_experiment(good, {"variants": {"v7": 50, "rules": 50}})
	some f in switchyard.deny with input as {"models": [m]}
	f.rule == "heuristic_experiment"
	f.field == "experiment.variants"
}

test_heuristic_variant_in_staging_allowed if {
	m := with_experiment(staging, {"variants": {"v7": 50, "rules": 50}})
	not "heuristic_experiment" in rules_of(switchyard.deny) with input as {"models": [m]}
}

test_heuristic_shadow_in_production_denied if {
	m := object.union(good, {"shadow": object.union(shadow, {"version": "rules"})})
	some f in switchyard.deny with input as {"models": [m]}
	f.rule == "heuristic_experiment"
	f.field == "shadow.version"
}

test_sound_shadow_allowed if {
	m := object.union(good, {"shadow": shadow})
	count(switchyard.deny) == 0 with input as {"models": [m]}
	count(switchyard.warn) == 0 with input as {"models": [m]}
}

test_shadow_few_samples_warned if {
	m := object.union(good, {"shadow": object.union(shadow, {"min_samples": 20})})
	some f in switchyard.warn with input as {"models": [m]}
	f.rule == "shadow_min_samples"
	f.field == "shadow.min_samples"
}

test_bandit_zero_floor_warned if {
	m := object.union(good, {"experiment": object.union(bandit, {"explore_floor": 0})})
	some f in switchyard.warn with input as {"models": [m]}
	f.rule == "bandit_explore_floor"
}

test_bandit_with_floor_allowed if {
	m := object.union(good, {"experiment": bandit})
	not "bandit_explore_floor" in rules_of(switchyard.warn) with input as {"models": [m]}
}
