package spec

import (
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// PolicyModels returns the "models" of the policy input (SPEC.md §2), one
// JSON object per model in the tree's order. Durations appear both as the
// written string ("1m") and as "<name>_seconds" numbers; checks are an
// object keyed by check name; rollout, shadow and experiment are present
// only when the model declares them.
func (t *Tree) PolicyModels() []map[string]any {
	out := make([]map[string]any, 0, len(t.Models))
	for _, m := range t.Models {
		out = append(out, m.PolicyJSON())
	}
	return out
}

// PolicyRouters returns the "routers" of the policy input, keyed by name.
func (t *Tree) PolicyRouters() map[string]any {
	out := make(map[string]any, len(t.Routers))
	for name, r := range t.Routers {
		o := map[string]any{"name": r.Name, "type": r.Type, "file": r.File}
		setStr(o, "listen", r.Listen)
		setStr(o, "admin", r.Admin)
		setStr(o, "token_env", r.TokenEnv)
		setStr(o, "feedback_token_env", r.FeedbackTokenEnv)
		setStr(o, "tls_cert", r.TLSCert)
		setStr(o, "tls_key", r.TLSKey)
		setStr(o, "ca_file", r.CAFile)
		setStr(o, "config_file", r.ConfigFile)
		setStr(o, "runtime_api", r.RuntimeAPI)
		if len(r.Admins) > 1 {
			o["admins"] = append([]string(nil), r.Admins...)
		}
		if len(r.RuntimeAPIs) > 1 {
			o["runtime_apis"] = append([]string(nil), r.RuntimeAPIs...)
		}
		if len(r.Command) > 0 {
			o["command"] = append([]string(nil), r.Command...)
		}
		out[name] = o
	}
	return out
}

// PolicyMetrics returns the metrics sources keyed by name.
func (t *Tree) PolicyMetrics() map[string]any {
	out := make(map[string]any, len(t.Metrics))
	for name, ms := range t.Metrics {
		out[name] = map[string]any{"name": ms.Name, "type": ms.Type, "url": ms.URL, "file": ms.File}
	}
	return out
}

// Model finds a model by name and stage.
func (t *Tree) Model(name, stage string) *Model {
	for _, m := range t.Models {
		if m.Name == name && m.Stage == stage {
			return m
		}
	}
	return nil
}

// FieldRange returns the source range of a model's field (model is
// "name/stage", field a dotted path as in FieldKey). When the field itself
// was not written, it falls back to the closest enclosing field that was
// ("rollout.steps" -> "rollout"), then to the model block. ok is false only
// when the model is unknown. Index notation is accepted too:
// `rollout.steps[1]` and `checks["errors"].max` are `rollout.steps.1` and
// `checks.errors.max`.
func (t *Tree) FieldRange(model, field string) (hcl.Range, bool) {
	if strings.ContainsAny(field, "[]") {
		field = strings.NewReplacer(`["`, ".", `"]`, "", "['", ".", "']", "", "[", ".", "]", "").Replace(field)
	}
	for {
		if r, ok := t.Ranges[FieldKey{Model: model, Field: field}]; ok {
			return r, true
		}
		if field == "" {
			return hcl.Range{}, false
		}
		if i := strings.LastIndexByte(field, '.'); i >= 0 {
			field = field[:i]
		} else {
			field = ""
		}
	}
}

// PolicyJSON is the model's object in the policy input.
func (m *Model) PolicyJSON() map[string]any {
	versions := make(map[string]any, len(m.Versions))
	for name, v := range m.Versions {
		o := map[string]any{"name": v.Name, "url": v.URL, "heuristic": v.Heuristic}
		setStr(o, "ca_file", v.CAFile)
		if v.Validation != nil {
			val := map[string]any{"dataset": v.Validation.Dataset, "metric": v.Validation.Metric}
			setStr(val, "url", v.Validation.URL)
			setStr(val, "output", v.Validation.Output)
			setNum(val, "min", v.Validation.Min)
			setNum(val, "max", v.Validation.Max)
			setNum(val, "max_latency_p99", v.Validation.MaxLatencyP99)
			o["validation"] = val
		}
		versions[name] = o
	}
	checks := make(map[string]any, len(m.Checks))
	for _, c := range m.Checks {
		o := map[string]any{"name": c.Name, "source": c.Source, "min_requests": c.MinRequests}
		setStr(o, "metric", c.Metric)
		setStr(o, "query", c.Query)
		setNum(o, "max", c.Max)
		setNum(o, "min", c.Min)
		setNum(o, "max_ratio", c.MaxRatio)
		checks[c.Name] = o
	}
	out := map[string]any{
		"name": m.Name, "stage": m.Stage, "file": m.File,
		"router": m.Router, "path": m.Path, "serve": m.Serve,
		"versions": versions, "checks": checks,
	}
	if r := m.Rollout; r != nil {
		steps := make([]any, len(r.Steps))
		for i, s := range r.Steps {
			steps[i] = s
		}
		o := map[string]any{
			"strategy": r.Strategy, "steps": steps,
			"bake": FormatDuration(r.Bake), "bake_seconds": r.Bake.Seconds(),
			"interval": FormatDuration(r.Interval), "interval_seconds": r.Interval.Seconds(),
			"failure_limit": r.FailureLimit, "on_failure": r.OnFailure,
		}
		setStr(o, "fallback", r.Fallback)
		setStr(o, "roll_through", r.RollThrough)
		setStr(o, "preview_header", r.PreviewHeader)
		if r.PreviewMirror > 0 {
			o["preview_mirror"] = r.PreviewMirror
		}
		if r.KeepPrevious > 0 || r.Strategy == "blue_green" {
			o["keep_previous"] = FormatDuration(r.KeepPrevious)
			o["keep_previous_seconds"] = r.KeepPrevious.Seconds()
		}
		out["rollout"] = o
	}
	if s := m.Shadow; s != nil {
		out["shadow"] = map[string]any{
			"version": s.Version, "percent": s.Percent, "compare": s.Compare,
			"tolerance": s.Tolerance, "min_agreement": s.MinAgreement, "min_samples": s.MinSamples,
		}
	}
	if e := m.Experiment; e != nil {
		variants := make(map[string]any, len(e.Variants))
		for k, v := range e.Variants {
			variants[k] = v
		}
		order := make([]any, len(e.VariantOrder))
		for i, k := range e.VariantOrder {
			order[i] = k
		}
		o := map[string]any{
			"method": e.Method, "variants": variants, "variant_order": order,
			"reward": e.Reward, "alpha": e.Alpha, "min_samples": e.MinSamples,
			"auto_promote": e.AutoPromote, "explore_floor": e.ExploreFloor, "promote_when": e.PromoteWhen,
		}
		setStr(o, "sticky", e.Sticky)
		setStr(o, "query", e.Query)
		out["experiment"] = o
	}
	return out
}

// FormatDuration writes a duration the way people write them in specs:
// "1m", "90s" -> "1m30s", "1h", "500ms", "0s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func setStr(o map[string]any, k, v string) {
	if v != "" {
		o[k] = v
	}
}

func setNum(o map[string]any, k string, v *float64) {
	if v != nil {
		o[k] = *v
	}
}
