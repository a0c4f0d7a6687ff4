# How a production rollout must be carried out.
package switchyard

# A production canary exposes at most 10% of traffic to the new version
# at its first step.
deny contains finding(m, "rollout.steps", "canary_first_step", msg) if {
	some m in input.models
	is_production(m)
	r := rollout_of(m)
	r.strategy == "canary"
	first := object.get(r, ["steps", 0], 100)
	first > 10
	msg := sprintf("A production canary must start at 10%% of traffic or less, this one starts at %v%%", [first])
}

# Every production model with a rollout block measures its error rate.
deny contains finding(m, "rollout", "error_rate_check", msg) if {
	some m in input.models
	is_production(m)
	is_object(m.rollout)
	not has_error_rate_check(m)
	msg := "A production rollout needs a check on error_rate"
}

has_error_rate_check(m) if {
	some c in checks_of(m)
	c.metric == "error_rate"
}

# on_failure = fallback needs a heuristic version to fall back to.
deny contains finding(m, "rollout.fallback", "fallback_heuristic", msg) if {
	some m in input.models
	r := rollout_of(m)
	r.on_failure == "fallback"
	not fallback_is_heuristic(m, r)
	msg := "on_failure = \"fallback\" needs `fallback` naming a version with heuristic = true"
}

fallback_is_heuristic(m, r) if m.versions[r.fallback].heuristic == true

# A bake shorter than two intervals gets at most one measurement per step.
warn contains finding(m, "rollout.bake", "bake_two_intervals", msg) if {
	some m in input.models
	r := rollout_of(m)
	r.bake_seconds < 2 * r.interval_seconds
	msg := sprintf("bake %v is shorter than two check intervals (2 × %v): each step gets at most one measurement", [r.bake, r.interval])
}

# all_at_once in production with nothing measured cannot roll back on its own.
warn contains finding(m, "rollout.strategy", "all_at_once_checks", msg) if {
	some m in input.models
	is_production(m)
	strategy_of(m) == "all_at_once"
	count(checks_of(m)) == 0
	msg := "all_at_once in production without checks: a bad version takes all traffic and nothing rolls it back"
}
