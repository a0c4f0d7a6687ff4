# Experiments and shadows that decide or compare on enough evidence.
package switchyard

# An A/B test that promotes its winner by itself needs enough samples and
# a false-winner rate of at most 10%.
deny contains finding(m, "experiment.min_samples", "ab_auto_promote", msg) if {
	some m in input.models
	e := m.experiment
	e.method == "ab"
	e.auto_promote == true
	e.min_samples < 100
	msg := sprintf("an ab experiment with auto_promote needs min_samples >= 100, not %v", [e.min_samples])
}

deny contains finding(m, "experiment.alpha", "ab_auto_promote", msg) if {
	some m in input.models
	e := m.experiment
	e.method == "ab"
	e.auto_promote == true
	e.alpha > 0.1
	msg := sprintf("an ab experiment with auto_promote needs alpha <= 0.1, not %v", [e.alpha])
}

# A heuristic is a fallback target, never an experiment arm or a shadow
# in production.
deny contains finding(m, "experiment.variants", "heuristic_experiment", msg) if {
	some m in input.models
	is_production(m)
	some v, _ in m.experiment.variants
	m.versions[v].heuristic == true
	msg := sprintf("%s is a heuristic: it cannot be a variant of a production experiment", [v])
}

deny contains finding(m, "shadow.version", "heuristic_experiment", msg) if {
	some m in input.models
	is_production(m)
	v := m.shadow.version
	m.versions[v].heuristic == true
	msg := sprintf("%s is a heuristic: it cannot be shadowed in production", [v])
}

warn contains finding(m, "shadow.min_samples", "shadow_min_samples", msg) if {
	some m in input.models
	m.shadow.min_samples < 100
	msg := sprintf("a shadow verdict on fewer than 100 compared pairs (min_samples = %v) is mostly noise", [m.shadow.min_samples])
}

warn contains finding(m, "experiment.explore_floor", "bandit_explore_floor", msg) if {
	some m in input.models
	e := m.experiment
	e.method == "bandit"
	object.get(e, "explore_floor", 0) == 0
	msg := "a bandit with explore_floor = 0 can starve a variant for good after an unlucky start"
}
