package plan

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// describe fills a Change from the base and head model (either may be
// nil). The rollout, checks and on-failure descriptions are the head's,
// or the base's for a removed model.
func describe(kind Kind, base, head *spec.Model) Change {
	m := head
	if m == nil {
		m = base
	}
	c := Change{Model: m.Name, Stage: m.Stage, File: m.File, Kind: kind}
	if base != nil {
		c.From = base.Serve
	}
	if head != nil {
		c.To = head.Serve
	}
	switch kind {
	case Add:
		c.Changed = []string{"model"}
	case Remove:
		c.Changed = []string{"model"}
	}
	r := m.Rollout
	if r == nil {
		r = spec.DefaultRollout()
	}
	c.Strategy = r.Strategy
	c.Steps = append([]float64{}, r.Steps...)
	c.Bake = spec.FormatDuration(r.Bake)
	c.Interval = spec.FormatDuration(r.Interval)
	c.Rollout = describeRollout(r, len(m.Checks) > 0)
	c.Checks = []string{}
	for _, ch := range m.Checks {
		c.Checks = append(c.Checks, describeCheck(ch))
	}
	c.OnFailure = describeFailure(r, c.From, len(m.Checks) > 0)
	if m.Shadow != nil {
		c.Shadow = describeShadow(m.Shadow)
	} else if base != nil && base.Shadow != nil {
		c.Shadow = "removed (was " + base.Shadow.Version + ")"
	}
	if m.Experiment != nil {
		c.Experiment = describeExperiment(m.Experiment)
	} else if base != nil && base.Experiment != nil {
		c.Experiment = "removed"
	}
	return c
}

// num prints a number as written, without float noise (0.98*100 is 98).
func num(f float64) string { return strconv.FormatFloat(math.Round(f*1e9)/1e9, 'f', -1, 64) }

func pct(f float64) string { return num(f) + "%" }

func describeRollout(r *spec.Rollout, checked bool) string {
	measured := "checks every " + spec.FormatDuration(r.Interval)
	if !checked {
		measured = "no checks"
	}
	bake := spec.FormatDuration(r.Bake)
	switch r.Strategy {
	case "canary":
		steps := make([]string, 0, len(r.Steps)+1)
		for _, s := range r.Steps {
			steps = append(steps, pct(s))
		}
		steps = append(steps, "100%")
		return fmt.Sprintf("canary %s, %s bake each, %s", strings.Join(steps, " → "), bake, measured)
	case "blue_green":
		keep := spec.FormatDuration(r.KeepPrevious)
		var preview []string
		if r.PreviewHeader != "" {
			preview = append(preview, "header "+r.PreviewHeader)
		}
		if r.PreviewMirror > 0 {
			preview = append(preview, pct(r.PreviewMirror)+" of live requests mirrored")
		}
		if len(preview) == 0 {
			return fmt.Sprintf("blue_green: no preview, 100%% at once and %s bake, %s; previous version kept %s", bake, measured, keep)
		}
		return fmt.Sprintf("blue_green: preview (%s) for %s, then 100%% at once and %s bake, %s; previous version kept %s",
			strings.Join(preview, ", "), bake, bake, measured, keep)
	default:
		return fmt.Sprintf("%s: 100%% at once, then %s bake, %s", r.Strategy, bake, measured)
	}
}

func describeCheck(c *spec.Check) string {
	var subject string
	switch {
	case c.Query != "":
		subject = fmt.Sprintf("%s query `%s`", c.Source, c.Query)
	case c.Source != "" && c.Source != "router":
		subject = c.Source + " " + c.Metric
	case c.Output != "":
		subject = fmt.Sprintf("%s of `%s`", c.Metric, c.Output)
	default:
		subject = c.Metric
	}
	var conds []string
	switch {
	case c.Max != nil && c.Metric == "output_drift":
		conds = append(conds, fmt.Sprintf("%s ≤ %s (population stability index against the previous version; fails when its 90%% lower bound is above)", subject, num(*c.Max)))
	case c.Metric == "output_drift" && c.Query == "":
		conds = append(conds, fmt.Sprintf("%s ≤ %s for numbers, %s for classes (the default; population stability index against the previous version; fails when its 90%% lower bound is above)",
			subject, num(behaviour.DefaultDriftMax), num(behaviour.DefaultDriftMaxClasses)))
	case c.Max != nil:
		conds = append(conds, subject+" ≤ "+num(*c.Max))
	}
	if c.Min != nil {
		conds = append(conds, subject+" ≥ "+num(*c.Min))
	}
	if c.MaxRatio != nil {
		conds = append(conds, subject+" ≤ "+num(*c.MaxRatio)+" × previous version")
	}
	if c.MinRatio != nil {
		conds = append(conds, subject+" ≥ "+num(*c.MinRatio)+" × previous version")
	}
	if len(conds) == 0 {
		conds = append(conds, subject+" (no threshold)")
	}
	s := c.Name + ": " + strings.Join(conds, " and ")
	if c.Query == "" && (c.Source == "" || c.Source == "router") {
		unit := "requests"
		switch c.Metric {
		case "accuracy", "mae", "rmse", "log_loss":
			unit = "labelled answers"
		}
		s += fmt.Sprintf(" (min %d %s)", c.MinRequests, unit)
	}
	return s
}

func describeFailure(r *spec.Rollout, from string, checked bool) string {
	if !checked {
		return "nothing is measured, so " + r.OnFailure + " never fires"
	}
	var action string
	switch r.OnFailure {
	case "fallback":
		action = "fallback to " + r.Fallback
	case "roll_through":
		action = "roll through to " + r.RollThrough
	default:
		if from == "" {
			action = "rollback (removes the new model's traffic; nothing served before)"
		} else {
			action = "rollback to " + from
		}
	}
	n := r.FailureLimit + 1
	unit := "measurement"
	if n != 1 {
		unit = "measurements"
	}
	return fmt.Sprintf("%s after %d failed %s of a check", action, n, unit)
}

func describeShadow(s *spec.Shadow) string {
	cmp := s.Compare + " compare"
	if s.Compare == "json" && s.Tolerance > 0 {
		cmp += " (tolerance " + num(s.Tolerance) + ")"
	}
	return fmt.Sprintf("%s on %s of requests, %s, passes at ≥ %s agreement over %d pairs",
		s.Version, pct(s.Percent), cmp, pct(s.MinAgreement*100), s.MinSamples)
}

func describeExperiment(e *spec.Experiment) string {
	order := e.VariantOrder
	if len(order) == 0 {
		for k := range e.Variants {
			order = append(order, k)
		}
		sort.Strings(order)
	}
	split := make([]string, 0, len(order))
	for _, v := range order {
		split = append(split, v+" "+pct(e.Variants[v]))
	}
	parts := []string{e.Method + ": " + strings.Join(split, " / ")}
	if e.Method == "bandit" {
		parts[0] += " to start"
	}
	if e.Sticky != "" {
		parts = append(parts, "sticky "+e.Sticky)
	}
	parts = append(parts, "reward "+e.Reward)
	switch e.Method {
	case "bandit":
		parts = append(parts, "explore floor "+pct(e.ExploreFloor*100),
			"winner at P(best) ≥ "+num(e.PromoteWhen))
	default:
		parts = append(parts, "alpha "+num(e.Alpha))
	}
	parts = append(parts, fmt.Sprintf("min %d samples per variant", e.MinSamples))
	if e.AutoPromote {
		parts = append(parts, "winner promoted by a commit")
	} else {
		parts = append(parts, "no automatic promotion")
	}
	return strings.Join(parts, ", ")
}

// compare fills what an update replaces.
func compare(c *Change, base, head *spec.Model) {
	for name := range head.Versions {
		if _, ok := base.Versions[name]; !ok {
			c.VersionsAdded = append(c.VersionsAdded, name)
		}
	}
	for name := range base.Versions {
		if _, ok := head.Versions[name]; !ok {
			c.VersionsRemoved = append(c.VersionsRemoved, name)
		}
	}
	sort.Strings(c.VersionsAdded)
	sort.Strings(c.VersionsRemoved)
	was := describe(Update, base, base)
	was.From = c.From
	if was.Rollout != c.Rollout {
		c.PreviousRollout = was.Rollout
	}
	if strings.Join(was.Checks, "\n") != strings.Join(c.Checks, "\n") {
		c.PreviousChecks = was.Checks
		if len(c.PreviousChecks) == 0 {
			c.PreviousChecks = []string{"none"}
		}
	}
	rb := base.Rollout
	if rb == nil {
		rb = spec.DefaultRollout()
	}
	if prev := describeFailure(rb, c.From, len(base.Checks) > 0); prev != c.OnFailure {
		c.PreviousOnFailure = prev
	}
}
