package spectest

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Outcomes a Scenario drives the engine to.
const (
	OutcomeRollback      = "rollback"       // a failed rollout whose commit reverts cleanly
	OutcomeRollbackDirty = "rollback_dirty" // the same file changed since: serve is set back by an edit
	OutcomeFallback      = "fallback"
	OutcomeRollThrough   = "roll_through"
	OutcomePromote       = "promote"  // an experiment with a winner and auto_promote
	OutcomeConclude      = "conclude" // an experiment without a winner
)

// Outcomes lists every outcome.
var Outcomes = []string{OutcomeRollback, OutcomeRollbackDirty, OutcomeFallback, OutcomeRollThrough, OutcomePromote, OutcomeConclude}

// Strategies are the rollout strategies a rollout outcome is drawn with;
// Methods the experiment methods of promote and conclude.
var (
	Strategies = []string{"all_at_once", "canary", "blue_green"}
	Methods    = []string{"ab", "bandit"}
)

// Kind is one outcome with one strategy (or experiment method).
type Kind struct{ Outcome, Strategy string }

// Kinds lists every outcome with every strategy it can happen to, in the
// order Scenarios cycles through them.
func Kinds() []Kind {
	var out []Kind
	for _, o := range Outcomes {
		ss := Strategies
		if o == OutcomePromote || o == OutcomeConclude {
			ss = Methods
		}
		for _, s := range ss {
			out = append(out, Kind{o, s})
		}
	}
	return out
}

// ScenarioFile is the spec file a Scenario's model lives in.
const ScenarioFile = "rollouts/model.hcl"

// Scenario is one generated model and the change that leads to Outcome.
// Every file set it gives is meant to load, validate and pass the
// default policies; what the reconciler's outcome commit makes of it is
// for the test to check.
type Scenario struct {
	Name     string // outcome/strategy/stage/seed, for test names
	Outcome  string
	Stage    string
	Strategy string // the rollout's strategy (an experiment's method for promote and conclude)
	// Base is the repository before the change (serving From); Change the
	// spec file after it: serve set to To for a rollout, the experiment
	// block added for promote and conclude. Later, for rollback_dirty, is
	// a further edit of the same file that keeps serve at To.
	Base   map[string][]byte
	Change []byte
	Later  []byte
	From   string
	To     string // the version under rollout ("" for experiments)
	// Winner is the variant to reward best (promote), or "" (conclude).
	Winner   string
	Variants []string
	// Action is the Switchyard-Action of the commit the reconciler is to
	// write: the outcome's, but rollback for both rollbacks and for a
	// roll_through naming the version the rollout leaves.
	Action string
}

// Scenarios returns n scenarios from seed, cycling through Kinds so that
// n >= len(Kinds()) gives every outcome with every strategy; everything
// else (steps, bake, on_failure targets, shadow, preview settings,
// experiment settings, stage, a staging twin, comments) is drawn at
// random. Every second round, a roll_through names the version the
// rollout leaves.
func Scenarios(seed uint64, n int) []Scenario {
	kinds := Kinds()
	out := make([]Scenario, n)
	for i := range out {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		k := kinds[i%len(kinds)]
		out[i] = scenario(rng, k, fmt.Sprintf("%d.%d", seed, i), (i/len(kinds))%2 == 1)
	}
	return out
}

// gen holds one scenario's choices while its files are written.
type gen struct {
	rng   *rand.Rand
	stage string
	serve string
	// rollout block lines and the other blocks, by name.
	rollout   []string
	onFailure string // "", fallback or roll_through
	// rollThrough is left out of the file (with on_failure =
	// "roll_through") while it names serve, which would be invalid.
	rollThrough  string
	failureLimit int
	shadow       string
	experiment   string
	comment      string
	checkMax     float64
}

var modelVersions = []string{"v1", "v2", "v3", "v4"}

func (g *gen) pick(from []string, not ...string) string {
	var ok []string
	for _, v := range from {
		if !contains(not, v) {
			ok = append(ok, v)
		}
	}
	return ok[g.rng.IntN(len(ok))]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// scenario draws one; leaving makes a roll_through name the version the
// rollout leaves (the engine then rolls back).
func scenario(rng *rand.Rand, k Kind, id string, leaving bool) Scenario {
	outcome := k.Outcome
	g := &gen{rng: rng, stage: []string{"production", "staging"}[rng.IntN(2)], checkMax: []float64{0.01, 0.05, 0.1}[rng.IntN(3)]}
	from := g.pick(modelVersions)
	g.serve = from
	sc := Scenario{Outcome: outcome, Stage: g.stage, From: from}
	twin := g.stage == "production" && rng.IntN(2) == 0
	switch outcome {
	case OutcomePromote, OutcomeConclude:
		sc.Strategy = g.experimentBlock(&sc, from, k.Strategy)
		g.rolloutBlock("", "", g.pick(Strategies))
	default:
		sc.To = g.pick(modelVersions, from)
		sc.Strategy = g.rolloutBlock(outcome, sc.To, k.Strategy)
		if leaving && g.rollThrough != "" {
			g.rollThrough = from
		}
	}
	if rng.IntN(3) == 0 {
		g.shadowBlock(sc.From, sc.To)
	}
	if rng.IntN(2) == 0 {
		g.comment = "  # generated: " + id + "\n"
	}
	sc.Name = fmt.Sprintf("%s/%s/%s/%s", outcome, sc.Strategy, g.stage, id)
	sc.Action = outcome
	if outcome == OutcomeRollbackDirty || (outcome == OutcomeRollThrough && g.rollThrough == from) {
		sc.Action = OutcomeRollback
	}

	exp := g.experiment
	g.experiment = ""
	sc.Base = map[string][]byte{
		"rollouts/routers.hcl":   []byte(scenarioRouters),
		"datasets/holdout.jsonl": []byte(`{"input": {"x": 1}, "expected": 1}` + "\n"),
		ScenarioFile:             g.file(),
	}
	if twin {
		// A staging twin already serving the version production moves to,
		// so that the staging_first policy lets the change through.
		target := sc.To
		if target == "" {
			target = from
		}
		sc.Base["rollouts/staging.hcl"] = []byte(fmt.Sprintf(`model "m" "staging" {
  router = "edge"
  path   = "/v1/m-staging"
  serve  = %q
  version "v1" { url = "http://127.0.0.1:9101" }
  version "v2" { url = "http://127.0.0.1:9102" }
  version "v3" { url = "http://127.0.0.1:9103" }
  version "v4" { url = "http://127.0.0.1:9104" }
}
`, target))
	}
	if sc.To != "" {
		g.serve = sc.To
	} else {
		g.experiment = exp
	}
	sc.Change = g.file()
	if outcome == OutcomeRollbackDirty {
		g.checkMax /= 2
		g.comment += "  # tightened after the change\n"
		sc.Later = g.file()
	}
	return sc
}

func (g *gen) rolloutBlockLines(strategy string) []string {
	lines := []string{fmt.Sprintf("strategy = %q", strategy)}
	switch strategy {
	case "canary":
		first := []float64{1, 5, 10}[g.rng.IntN(3)]
		steps := []string{fmt.Sprint(first)}
		w := first
		for i := g.rng.IntN(3); i > 0; i-- {
			w += float64(10 + g.rng.IntN(30))
			if w >= 100 {
				break
			}
			steps = append(steps, fmt.Sprint(w))
		}
		lines = append(lines, "steps = ["+strings.Join(steps, ", ")+"]")
	case "blue_green":
		switch g.rng.IntN(3) {
		case 0:
			lines = append(lines, `preview_header = "x-smoke"`)
		case 1:
			lines = append(lines, `preview_header = ""`) // none: mirrored copies only, or no preview
		}
		if g.rng.IntN(2) == 0 {
			lines = append(lines, fmt.Sprintf("keep_previous = \"%dm\"", 1+g.rng.IntN(20)))
		}
		if g.rng.IntN(2) == 0 {
			lines = append(lines, fmt.Sprintf("preview_mirror = %d", 1+g.rng.IntN(100)))
		}
	}
	return lines
}

// rolloutBlock writes the rollout block of strategy for outcome (a
// rollout toward to) and returns the strategy; for an experiment (outcome
// "") a rollout block may or may not be there, with any on_failure.
func (g *gen) rolloutBlock(outcome, to, strategy string) string {
	if outcome == "" && g.rng.IntN(2) == 0 {
		// An experiment with no rollout block.
		return strategy
	}
	g.failureLimit = g.rng.IntN(3)
	interval := 5 + g.rng.IntN(10)
	// Long enough a bake that the failing check trips before a stage passes.
	bake := interval * (g.failureLimit + 2 + g.rng.IntN(3))
	lines := g.rolloutBlockLines(strategy)
	lines = append(lines, fmt.Sprintf("bake = \"%ds\"", bake), fmt.Sprintf("interval = \"%ds\"", interval),
		fmt.Sprintf("failure_limit = %d", g.failureLimit))
	switch outcome {
	case OutcomeFallback:
		g.onFailure = "fallback"
	case OutcomeRollThrough:
		// Any version but the one rolled out: the one being left, too
		// (then the base file cannot name it yet).
		g.onFailure, g.rollThrough = "roll_through", g.pick(modelVersions, to)
	case "":
		switch g.rng.IntN(3) {
		case 0:
			g.onFailure = "fallback"
		case 1:
			g.onFailure, g.rollThrough = "roll_through", g.pick(modelVersions, g.serve)
		}
	default:
		if g.rng.IntN(2) == 0 {
			// A roll_through left over (rollback ignores it, with a warning).
			g.rollThrough = g.pick(modelVersions, to)
		}
	}
	g.rollout = lines
	return strategy
}

// shadowBlock runs a version other than the ones serving before and
// after the change (a shadow of the live version is invalid).
func (g *gen) shadowBlock(from, to string) {
	v := g.pick(modelVersions, from, to)
	g.shadow = fmt.Sprintf(`  shadow {
    version       = %q
    percent       = %d
    compare       = "json"
    min_agreement = 0.9%d
    min_samples   = %d
  }
`, v, 10+g.rng.IntN(91), g.rng.IntN(10), 100+g.rng.IntN(900))
}

// experimentBlock writes the experiment of method for promote or conclude
// and returns the method.
func (g *gen) experimentBlock(sc *Scenario, serve, method string) string {
	vs := append([]string(nil), modelVersions...)
	g.rng.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
	vs = vs[:2+g.rng.IntN(2)]
	if g.rng.IntN(2) == 0 && !contains(vs, serve) {
		vs[0] = serve // the control is often the version serving
	}
	sc.Variants = vs
	weights := make([]string, len(vs))
	for i, v := range vs {
		w := 100 / len(vs)
		if i == len(vs)-1 {
			w = 100 - w*(len(vs)-1)
		}
		weights[i] = fmt.Sprintf("%s = %d", v, w)
	}
	if sc.Outcome == OutcomePromote {
		sc.Winner = vs[g.rng.IntN(len(vs))]
	}
	lines := []string{
		fmt.Sprintf("method = %q", method),
		"variants = { " + strings.Join(weights, ", ") + " }",
		fmt.Sprintf("min_samples = %d", 100+g.rng.IntN(400)),
		fmt.Sprintf("auto_promote = %v", sc.Outcome == OutcomePromote || g.rng.IntN(2) == 0),
	}
	if g.rng.IntN(2) == 0 {
		lines = append(lines, `sticky = "header:x-user-id"`)
	}
	if method == "bandit" {
		lines = append(lines, "explore_floor = 0.05", fmt.Sprintf("promote_when = 0.9%d", 5+g.rng.IntN(4)))
	} else {
		lines = append(lines, fmt.Sprintf("alpha = 0.0%d", 1+g.rng.IntN(9)))
	}
	g.experiment = block("experiment", lines)
	return method
}

func block(name string, lines []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s {\n", name)
	for _, l := range lines {
		b.WriteString("    " + l + "\n")
	}
	b.WriteString("  }\n")
	return b.String()
}

// file renders the model's spec file as it stands.
func (g *gen) file() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated model.\nmodel \"m\" %q {\n%s  router = \"edge\"\n  path   = \"/v1/m\"\n  serve  = %q\n\n", g.stage, g.comment, g.serve)
	for i, v := range modelVersions {
		fmt.Fprintf(&b, "  version %q { url = \"http://127.0.0.1:910%d\" }\n", v, i+1)
	}
	b.WriteString("  version \"rules\" {\n    url       = \"http://127.0.0.1:9190\"\n    heuristic = true\n  }\n")
	if g.rollout != nil {
		lines := append([]string(nil), g.rollout...)
		rt := g.rollThrough != "" && g.rollThrough != g.serve
		switch {
		case g.onFailure == "fallback":
			lines = append(lines, `on_failure = "fallback"`, `fallback = "rules"`)
		case g.onFailure == "roll_through" && rt:
			lines = append(lines, `on_failure = "roll_through"`)
		}
		if rt {
			lines = append(lines, fmt.Sprintf("roll_through = %q", g.rollThrough))
		}
		b.WriteString("\n" + block("rollout", lines))
	}
	if g.shadow != "" {
		b.WriteString("\n" + g.shadow)
	}
	if g.experiment != "" {
		b.WriteString("\n" + g.experiment)
	}
	fmt.Fprintf(&b, "\n  check \"errors\" {\n    metric       = \"error_rate\"\n    max          = %g\n    min_requests = 50\n  }\n", g.checkMax)
	b.WriteString("  check \"latency\" {\n    metric    = \"latency_p99\"\n    max_ratio = 1.5\n  }\n}\n")
	return []byte(b.String())
}

const scenarioRouters = `router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}
`
