package router

import "time"

// This file is the one fallback decision of both request paths (the
// hand-written one, proxy_h1.go, and net/http's, proxy.go): when a
// version's failed attempt is answered by the route's fallback instead.

// hasFallbackFor reports a fallback version other than b: then b's 5xx
// answers are not relayed, for the fallback to answer instead.
func (r *route) hasFallbackFor(b *backend) bool {
	return r.fallback != nil && b != r.fallback
}

// fallsBack decides whether the failed attempt of version b, which
// answered or was recorded as code, is answered by the route's fallback:
// when the route has one other than b, the client is still there, and
// the request can be sent again (replayable: its body is at hand).
func (r *route) fallsBack(b *backend, code int, replayable bool) bool {
	return r.hasFallbackFor(b) && code != statusClientGone && replayable
}

// fallBack records b's failed attempt (started at start, answered or
// recorded as code, for err) and hands request id to the fallback's
// measurements; it returns when the fallback's attempt starts.
func (rt *Router) fallBack(r *route, b *backend, id string, start time.Time, code int, err error) time.Time {
	now := rt.now()
	b.stats.recordRequest(now, now.Sub(start), -1, code, true, true)
	rt.opts.Logger.Debug("answering from the fallback", "model", r.model, "stage", r.stage, "version", b.version, "fallback", r.fallback.version, "err", err)
	rt.ids.put(id, r.fallback.stats)
	return now
}
