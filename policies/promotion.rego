# What a production promotion (a change of serve) needs first.
package switchyard

# Production serves only what staging already serves (at the base), when
# the model has a staging stage. Restoring service (a rollback, a fallback
# to a heuristic) and the outcomes production decided itself (its
# roll_through version, an experiment's winner) are not promotions.
deny contains finding(m, "serve", "staging_first", msg) if {
	some c in input.changes
	c.stage == "production"
	m := model_of(c)
	not restoring(c, m)
	not decided_in_production(c)
	some b in input.base.models
	b.name == c.model
	b.stage == "staging"
	b.serve != c.to
	msg := sprintf("production would serve %s, but staging serves %s: promote %s in staging first", [c.to, b.serve, c.to])
}

# A version that declares validation (in any stage of the model) is
# promoted to production only with passing validation evidence, under
# input.evidence["<model>/<any stage>/<version>"].validation.passed.
# The evidence is gathered in review (the pull request); a merged commit
# that the reconciler judges (context.event "push") was gated there, and
# only evidence that it failed still stops it.
deny contains finding(m, "serve", "validation_evidence", msg) if {
	some c in input.changes
	c.stage == "production"
	m := model_of(c)
	not restoring(c, m)
	not merged
	declares_validation(c.model, c.to)
	not validation_passed(c.model, c.to)
	not validation_failed(c.model, c.to)
	msg := sprintf("%s declares validation but has no validation evidence: run the offline validation before promoting it", [c.to])
}

deny contains finding(m, "serve", "validation_evidence", msg) if {
	some c in input.changes
	c.stage == "production"
	m := model_of(c)
	not restoring(c, m)
	declares_validation(c.model, c.to)
	not validation_passed(c.model, c.to)
	validation_failed(c.model, c.to)
	msg := sprintf("%s failed its offline validation: it cannot be promoted to production", [c.to])
}

merged if object.get(input.context, "event", "") == "push"

declares_validation(name, version) if {
	some m in input.models
	m.name == name
	is_object(m.versions[version].validation)
}

validation_passed(name, version) if {
	some e in evidence_for(name, version)
	e.validation.passed == true
}

validation_failed(name, version) if {
	some e in evidence_for(name, version)
	e.validation.passed == false
}

evidence_for(name, version) := [e |
	some key, e in input.evidence
	parts := split(key, "/")
	count(parts) == 3
	parts[0] == name
	parts[2] == version
]

# restoring: the change puts back a known-good state rather than promoting.
# The reconciler's rollback commits (Switchyard-Action: rollback) and pull
# requests labelled "switchyard:rollback" carry that label in
# input.context.labels; a move to a heuristic is a fallback.
restoring(c, m) if "switchyard:rollback" in object.get(input.context, "labels", [])

restoring(c, m) if m.versions[c.to].heuristic == true

# decided_in_production: the base's production spec itself named the
# target, as its roll_through version or as an experiment variant (a
# winner being promoted).
decided_in_production(c) if {
	some b in input.base.models
	b.name == c.model
	b.stage == c.stage
	b.rollout.roll_through == c.to
}

decided_in_production(c) if {
	some b in input.base.models
	b.name == c.model
	b.stage == c.stage
	_ = b.experiment.variants[c.to]
}
