package router

import (
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"

	thompson "github.com/switchyard-dev/switchyard/pkg/bandit"
	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
)

// backend is one version of one route, with its proxies built once.
type backend struct {
	version string
	hdr     []string // X-Switchyard-Version value, shared by every response
	target  *url.URL
	proxy   *httputil.ReverseProxy
	proxyFB *httputil.ReverseProxy // turns a 5xx into an error so the fallback answers; nil without fallback
	stats   *versionStats
	// transport, when set, carries this version's requests instead of
	// the router's (an https:// version with its own CA file).
	transport http.RoundTripper
	weight    float64 // live percent, > 0 for choices
	seed      uint64  // per-version hash seed for rendezvous hashing

	// For the hand-written path: the dial address, the escaped base path without
	// its trailing slash, and the target's query.
	hostPort, base, query string
}

// keySource is what a choice reads of a request: net/http's requests
// (stdKeys) and the hand-written path's (parsedKeys).
type keySource interface {
	// hasHeader reports a non-empty first value of the canonical header.
	hasHeader(canon string) bool
	// header is the first value of the canonical header, "" when none.
	header(canon string) string
	// cookie is the value of the named cookie, "" when none.
	cookie(name string) string
}

var (
	_ keySource = (*stdKeys)(nil)
	_ keySource = (*parsedKeys)(nil)
)

// stdKeys reads a net/http request.
type stdKeys http.Request

func (k *stdKeys) hasHeader(canon string) bool {
	v := k.Header[canon]
	return len(v) > 0 && v[0] != ""
}

func (k *stdKeys) header(canon string) string {
	if v := k.Header[canon]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (k *stdKeys) cookie(name string) string {
	if c, err := (*http.Request)(k).Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

// parsedKeys reads a request the hand-written path parsed.
type parsedKeys h1.Request

func (k *parsedKeys) hasHeader(canon string) bool { return (*h1.Request)(k).HasHeader(canon) }
func (k *parsedKeys) header(canon string) string  { return (*h1.Request)(k).Header(canon) }
func (k *parsedKeys) cookie(name string) string   { return (*h1.Request)(k).Cookie(name) }

// choose picks the version for a request: the preview header first, then the
// sticky key, then the bandit, then the weighted split.
func (r *route) choose(req keySource, rnd *rand.Rand) *backend {
	if r.preview != nil && req.hasHeader(r.previewHdr) {
		return r.preview
	}
	key := r.stickyKey(req)
	if r.bandit != nil {
		return r.bandit.choose(key, rnd)
	}
	if key != "" {
		return rendezvous(r.choices, key, nil)
	}
	return r.weighted(rnd)
}

func (r *route) stickyKey(req keySource) string {
	switch r.sticky {
	case stickyHeader:
		return req.header(r.stickyName)
	case stickyCookie:
		return req.cookie(r.stickyName)
	}
	return ""
}

func (r *route) weighted(rnd *rand.Rand) *backend {
	if len(r.choices) == 1 {
		return r.choices[0]
	}
	x := rnd.Float64() * r.cum[len(r.cum)-1]
	for i, c := range r.cum {
		if x < c {
			return r.choices[i]
		}
	}
	return r.choices[len(r.choices)-1]
}

// rendezvous is weighted rendezvous hashing: every version draws a
// pseudo-random u in (0,1) from the key, and the one with the least
// -ln(u)/weight wins. A version wins with probability weight/total, and a
// key only ever moves to a version whose weight rose relative to its own:
// raising a canary from 5% to 25% (others shrinking) moves users into the
// canary and never out of it. weights overrides the backends' live weights.
func rendezvous(bs []*backend, key string, weights []float64) *backend {
	kh := hashString(key)
	var best *backend
	bestScore := math.Inf(1)
	for i, b := range bs {
		w := b.weight
		if weights != nil {
			w = weights[i]
		}
		if w <= 0 {
			continue
		}
		h := mix64(kh ^ b.seed)
		u := (float64(h>>11) + 0.5) / (1 << 53)
		score := -math.Log(u) / w
		if score < bestScore {
			best, bestScore = b, score
		}
	}
	if best == nil && len(bs) > 0 {
		best = bs[0]
	}
	return best
}

// hashString is FNV-1a, finalised with mix64: stable across processes, so
// that every router of a fleet sends a user to the same version.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// mix64 is splitmix64's finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// bandit chooses among arms by Thompson sampling on Beta posteriors of the
// rewards fed back, keeping at least floor of the traffic on every arm.
type bandit struct {
	arms  []*backend
	floor float64
	// alloc caches the probability-matching split used for sticky keys,
	// recomputed at most once a second.
	alloc atomic.Pointer[allocation]
	now   func() int64
}

type allocation struct {
	sec     int64
	weights []float64
}

func (b *bandit) choose(key string, rnd *rand.Rand) *backend {
	if key != "" {
		return rendezvous(b.arms, key, b.allocation(rnd))
	}
	var buf [8]thompson.Beta
	return b.arms[thompson.Pick(rnd, b.posteriors(buf[:0]), b.floor)]
}

// posteriors appends each arm's reward posterior to buf.
func (b *bandit) posteriors(buf []thompson.Beta) []thompson.Beta {
	for _, a := range b.arms {
		alpha, beta := a.stats.posterior()
		buf = append(buf, thompson.Beta{A: alpha, B: beta})
	}
	return buf
}

// allocation is each arm's share for sticky keys: the split the engine
// reports and thompson.Pick serves (thompson.Shares of P(best), by Monte
// Carlo over the posteriors).
func (b *bandit) allocation(rnd *rand.Rand) []float64 {
	sec := int64(0)
	if b.now != nil {
		sec = b.now()
	}
	if a := b.alloc.Load(); a != nil && a.sec == sec {
		return a.weights
	}
	const draws = 500
	w := thompson.Shares(thompson.ProbBest(rnd, b.posteriors(nil), draws), b.floor)
	b.alloc.Store(&allocation{sec: sec, weights: w})
	return w
}

// randPool hands out seeded generators: math/rand/v2 generators are not
// safe for concurrent use, and one per request would allocate.
type randPool struct {
	seed uint64
	n    atomic.Uint64
	pool sync.Pool
}

func newRandPool(seed uint64) *randPool {
	p := &randPool{seed: seed}
	p.pool.New = func() any {
		i := p.n.Add(1)
		return rand.New(rand.NewPCG(p.seed, mix64(p.seed^i)))
	}
	return p
}

func (p *randPool) get() *rand.Rand  { return p.pool.Get().(*rand.Rand) }
func (p *randPool) put(r *rand.Rand) { p.pool.Put(r) }
