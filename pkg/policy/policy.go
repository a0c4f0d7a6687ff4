// Package policy loads Rego v1 policies (package switchyard), prepares
// their deny and warn rules once, evaluates them against many inputs, and
// maps each finding back to the spec source it names. It also gathers the
// input's evidence from verdict notes (see Evidence).
package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

// Package is the Rego package every policy file declares.
const Package = "switchyard"

// MaxFileSize is the largest policy file Load reads.
const MaxFileSize = 1 << 20

// Rule names evaluated in Package.
const (
	RuleDeny = "deny"
	RuleWarn = "warn"
)

// Set is a loaded, compiled and prepared set of policies. It is safe for
// concurrent use once loaded.
type Set struct {
	files   []string
	queries []query
	clock   func() time.Time
}

// query evaluates the deny or warn rules of one policy file. The loader
// renames each file's deny and warn rules apart so that every finding
// can name the file that produced it.
type query struct {
	severity diag.Severity
	file     string
	prepared rego.PreparedEvalQuery
}

// Option configures Load.
type Option func(*Set)

// WithClock sets the time policies see (time.now_ns) when an input's
// context carries no time. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Set) { s.clock = now }
}

// LoadError says that a policy file could not be read, parsed or compiled.
// Each diagnostic carries the file and line.
type LoadError struct {
	Diagnostics []diag.Diagnostic
}

func (e *LoadError) Error() string {
	var b strings.Builder
	for i, d := range e.Diagnostics {
		if i > 0 {
			b.WriteString("; ")
		}
		if d.File != "" {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.File, d.Line, d.Column)
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString(": " + d.Detail)
		}
	}
	return "invalid policy: " + b.String()
}

// Load reads every *.rego file (but no *_test.rego) under dir of fsys,
// recursively, parses it as Rego v1, compiles the set and prepares the
// deny and warn queries. File names in findings and errors are fsys paths
// ("policies/canary.rego"). A missing dir is an error wrapping
// fs.ErrNotExist; a dir without policies gives an empty Set.
func Load(ctx context.Context, fsys fs.FS, dir string, opts ...Option) (*Set, error) {
	s := &Set{clock: time.Now}
	for _, o := range opts {
		o(s)
	}
	fi, err := fs.Stat(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("policies %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("policies %s: not a directory", dir)
	}

	sources := map[string][]byte{}
	var tooBig []string
	err = fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Size() > MaxFileSize {
			tooBig = append(tooBig, p)
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sources[p] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading policies in %s: %w", dir, err)
	}
	for f := range sources {
		s.files = append(s.files, f)
	}
	sort.Strings(s.files)

	modules := make(map[string]*ast.Module, len(s.files))
	var loadDiags []diag.Diagnostic
	for _, f := range tooBig {
		loadDiags = append(loadDiags, diag.Diagnostic{
			Severity: diag.Error, Source: diag.SourcePolicy, File: f,
			Summary: "Policy file too large",
			Detail:  fmt.Sprintf("Policy files are at most %d bytes; is this really a Rego policy?", MaxFileSize),
		})
	}
	var renamed []renamedRule
	for i, f := range s.files {
		if !utf8.Valid(sources[f]) {
			loadDiags = append(loadDiags, diag.Diagnostic{
				Severity: diag.Error, Source: diag.SourcePolicy, File: f,
				Summary: "Policy file is not text",
				Detail:  "A .rego file must be UTF-8 text; this one holds binary data.",
			})
			continue
		}
		m, err := ast.ParseModuleWithOpts(f, string(sources[f]), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			loadDiags = append(loadDiags, astDiagnostics(f, err)...)
			continue
		}
		if got := m.Package.Path.String(); got != "data."+Package {
			loadDiags = append(loadDiags, diag.Diagnostic{
				Severity: diag.Error, Source: diag.SourcePolicy,
				Summary: "Wrong policy package",
				Detail:  fmt.Sprintf("Policy files must declare `package %s`, this one declares %s.", Package, strings.TrimPrefix(got, "data.")),
				File:    f, Line: m.Package.Location.Row, Column: m.Package.Location.Col,
			})
			continue
		}
		renamed = append(renamed, renameRules(m, i, f)...)
		modules[f] = m
	}
	if len(loadDiags) > 0 {
		return nil, &LoadError{Diagnostics: loadDiags}
	}
	if len(renamed) > 0 {
		// deny and warn stay defined as the union of every file's rules,
		// for policies that refer to them.
		agg, err := ast.ParseModuleWithOpts(aggregateFile, aggregate(renamed), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("policy loader: %w", err)
		}
		modules[aggregateFile] = agg
	}

	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	compiler.Compile(modules)
	if compiler.Failed() {
		return nil, &LoadError{Diagnostics: astDiagnostics("", compiler.Errors)}
	}

	for _, r := range renamed {
		pq, err := rego.New(
			rego.Query("data."+Package+"."+r.name),
			rego.Compiler(compiler),
			rego.StrictBuiltinErrors(false),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, &LoadError{Diagnostics: astDiagnostics(r.file, err)}
		}
		s.queries = append(s.queries, query{severity: r.severity, file: r.file, prepared: pq})
	}
	return s, nil
}

// Files lists the policy files the set was loaded from.
func (s *Set) Files() []string { return append([]string(nil), s.files...) }

type renamedRule struct {
	name     string
	file     string
	severity diag.Severity
	multi    bool // a "contains" (multi-value) rule
}

// renameRules gives the deny and warn rules of module number i a name of
// their own, so each file's findings can be evaluated and attributed
// separately.
func renameRules(m *ast.Module, i int, file string) []renamedRule {
	var out []renamedRule
	seen := map[string]bool{}
	for _, r := range m.Rules {
		ref := r.Head.Ref()
		if len(ref) != 1 {
			continue
		}
		name := ref[0].Value.String()
		var sev diag.Severity
		switch name {
		case RuleDeny:
			sev = diag.Error
		case RuleWarn:
			sev = diag.Warning
		default:
			continue
		}
		nn := fmt.Sprintf("switchyard_%s_%d", name, i)
		for rr := r; rr != nil; rr = rr.Else {
			rr.Head.Name = ast.Var(nn)
			rr.Head.Reference = ast.Ref{ast.VarTerm(nn)}
		}
		if !seen[nn] {
			seen[nn] = true
			multi := r.Head.RuleKind() == ast.MultiValue
			out = append(out, renamedRule{name: nn, file: file, severity: sev, multi: multi})
		}
	}
	return out
}

// aggregateFile names the generated module that unions the renamed rules.
const aggregateFile = "switchyard-generated-aggregate.rego"

func aggregate(rs []renamedRule) string {
	var b strings.Builder
	b.WriteString("package " + Package + "\n\n")
	for _, r := range rs {
		if !r.multi {
			continue
		}
		rule := RuleWarn
		if r.severity == diag.Error {
			rule = RuleDeny
		}
		fmt.Fprintf(&b, "%s contains x if {\n\tsome x in data.%s.%s\n}\n\n", rule, Package, r.name)
	}
	return b.String()
}

func astDiagnostics(file string, err error) []diag.Diagnostic {
	var errs ast.Errors
	if !errors.As(err, &errs) {
		var one *ast.Error
		if errors.As(err, &one) {
			errs = ast.Errors{one}
		}
	}
	if len(errs) == 0 {
		return []diag.Diagnostic{{
			Severity: diag.Error, Source: diag.SourcePolicy,
			Summary: "Invalid policy", Detail: err.Error(), File: file,
		}}
	}
	out := make([]diag.Diagnostic, 0, len(errs))
	for _, e := range errs {
		d := diag.Diagnostic{
			Severity: diag.Error, Source: diag.SourcePolicy,
			Summary: "Invalid policy", Detail: e.Message, File: file, Rule: e.Code,
		}
		if e.Location != nil {
			if e.Location.File != "" {
				d.File = e.Location.File
			}
			d.Line, d.Column = e.Location.Row, e.Location.Col
		}
		out = append(out, d)
	}
	return out
}

// Finding is one element of a deny or warn rule.
type Finding struct {
	Severity diag.Severity `json:"severity"` // error for deny, warning for warn
	Msg      string        `json:"msg"`
	Model    string        `json:"model,omitempty"`
	Stage    string        `json:"stage,omitempty"`
	Field    string        `json:"field,omitempty"`
	Rule     string        `json:"rule,omitempty"`
	File     string        `json:"policy_file"` // the policy file that produced it
}

// Key is "model/stage", or "" when the finding names no model.
func (f Finding) Key() string {
	if f.Model == "" || f.Stage == "" {
		return ""
	}
	return f.Model + "/" + f.Stage
}

// Evaluate runs every deny and warn rule against in and returns the
// findings, denials first, sorted by model, stage, field and message.
// Policies see in.Context.Now as the time, or the Set's clock when zero.
func (s *Set) Evaluate(ctx context.Context, in Input) ([]Finding, error) {
	if in.Context.Now.IsZero() {
		in.Context.Now = s.clock()
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encoding policy input: %w", err)
	}
	return s.evaluateJSON(ctx, raw, in.Context.Now)
}

// evaluateJSON is Evaluate for an input already encoded as JSON.
func (s *Set) evaluateJSON(ctx context.Context, input []byte, now time.Time) ([]Finding, error) {
	if len(s.queries) == 0 {
		return nil, nil
	}
	var doc any
	if err := util.NewJSONDecoder(bytes.NewReader(input)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding policy input: %w", err)
	}
	val, err := ast.InterfaceToValue(doc)
	if err != nil {
		return nil, fmt.Errorf("converting policy input: %w", err)
	}
	var out []Finding
	for _, q := range s.queries {
		rs, err := q.prepared.Eval(ctx, rego.EvalParsedInput(val), rego.EvalTime(now))
		if err != nil {
			return nil, fmt.Errorf("evaluating %s rules of %s: %w", ruleOf(q.severity), q.file, err)
		}
		for _, r := range rs {
			for _, e := range r.Expressions {
				fs, err := findings(e.Value, q)
				if err != nil {
					return nil, err
				}
				out = append(out, fs...)
			}
		}
	}
	sortFindings(out)
	return out, nil
}

func ruleOf(sev diag.Severity) string {
	if sev == diag.Error {
		return RuleDeny
	}
	return RuleWarn
}

func findings(v any, q query) ([]Finding, error) {
	var elems []any
	switch t := v.(type) {
	case []any:
		elems = t
	case string, map[string]any:
		elems = []any{t}
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("%s: %s must be a set of strings or objects, got %T", q.file, ruleOf(q.severity), v)
	}
	out := make([]Finding, 0, len(elems))
	for _, e := range elems {
		f := Finding{Severity: q.severity, File: q.file}
		switch t := e.(type) {
		case string:
			f.Msg = t
		case map[string]any:
			f.Msg = str(t["msg"])
			f.Model = str(t["model"])
			f.Stage = str(t["stage"])
			f.Field = str(t["field"])
			f.Rule = str(t["rule"])
			if f.Stage == "" {
				if name, stage, ok := strings.Cut(f.Model, "/"); ok {
					f.Model, f.Stage = name, stage
				}
			}
			if f.Msg == "" {
				b, _ := json.Marshal(t)
				f.Msg = string(b)
			}
		default:
			b, _ := json.Marshal(t)
			f.Msg = string(b)
		}
		out = append(out, f)
	}
	return out, nil
}

func str(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	default:
		return fmt.Sprint(t)
	}
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity == diag.Error
		}
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		if a.Stage != b.Stage {
			return a.Stage < b.Stage
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Msg < b.Msg
	})
}

// RuleName is what a diagnostic names as its rule: the finding's own
// rule, else the policy file's base name without ".rego".
func (f Finding) RuleName() string {
	if f.Rule != "" {
		return f.Rule
	}
	return strings.TrimSuffix(path.Base(f.File), ".rego")
}
