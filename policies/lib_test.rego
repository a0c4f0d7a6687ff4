package switchyard_test

import data.switchyard

# A production model that every default policy accepts.
good := {
	"name": "fraud",
	"stage": "production",
	"file": "rollouts/fraud.hcl",
	"router": "edge",
	"path": "/v1/fraud",
	"serve": "v7",
	"versions": {
		"v6": {"name": "v6", "url": "https://v6.internal", "heuristic": false},
		"v7": {"name": "v7", "url": "https://v7.internal", "heuristic": false},
		"rules": {"name": "rules", "url": "https://rules.internal", "heuristic": true},
	},
	"rollout": {
		"strategy": "canary", "steps": [5, 25, 50],
		"bake": "1m", "bake_seconds": 60, "interval": "10s", "interval_seconds": 10,
		"failure_limit": 0, "on_failure": "rollback",
	},
	"checks": {"errors": {"name": "errors", "metric": "error_rate", "source": "router", "max": 0.01, "min_requests": 50}},
}

staging := object.union(good, {"stage": "staging"})

rules_of(set) := {f.rule | some f in set}

test_good_model_has_no_findings if {
	count(switchyard.deny) == 0 with input as {"models": [good, staging]}
	count(switchyard.warn) == 0 with input as {"models": [good, staging]}
}

test_empty_input_has_no_findings if {
	count(switchyard.deny) == 0 with input as {}
	count(switchyard.warn) == 0 with input as {}
}

test_strategy_defaults_to_all_at_once if {
	switchyard.strategy_of(object.remove(good, ["rollout"])) == "all_at_once"
	switchyard.strategy_of(good) == "canary"
}
