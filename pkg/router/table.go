package router

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// validate reports every problem of a table at once; nil when it can be
// served.
func validate(t traffic.Table) error {
	var errs []error
	paths := map[string]string{}
	names := map[string]bool{}
	for i, r := range t.Routes {
		where := fmt.Sprintf("route %d (%s/%s at %q)", i, r.Model, r.Stage, r.Path)
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
		}
		if r.Model == "" || r.Stage == "" {
			bad("model and stage are required")
		}
		key := r.Model + "/" + r.Stage
		if names[key] {
			bad("model %s stage %s appears twice", r.Model, r.Stage)
		}
		names[key] = true
		if !strings.HasPrefix(r.Path, "/") {
			bad("path must start with /")
		} else {
			p := normPath(r.Path)
			if other, dup := paths[p]; dup {
				bad("path %q is already routed to %s", r.Path, other)
			}
			paths[p] = key
		}
		if len(r.Backends) == 0 {
			bad("no backends")
		}
		for _, v := range sortedKeys(r.Backends) {
			if err := checkURL(r.Backends[v]); err != nil {
				bad("backend %q: %v", v, err)
			}
		}
		checkCAFiles(r, bad)
		known := func(field, v string) {
			if _, ok := r.Backends[v]; !ok {
				bad("%s names version %q, which has no backend (known: %s)", field, v, strings.Join(sortedKeys(r.Backends), ", "))
			}
		}
		sum := 0.0
		seen := map[string]bool{}
		for _, w := range r.Weights {
			known("weights", w.Version)
			if seen[w.Version] {
				bad("weights list version %q twice", w.Version)
			}
			seen[w.Version] = true
			if w.Percent < 0 || w.Percent > 100 || math.IsNaN(w.Percent) {
				bad("weight of %q is %g, want 0..100", w.Version, w.Percent)
			}
			sum += w.Percent
		}
		if math.Abs(sum-100) > 0.01 {
			bad("weights sum to %g, want 100", sum)
		}
		switch {
		case r.Sticky == "":
		case strings.HasPrefix(r.Sticky, "header:") && len(r.Sticky) > len("header:"):
		case strings.HasPrefix(r.Sticky, "cookie:") && len(r.Sticky) > len("cookie:"):
		default:
			bad("sticky is %q, want header:NAME or cookie:NAME", r.Sticky)
		}
		if p := r.Preview; p != nil {
			if p.Header == "" {
				bad("preview header is empty")
			}
			known("preview", p.Version)
		}
		if s := r.Shadow; s != nil {
			known("shadow", s.Version)
			if s.Percent < 0 || s.Percent > 100 || math.IsNaN(s.Percent) {
				bad("shadow percent is %g, want 0..100", s.Percent)
			}
			if s.Compare != "" && s.Compare != "exact" && s.Compare != "json" {
				bad("shadow compare is %q, want exact or json", s.Compare)
			}
			if s.Tolerance < 0 || math.IsNaN(s.Tolerance) {
				bad("shadow tolerance is %g, want >= 0", s.Tolerance)
			}
		}
		if b := r.Bandit; b != nil {
			if len(b.Arms) == 0 {
				bad("bandit has no arms")
			}
			for _, a := range b.Arms {
				known("bandit arms", a)
			}
			if b.ExploreFloor < 0 || b.ExploreFloor*float64(len(b.Arms)) > 1 || math.IsNaN(b.ExploreFloor) {
				bad("bandit explore_floor is %g, want 0..1/%d", b.ExploreFloor, len(b.Arms))
			}
		}
		if r.Fallback != "" {
			known("fallback", r.Fallback)
		}
	}
	return errors.Join(errs...)
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "h2c" {
		return fmt.Errorf("url %q: scheme must be http, https or h2c", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("url %q has no host", raw)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// normPath drops trailing slashes, except for the root.
func normPath(p string) string {
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	return p
}

// copyTable returns a deep copy, so that callers never share the router's.
func copyTable(t traffic.Table) traffic.Table {
	out := traffic.Table{Generation: t.Generation, Routes: make([]traffic.Route, len(t.Routes))}
	for i, r := range t.Routes {
		c := r
		c.Backends = make(map[string]string, len(r.Backends))
		for k, v := range r.Backends {
			c.Backends[k] = v
		}
		if r.CAFiles != nil {
			c.CAFiles = make(map[string]string, len(r.CAFiles))
			for k, v := range r.CAFiles {
				c.CAFiles[k] = v
			}
		}
		c.Weights = append([]traffic.Weight(nil), r.Weights...)
		if r.Preview != nil {
			p := *r.Preview
			c.Preview = &p
		}
		if r.Shadow != nil {
			s := *r.Shadow
			c.Shadow = &s
		}
		if r.Bandit != nil {
			b := *r.Bandit
			b.Arms = append([]string(nil), r.Bandit.Arms...)
			c.Bandit = &b
		}
		out.Routes[i] = c
	}
	return out
}

// compiled is a table with everything the data plane needs precomputed; it
// is never modified after it is published.
type compiled struct {
	table  traffic.Table
	byPath map[string]*route
	byName map[string]*route // "model/stage"
}

// lookup finds the route with the longest prefix of path that ends at a
// segment boundary ("/v1/fraud" serves "/v1/fraud/x", not "/v1/fraudx").
func (c *compiled) lookup(path string) (*route, string) {
	if path == "" {
		path = "/"
	}
	p := path
	for {
		if r, ok := c.byPath[p]; ok {
			return r, path[len(r.path):]
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return nil, ""
		}
		if i == 0 {
			if p == "/" {
				return nil, ""
			}
			p = "/"
			continue
		}
		p = p[:i]
	}
}

// lookupBytes is lookup for the hand-written path's path bytes, without
// allocating.
func (c *compiled) lookupBytes(path []byte) (*route, []byte) {
	p := path
	for {
		if r, ok := c.byPath[string(p)]; ok {
			return r, path[len(r.path):]
		}
		i := bytes.LastIndexByte(p, '/')
		if i < 0 {
			return nil, nil
		}
		if i == 0 {
			if len(p) == 1 {
				return nil, nil
			}
			p = p[:1]
			continue
		}
		p = p[:i]
	}
}

// stickyKind says where a route's sticky key comes from.
type stickyKind int

const (
	stickyNone stickyKind = iota
	stickyHeader
	stickyCookie
)

type route struct {
	model, stage string
	path         string // normalised; "/" routes strip nothing
	backends     map[string]*backend
	choices      []*backend // weight > 0, in table order
	cum          []float64  // cumulative weights of choices, last = 100
	sticky       stickyKind
	stickyName   string // canonical header or cookie name
	previewHdr   string // canonical header name
	preview      *backend
	shadow       *shadowRoute
	bandit       *bandit
	fallback     *backend
	// handWritten: every backend is plain http:// behind the router's
	// own transport, so the hand-written path may proxy it (proxy_h1.go).
	handWritten bool
	// outputs are read from every answer (outputs.go); none: no parsing.
	outputs []behaviour.Pointer
}

type shadowRoute struct {
	to        *backend
	percent   float64
	json      bool
	tolerance float64
	outputs   []behaviour.Pointer // the route's: the shadow's answers are read too (outputs.go)
}

// copies says whether the request that b answers is copied to the
// shadow: a share of them, never one the shadow's version answers itself
// (a blue/green preview request while its preview_mirror copies to the
// same version), which would reach that backend twice and count twice.
func (s *shadowRoute) copies(b *backend, rnd *rand.Rand) bool {
	return s != nil && b != s.to && rnd.Float64()*100 < s.percent
}

func (rt *Router) compile(t traffic.Table) *compiled {
	c := &compiled{table: copyTable(t), byPath: map[string]*route{}, byName: map[string]*route{}}
	for _, tr := range c.table.Routes {
		r := &route{model: tr.Model, stage: tr.Stage, path: normPath(tr.Path), backends: map[string]*backend{}, outputs: compileOutputs(tr.Outputs)}
		if r.path == "/" {
			r.path = ""
		}
		for _, v := range sortedKeys(tr.Backends) {
			u, _ := url.Parse(tr.Backends[v])
			r.backends[v] = &backend{
				version: v,
				hdr:     []string{v},
				target:  u,
				stats:   rt.statsFor(tr.Model, tr.Stage, v),
				seed:    hashString(v),
			}
			r.backends[v].transport = rt.backendTransport(tr, v, u)
		}
		r.handWritten = rt.ownTransport != nil
		for _, b := range r.backends {
			u := b.target
			b.hostPort = u.Host
			if u.Port() == "" {
				b.hostPort = net.JoinHostPort(u.Hostname(), "80")
			}
			b.base = strings.TrimSuffix((&url.URL{Path: u.Path}).EscapedPath(), "/")
			b.query = u.RawQuery
			if u.Scheme != "http" || u.User != nil || b.transport != nil {
				r.handWritten = false
			}
		}
		if tr.Fallback != "" {
			r.fallback = r.backends[tr.Fallback]
		}
		for _, b := range r.backends {
			b.proxy = rt.newProxy(r, b, false)
			if r.fallback != nil && b != r.fallback {
				b.proxyFB = rt.newProxy(r, b, true)
			}
		}
		total := 0.0
		for _, w := range tr.Weights {
			if w.Percent <= 0 {
				continue
			}
			b := r.backends[w.Version]
			b.weight = w.Percent
			total += w.Percent
			r.choices = append(r.choices, b)
			r.cum = append(r.cum, total)
		}
		switch {
		case strings.HasPrefix(tr.Sticky, "header:"):
			r.sticky, r.stickyName = stickyHeader, http.CanonicalHeaderKey(strings.TrimPrefix(tr.Sticky, "header:"))
		case strings.HasPrefix(tr.Sticky, "cookie:"):
			r.sticky, r.stickyName = stickyCookie, strings.TrimPrefix(tr.Sticky, "cookie:")
		}
		if p := tr.Preview; p != nil {
			r.previewHdr, r.preview = http.CanonicalHeaderKey(p.Header), r.backends[p.Version]
		}
		if s := tr.Shadow; s != nil && s.Percent > 0 {
			r.shadow = &shadowRoute{to: r.backends[s.Version], percent: s.Percent, json: s.Compare == "json", tolerance: s.Tolerance, outputs: r.outputs}
		}
		if bd := tr.Bandit; bd != nil {
			r.bandit = &bandit{floor: bd.ExploreFloor, now: func() int64 { return rt.now().Unix() }}
			for _, a := range bd.Arms {
				r.bandit.arms = append(r.bandit.arms, r.backends[a])
			}
		}
		c.byPath[r.path] = r
		if r.path == "" {
			c.byPath["/"] = r
		}
		c.byName[tr.Model+"/"+tr.Stage] = r
	}
	return c
}
