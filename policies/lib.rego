# Helpers shared by the default policies. Every policy file is in package
# switchyard; deny and warn hold objects {msg, model, stage, field, rule}.
package switchyard

is_production(m) if m.stage == "production"

# rollout_of is the model's rollout block, or {} when it has none.
rollout_of(m) := object_or_empty(object.get(m, "rollout", {}))

# checks_of is the model's checks keyed by name, or {} when it has none.
checks_of(m) := object_or_empty(object.get(m, "checks", {}))

object_or_empty(x) := x if is_object(x)

object_or_empty(x) := {} if not is_object(x)

# strategy_of defaults to all_at_once, as the loader does.
strategy_of(m) := s if {
	r := rollout_of(m)
	s := r.strategy
}

strategy_of(m) := "all_at_once" if {
	r := rollout_of(m)
	not r.strategy
}

finding(m, field, rule, msg) := {
	"msg": msg,
	"model": m.name,
	"stage": m.stage,
	"field": field,
	"rule": rule,
}

# model_of is the head model a change is about.
model_of(c) := m if {
	some m in input.models
	m.name == c.model
	m.stage == c.stage
}
