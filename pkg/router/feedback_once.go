package router

import (
	"sync"
	"time"
)

// feedbackKind is what a feedback post gives for a request: each kind is
// taken at most once per request id.
type feedbackKind uint8

const (
	kindReward feedbackKind = iota
	kindLabel               // ground truth for the outputs (outputs.go)
)

type onceKey struct {
	id   idPayload
	kind feedbackKind
}

type claimResult int

const (
	claimOK claimResult = iota
	claimDuplicate
	claimFull
)

// onceSet remembers which request ids had feedback of which kind, for as
// long as the ids are taken (the window), in buckets by issue time: a
// bucket whose ids have all expired is dropped whole. At its cap it
// refuses new claims rather than forget old ones, which would let a
// reward count twice.
type onceSet struct {
	mu      sync.Mutex
	window  time.Duration
	width   time.Duration // of a bucket: window/24
	max     int
	n       int
	buckets map[int64]map[onceKey]struct{} // by issue time / width
}

func newOnceSet(window time.Duration, limit int) *onceSet {
	return &onceSet{window: window, width: max(window/24, time.Second), max: limit, buckets: map[int64]map[onceKey]struct{}{}}
}

// claim takes kind for the id of p at now, once.
func (s *onceSet) claim(p idPayload, kind feedbackKind, now time.Time) claimResult {
	k := onceKey{p, kind}
	at := p.issued().UnixNano() / int64(s.width)
	oldest := now.Add(-s.window).UnixNano() / int64(s.width)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, b := range s.buckets {
		// Every id of a bucket before the one of now-window was issued
		// before now-window: expired, refused before reaching here.
		if i < oldest {
			s.n -= len(b)
			delete(s.buckets, i)
		}
	}
	b := s.buckets[at]
	if _, dup := b[k]; dup {
		return claimDuplicate
	}
	if s.n >= s.max {
		return claimFull
	}
	if b == nil {
		b = map[onceKey]struct{}{}
		s.buckets[at] = b
	}
	b[k] = struct{}{}
	s.n++
	return claimOK
}

// rateLimit allows each client address a number of posts per second, in
// bounded memory: past maxRateAddrs addresses in one second, the others
// share one allowance.
type rateLimit struct {
	mu     sync.Mutex
	perSec int
	sec    int64
	counts map[string]int
}

const maxRateAddrs = 10000

func newRateLimit(perSec int) *rateLimit {
	return &rateLimit{perSec: perSec, counts: map[string]int{}}
}

func (l *rateLimit) allow(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sec := now.Unix(); sec != l.sec {
		clear(l.counts)
		l.sec = sec
	}
	if _, ok := l.counts[addr]; !ok && len(l.counts) >= maxRateAddrs {
		addr = ""
	}
	l.counts[addr]++
	return l.counts[addr] <= l.perSec
}
