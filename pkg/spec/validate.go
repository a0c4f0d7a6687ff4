package spec

import (
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/switchyard-dev/switchyard/pkg/behaviour"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// validate checks the decoded tree as a whole: references, ranges of
// values, combinations and router capabilities.
func (l *loader) validate() {
	for _, name := range slices.Sorted(maps.Keys(l.tree.Routers)) {
		l.validateRouter(l.tree.Routers[name])
	}
	for _, name := range slices.Sorted(maps.Keys(l.tree.Metrics)) {
		l.validateMetrics(l.tree.Metrics[name])
	}
	for _, name := range slices.Sorted(maps.Keys(l.tree.Notify)) {
		l.validateNotify(l.tree.Notify[name])
	}
	for _, m := range l.tree.Models {
		l.validateModel(m)
	}
	l.validateRoutes()
	sortModels(l.tree.Models)
}

// rng is the best range for a model's field: its value, else the field
// or its closest enclosing block.
func (l *loader) rng(m *Model, field string) hcl.Range {
	if r, ok := l.valueRanges[FieldKey{Model: m.Key(), Field: field}]; ok {
		return r
	}
	r, _ := l.tree.FieldRange(m.Key(), field)
	return r
}

// anyBad reports whether any of the fields had a value of the wrong type
// (already reported), so that follow-on errors are not piled on top.
func (l *loader) anyBad(m *Model, fields ...string) bool {
	for _, f := range fields {
		if l.bad[FieldKey{Model: m.Key(), Field: f}] {
			return true
		}
	}
	return false
}

func (l *loader) set(m *Model, field string) bool {
	_, ok := l.tree.Ranges[FieldKey{Model: m.Key(), Field: field}]
	return ok
}

func (l *loader) routerRng(name, field string) hcl.Range {
	if r, ok := l.routerRanges[FieldKey{Model: name, Field: field}]; ok {
		return r
	}
	return l.routerRanges[FieldKey{Model: name}]
}

func (l *loader) validateRouter(r *Router) {
	switch r.Type {
	case "":
		// missing: reported by the schema.
	case "builtin":
		if r.Listen == "" && r.Admins == nil && !l.bad[FieldKey{Model: r.Name, Field: "admin"}] {
			l.errorAt(l.routerRng(r.Name, ""), "Builtin router without listen or admin",
				`A builtin router either runs in-process on listen = "127.0.0.1:8080" or is driven over its admin API at admin = "http://host:9901". Set one of them.`)
		}
		if r.TokenEnv != "" && r.Admin == "" {
			l.warnAt(l.routerRng(r.Name, "token_env"), "token_env without admin",
				"token_env is the bearer token of a standalone router's admin API; it is unused without admin.")
		}
		if r.FeedbackTokenEnv != "" && r.Listen == "" {
			l.warnAt(l.routerRng(r.Name, "feedback_token_env"), "feedback_token_env without listen",
				"feedback_token_env sets the feedback token of the router the reconciler runs in-process (listen); a standalone router takes reconciler router --feedback-token-env NAME.")
		}
		if (r.TLSCert != "") != (r.TLSKey != "") {
			missing, set := "tls_key", "tls_cert"
			if r.TLSCert == "" {
				missing, set = "tls_cert", "tls_key"
			}
			l.errorAt(l.routerRng(r.Name, set), set+" without "+missing,
				fmt.Sprintf(`The router serves TLS with a certificate and its key: set both tls_cert and tls_key (such as %s = "/etc/switchyard/tls/%s.pem"), or neither.`, missing, strings.TrimPrefix(missing, "tls_")))
		}
		if r.CAFile != "" && r.Admins == nil {
			l.warnAt(l.routerRng(r.Name, "ca_file"), "ca_file without admin",
				"A router block's ca_file is the CA the reconciler checks a standalone router's https:// admin API against; it is unused without admin. A version's backend CA goes in the version block's ca_file.")
		}
		if r.TLSCert != "" && r.Listen == "" {
			l.warnAt(l.routerRng(r.Name, "tls_cert"), "tls_cert without listen",
				"tls_cert and tls_key are for the router the reconciler runs in-process (listen); a standalone router takes reconciler router --tls-cert FILE --tls-key FILE.")
		}
	case "nginx", "haproxy":
		for _, f := range []struct{ name, val string }{{"tls_cert", r.TLSCert}, {"tls_key", r.TLSKey}, {"ca_file", r.CAFile}} {
			if f.val != "" {
				l.errorAt(l.routerRng(r.Name, f.name), f.name+" on a "+r.Type+" router",
					"tls_cert, tls_key and ca_file configure the builtin router's TLS; "+r.Type+" serves TLS as its own configuration says. Remove "+f.name+".")
			}
		}
		if r.FeedbackTokenEnv != "" {
			l.errorAt(l.routerRng(r.Name, "feedback_token_env"), "feedback_token_env on a "+r.Type+" router",
				"Only the builtin router takes feedback (POST /_switchyard/feedback). Remove feedback_token_env.")
		}
		if r.ConfigFile == "" {
			l.errorAt(l.routerRng(r.Name, ""), "Missing config_file",
				fmt.Sprintf(`A %s router needs config_file: the one file the reconciler owns and rewrites, such as config_file = "/etc/%s/switchyard.conf".`, r.Type, r.Type))
		}
	default:
		l.errorAt(l.routerRng(r.Name, "type"), "Unknown router type", oneOf("router type", r.Type, routerTypes))
	}
	if r.Listen != "" {
		if _, _, err := net.SplitHostPort(r.Listen); err != nil {
			l.errorAt(l.routerRng(r.Name, "listen"), "Invalid listen address",
				fmt.Sprintf("%q is not a host:port address: %v. Write it as \"127.0.0.1:8080\".", r.Listen, err))
		}
	}
	seen := map[string]bool{}
	for _, u := range r.Admins {
		switch {
		case !isHTTPURL(u):
			l.errorAt(l.routerRng(r.Name, "admin"), "Invalid admin URL",
				fmt.Sprintf("%q is not an http(s) URL. Write it as \"http://10.0.0.7:9901\".", u))
		case seen[u]:
			l.errorAt(l.routerRng(r.Name, "admin"), "Duplicate admin URL",
				fmt.Sprintf("%q is listed twice: every replica of a router fleet is listed once.", u))
		}
		seen[u] = true
	}
	if r.Admins != nil && len(r.Admins) == 0 {
		l.errorAt(l.routerRng(r.Name, "admin"), "Empty admin list",
			`admin lists the replicas' admin API URLs: give at least one, such as admin = ["http://10.0.0.7:9901"].`)
	}
	seenAPI := map[string]bool{}
	for _, a := range r.RuntimeAPIs {
		_, _, local, err := RuntimeAPIAddr(a)
		switch {
		case err != nil:
			l.errorAt(l.routerRng(r.Name, "runtime_api"), "Invalid runtime_api address",
				err.Error()+`. Write it as HAProxy's stats socket is written, such as "/run/haproxy/admin.sock" or "127.0.0.1:9999".`)
		case seenAPI[a]:
			l.errorAt(l.routerRng(r.Name, "runtime_api"), "Duplicate runtime_api address",
				fmt.Sprintf("%q is listed twice: every HAProxy instance is listed once.", a))
		case !local && len(r.RuntimeAPIs) > 1:
			l.errorAt(l.routerRng(r.Name, "runtime_api"), "runtime_api on another host",
				fmt.Sprintf("%q is not on this host. Several HAProxy instances share config_file on the reconciler's host, and each is reloaded through its own master process, found as the parent of the worker its runtime API names: list unix sockets or loopback addresses (127.0.0.1:9999) only, and one router block per host.", a))
		}
		seenAPI[a] = true
	}
	if r.RuntimeAPIs != nil && len(r.RuntimeAPIs) == 0 {
		l.errorAt(l.routerRng(r.Name, "runtime_api"), "Empty runtime_api list",
			`runtime_api lists HAProxy admin sockets: give at least one, such as runtime_api = ["/run/haproxy/admin.sock"].`)
	}
	if r.Name != "" && !nameRE.MatchString(r.Name) {
		l.errorAt(l.routerRng(r.Name, ""), "Invalid name", nameDetail("router", r.Name))
	}
}

func (l *loader) validateMetrics(ms *MetricsSource) {
	at := func(f string) hcl.Range {
		if r, ok := l.metricsRanges[FieldKey{Model: ms.Name, Field: f}]; ok {
			return r
		}
		return l.metricsRanges[FieldKey{Model: ms.Name}]
	}
	if !nameRE.MatchString(ms.Name) {
		l.errorAt(at(""), "Invalid name", nameDetail("metrics", ms.Name))
	}
	if ms.Type != "" && !contains(metricsTypes, ms.Type) {
		l.errorAt(at("type"), "Unknown metrics type", oneOf("metrics type", ms.Type, metricsTypes))
	}
	if ms.URL != "" && !isHTTPURL(ms.URL) {
		l.errorAt(at("url"), "Invalid metrics URL",
			fmt.Sprintf("%q is not an http(s) URL. Write it as \"http://127.0.0.1:9090\".", ms.URL))
	}
}

func nameDetail(what, name string) string {
	return fmt.Sprintf("%q is not a valid %s name: use letters, digits, '_', '.' and '-', starting with a letter or digit.", name, what)
}

// isH2CURL reports an h2c:// URL: a version reached over HTTP/2 in clear
// text (a gRPC model server), by the builtin router only.
func isH2CURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "h2c" && u.Host != ""
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (l *loader) validateModel(m *Model) {
	if !nameRE.MatchString(m.Name) {
		l.errorAt(l.rng(m, ""), "Invalid name", nameDetail("model", m.Name))
	}
	if !nameRE.MatchString(m.Stage) {
		l.errorAt(l.rng(m, ""), "Invalid name", nameDetail("stage", m.Stage))
	}
	versions := slices.Sorted(maps.Keys(m.Versions))
	if len(m.Versions) == 0 {
		l.errorAt(l.rng(m, ""), "Model has no versions",
			fmt.Sprintf(`Model %q %q needs at least one version block, such as version "v1" { url = "http://127.0.0.1:9101" }.`, m.Name, m.Stage))
	}
	for _, vn := range versions {
		l.validateVersion(m, m.Versions[vn])
	}
	var router *Router
	if m.Router != "" {
		router = l.tree.Routers[m.Router]
		if router == nil && !l.incomplete {
			l.errorAt(l.rng(m, "router"), "Unknown router", unknownRef("router", m.Router, slices.Sorted(maps.Keys(l.tree.Routers)),
				`Define it with router "NAME" { type = "builtin", listen = "127.0.0.1:8080" }.`))
		}
	}
	if router != nil && router.Type != "builtin" {
		for _, vn := range versions {
			if isH2CURL(m.Versions[vn].URL) {
				l.errorAt(l.rng(m, "versions."+vn+".url"), "h2c:// version on a "+router.Type+" router",
					fmt.Sprintf("Only the builtin router reaches versions over HTTP/2 in clear text; router %q is %s. Use a builtin router, or an http(s):// URL.", router.Name, router.Type))
			}
			if m.Versions[vn].CAFile != "" {
				l.errorAt(l.rng(m, "versions."+vn+".ca_file"), "ca_file on a "+router.Type+" router's version",
					fmt.Sprintf("Only the builtin router reads a version's ca_file; router %q is %s, which checks backend certificates as its own configuration says. Remove ca_file.", router.Name, router.Type))
			}
		}
	}
	switch {
	case !l.set(m, "path"):
	case !strings.HasPrefix(m.Path, "/") || strings.ContainsAny(m.Path, "?# \t\r\n"):
		l.errorAt(l.rng(m, "path"), "Invalid path",
			fmt.Sprintf("%q is not a route prefix: it must start with \"/\" and hold no query, fragment or spaces, such as \"/v1/%s\".", m.Path, m.Name))
	case m.Path == "/_switchyard" || strings.HasPrefix(m.Path, "/_switchyard/"):
		l.errorAt(l.rng(m, "path"), "Reserved path",
			"Paths under /_switchyard belong to the router itself (POST /_switchyard/feedback). Choose another prefix.")
	}
	if m.Serve != "" && len(m.Versions) > 0 && m.Versions[m.Serve] == nil {
		l.errorAt(l.rng(m, "serve"), "Unknown version in serve",
			unknownRef("version", m.Serve, versions, "serve names one of the model's version blocks."))
	}
	if m.Rollout != nil {
		l.validateRollout(m, router)
	}
	for _, c := range m.Checks {
		l.validateCheck(m, c)
	}
	if m.Shadow != nil {
		l.validateShadow(m, router)
	}
	if m.Experiment != nil {
		l.validateExperiment(m, router)
	}
}

// unknownRef explains a reference to something that does not exist.
func unknownRef(what, given string, defined []string, hint string) string {
	s := fmt.Sprintf("No %s named %q is defined.%s", what, given, didYouMean(given, defined))
	if len(defined) > 0 && len(defined) <= 20 {
		s += fmt.Sprintf(" Defined: %s.", quoteList(defined))
	}
	if hint != "" {
		s += " " + hint
	}
	return s
}

// capability reports a model feature (need) its router's type cannot
// provide (RouterCapabilities).
func (l *loader) capability(m *Model, router *Router, need Capabilities, field, instead string) {
	if router == nil {
		return
	}
	have, known := RouterCapabilities(router.Type)
	miss := have.missing(need)
	if !known || len(miss) == 0 {
		return
	}
	capName := miss[0].does
	l.errorAt(l.rng(m, field), fmt.Sprintf("Router type %q cannot %s", router.Type, capName),
		fmt.Sprintf("Model %q %q uses router %q of type %s, which cannot %s. %s", m.Name, m.Stage, router.Name, router.Type, capName, instead))
}

func (l *loader) percent(m *Model, field string, v float64, what string) bool {
	if v < 0 || v > 100 || math.IsNaN(v) {
		l.errorAt(l.rng(m, field), "Percentage out of range",
			fmt.Sprintf("%s is %v; percentages are numbers from 0 to 100.", what, v))
		return false
	}
	return true
}

func (l *loader) validateVersion(m *Model, v *Version) {
	p := "versions." + v.Name
	if !nameRE.MatchString(v.Name) {
		l.errorAt(l.rng(m, p), "Invalid name", nameDetail("version", v.Name))
	}
	if v.URL != "" && !isHTTPURL(v.URL) && !isH2CURL(v.URL) {
		l.errorAt(l.rng(m, p+".url"), "Invalid version URL",
			fmt.Sprintf("%q is not an http(s) or h2c URL. Write the version's base URL, such as \"http://127.0.0.1:9102\" (or \"h2c://127.0.0.1:9102\" for a gRPC server in clear text).", v.URL))
	}
	if v.CAFile != "" && v.URL != "" && !strings.HasPrefix(strings.ToLower(v.URL), "https://") {
		l.errorAt(l.rng(m, p+".ca_file"), "ca_file on a version that is not https",
			fmt.Sprintf("ca_file is the certificate authority an https:// version's certificate is checked against; %q is not https. Remove ca_file or make the URL https://.", v.URL))
	}
	val := v.Validation
	if val == nil {
		return
	}
	vp := p + ".validation"
	if val.Dataset != "" {
		l.validateDataset(m, vp+".dataset", val.Dataset)
	}
	if val.URL == "" && isH2CURL(v.URL) {
		l.errorAt(l.rng(m, vp), "Validation of an h2c:// version needs a url",
			fmt.Sprintf("Offline validation POSTs JSON inputs over HTTP/1.1; %q speaks only HTTP/2. Set the validation block's url to an http(s):// endpoint of the version, such as its REST port.", v.URL))
	}
	if val.URL != "" && !isHTTPURL(val.URL) {
		l.errorAt(l.rng(m, vp+".url"), "Invalid validation URL",
			fmt.Sprintf("%q is not an http(s) URL; it is where each input is POSTed, such as \"http://127.0.0.1:9203/predict\".", val.URL))
	}
	if val.Output != "" && !strings.HasPrefix(val.Output, "/") {
		l.errorAt(l.rng(m, vp+".output"), "Invalid JSON pointer",
			fmt.Sprintf("%q is not a JSON pointer: it must start with \"/\", such as \"/score\". Leave output unset to compare the whole body.", val.Output))
	}
	if !contains(validationMetrics, val.Metric) {
		l.errorAt(l.rng(m, vp+".metric"), "Unknown validation metric", oneOf("validation metric", val.Metric, validationMetrics))
		return
	}
	if val.Min == nil && val.Max == nil && val.MaxLatencyP99 == nil && val.MaxRegression == nil {
		l.errorAt(l.rng(m, vp), "Validation has no threshold",
			fmt.Sprintf("Set min (for %s), max (for %s), max_regression with baseline, or max_latency_p99, so that %s can pass or fail.",
				orList(higherBetterValidation()), orList(lowerBetterValidation()), v.Name))
	}
	if MetricLowerIsBetter(val.Metric) {
		if val.Min != nil {
			l.errorAt(l.rng(m, vp+".min"), "Wrong threshold for "+val.Metric,
				fmt.Sprintf("%s is an error: lower is better. Set max (the largest error that passes), not min.", val.Metric))
		}
	} else {
		if val.Max != nil {
			l.errorAt(l.rng(m, vp+".max"), "Wrong threshold for "+val.Metric,
				fmt.Sprintf("%s is better when higher: set min (the least %s that passes), not max.", metricTitle(val.Metric), val.Metric))
		}
		if val.Min != nil && (*val.Min < 0 || *val.Min > 1) {
			l.errorAt(l.rng(m, vp+".min"), metricTitle(val.Metric)+" out of range",
				fmt.Sprintf("%s is a fraction from 0 to 1 (got %v): write 0.92 for 92%%.", metricTitle(val.Metric), *val.Min))
		}
	}
	if l.set(m, vp+".positive") && !classMetric(val.Metric) {
		l.warnAt(l.rng(m, vp+".positive"), "positive is ignored",
			fmt.Sprintf("positive names the positive class of precision, recall, f1, auc and log_loss; %s does not use it.", val.Metric))
	}
	if val.Baseline != "" && !contains(baselines, val.Baseline) {
		l.errorAt(l.rng(m, vp+".baseline"), "Unknown baseline", oneOf("baseline", val.Baseline, baselines))
	}
	if val.MaxRegression != nil {
		switch {
		case val.Baseline == "":
			l.errorAt(l.rng(m, vp+".max_regression"), "max_regression needs a baseline",
				"max_regression bounds how much worse than the serving version the candidate may be. Add baseline = \"serve\" to run the serving version on the same rows.")
		case *val.MaxRegression < 0:
			l.errorAt(l.rng(m, vp+".max_regression"), "Invalid max_regression",
				fmt.Sprintf("max_regression is how much worse than the baseline the %s may be, in the metric's units; it must be 0 or more, such as 0.005.", val.Metric))
		}
	}
	if val.MaxLatencyP99 != nil && *val.MaxLatencyP99 <= 0 {
		l.errorAt(l.rng(m, vp+".max_latency_p99"), "Invalid latency",
			"max_latency_p99 is in seconds and must be more than 0, such as 0.2.")
	}
}

// MetricLowerIsBetter says whether a smaller value of a quality metric
// (offline validation or a behaviour check) is better: the errors log_loss,
// mae and rmse, and the distance output_drift.
func MetricLowerIsBetter(metric string) bool {
	switch metric {
	case "log_loss", "mae", "rmse", "output_drift":
		return true
	}
	return false
}

// classMetric says whether a validation metric uses the positive class.
func classMetric(metric string) bool {
	switch metric {
	case "precision", "recall", "f1", "auc", "log_loss":
		return true
	}
	return false
}

func higherBetterValidation() (out []string) {
	for _, m := range validationMetrics {
		if !MetricLowerIsBetter(m) {
			out = append(out, m)
		}
	}
	return out
}

func lowerBetterValidation() (out []string) {
	for _, m := range validationMetrics {
		if MetricLowerIsBetter(m) {
			out = append(out, m)
		}
	}
	return out
}

// orList writes "a, b or c".
func orList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

func metricTitle(m string) string {
	if m == "auc" || m == "f1" {
		return strings.ToUpper(m)
	}
	return strings.ToUpper(m[:1]) + m[1:]
}

func (l *loader) validateDataset(m *Model, field, ds string) {
	clean := path.Clean(ds)
	if path.IsAbs(ds) || strings.Contains(ds, `\`) || clean == ".." || strings.HasPrefix(clean, "../") || !fs.ValidPath(clean) {
		l.errorAt(l.rng(m, field), "Invalid dataset path",
			fmt.Sprintf("%q must be a slash-separated path inside the repository, relative to its root, such as \"datasets/holdout.jsonl\".", ds))
		return
	}
	st, ok := l.stats[clean]
	if !ok {
		st.info, st.err = fs.Stat(l.fsys, clean)
		l.stats[clean] = st
	}
	info, err := st.info, st.err
	switch {
	case err != nil:
		l.errorAt(l.rng(m, field), "Dataset not found",
			fmt.Sprintf("%q does not exist in the repository. Dataset paths are relative to the repository root (not to the spec file); add the file or fix the path.", ds))
	case info.IsDir():
		l.errorAt(l.rng(m, field), "Dataset is a directory",
			fmt.Sprintf("%q is a directory; name a JSON lines (.jsonl) or CSV (.csv) file in it.", ds))
	}
}

func (l *loader) validateRollout(m *Model, router *Router) {
	r := m.Rollout
	if !contains(strategies, r.Strategy) {
		l.errorAt(l.rng(m, "rollout.strategy"), "Unknown strategy", oneOf("strategy", r.Strategy, strategies))
	}
	if r.Strategy == "canary" {
		if l.anyBad(m, "rollout.steps") {
			// wrong type: reported already.
		} else if len(r.Steps) == 0 && !l.set(m, "rollout.steps") {
			l.errorAt(l.rng(m, "rollout"), "Canary without steps",
				"A canary rollout needs steps: the percent of traffic on the new version at each step before 100, such as steps = [5, 25, 50].")
		} else if len(r.Steps) == 0 {
			l.errorAt(l.rng(m, "rollout.steps"), "Canary without steps",
				"steps is empty: list the percent of traffic at each step before 100, such as [5, 25, 50], or use strategy = \"all_at_once\".")
		}
		for i, s := range r.Steps {
			f := fmt.Sprintf("rollout.steps.%d", i)
			if !l.percent(m, f, s, fmt.Sprintf("Step %d", i+1)) {
				continue
			}
			if i > 0 && s <= r.Steps[i-1] {
				l.errorAt(l.rng(m, f), "Canary steps not increasing",
					fmt.Sprintf("Step %d (%v%%) is not above step %d (%v%%). Each step must send more traffic than the one before.", i+1, s, i, r.Steps[i-1]))
			}
		}
	} else if len(r.Steps) > 0 {
		l.warnAt(l.rng(m, "rollout.steps"), "Steps ignored",
			fmt.Sprintf("steps are only used by the canary strategy; %s ignores them. Remove steps or set strategy = \"canary\".", r.Strategy))
	}
	if l.set(m, "rollout.interval") && r.Interval <= 0 {
		l.errorAt(l.rng(m, "rollout.interval"), "Invalid interval",
			"interval is how often checks are measured and must be more than zero, such as \"10s\".")
	}
	if !contains(onFailures, r.OnFailure) {
		l.errorAt(l.rng(m, "rollout.on_failure"), "Unknown on_failure", oneOf("on_failure action", r.OnFailure, onFailures))
	}
	versions := slices.Sorted(maps.Keys(m.Versions))
	switch {
	case r.OnFailure == "fallback" && r.Fallback == "":
		var heur []string
		for _, vn := range versions {
			if m.Versions[vn].Heuristic {
				heur = append(heur, vn)
			}
		}
		hint := "Add a version with heuristic = true and name it in fallback."
		if len(heur) > 0 {
			hint = fmt.Sprintf("Heuristic versions: %s.", quoteList(heur))
		}
		l.errorAt(l.rng(m, "rollout.on_failure"), "Missing fallback",
			"on_failure = \"fallback\" routes to the version named by fallback, which is not set. "+hint)
	case r.Fallback != "" && m.Versions[r.Fallback] == nil:
		l.errorAt(l.rng(m, "rollout.fallback"), "Unknown fallback version",
			unknownRef("version", r.Fallback, versions, "fallback names a version block with heuristic = true."))
	case r.Fallback != "" && !m.Versions[r.Fallback].Heuristic:
		l.errorAt(l.rng(m, "rollout.fallback"), "Fallback is not a heuristic",
			fmt.Sprintf("Version %q is a model, not a heuristic. A fallback must be a strong heuristic that cannot fail the same way: set heuristic = true in version %q, or name another version.", r.Fallback, r.Fallback))
	}
	if r.Fallback != "" && r.OnFailure != "fallback" && contains(onFailures, r.OnFailure) {
		l.warnAt(l.rng(m, "rollout.fallback"), "fallback is ignored",
			fmt.Sprintf("fallback is only used with on_failure = \"fallback\"; this rollout uses %q.", r.OnFailure))
	}
	switch {
	case r.OnFailure == "roll_through" && r.RollThrough == "":
		l.errorAt(l.rng(m, "rollout.on_failure"), "Missing roll_through",
			"on_failure = \"roll_through\" promotes the version named by roll_through, which is not set. Name the next version to promote instead.")
	case r.RollThrough != "" && m.Versions[r.RollThrough] == nil:
		l.errorAt(l.rng(m, "rollout.roll_through"), "Unknown roll_through version",
			unknownRef("version", r.RollThrough, versions, "roll_through names the version to promote if this rollout fails."))
	case r.RollThrough != "" && r.RollThrough == m.Serve:
		l.errorAt(l.rng(m, "rollout.roll_through"), "roll_through is the version being rolled out",
			fmt.Sprintf("roll_through = %q is the version serve rolls out; if it fails, rolling through to it again would fail the same way. Name another version.", r.RollThrough))
	}
	if r.RollThrough != "" && r.OnFailure != "roll_through" && contains(onFailures, r.OnFailure) {
		l.warnAt(l.rng(m, "rollout.roll_through"), "roll_through is ignored",
			fmt.Sprintf("roll_through is only used with on_failure = \"roll_through\"; this rollout uses %q.", r.OnFailure))
	}
	if r.Strategy != "blue_green" && contains(strategies, r.Strategy) {
		for _, f := range []string{"preview_header", "preview_mirror", "keep_previous"} {
			if l.set(m, "rollout."+f) {
				l.warnAt(l.rng(m, "rollout."+f), f+" is ignored",
					fmt.Sprintf("%s is only used by the blue_green strategy; this rollout is %s.", f, r.Strategy))
			}
		}
	}
	if r.Strategy == "blue_green" {
		if r.PreviewHeader != "" && !isToken(r.PreviewHeader) {
			l.errorAt(l.rng(m, "rollout.preview_header"), "Invalid header name",
				fmt.Sprintf("%q is not an HTTP header name: use letters, digits and '-', such as \"x-switchyard-preview\".", r.PreviewHeader))
		}
		if r.PreviewHeader != "" {
			field := "rollout.preview_header"
			if !l.set(m, field) {
				field = "rollout.strategy"
			}
			l.capability(m, router, Capabilities{Preview: true}, field,
				"Use a builtin or nginx router, or set preview_header = \"\" to switch without preview traffic.")
		}
		if l.set(m, "rollout.preview_mirror") && l.percent(m, "rollout.preview_mirror", r.PreviewMirror, "preview_mirror") && r.PreviewMirror > 0 {
			l.capability(m, router, Capabilities{ShadowCompare: true}, "rollout.preview_mirror",
				"Only the builtin router measures the copies it mirrors to the new version. Use a builtin router, or drop preview_mirror and send preview traffic with the header.")
		}
	}
}

func isToken(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

func (l *loader) validateCheck(m *Model, c *Check) {
	p := "checks." + c.Name
	if c.Source != DefaultCheckSource && l.tree.Metrics[c.Source] == nil {
		if l.incomplete {
			return // it may be defined in the file that did not parse
		}
		l.errorAt(l.rng(m, p+".source"), "Unknown metrics source",
			unknownRef("metrics source", c.Source, append([]string{"router"}, slices.Sorted(maps.Keys(l.tree.Metrics))...),
				`Define it with metrics "NAME" { type = "prometheus", url = "http://127.0.0.1:9090" }, or use source = "router".`))
		return
	}
	switch {
	case c.Source != DefaultCheckSource && c.Query == "":
		l.errorAt(l.rng(m, p), "Missing query",
			fmt.Sprintf("Check %q reads metrics source %q and needs query, such as query = \"sum(rate(errors_total{version=\\\"{{version}}\\\"}[1m]))\".", c.Name, c.Source))
	case c.Metric == "" && c.Query == "":
		if !l.bad[FieldKey{Model: m.Key(), Field: p + ".metric"}] {
			l.errorAt(l.rng(m, p), "Check measures nothing",
				fmt.Sprintf("Check %q needs metric (one of %s, measured by the router) or source and query (a metrics block).", c.Name, quoteList(routerMetrics)))
		}
	case c.Source == DefaultCheckSource && c.Query != "":
		l.errorAt(l.rng(m, p+".query"), "Query on the router source",
			"The router source measures fixed metrics and runs no queries. Use metric = \"error_rate\" (or another router metric), or set source to a metrics block to run this query.")
	case c.Source == DefaultCheckSource && !contains(routerMetrics, c.Metric) && !contains(behaviourMetrics, c.Metric):
		l.errorAt(l.rng(m, p+".metric"), "Unknown metric", oneOf("router metric", c.Metric, append(append([]string{}, routerMetrics...), behaviourMetrics...)))
	case c.Source != DefaultCheckSource && c.Metric != "":
		l.errorAt(l.rng(m, p+".metric"), "Metric on a metrics source",
			fmt.Sprintf("metric names a router measurement; check %q reads %q with its query. Remove metric, or remove source and query to use the router's %s.", c.Name, c.Source, c.Metric))
	}
	l.validateBehaviourCheck(m, c)
	for _, r := range []struct {
		name string
		v    *float64
	}{{"max_ratio", c.MaxRatio}, {"min_ratio", c.MinRatio}} {
		if r.v == nil {
			continue
		}
		if c.Source != DefaultCheckSource || c.Metric == "" {
			l.errorAt(l.rng(m, p+"."+r.name), r.name+" needs a router metric",
				"A ratio compares the new version with the previous one in the same window, which only the router's own metrics support. Use max or min with a query.")
		}
		if *r.v <= 0 {
			l.errorAt(l.rng(m, p+"."+r.name), "Invalid ratio", r.name+" must be more than 0, such as 1.2 (20% above the previous version) or 0.98 (2% below).")
		}
	}
	if c.MinRatio != nil && c.MaxRatio != nil && *c.MinRatio > *c.MaxRatio {
		l.errorAt(l.rng(m, p+".min_ratio"), "min_ratio above max_ratio",
			fmt.Sprintf("min_ratio (%v) is above max_ratio (%v), so the check can never pass.", *c.MinRatio, *c.MaxRatio))
	}
	// output_drift without max judges by the default for the output's
	// kind (0.1 for numbers, 0.03 for classes: SPEC.md §8, docs/spec.md).
	driftDefault := c.Source == DefaultCheckSource && c.Metric == "output_drift"
	if c.Min == nil && c.Max == nil && c.MaxRatio == nil && c.MinRatio == nil && !driftDefault && !l.anyBad(m, p+".min", p+".max", p+".max_ratio", p+".min_ratio") {
		l.errorAt(l.rng(m, p), "Check has no threshold",
			fmt.Sprintf("Check %q needs max (fails above), min (fails below), max_ratio or min_ratio.", c.Name))
	}
	if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
		l.errorAt(l.rng(m, p+".min"), "min above max",
			fmt.Sprintf("min (%v) is above max (%v), so the check can never pass.", *c.Min, *c.Max))
	}
	if c.Metric == "error_rate" && c.Source == DefaultCheckSource {
		for _, f := range []struct {
			n string
			v *float64
		}{{"max", c.Max}, {"min", c.Min}} {
			if f.v != nil && (*f.v < 0 || *f.v > 1) {
				l.errorAt(l.rng(m, p+"."+f.n), "Error rate out of range",
					fmt.Sprintf("error_rate is a fraction from 0 to 1 (got %v): write 0.01 for 1%%.", *f.v))
			}
		}
	}
}

// validateBehaviourCheck validates what the behaviour metrics (SPEC.md §8)
// need: an output pointer, a builtin router, thresholds that fit.
func (l *loader) validateBehaviourCheck(m *Model, c *Check) {
	p := "checks." + c.Name
	behaviour := c.Source == DefaultCheckSource && contains(behaviourMetrics, c.Metric)
	switch {
	case !behaviour && c.Output != "":
		l.errorAt(l.rng(m, p+".output"), "output on a metric that reads no output",
			fmt.Sprintf("output names the field of each answer that the behaviour metrics (%s) read; %s does not. Remove output, or use one of them.", quoteList(behaviourMetrics), metricName(c)))
		return
	case !behaviour:
		return
	case c.Output == "" && !l.bad[FieldKey{Model: m.Key(), Field: p + ".output"}]:
		l.errorAt(l.rng(m, p), "Missing output",
			fmt.Sprintf("Check %q measures %s and needs output, the JSON pointer to the answer's field to read, such as output = \"/score\".", c.Name, c.Metric))
	case c.Output != "" && !strings.HasPrefix(c.Output, "/"):
		l.errorAt(l.rng(m, p+".output"), "Invalid JSON pointer",
			fmt.Sprintf("%q is not a JSON pointer: it must start with \"/\", such as \"/score\" for {\"score\": 0.93}.", c.Output))
	}
	l.capability(m, l.tree.Routers[m.Router], Capabilities{Outputs: true}, p+".metric",
		"Only the builtin router reads answers; use a builtin router, or export the output to Prometheus and check it with a query.")
	switch c.Metric {
	case "output_drift":
		for _, f := range []string{"min", "max_ratio", "min_ratio"} {
			if l.set(m, p+"."+f) {
				l.errorAt(l.rng(m, p+"."+f), f+" on output_drift",
					"output_drift is a distance between the new and the previous version's outputs (a population stability index, 0 when alike); it takes max only, such as max = 0.1, or none for the default ("+driftDefaults()+").")
			}
		}
		if c.Max != nil && *c.Max <= 0 {
			l.errorAt(l.rng(m, p+".max"), "Invalid max",
				"output_drift's max is a population stability index above 0: 0.1 is a common alarm level for numbers, 0.25 a large shift; classes move it less (90/10 to 80/20 is 0.081). Without max: "+driftDefaults()+".")
		}
	case "accuracy":
		for _, f := range []struct {
			n string
			v *float64
		}{{"max", c.Max}, {"min", c.Min}} {
			if f.v != nil && (*f.v < 0 || *f.v > 1) {
				l.errorAt(l.rng(m, p+"."+f.n), "Accuracy out of range",
					fmt.Sprintf("accuracy is a fraction from 0 to 1 (got %v): write 0.92 for 92%%.", *f.v))
			}
		}
	}
}

// driftDefaults says output_drift's default max for each kind of output.
func driftDefaults() string {
	return fmt.Sprintf("%v for numbers, %v for classes", behaviour.DefaultDriftMax, behaviour.DefaultDriftMaxClasses)
}

func metricName(c *Check) string {
	if c.Metric != "" {
		return c.Metric
	}
	return "a query"
}

func (l *loader) validateShadow(m *Model, router *Router) {
	s := m.Shadow
	versions := slices.Sorted(maps.Keys(m.Versions))
	switch {
	case s.Version == "":
	case m.Versions[s.Version] == nil:
		l.errorAt(l.rng(m, "shadow.version"), "Unknown shadow version",
			unknownRef("version", s.Version, versions, "The shadow runs one of the model's versions beside the live one."))
	case s.Version == m.Serve:
		l.errorAt(l.rng(m, "shadow.version"), "Shadow of the live version",
			fmt.Sprintf("%q is the version serve already sends live traffic to; a shadow runs another version beside it. Name the candidate version.", s.Version))
	}
	l.percent(m, "shadow.percent", s.Percent, "percent")
	if !contains(compares, s.Compare) {
		l.errorAt(l.rng(m, "shadow.compare"), "Unknown compare", oneOf("comparison", s.Compare, compares))
	}
	if s.Tolerance < 0 {
		l.errorAt(l.rng(m, "shadow.tolerance"), "Invalid tolerance", "tolerance is the largest difference between numbers still counted equal; it must be 0 or more.")
	}
	if s.MinAgreement < 0 || s.MinAgreement > 1 {
		l.errorAt(l.rng(m, "shadow.min_agreement"), "Agreement out of range",
			fmt.Sprintf("min_agreement is a fraction from 0 to 1 (got %v): write 0.98 for 98%%.", s.MinAgreement))
	}
	if s.MinSamples < 1 && l.set(m, "shadow.min_samples") {
		l.errorAt(l.rng(m, "shadow.min_samples"), "Invalid min_samples", "min_samples must be at least 1.")
	}
	l.capability(m, router, Capabilities{ShadowCompare: true}, "shadow",
		"Only the builtin router compares a shadow's answers with the live version's (nginx can mirror, but not compare). Use a builtin router for this model.")
}

func (l *loader) validateExperiment(m *Model, router *Router) {
	e := m.Experiment
	versions := slices.Sorted(maps.Keys(m.Versions))
	if !contains(methods, e.Method) {
		l.errorAt(l.rng(m, "experiment.method"), "Unknown method", oneOf("experiment method", e.Method, methods))
	}
	if l.set(m, "experiment.variants") && len(e.VariantOrder) < 2 && len(e.Variants) == len(e.VariantOrder) {
		l.errorAt(l.rng(m, "experiment.variants"), "Experiment needs two variants",
			"An experiment compares at least two versions, such as variants = { v7 = 50, v8 = 50 }.")
	}
	sum, valid := 0.0, true
	for _, vn := range e.VariantOrder {
		f := "experiment.variants." + vn
		w := e.Variants[vn]
		switch v := m.Versions[vn]; {
		case v == nil:
			l.errorAt(l.rng(m, f), "Unknown variant",
				unknownRef("version", vn, versions, "Variants are version names of this model."))
			valid = false
		case v.Heuristic:
			l.errorAt(l.rng(m, f), "Heuristic as experiment variant",
				fmt.Sprintf("Version %q is a heuristic: a fallback target, never an experiment winner. Remove it from variants.", vn))
		}
		if !l.percent(m, f, w, fmt.Sprintf("The weight of %q", vn)) {
			valid = false
		}
		sum += w
	}
	if valid && len(e.VariantOrder) >= 2 && e.Method == "ab" && math.Abs(sum-100) > 1e-6 {
		l.errorAt(l.rng(m, "experiment.variants"), "Variant weights do not sum to 100",
			fmt.Sprintf("An ab experiment splits all traffic: the weights add up to %v, not 100.", sum))
	}
	if valid && len(e.VariantOrder) >= 2 && e.Method == "bandit" && sum <= 0 {
		l.errorAt(l.rng(m, "experiment.variants"), "Variant weights are all zero",
			"A bandit's starting split needs weights above zero, such as { a = 50, b = 50 }.")
	}
	if e.Sticky != "" {
		kind, name, ok := strings.Cut(e.Sticky, ":")
		if !ok || (kind != "header" && kind != "cookie") || !isToken(name) {
			l.errorAt(l.rng(m, "experiment.sticky"), "Invalid sticky",
				fmt.Sprintf("%q is not a sticky key: write \"header:NAME\" (such as \"header:x-user-id\") or \"cookie:NAME\" (such as \"cookie:uid\").", e.Sticky))
		} else {
			l.capability(m, router, Capabilities{Sticky: true}, "experiment.sticky",
				"Use a builtin or nginx router, or remove sticky to assign each request at random.")
		}
	}
	switch {
	case e.Reward == "feedback":
		if e.Query != "" {
			l.warnAt(l.rng(m, "experiment.query"), "query is ignored",
				"query is only used when reward names a metrics source; rewards are posted as feedback here.")
		}
		l.capability(m, router, Capabilities{Feedback: true}, "experiment.reward",
			"Feedback is posted to the builtin router's listener. Use a builtin router, or set reward to a metrics source with a query.")
	case l.tree.Metrics[e.Reward] == nil && l.incomplete:
		// it may be defined in the file that did not parse
	case l.tree.Metrics[e.Reward] == nil:
		l.errorAt(l.rng(m, "experiment.reward"), "Unknown reward source",
			unknownRef("metrics source", e.Reward, append([]string{"feedback"}, slices.Sorted(maps.Keys(l.tree.Metrics))...),
				`reward is "feedback" (posted to the router) or a metrics block with a query.`))
	case e.Query == "":
		l.errorAt(l.rng(m, "experiment.reward"), "Missing reward query",
			fmt.Sprintf("reward = %q reads a metrics source and needs query, with {{version}} standing for each variant.", e.Reward))
	}
	if e.Alpha <= 0 || e.Alpha >= 1 {
		l.errorAt(l.rng(m, "experiment.alpha"), "Alpha out of range",
			fmt.Sprintf("alpha is the false-winner rate, between 0 and 1 exclusive (got %v), such as 0.05.", e.Alpha))
	}
	if e.MinSamples < 1 && l.set(m, "experiment.min_samples") {
		l.errorAt(l.rng(m, "experiment.min_samples"), "Invalid min_samples", "min_samples must be at least 1.")
	}
	if e.PromoteWhen <= 0 || e.PromoteWhen > 1 {
		l.errorAt(l.rng(m, "experiment.promote_when"), "promote_when out of range",
			fmt.Sprintf("promote_when is a probability from 0 to 1 (got %v), such as 0.95.", e.PromoteWhen))
	}
	if n := len(e.VariantOrder); e.ExploreFloor < 0 || (n > 0 && e.ExploreFloor*float64(n) > 1) {
		l.errorAt(l.rng(m, "experiment.explore_floor"), "explore_floor out of range",
			fmt.Sprintf("explore_floor is the least share each variant keeps: from 0 to 1/%d with %d variants (got %v).", max(n, 1), n, e.ExploreFloor))
	}
	if e.Method == "bandit" {
		l.capability(m, router, Capabilities{Bandit: true}, "experiment.method",
			"Only the builtin router runs Thompson sampling. Use a builtin router, or method = \"ab\".")
	}
}

// validateRoutes rejects two models on one router with the same path.
func (l *loader) validateRoutes() {
	type route struct{ router, path string }
	seen := map[route]*Model{}
	// Models are still in file and position order here, so the later
	// definition is the one reported.
	for _, m := range l.tree.Models {
		if m.Router == "" || m.Path == "" {
			continue
		}
		k := route{m.Router, strings.TrimSuffix(m.Path, "/")}
		if first, dup := seen[k]; dup {
			fr, _ := l.tree.FieldRange(first.Key(), "path")
			l.errorAt(l.rng(m, "path"), "Duplicate route",
				fmt.Sprintf("Model %q %q already serves path %q on router %q (%s). Give each model and stage its own path.", first.Name, first.Stage, m.Path, m.Router, at(fr)))
			continue
		}
		seen[k] = m
	}
}
