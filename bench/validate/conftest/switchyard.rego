# The per-model rules of policies/*.rego, rewritten for conftest's hcl2
# parser (blocks become lists, checks/versions maps of lists, no defaults
# filled in). Used only by bench/validate/run.sh to compare run times.
package main

import rego.v1

models contains {"name": name, "stage": stage, "m": m} if {
	some name, stages in input.model
	some stage, blocks in stages
	some m in blocks
}

first_block(m, key) := object.get(m, key, [{}])[0]

heuristic(m, v) if {
	some b in m.version[v]
	b.heuristic == true
}

has_error_rate(m) if {
	some _, cs in m.check
	some c in cs
	c.metric == "error_rate"
}

deny contains msg if {
	some x in models
	x.stage == "production"
	r := first_block(x.m, "rollout")
	r.strategy == "canary"
	first := object.get(r, ["steps", 0], 100)
	first > 10
	msg := sprintf("%s/%s: a production canary must start at 10%% or less, not %v%%", [x.name, x.stage, first])
}

deny contains msg if {
	some x in models
	x.stage == "production"
	x.m.rollout
	not has_error_rate(x.m)
	msg := sprintf("%s/%s: a production rollout needs a check on error_rate", [x.name, x.stage])
}

deny contains msg if {
	some x in models
	r := first_block(x.m, "rollout")
	r.on_failure == "fallback"
	not heuristic(x.m, object.get(r, "fallback", ""))
	msg := sprintf("%s/%s: on_failure = fallback needs a heuristic fallback", [x.name, x.stage])
}

warn contains msg if {
	some x in models
	r := first_block(x.m, "rollout")
	count(r) > 0
	time.parse_duration_ns(object.get(r, "bake", "1m")) < 2 * time.parse_duration_ns(object.get(r, "interval", "10s"))
	msg := sprintf("%s/%s: bake shorter than two intervals", [x.name, x.stage])
}

warn contains msg if {
	some x in models
	x.stage == "production"
	r := first_block(x.m, "rollout")
	object.get(r, "strategy", "all_at_once") == "all_at_once"
	count(object.get(x.m, "check", {})) == 0
	msg := sprintf("%s/%s: all_at_once in production without checks", [x.name, x.stage])
}

warn contains msg if {
	some x in models
	x.stage == "production"
	some v, bs in x.m.version
	some b in bs
	startswith(lower(b.url), "http://")
	msg := sprintf("%s/%s: version %s over plain http", [x.name, x.stage, v])
}

warn contains msg if {
	some x in models
	some s in x.m.shadow
	object.get(s, "min_samples", 500) < 100
	msg := sprintf("%s/%s: shadow min_samples < 100", [x.name, x.stage])
}

warn contains msg if {
	some x in models
	some e in x.m.experiment
	e.method == "bandit"
	object.get(e, "explore_floor", 0.05) == 0
	msg := sprintf("%s/%s: bandit explore_floor 0", [x.name, x.stage])
}

deny contains msg if {
	some x in models
	some e in x.m.experiment
	object.get(e, "method", "ab") == "ab"
	e.auto_promote == true
	object.get(e, "min_samples", 1000) < 100
	msg := sprintf("%s/%s: ab auto_promote needs min_samples >= 100", [x.name, x.stage])
}

deny contains msg if {
	some x in models
	some e in x.m.experiment
	object.get(e, "method", "ab") == "ab"
	e.auto_promote == true
	object.get(e, "alpha", 0.05) > 0.1
	msg := sprintf("%s/%s: ab auto_promote needs alpha <= 0.1", [x.name, x.stage])
}

deny contains msg if {
	some x in models
	x.stage == "production"
	some e in x.m.experiment
	some v, _ in e.variants
	heuristic(x.m, v)
	msg := sprintf("%s/%s: heuristic %s in a production experiment", [x.name, x.stage, v])
}

deny contains msg if {
	some x in models
	x.stage == "production"
	some s in x.m.shadow
	heuristic(x.m, s.version)
	msg := sprintf("%s/%s: heuristic %s shadowed in production", [x.name, x.stage, s.version])
}
