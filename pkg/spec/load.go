package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

// Limits that keep hostile input from exhausting memory or the stack.
const (
	// MaxFileSize is the largest spec file the loader reads.
	MaxFileSize = 4 << 20
	// MaxNesting is the deepest nesting of brackets, braces, parentheses,
	// template interpolations and unary operators accepted in a file.
	MaxNesting = 64
	// MaxOperators is the most operators accepted in one expression.
	MaxOperators = 1000
	// MaxDiagnosticsPerFile is the most diagnostics Load reports for one
	// file; the rest are summarized in one more.
	MaxDiagnosticsPerFile = 100
)

// Load reads every *.hcl file under dir (recursively) of the repository
// fsys, decodes and validates it. fsys is the repository root, so that
// repo-relative paths such as validation datasets can be checked; dir is
// the spec directory inside it ("" means DefaultPath). File names in the
// tree and in diagnostics are slash paths relative to the repository root.
//
// Load never stops at the first problem: it returns every diagnostic it
// found, sorted by file and position (at most MaxDiagnosticsPerFile per
// file). The tree is never nil, but holds only what decoded: callers must
// check diag.HasErrors before acting on it.
func Load(fsys fs.FS, dir string) (*Tree, []diag.Diagnostic) {
	l := newLoader(fsys)
	if dir == "" {
		dir = DefaultPath
	}
	dir = path.Clean(strings.TrimPrefix(dir, "./"))
	files, ok := l.listFiles(dir)
	if ok {
		l.parseFiles(files)
		if len(files) == 0 {
			l.add(diag.Diagnostic{
				Severity: diag.Error, Source: diag.SourceSchema,
				Summary: "No spec files",
				Detail:  fmt.Sprintf("The directory %q contains no *.hcl files. Add a file such as %s/models.hcl, or point --path at the directory that holds the specs.", dir, dir),
				File:    dir,
			})
		}
	}
	for _, f := range l.files {
		l.decodeFile(f)
	}
	l.validate()
	diag.Sort(l.diags)
	return l.tree, capPerFile(l.diags, MaxDiagnosticsPerFile)
}

// capPerFile keeps the first max diagnostics of each file (diags sorted by
// file) and replaces the rest with one that says how many were left out.
func capPerFile(diags []diag.Diagnostic, max int) []diag.Diagnostic {
	out := diags[:0:0]
	for i := 0; i < len(diags); {
		j := i
		for j < len(diags) && diags[j].File == diags[i].File {
			j++
		}
		if j-i <= max {
			out = append(out, diags[i:j]...)
		} else {
			out = append(out, diags[i:i+max]...)
			first := diags[i+max]
			out = append(out, diag.Diagnostic{
				Severity: diag.Error, Source: first.Source,
				Summary: "Too many problems",
				Detail:  fmt.Sprintf("%d more problems in %s are not shown. Fix the ones above first.", j-i-max, first.File),
				File:    first.File, Line: first.Line, Column: first.Column,
			})
		}
		i = j
	}
	return out
}

// LoadDir loads the spec directory dir (relative to repoRoot) from disk.
func LoadDir(repoRoot, dir string) (*Tree, []diag.Diagnostic) {
	return Load(os.DirFS(repoRoot), dir)
}

// LoadFiles loads a tree from memory: files maps repo-relative slash paths
// (such as "rollouts/fraud.hcl" or "datasets/holdout.jsonl") to contents.
// It is meant for tests and for specs read from a Git revision.
func LoadFiles(files map[string][]byte, dir string) (*Tree, []diag.Diagnostic) {
	m := make(fstest.MapFS, len(files))
	for name, data := range files {
		m[name] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	return Load(m, dir)
}

// parsedFile is one spec file that parsed.
type parsedFile struct {
	name string
	body *hclsyntax.Body
}

// loader carries the state of one Load.
type loader struct {
	fsys  fs.FS
	tree  *Tree
	files []parsedFile
	diags []diag.Diagnostic
	// where each named thing was first defined, for duplicate messages.
	routerAt  map[string]hcl.Range
	metricsAt map[string]hcl.Range
	modelAt   map[string]hcl.Range
	notifyAt  map[string]hcl.Range
	// valueRanges holds the range of each attribute's value expression
	// (Ranges holds the whole attribute), for precise diagnostics.
	valueRanges map[FieldKey]hcl.Range
	// routerRanges and metricsRanges: FieldKey{Model: name, Field: attr}.
	routerRanges  map[FieldKey]hcl.Range
	metricsRanges map[FieldKey]hcl.Range
	notifyRanges  map[FieldKey]hcl.Range
	// bad marks fields whose value was reported as wrong.
	bad map[FieldKey]bool
	// incomplete is set when a file could not be read or parsed: a
	// reference to a router or metrics source is then not reported as
	// unknown, since it may be defined in that file.
	incomplete bool
	// stats caches fs.Stat of dataset paths.
	stats map[string]statResult
}

type statResult struct {
	info fs.FileInfo
	err  error
}

func newLoader(fsys fs.FS) *loader {
	return &loader{
		fsys: fsys,
		tree: &Tree{
			Routers: map[string]*Router{},
			Metrics: map[string]*MetricsSource{},
			Models:  []*Model{},
			Notify:  map[string]*Notify{},
			Ranges:  map[FieldKey]hcl.Range{},
			Sources: map[string][]byte{},
		},
		routerAt:      map[string]hcl.Range{},
		metricsAt:     map[string]hcl.Range{},
		modelAt:       map[string]hcl.Range{},
		notifyAt:      map[string]hcl.Range{},
		notifyRanges:  map[FieldKey]hcl.Range{},
		valueRanges:   map[FieldKey]hcl.Range{},
		routerRanges:  map[FieldKey]hcl.Range{},
		metricsRanges: map[FieldKey]hcl.Range{},
		bad:           map[FieldKey]bool{},
		stats:         map[string]statResult{},
	}
}

func (l *loader) add(d diag.Diagnostic) { l.diags = append(l.diags, d) }

// errorAt adds a schema error at rng.
func (l *loader) errorAt(rng hcl.Range, summary, detail string) {
	l.add(fromRange(diag.Error, diag.SourceSchema, summary, detail, rng))
}

// warnAt adds a schema warning at rng.
func (l *loader) warnAt(rng hcl.Range, summary, detail string) {
	l.add(fromRange(diag.Warning, diag.SourceSchema, summary, detail, rng))
}

// addHCL converts HCL's own diagnostics, tagging them with source.
func (l *loader) addHCL(source string, ds hcl.Diagnostics) {
	for _, d := range ds {
		sev := diag.Error
		if d.Severity == hcl.DiagWarning {
			sev = diag.Warning
		}
		dd := diag.Diagnostic{Severity: sev, Source: source, Summary: d.Summary, Detail: d.Detail}
		if d.Subject != nil {
			dd = fromRange(sev, source, d.Summary, d.Detail, *d.Subject)
		}
		l.add(dd)
	}
}

func fromRange(sev diag.Severity, source, summary, detail string, rng hcl.Range) diag.Diagnostic {
	d := diag.Diagnostic{
		Severity: sev, Source: source, Summary: summary, Detail: detail,
		File: rng.Filename, Line: rng.Start.Line, Column: rng.Start.Column,
		EndLine: rng.End.Line, EndCol: rng.End.Column,
	}
	if d.EndLine == 0 {
		d.EndCol = 0
	}
	return d
}

// listFiles returns every *.hcl file under dir in lexical order.
func (l *loader) listFiles(dir string) ([]string, bool) {
	info, err := fs.Stat(l.fsys, dir)
	if err != nil {
		l.add(diag.Diagnostic{
			Severity: diag.Error, Source: diag.SourceSchema,
			Summary: "Spec directory not found",
			Detail:  fmt.Sprintf("Cannot read %q: %v. Create it, or point --path at the directory that holds the *.hcl specs.", dir, cleanErr(err)),
			File:    dir,
		})
		return nil, false
	}
	if !info.IsDir() {
		if strings.HasSuffix(dir, ".hcl") {
			return []string{dir}, true
		}
		l.add(diag.Diagnostic{
			Severity: diag.Error, Source: diag.SourceSchema,
			Summary: "Spec path is not a directory",
			Detail:  fmt.Sprintf("%q is a file; --path must name the directory that holds the *.hcl specs.", dir),
			File:    dir,
		})
		return nil, false
	}
	var files []string
	// fs.WalkDir never follows symbolic links to directories, so a
	// symlink loop cannot make it run forever.
	err = fs.WalkDir(l.fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			l.add(diag.Diagnostic{
				Severity: diag.Error, Source: diag.SourceSchema,
				Summary: "Cannot read spec directory",
				Detail:  fmt.Sprintf("Reading %q failed: %v.", p, cleanErr(err)),
				File:    p,
			})
			if d != nil && d.IsDir() && p != dir {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".hcl") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		l.add(diag.Diagnostic{
			Severity: diag.Error, Source: diag.SourceSchema,
			Summary: "Cannot read spec directory",
			Detail:  fmt.Sprintf("Walking %q failed: %v.", dir, cleanErr(err)),
			File:    dir,
		})
	}
	sort.Strings(files)
	return files, true
}

func cleanErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readFile reads at most MaxFileSize+1 bytes of name.
func (l *loader) readFile(name string) ([]byte, error) {
	f, err := l.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxFileSize {
		return nil, errTooLarge
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if buf.Len() > MaxFileSize {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

var errTooLarge = errors.New("file too large")

// parseFiles reads every file (in order: fsys need not be safe for
// concurrent use), parses them on all CPUs, and keeps those that parsed in
// l.files, in order.
func (l *loader) parseFiles(names []string) {
	type result struct {
		name  string
		src   []byte
		file  *hcl.File
		diags []diag.Diagnostic
	}
	results := make([]result, len(names))
	for i, name := range names {
		results[i].name = name
		results[i].src = l.readSpec(name)
	}
	workers := min(runtime.GOMAXPROCS(0), len(names))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(results) {
					return
				}
				if r := &results[i]; r.src != nil {
					r.file, r.diags = Parse(r.name, r.src)
				}
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.src == nil {
			l.incomplete = true
			continue
		}
		l.tree.Sources[r.name] = r.src
		l.diags = append(l.diags, r.diags...)
		if r.file == nil {
			l.incomplete = true
			continue
		}
		if body, ok := r.file.Body.(*hclsyntax.Body); ok {
			l.files = append(l.files, parsedFile{name: r.name, body: body})
		}
	}
}

// readSpec reads one spec file, or reports why it cannot and returns nil.
func (l *loader) readSpec(name string) []byte {
	src, err := l.readFile(name)
	switch {
	case errors.Is(err, errTooLarge):
		l.add(diag.Diagnostic{
			Severity: diag.Error, Source: diag.SourceHCL,
			Summary: "Spec file too large",
			Detail:  fmt.Sprintf("%s is larger than the %d MiB limit for a spec file. Split it into several files.", name, MaxFileSize>>20),
			File:    name,
		})
		return nil
	case err != nil:
		l.add(diag.Diagnostic{
			Severity: diag.Error, Source: diag.SourceHCL,
			Summary: "Cannot read spec file",
			Detail:  fmt.Sprintf("Reading %s failed: %v.", name, cleanErr(err)),
			File:    name,
		})
		return nil
	}
	if src == nil {
		src = []byte{}
	}
	return src
}

// Parse checks that src is a spec file HCL can read safely (not too
// large, UTF-8 text, not nested too deeply) and parses it. The file is nil
// when any error was found; diagnostics name the file as name.
func Parse(name string, src []byte) (*hcl.File, []diag.Diagnostic) {
	l := &loader{}
	if len(src) > MaxFileSize {
		l.add(diag.Diagnostic{
			Severity: diag.Error, Source: diag.SourceHCL,
			Summary: "Spec file too large",
			Detail:  fmt.Sprintf("%s is larger than the %d MiB limit for a spec file. Split it into several files.", name, MaxFileSize>>20),
			File:    name,
		})
		return nil, l.diags
	}
	if bytes.IndexByte(src, 0) >= 0 || !utf8.Valid(src) {
		l.add(diag.Diagnostic{
			Severity: diag.Error, Source: diag.SourceHCL,
			Summary: "Spec file is not UTF-8 text",
			Detail:  fmt.Sprintf("%s contains binary data (NUL bytes or invalid UTF-8). Spec files must be UTF-8 HCL text; rename the file if it is not a spec.", name),
			File:    name,
		})
		return nil, l.diags
	}
	if rng, ok := tooDeep(name, src); ok {
		l.add(fromRange(diag.Error, diag.SourceHCL, "Nesting too deep",
			fmt.Sprintf("Blocks and expressions may nest at most %d levels deep, and one expression may chain at most %d operators. Simplify this part of the file.", MaxNesting, MaxOperators), rng))
		return nil, l.diags
	}
	f, ds := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	l.addHCL(diag.SourceHCL, ds)
	if ds.HasErrors() || f == nil {
		return nil, l.diags
	}
	return f, l.diags
}

// tooDeep reports whether src nests deeper than MaxNesting, or chains more
// than MaxOperators operators in one expression, either of which the
// recursive parser or evaluator could turn into a stack overflow. A file
// with few such tokens is accepted without lexing.
func tooDeep(name string, src []byte) (hcl.Range, bool) {
	openers, operators := 0, 0
	for _, c := range src {
		switch c {
		case '{', '[', '(', '!', '-', '?':
			openers++
			operators++
		case '+', '*', '/', '%', '&', '|', '=', '<', '>':
			operators++
		}
	}
	if openers <= MaxNesting && operators <= MaxOperators {
		return hcl.Range{}, false
	}
	toks, _ := hclsyntax.LexConfig(src, name, hcl.InitialPos)
	// open holds the unclosed openers; its length is the nesting depth.
	var open []hclsyntax.TokenType
	unary, cond, ops := 0, 0, 0
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			open = append(open, t.Type)
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		case hclsyntax.TokenQuestion:
			cond++
		case hclsyntax.TokenColon:
			if cond > 0 {
				cond--
			}
		case hclsyntax.TokenNewline:
			// In a body (or an object) a newline ends an expression.
			if len(open) == 0 || open[len(open)-1] == hclsyntax.TokenOBrace {
				cond, ops = 0, 0
			}
		}
		depth := len(open)
		switch t.Type {
		case hclsyntax.TokenBang, hclsyntax.TokenMinus:
			unary++
		default:
			unary = 0
		}
		switch t.Type {
		case hclsyntax.TokenBang, hclsyntax.TokenMinus, hclsyntax.TokenPlus, hclsyntax.TokenStar,
			hclsyntax.TokenSlash, hclsyntax.TokenPercent, hclsyntax.TokenAnd, hclsyntax.TokenOr,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan,
			hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq,
			hclsyntax.TokenQuestion:
			ops++
		}
		if depth > MaxNesting || unary > MaxNesting || cond > MaxNesting || ops > MaxOperators {
			return t.Range, true
		}
	}
	return hcl.Range{}, false
}
