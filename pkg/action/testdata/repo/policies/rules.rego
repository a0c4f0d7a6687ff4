package switchyard

# Production changes roll out as a canary.
deny contains {"msg": msg, "model": c.model, "stage": c.stage, "field": "rollout.strategy", "rule": "canary_in_production"} if {
	some c in input.changes
	c.stage == "production"
	c.strategy != "canary"
	msg := sprintf("%s/%s would roll out %s %s: production changes roll out as a canary", [c.model, c.stage, c.to, c.strategy])
}

# A promoted version that failed its offline validation stays out.
deny contains {"msg": msg, "model": c.model, "stage": c.stage, "field": "serve", "rule": "validation_passed"} if {
	some c in input.changes
	e := input.evidence[sprintf("%s/%s/%s", [c.model, c.stage, c.to])]
	e.validation.passed == false
	msg := sprintf("%s failed its offline validation", [c.to])
}

# A production promotion without a shadow assessment is allowed, with a warning.
warn contains {"msg": msg, "model": c.model, "stage": c.stage, "field": "serve", "rule": "shadow_first"} if {
	some c in input.changes
	c.stage == "production"
	not input.evidence[sprintf("%s/%s/%s", [c.model, c.stage, c.to])].shadow
	msg := sprintf("%s has no shadow assessment in production", [c.to])
}
