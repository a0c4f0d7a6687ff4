package spec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

// decodeFile decodes the top-level blocks of one parsed file.
func (l *loader) decodeFile(f parsedFile) {
	content, ds := f.body.Content(fileSchema)
	l.addHCL(diag.SourceSchema, ds)
	for _, b := range content.Blocks {
		switch b.Type {
		case "router":
			l.decodeRouter(f.name, b)
		case "metrics":
			l.decodeMetrics(f.name, b)
		case "model":
			l.decodeModel(f.name, b)
		case "notify":
			l.decodeNotify(f.name, b)
		}
	}
}

// duplicate reports a second definition at rng of something first defined
// at first.
func (l *loader) duplicate(rng, first hcl.Range, what, name, hint string) {
	l.errorAt(rng, fmt.Sprintf("Duplicate %s %s", what, name),
		fmt.Sprintf("%s %s is already defined at %s. %s", upperFirst(what), name, at(first), hint))
}

func at(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (l *loader) decodeRouter(file string, b *hcl.Block) {
	name := b.Labels[0]
	if first, dup := l.routerAt[name]; dup {
		l.duplicate(b.DefRange, first, "router", quote(name), "Router names are unique across the spec tree: rename or remove one.")
		return
	}
	l.routerAt[name] = b.DefRange
	content, ds := b.Body.Content(routerSchema)
	l.addHCL(diag.SourceSchema, ds)
	a := &attrs{l: l, m: content.Attributes, model: name, ranges: l.routerRanges, vals: l.routerRanges}
	l.routerRanges[FieldKey{Model: name}] = b.DefRange
	r := &Router{
		Name:             name,
		File:             file,
		Type:             a.str("type", ""),
		Listen:           a.str("listen", ""),
		Admins:           a.strOrList("admin", `"http://10.0.0.7:9901" or ["http://10.0.0.7:9901", "http://10.0.0.8:9901"]`),
		TokenEnv:         a.str("token_env", ""),
		FeedbackTokenEnv: a.str("feedback_token_env", ""),
		TLSCert:          a.str("tls_cert", ""),
		TLSKey:           a.str("tls_key", ""),
		CAFile:           a.str("ca_file", ""),
		ConfigFile:       a.str("config_file", ""),
		RuntimeAPIs:      a.strOrList("runtime_api", `"/run/haproxy/admin.sock" or a list of them`),
		Command:          a.strList("command"),
	}
	if len(r.Admins) > 0 {
		r.Admin = r.Admins[0]
	}
	if len(r.RuntimeAPIs) > 0 {
		r.RuntimeAPI = r.RuntimeAPIs[0]
	}
	// Keep the value ranges (not the whole attribute) for diagnostics.
	for n, attr := range content.Attributes {
		l.routerRanges[FieldKey{Model: name, Field: n}] = attr.Expr.Range()
	}
	l.tree.Routers[name] = r
}

func (l *loader) decodeMetrics(file string, b *hcl.Block) {
	name := b.Labels[0]
	if first, dup := l.metricsAt[name]; dup {
		l.duplicate(b.DefRange, first, "metrics source", quote(name), "Metrics names are unique across the spec tree: rename or remove one.")
		return
	}
	if name == DefaultCheckSource {
		l.errorAt(b.LabelRanges[0], `Reserved metrics name "router"`,
			`The metrics source "router" always exists (the builtin router's own measurements). Give this block another name.`)
		return
	}
	l.metricsAt[name] = b.DefRange
	content, ds := b.Body.Content(metricsSchema)
	l.addHCL(diag.SourceSchema, ds)
	a := &attrs{l: l, m: content.Attributes, model: name, ranges: l.metricsRanges, vals: l.metricsRanges}
	l.metricsRanges[FieldKey{Model: name}] = b.DefRange
	ms := &MetricsSource{Name: name, File: file, Type: a.str("type", ""), URL: a.str("url", "")}
	for n, attr := range content.Attributes {
		l.metricsRanges[FieldKey{Model: name, Field: n}] = attr.Expr.Range()
	}
	l.tree.Metrics[name] = ms
}

func (l *loader) decodeModel(file string, b *hcl.Block) {
	name, stage := b.Labels[0], b.Labels[1]
	key := name + "/" + stage
	if first, dup := l.modelAt[key]; dup {
		l.duplicate(b.DefRange, first, "model", fmt.Sprintf("%q %q", name, stage),
			"Each model name and stage is defined once across the spec tree: rename the stage or merge the blocks.")
		return
	}
	l.modelAt[key] = b.DefRange
	l.tree.Ranges[FieldKey{Model: key}] = b.DefRange
	content, ds := b.Body.Content(modelSchema)
	l.addHCL(diag.SourceSchema, ds)
	a := l.attrsFor(content.Attributes, key, "")
	m := &Model{
		Name: name, Stage: stage, File: file,
		Router:   a.str("router", ""),
		Path:     a.str("path", ""),
		Serve:    a.str("serve", ""),
		Versions: map[string]*Version{},
	}
	single := map[string]hcl.Range{}
	checkAt := map[string]hcl.Range{}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "version":
			vn := blk.Labels[0]
			if v, dup := m.Versions[vn]; dup {
				first := l.tree.Ranges[FieldKey{Model: key, Field: "versions." + v.Name}]
				l.duplicate(blk.DefRange, first, "version", quote(vn), "Version names are unique within a model: rename or remove one.")
				continue
			}
			m.Versions[vn] = l.decodeVersion(key, blk)
			m.VersionOrder = append(m.VersionOrder, vn)
		case "check":
			cn := blk.Labels[0]
			if first, dup := checkAt[cn]; dup {
				l.duplicate(blk.DefRange, first, "check", quote(cn), "Check names are unique within a model: rename or remove one.")
				continue
			}
			checkAt[cn] = blk.DefRange
			m.Checks = append(m.Checks, l.decodeCheck(key, blk))
		default:
			if first, dup := single[blk.Type]; dup {
				l.errorAt(blk.DefRange, fmt.Sprintf("Duplicate %s block", blk.Type),
					fmt.Sprintf("A model has at most one %s block; the first is at %s. Merge them.", blk.Type, at(first)))
				continue
			}
			single[blk.Type] = blk.DefRange
			switch blk.Type {
			case "rollout":
				m.Rollout = l.decodeRollout(key, blk)
			case "shadow":
				m.Shadow = l.decodeShadow(key, blk)
			case "experiment":
				m.Experiment = l.decodeExperiment(key, blk)
			}
		}
	}
	l.tree.Models = append(l.tree.Models, m)
}

func (l *loader) decodeVersion(key string, b *hcl.Block) *Version {
	vn := b.Labels[0]
	prefix := "versions." + vn
	l.tree.Ranges[FieldKey{Model: key, Field: prefix}] = b.DefRange
	content, ds := b.Body.Content(versionSchema)
	l.addHCL(diag.SourceSchema, ds)
	a := l.attrsFor(content.Attributes, key, prefix+".")
	v := &Version{Name: vn, URL: a.str("url", ""), Heuristic: a.boolean("heuristic", false), CAFile: a.str("ca_file", "")}
	for i, blk := range content.Blocks {
		if i > 0 {
			l.errorAt(blk.DefRange, "Duplicate validation block",
				fmt.Sprintf("A version has at most one validation block; the first is at %s. Merge them.", at(content.Blocks[0].DefRange)))
			continue
		}
		vp := prefix + ".validation"
		l.tree.Ranges[FieldKey{Model: key, Field: vp}] = blk.DefRange
		vc, ds := blk.Body.Content(validationSchema)
		l.addHCL(diag.SourceSchema, ds)
		va := l.attrsFor(vc.Attributes, key, vp+".")
		v.Validation = &Validation{
			Dataset:       va.str("dataset", ""),
			URL:           va.str("url", ""),
			Output:        va.str("output", ""),
			Metric:        va.str("metric", DefaultValidationMetric),
			Min:           va.optNum("min"),
			Max:           va.optNum("max"),
			MaxLatencyP99: va.optNum("max_latency_p99"),
			Positive:      va.str("positive", DefaultPositive),
			Baseline:      va.str("baseline", ""),
			MaxRegression: va.optNum("max_regression"),
		}
	}
	return v
}

func (l *loader) decodeRollout(key string, b *hcl.Block) *Rollout {
	l.tree.Ranges[FieldKey{Model: key, Field: "rollout"}] = b.DefRange
	content, ds := b.Body.Content(rolloutSchema)
	l.addHCL(diag.SourceSchema, ds)
	a := l.attrsFor(content.Attributes, key, "rollout.")
	r := &Rollout{
		Strategy:      a.str("strategy", DefaultStrategy),
		Bake:          a.duration("bake", DefaultBake),
		Interval:      a.duration("interval", DefaultInterval),
		FailureLimit:  a.integer("failure_limit", 0),
		OnFailure:     a.str("on_failure", DefaultOnFailure),
		Fallback:      a.str("fallback", ""),
		RollThrough:   a.str("roll_through", ""),
		PreviewHeader: a.str("preview_header", ""),
		PreviewMirror: a.numDefault("preview_mirror", 0),
		KeepPrevious:  a.duration("keep_previous", 0),
	}
	r.Steps, _ = a.numberList("steps")
	if r.Steps == nil {
		r.Steps = []float64{}
	}
	if r.Strategy == "blue_green" {
		if !a.has("preview_header") {
			r.PreviewHeader = DefaultPreviewHeader
		}
		if !a.has("keep_previous") {
			r.KeepPrevious = DefaultKeepPrevious
		}
	}
	return r
}

// DefaultRollout is the rollout of a model without a rollout block.
func DefaultRollout() *Rollout {
	return &Rollout{
		Strategy: DefaultStrategy, Steps: []float64{}, Bake: DefaultBake,
		Interval: DefaultInterval, OnFailure: DefaultOnFailure,
	}
}

func (l *loader) decodeCheck(key string, b *hcl.Block) *Check {
	cn := b.Labels[0]
	prefix := "checks." + cn
	l.tree.Ranges[FieldKey{Model: key, Field: prefix}] = b.DefRange
	content, ds := b.Body.Content(checkSchema)
	l.addHCL(diag.SourceSchema, ds)
	a := l.attrsFor(content.Attributes, key, prefix+".")
	return &Check{
		Name:        cn,
		Metric:      a.str("metric", ""),
		Source:      a.str("source", DefaultCheckSource),
		Query:       a.str("query", ""),
		Max:         a.optNum("max"),
		Min:         a.optNum("min"),
		MaxRatio:    a.optNum("max_ratio"),
		MinRatio:    a.optNum("min_ratio"),
		Output:      a.str("output", ""),
		MinRequests: a.integer("min_requests", DefaultMinRequests),
	}
}

func (l *loader) decodeShadow(key string, b *hcl.Block) *Shadow {
	l.tree.Ranges[FieldKey{Model: key, Field: "shadow"}] = b.DefRange
	content, ds := b.Body.Content(shadowSchema)
	l.addHCL(diag.SourceSchema, ds)
	a := l.attrsFor(content.Attributes, key, "shadow.")
	return &Shadow{
		Version:      a.str("version", ""),
		Percent:      a.numDefault("percent", DefaultShadowPercent),
		Compare:      a.str("compare", DefaultShadowCompare),
		Tolerance:    a.numDefault("tolerance", 0),
		MinAgreement: a.numDefault("min_agreement", DefaultMinAgreement),
		MinSamples:   a.integer("min_samples", DefaultShadowMinSamples),
	}
}

func (l *loader) decodeExperiment(key string, b *hcl.Block) *Experiment {
	l.tree.Ranges[FieldKey{Model: key, Field: "experiment"}] = b.DefRange
	content, ds := b.Body.Content(experimentSchema)
	l.addHCL(diag.SourceSchema, ds)
	a := l.attrsFor(content.Attributes, key, "experiment.")
	e := &Experiment{
		Method:       a.str("method", DefaultMethod),
		Sticky:       a.str("sticky", ""),
		Reward:       a.str("reward", DefaultReward),
		Query:        a.str("query", ""),
		Alpha:        a.numDefault("alpha", DefaultAlpha),
		MinSamples:   a.integer("min_samples", DefaultExpMinSamples),
		AutoPromote:  a.boolean("auto_promote", false),
		ExploreFloor: a.numDefault("explore_floor", DefaultExploreFloor),
		PromoteWhen:  a.numDefault("promote_when", DefaultPromoteWhen),
	}
	e.Variants, e.VariantOrder, _ = a.weights("variants")
	if e.Variants == nil {
		e.Variants = map[string]float64{}
	}
	return e
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// sortModels orders models by name, then stage.
func sortModels(ms []*Model) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Name != ms[j].Name {
			return ms[i].Name < ms[j].Name
		}
		return ms[i].Stage < ms[j].Stage
	})
}
