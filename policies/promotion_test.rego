package switchyard_test

import data.switchyard

promote_v8 := {"model": "fraud", "stage": "production", "from": "v7", "to": "v8", "strategy": "canary"}

prod_v8 := object.union(good, {
	"serve": "v8",
	"versions": {"v8": {"name": "v8", "url": "https://v8.internal", "heuristic": false}},
})

prod_v8_validated := object.union(prod_v8, {"versions": {"v8": {"validation": {"dataset": "d.jsonl", "metric": "accuracy", "min": 0.9}}}})

test_promotion_not_in_staging_denied if {
	inp := {"models": [prod_v8], "changes": [promote_v8], "base": {"models": [good, staging]}}
	some f in switchyard.deny with input as inp
	f.rule == "staging_first"
	f.field == "serve"
	f.model == "fraud"
	f.stage == "production"
}

test_promotion_already_in_staging_allowed if {
	staged := object.union(staging, {"serve": "v8"})
	inp := {"models": [prod_v8], "changes": [promote_v8], "base": {"models": [good, staged]}}
	not "staging_first" in rules_of(switchyard.deny) with input as inp
}

test_promotion_without_staging_stage_allowed if {
	inp := {"models": [prod_v8], "changes": [promote_v8], "base": {"models": [good]}}
	not "staging_first" in rules_of(switchyard.deny) with input as inp
}

test_staging_is_judged_at_the_base_not_the_head if {
	# the PR moves staging and production together: still denied
	inp := {
		"models": [prod_v8, object.union(staging, {"serve": "v8"})],
		"changes": [promote_v8],
		"base": {"models": [good, staging]},
	}
	"staging_first" in rules_of(switchyard.deny) with input as inp
}

test_validated_version_without_evidence_denied if {
	inp := {"models": [prod_v8_validated], "changes": [promote_v8]}
	some f in switchyard.deny with input as inp
	f.rule == "validation_evidence"
	contains(f.msg, "no validation evidence")
}

test_validated_version_with_failed_evidence_denied if {
	inp := {
		"models": [prod_v8_validated], "changes": [promote_v8],
		"evidence": {"fraud/staging/v8": {"validation": {"passed": false}}},
	}
	some f in switchyard.deny with input as inp
	f.rule == "validation_evidence"
	contains(f.msg, "failed")
}

test_validated_version_with_passing_evidence_allowed if {
	inp := {
		"models": [prod_v8_validated], "changes": [promote_v8],
		"evidence": {"fraud/production/v8": {"validation": {"passed": true, "metric": "accuracy", "value": 0.95}}},
	}
	not "validation_evidence" in rules_of(switchyard.deny) with input as inp
}

test_validation_declared_in_staging_counts if {
	staged := object.union(staging, {"serve": "v8", "versions": {"v8": {"name": "v8", "url": "https://v8", "validation": {"dataset": "d"}}}})
	inp := {"models": [prod_v8, staged], "changes": [promote_v8]}
	"validation_evidence" in rules_of(switchyard.deny) with input as inp
}

test_evidence_for_other_model_does_not_count if {
	inp := {
		"models": [prod_v8_validated], "changes": [promote_v8],
		"evidence": {"churn/production/v8": {"validation": {"passed": true}}},
	}
	"validation_evidence" in rules_of(switchyard.deny) with input as inp
}

test_version_without_validation_needs_no_evidence if {
	inp := {"models": [prod_v8], "changes": [promote_v8]}
	not "validation_evidence" in rules_of(switchyard.deny) with input as inp
}

rollback_v6 := {"model": "fraud", "stage": "production", "from": "v7", "to": "v6", "strategy": "canary"}

staging_v7 := object.union(staging, {"serve": "v7"})

test_rollback_label_allows_leaving_staging if {
	m := object.union(good, {"serve": "v6"})
	inp := {
		"models": [m], "changes": [rollback_v6],
		"base": {"models": [good, staging_v7]},
		"context": {"labels": ["switchyard:rollback"]},
	}
	not "staging_first" in rules_of(switchyard.deny) with input as inp
}

test_rollback_without_label_is_a_promotion if {
	m := object.union(good, {"serve": "v6"})
	inp := {"models": [m], "changes": [rollback_v6], "base": {"models": [good, staging_v7]}, "context": {"labels": []}}
	"staging_first" in rules_of(switchyard.deny) with input as inp
}

test_rollback_needs_no_validation_evidence if {
	m := object.union(good, {"serve": "v6", "versions": {"v6": {"validation": {"dataset": "d"}}}})
	inp := {"models": [m], "changes": [rollback_v6], "context": {"labels": ["switchyard:rollback"]}}
	not "validation_evidence" in rules_of(switchyard.deny) with input as inp
}

test_fallback_to_heuristic_allowed if {
	m := object.union(good, {"serve": "rules"})
	c := {"model": "fraud", "stage": "production", "from": "v7", "to": "rules", "strategy": "canary"}
	inp := {"models": [m], "changes": [c], "base": {"models": [good, staging_v7]}}
	count(switchyard.deny) == 0 with input as inp
}

test_roll_through_allowed if {
	base := object.union(good, {"rollout": {"on_failure": "roll_through", "roll_through": "v8"}})
	inp := {"models": [prod_v8], "changes": [promote_v8], "base": {"models": [base, staging_v7]}}
	not "staging_first" in rules_of(switchyard.deny) with input as inp
}

test_experiment_winner_allowed if {
	base := object.union(good, {"experiment": {"method": "ab", "variants": {"v7": 50, "v8": 50}}})
	inp := {"models": [prod_v8], "changes": [promote_v8], "base": {"models": [base, staging_v7]}}
	not "staging_first" in rules_of(switchyard.deny) with input as inp
}

test_merged_commit_needs_no_evidence_gathered_in_review if {
	inp := {"models": [prod_v8_validated], "changes": [promote_v8], "base": {"models": [good]}, "context": {"event": "push"}}
	not "validation_evidence" in rules_of(switchyard.deny) with input as inp
}

test_merged_commit_with_failed_evidence_denied if {
	inp := {
		"models": [prod_v8_validated], "changes": [promote_v8], "base": {"models": [good]},
		"context": {"event": "push"},
		"evidence": {"fraud/staging/v8": {"validation": {"passed": false}}},
	}
	"validation_evidence" in rules_of(switchyard.deny) with input as inp
}
