package targets

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// What may appear in generated configuration files: anything else is
// refused rather than quoted, so a table can never inject directives.
var (
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	pathRe   = regexp.MustCompile(`^/[A-Za-z0-9._~/-]*$`)
	headerRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)
	cookieRe = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	hostRe   = regexp.MustCompile(`^[A-Za-z0-9.\-\[\]:]+$`)
	listenRe = regexp.MustCompile(`^[A-Za-z0-9.\[\]:*]+$`)
)

// backend is a version's URL split into what config files need.
type backend struct {
	scheme   string // http | https
	hostport string // host:port, port always present
	base     string // path prefix without a trailing slash ("" for none)
}

// routePlan is one validated route with the names used in config files.
type routePlan struct {
	traffic.Route
	id       string             // sy_<model>_<stage>, a config identifier
	prefix   string             // Path without a trailing slash ("" for "/")
	backends map[string]backend // by version
	versions []string           // every version, sorted
	live     []traffic.Weight   // weights > 0, in table order
	scheme   string             // shared by every backend of the route
	base     string             // shared by every backend of the route
	stickyOn string             // "header" | "cookie" | ""
	stickyBy string             // header or cookie name
	ups      map[string]string  // upstream name by version
}

// upstream names one (route, version) pair in a config file.
func (p *routePlan) upstream(version string) string { return p.ups[version] }

// configID maps a name to a config identifier: letters, digits and '_'.
func configID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// planTable validates a table for a config-file router and returns its
// routes sorted by model and stage.
func planTable(t traffic.Table) ([]*routePlan, error) {
	var plans []*routePlan
	ids := map[string]string{}
	paths := map[string]string{}
	for i := range t.Routes {
		p, err := planRoute(t.Routes[i])
		if err != nil {
			return nil, fmt.Errorf("route %s/%s: %w", t.Routes[i].Model, t.Routes[i].Stage, err)
		}
		key := p.Model + "/" + p.Stage
		if other, dup := ids[p.id]; dup {
			return nil, fmt.Errorf("routes %s and %s map to the same config name %s: rename one", other, key, p.id)
		}
		ids[p.id] = key
		if other, dup := paths[p.prefix]; dup {
			return nil, fmt.Errorf("routes %s and %s share the path %s", other, key, p.Path)
		}
		paths[p.prefix] = key
		plans = append(plans, p)
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].id < plans[j].id })
	return plans, nil
}

func planRoute(r traffic.Route) (*routePlan, error) {
	if !nameRe.MatchString(r.Model) || !nameRe.MatchString(r.Stage) {
		return nil, fmt.Errorf("model and stage must be names of letters, digits, '.', '_' and '-'")
	}
	if !pathRe.MatchString(r.Path) || strings.Contains(r.Path, "//") {
		return nil, fmt.Errorf("path %q must start with / and hold only letters, digits and . _ ~ / -", r.Path)
	}
	p := &routePlan{
		Route:    r,
		id:       "sy_" + configID(r.Model) + "_" + configID(r.Stage),
		prefix:   strings.TrimSuffix(r.Path, "/"),
		backends: map[string]backend{},
		ups:      map[string]string{},
	}
	if len(r.Backends) == 0 {
		return nil, errors.New("no backends")
	}
	ups := map[string]string{}
	for v, raw := range r.Backends {
		if !nameRe.MatchString(v) {
			return nil, fmt.Errorf("version %q must be a name of letters, digits, '.', '_' and '-'", v)
		}
		b, err := parseBackend(raw)
		if err != nil {
			return nil, fmt.Errorf("version %s: %w", v, err)
		}
		p.backends[v] = b
		p.versions = append(p.versions, v)
		p.ups[v] = p.id + "__" + configID(v)
		if other, dup := ups[p.ups[v]]; dup {
			return nil, fmt.Errorf("versions %s and %s map to the same config name: rename one", other, v)
		}
		ups[p.ups[v]] = v
	}
	sort.Strings(p.versions)
	if err := p.checkWeights(); err != nil {
		return nil, err
	}
	if err := p.checkShared(); err != nil {
		return nil, err
	}
	known := func(what, v string) error {
		if _, ok := p.backends[v]; !ok {
			return fmt.Errorf("%s version %q has no backend", what, v)
		}
		return nil
	}
	if r.Preview != nil {
		if !headerRe.MatchString(r.Preview.Header) {
			return nil, fmt.Errorf("preview header %q is not a header name", r.Preview.Header)
		}
		if err := known("preview", r.Preview.Version); err != nil {
			return nil, err
		}
	}
	if r.Shadow != nil {
		if err := known("shadow", r.Shadow.Version); err != nil {
			return nil, err
		}
		if r.Shadow.Percent <= 0 || r.Shadow.Percent > 100 {
			return nil, fmt.Errorf("shadow percent %v is not in (0, 100]", r.Shadow.Percent)
		}
	}
	if r.Fallback != "" {
		if err := known("fallback", r.Fallback); err != nil {
			return nil, err
		}
	}
	if r.Sticky != "" {
		on, by, _ := strings.Cut(r.Sticky, ":")
		switch {
		case on == "header" && headerRe.MatchString(by):
		case on == "cookie" && cookieRe.MatchString(by):
		default:
			return nil, fmt.Errorf("sticky %q: want header:NAME or cookie:NAME (letters, digits, '_')", r.Sticky)
		}
		p.stickyOn, p.stickyBy = on, by
	}
	return p, nil
}

// checkShared checks that every version the route can send traffic to
// (weighted, even at 0, preview, shadow, fallback) shares one scheme and
// base path, which the generated configs need; other versions that do
// not are left out of the config (they get no traffic).
func (p *routePlan) checkShared() error {
	used := map[string]bool{}
	for _, w := range p.Weights {
		used[w.Version] = true
	}
	if p.Preview != nil {
		used[p.Preview.Version] = true
	}
	if p.Shadow != nil {
		used[p.Shadow.Version] = true
	}
	if p.Fallback != "" {
		used[p.Fallback] = true
	}
	ref := ""
	for _, v := range p.versions {
		if !used[v] {
			continue
		}
		b := p.backends[v]
		if ref == "" {
			ref, p.scheme, p.base = v, b.scheme, b.base
			if b.scheme != "http" {
				return fmt.Errorf("version %s: %s backends are not supported by this router type yet (only http)", v, b.scheme)
			}
		} else if b.scheme != p.scheme || b.base != p.base {
			return fmt.Errorf("versions %s and %s differ in scheme or base path (%s vs %s); this router needs them equal",
				ref, v, p.Backends[ref], p.Backends[v])
		}
	}
	kept := p.versions[:0]
	for _, v := range p.versions {
		if b := p.backends[v]; used[v] || (b.scheme == p.scheme && b.base == p.base) {
			kept = append(kept, v)
		}
	}
	p.versions = kept
	return nil
}

func (p *routePlan) checkWeights() error {
	seen := map[string]bool{}
	sum := 0.0
	for _, w := range p.Weights {
		if _, ok := p.backends[w.Version]; !ok {
			return fmt.Errorf("weight for version %q, which has no backend", w.Version)
		}
		if seen[w.Version] {
			return fmt.Errorf("version %s weighted twice", w.Version)
		}
		seen[w.Version] = true
		if w.Percent < 0 || w.Percent > 100 || math.IsNaN(w.Percent) {
			return fmt.Errorf("version %s: weight %v is not in [0, 100]", w.Version, w.Percent)
		}
		sum += w.Percent
		if w.Percent > 0 {
			p.live = append(p.live, w)
		}
	}
	if len(p.live) == 0 {
		return errors.New("no version has a weight above 0")
	}
	if math.Abs(sum-100) > 0.01 {
		return fmt.Errorf("weights sum to %v, not 100", sum)
	}
	return nil
}

func parseBackend(raw string) (backend, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return backend{}, fmt.Errorf("url %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return backend{}, fmt.Errorf("url %q: want http(s)://host[:port][/path]", raw)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if !hostRe.MatchString(host) {
		return backend{}, fmt.Errorf("url %q: host %q is not a plain host name or address", raw, host)
	}
	base := strings.TrimSuffix(u.Path, "/")
	if base != "" && !pathRe.MatchString(base) {
		return backend{}, fmt.Errorf("url %q: path %q holds characters this router cannot take", raw, base)
	}
	return backend{scheme: u.Scheme, hostport: host + ":" + port, base: base}, nil
}

// percent formats a weight for a config file: at most two decimals.
func percent(p float64) string {
	return trimFloat(math.Round(p*100) / 100)
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// regexQuote escapes a path or address for a PCRE pattern.
func regexQuote(s string) string { return regexp.QuoteMeta(s) }

// hashHex is a short digest for structure signatures.
func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// readFileIfExists returns a file's bytes, and whether it existed.
func readFileIfExists(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// writeFileAtomic replaces path with data: a temp file in the same
// directory, synced, then renamed over path. Readers see the old file or
// the new one, never half of one.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// ownedFile is the one config file a target owns: its previous content,
// kept so that a failed check puts it back.
type ownedFile struct {
	path    string
	prev    []byte
	existed bool
}

func readOwned(path string) (*ownedFile, error) {
	b, ok, err := readFileIfExists(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &ownedFile{path: path, prev: b, existed: ok}, nil
}

func (o *ownedFile) write(data []byte) error {
	if err := writeFileAtomic(o.path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	return nil
}

// restore puts the previous content back (or removes a file that did not
// exist before).
func (o *ownedFile) restore() error {
	if !o.existed {
		if err := os.Remove(o.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore %s: %w", o.path, err)
		}
		return nil
	}
	if err := writeFileAtomic(o.path, o.prev, 0o644); err != nil {
		return fmt.Errorf("restore %s: %w", o.path, err)
	}
	return nil
}
