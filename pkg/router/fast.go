package router

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// This file is the lean server's request path: a plain HTTP/1.1 request,
// already read into the connection's buffer, is proxied by writing its
// head (rewritten) and body to a pooled backend connection and relaying the
// answer's head and body back, all from the connection's goroutine and
// without building net/http's request and response values. It does what
// Router.ServeHTTP does (choice, request id, X-Forwarded-*, fallback,
// shadow copy, measurements), and is tested against it (server_parity_test.go, server_answers_test.go).

// leanReq is the current request of a lean connection; its slices point
// into the connection's copy of the head.
type leanReq struct {
	method, path, query, host []byte
	fields                    []field
	length                    int64 // Content-Length, -1 when absent
	close                     bool  // the client asked to close
	id                        []byte
	nID                       int
	idempotencyKey            bool // Idempotency-Key or X-Idempotency-Key
	// Pragma: no-cache without Cache-Control gets Cache-Control: no-cache,
	// as net/http's server adds (HTTP/1.0 caches).
	pragmaNoCache, cacheControl bool
}

// leanKeys gives the choice the lean request's headers and cookies.
type leanKeys leanReq

func (k *leanKeys) first(canon string) ([]byte, bool) {
	for i := range k.fields {
		if is(k.fields[i].name, canon) {
			return k.fields[i].value, true
		}
	}
	return nil, false
}

func (k *leanKeys) hasHeader(canon string) bool {
	v, _ := k.first(canon)
	return len(v) > 0
}

func (k *leanKeys) header(canon string) string {
	v, _ := k.first(canon)
	return string(v)
}

func (k *leanKeys) cookie(name string) string { return string(cookieValue(k.fields, name)) }

// parseRequest copies the head (n bytes buffered in br) and parses it;
// false when the request is not a plain one for the lean path: another
// protocol version, a percent-encoded or absolute target, a chunked or
// expected body, an upgrade, no or several Host fields, several
// Content-Lengths, or anything unusual in the syntax.
func (fc *clientConn) parseRequest(n int) bool {
	raw, _ := fc.br.Peek(n)
	fc.head = append(fc.head[:0], raw...)
	b := fc.head
	r := &fc.req
	*r = leanReq{fields: r.fields[:0], length: -1}
	i := bytes.Index(b, crlf)
	line := b[:i]
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !isToken(line[:sp]) {
		return false
	}
	r.method, line = line[:sp], line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 || string(line[sp+1:]) != "HTTP/1.1" || line[0] != '/' {
		return false
	}
	target := line[:sp]
	r.path = target
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		r.path, r.query = target[:q], target[q+1:]
		for i, c := range r.query {
			// A '%' that is not an escape is re-encoded by net/http's
			// proxy: such queries go there.
			if !queryChar(c) || c == '%' && (i+2 >= len(r.query) || !ishex(r.query[i+1]) || !ishex(r.query[i+2])) {
				return false
			}
		}
	}
	for _, c := range r.path {
		if !pathChar[c] {
			return false
		}
	}
	if dotSegments(r.path) {
		return false // the gate (vet.go) answers 400
	}
	var ok bool
	if r.fields, ok = parseFields(b[i+2:], r.fields); !ok {
		return false
	}
	hosts := 0
	for k := range r.fields {
		f := &r.fields[k]
		switch name := f.name; {
		case hopByHop(name):
			// Trailers (TE: trailers, gRPC's) are relayed by net/http's
			// proxy, which the lean path leaves them to.
			if is(name, "Transfer-Encoding") || is(name, "Upgrade") || is(name, "Te") && hasToken(f.value, "trailers") {
				return false
			}
			f.drop = true
		case is(name, "Host"):
			hosts++
			r.host = f.value
			if !validHost(f.value) {
				return false // net/http answers 400
			}
		case is(name, "Pragma"):
			r.pragmaNoCache = r.pragmaNoCache || string(f.value) == "no-cache"
		case is(name, "Cache-Control"):
			r.cacheControl = true
		case is(name, "Content-Length"):
			if r.length >= 0 {
				return false
			}
			if r.length = parseLength(f.value); r.length < 0 {
				return false
			}
		case is(name, "Expect"):
			return false
		case is(name, "X-Request-Id"):
			r.nID++
			r.id = f.value
		case is(name, "Idempotency-Key"), is(name, "X-Idempotency-Key"):
			r.idempotencyKey = true
		}
	}
	if hosts != 1 {
		return false
	}
	close, upgrade := dropConnectionListed(r.fields)
	if upgrade {
		return false
	}
	r.close = close
	if r.nID != 1 || !saneID(r.id) {
		r.id = nil
	}
	return true
}

// replaced reports the fields the proxy sets itself on the live request
// (as httputil.ReverseProxy does with SetXForwarded).
func replaced(name []byte) bool {
	switch len(name) {
	case 4:
		return is(name, "Host")
	case 9:
		return is(name, "Forwarded")
	case 12:
		return is(name, "X-Request-Id")
	case 14:
		return is(name, "Content-Length")
	case 15:
		return is(name, "X-Forwarded-For")
	case 16:
		return is(name, "X-Forwarded-Host")
	case 17:
		return is(name, "X-Forwarded-Proto")
	}
	return false
}

// serveLean proxies the parsed request (its head already consumed) to a
// version of r, falling back where the route allows, and reports whether
// the connection may serve another request.
func (fc *clientConn) serveLean(r *route, rest []byte) bool {
	rt := fc.s.rt
	req := &fc.req
	fc.body = fc.body[:0]
	if req.length > 0 {
		_ = fc.c.SetReadDeadline(time.Now().Add(fc.s.opts.BodyTimeout))
		if int64(cap(fc.body)) < req.length {
			fc.body = make([]byte, req.length)
		}
		fc.body = fc.body[:req.length]
		if _, err := io.ReadFull(fc.br, fc.body); err != nil {
			return false
		}
	}
	rnd := rt.rands.get()
	b := r.choose((*leanKeys)(req), rnd)
	shadow := r.shadow != nil && rnd.Float64()*100 < r.shadow.percent
	rt.rands.put(rnd)
	id := issueID(rt, req.id, b)
	rt.ids.put(id, b.stats)
	x := &fc.x
	*x = leanExchange{id: id, closeAfter: req.close || fc.s.closing.Load()}
	if shadow || len(r.outputs) > 0 {
		x.capture = rt.getBuf()
	}

	start := rt.now()
	canFallBack := r.fallback != nil && b != r.fallback
	res := fc.attempt(r, b, rest, canFallBack)
	if !res.sent && canFallBack && res.code != statusClientGone {
		now := rt.now()
		b.stats.recordRequest(now, now.Sub(start), -1, res.code, true, true)
		rt.opts.Logger.Debug("answering from the fallback", "model", r.model, "stage", r.stage, "version", b.version, "fallback", r.fallback.version, "err", res.err)
		b, start = r.fallback, now
		rt.ids.put(id, b.stats)
		res = fc.attempt(r, b, rest, false)
	}
	keep := res.err == nil
	if !res.sent && res.code != statusClientGone {
		if res.code < 500 || res.code > 599 {
			res.code = http.StatusBadGateway
		}
		// The router's own answer is whole: the connection goes on.
		fc.writeError(res.code, b, fmt.Sprintf("version %s of %s/%s failed: %v", b.version, r.model, r.stage, res.err))
		keep = true
	}
	now := rt.now()
	ttfb := time.Duration(-1)
	if res.sent && !x.firstByte.IsZero() {
		ttfb = x.firstByte.Sub(start)
	}
	b.stats.recordRequest(now, now.Sub(start), ttfb, res.code, isFailure(res.code), false)
	if x.capture != nil {
		if len(r.outputs) > 0 && res.sent && res.err == nil {
			rt.observeOutputs(r.outputs, b, id, res.code, x.captured(res.err))
		}
		switch {
		case !shadow:
			rt.putBuf(x.capture)
		case res.err == nil && !x.overflow:
			rt.shadow.enqueueJob(r.shadow, fc.shadowJob(r, rest, res.code))
		default:
			rt.shadow.drop(r.shadow, x.capture)
		}
		x.capture = nil
	}
	return keep && !x.closeAfter
}

// captured is the answer's body for its outputs: nil when it was cut
// short or too large to keep.
func (x *leanExchange) captured(err error) []byte {
	if err != nil || x.overflow {
		return nil
	}
	return x.capture.Bytes()
}

// leanExchange is the state of the request being answered.
type leanExchange struct {
	id         string
	closeAfter bool
	capture    *bytes.Buffer // the live answer, for the shadow's comparison
	overflow   bool
	firstByte  time.Time // when the answer's body began (TTFB)
}

// attemptResult: code is the status answered or recorded; sent says that
// the client got an answer (so no other version may answer); err is why
// the attempt failed, or why the connection must close.
type attemptResult struct {
	code int
	sent bool
	err  error
}

// attempt sends the request to b and relays the answer. With failOn5xx a
// 5xx answer is not relayed, for the fallback to answer instead.
func (fc *clientConn) attempt(r *route, b *backend, rest []byte, failOn5xx bool) attemptResult {
	fc.upstreamHead(b, rest)
	bc, err := fc.roundTrip(b)
	if err != nil {
		code := http.StatusBadGateway
		switch {
		case errors.Is(err, errClientGone):
			code = statusClientGone
		case isTimeout(err):
			code = http.StatusGatewayTimeout
		}
		return attemptResult{code: code, err: err}
	}
	if bc.std != nil {
		return fc.relayStd(b, bc, failOn5xx)
	}
	h := &fc.resp
	if failOn5xx && h.status >= 500 {
		fc.release(b, bc, h, false)
		return attemptResult{code: h.status, err: statusError{h.status}}
	}
	fc.writeResponseHead(b, h.status, h.statusText, h.fields, h.hasDate, h.framing)
	_, _ = bc.br.Discard(h.n) // copied to the client's buffer
	h.n = 0
	res := attemptResult{code: h.status, sent: true}
	if h.framing != framingNone {
		res.err = fc.relayBody(bc.br, h.framing, h.length)
	}
	fc.release(b, bc, h, res.err == nil)
	if isClientError(res.err) {
		res.code = statusClientGone
	} else if res.err != nil {
		// The answer broke off: a failure of the version; the client's
		// connection is closed, as net/http does for an aborted handler.
		res.code = http.StatusBadGateway
	}
	return res
}

// clientError is a failed write to the client.
type clientError struct{ error }

func (e clientError) Unwrap() error { return e.error }

func isClientError(err error) bool {
	_, ok := err.(clientError)
	return ok
}

// upstreamHead writes the request head for b into fc.out: the path with
// the route's prefix replaced by the backend's, Host set to the backend,
// hop-by-hop fields left out, X-Forwarded-* and X-Request-Id set.
func (fc *clientConn) upstreamHead(b *backend, rest []byte) {
	r := &fc.req
	o := append(fc.out[:0], r.method...)
	o = append(o, ' ')
	switch {
	case b.base == "" && len(rest) == 0:
		o = append(o, '/')
	default:
		o = append(o, b.base...)
		o = append(o, rest...)
	}
	switch {
	case b.query != "" && len(r.query) > 0:
		o = append(o, '?')
		o = append(o, b.query...)
		o = append(o, '&')
		o = append(o, r.query...)
	case b.query != "":
		o = append(o, '?')
		o = append(o, b.query...)
	case r.query != nil: // "/x?" keeps its '?', as net/http's proxy does
		o = append(o, '?')
		o = append(o, r.query...)
	}
	o = append(o, " HTTP/1.1\r\nHost: "...)
	o = append(o, b.target.Host...)
	o = append(o, "\r\n"...)
	for i := range r.fields {
		f := &r.fields[i]
		if f.drop || replaced(f.name) {
			continue
		}
		o = appendField(o, f.name, f.value)
	}
	if fc.ip != "" {
		o = append(o, "X-Forwarded-For: "...)
		o = append(o, fc.ip...)
		o = append(o, "\r\n"...)
	}
	o = append(o, "X-Forwarded-Host: "...)
	o = append(o, r.host...)
	if fc.overTLS {
		o = append(o, "\r\nX-Forwarded-Proto: https\r\nX-Request-Id: "...)
	} else {
		o = append(o, "\r\nX-Forwarded-Proto: http\r\nX-Request-Id: "...)
	}
	o = append(o, fc.x.id...)
	o = append(o, "\r\n"...)
	if r.length > 0 || r.length <= 0 && sendsZeroLength(r.method) {
		o = append(o, "Content-Length: "...)
		o = strconv.AppendInt(o, max(r.length, 0), 10)
		o = append(o, "\r\n"...)
	}
	if r.pragmaNoCache && !r.cacheControl {
		o = append(o, "Cache-Control: no-cache\r\n"...)
	}
	fc.out = append(o, "\r\n"...)
}

// sendsZeroLength: net/http writes "Content-Length: 0" for these methods.
func sendsZeroLength(m []byte) bool {
	s := string(m)
	return s == "POST" || s == "PUT" || s == "PATCH"
}

func appendField(o, name, value []byte) []byte {
	o = append(o, name...)
	o = append(o, ": "...)
	o = append(o, value...)
	return append(o, "\r\n"...)
}

// backendConn is a pooled connection with the answer's head read: parsed
// into fc.resp, or, when it is not a plain one, read by net/http (std).
type backendConn struct {
	*leanConn
	std *http.Response
}

// roundTrip writes the request on a clean pooled connection to b (or a
// new one) and reads the answer's head, skipping interim 1xx answers. A
// reused connection that dies before answering is tried again on a new
// one only when the request is replayable (reuse.go); otherwise the
// error stands (a 502), as the backend may have the request already.
func (fc *clientConn) roundTrip(b *backend) (backendConn, error) {
	t := fc.s.rt.lean
	if c := t.getClean(b.hostPort); c != nil {
		bc, err := fc.exchange(t, c, true)
		if !errors.Is(err, errStale) || !replayable(string(fc.req.method), fc.req.idempotencyKey) || fc.gone.Load() {
			return bc, err
		}
	}
	c, err := t.dialHost(b.hostPort)
	if err != nil {
		return backendConn{}, err
	}
	return fc.exchange(t, c, false)
}

func (fc *clientConn) exchange(t *leanTransport, c *leanConn, reused bool) (backendConn, error) {
	fail := func(err error) (backendConn, error) {
		c.c.Close()
		if fc.gone.Load() {
			return backendConn{}, errClientGone
		}
		return backendConn{}, err
	}
	// While the backend thinks, the client may leave: then the backend's
	// connection is closed, which ends its work (watch.go).
	fc.watchClient(c)
	defer fc.unwatch()
	c.bw.Write(fc.out)
	c.bw.Write(fc.body)
	writeErr := c.bw.Flush()
	switch {
	case writeErr != nil:
		// The backend may have answered before reading the whole body
		// (413, say) and closed: its answer is read all the same.
		_ = c.c.SetReadDeadline(time.Now().Add(earlyAnswerWait))
	case t.headerTimeout > 0:
		_ = c.c.SetReadDeadline(time.Now().Add(t.headerTimeout))
	}
	for {
		n, ok, err := findHead(c.br)
		if err != nil {
			var ne net.Error
			if reused && !(errors.As(err, &ne) && ne.Timeout()) && c.br.Buffered() == 0 {
				return fail(errors.Join(errStale, err))
			}
			if writeErr != nil {
				err = writeErr
			}
			return fail(err)
		}
		head, _ := c.br.Peek(n)
		if !ok || !fc.resp.parse(head, string(fc.req.method) == "HEAD") {
			// Not a plain head (or larger than the buffer): net/http reads it.
			resp, err := http.ReadResponse(c.br, &http.Request{Method: string(fc.req.method)})
			if err != nil {
				return fail(err)
			}
			if resp.StatusCode == http.StatusSwitchingProtocols {
				// The lean path never asks for an upgrade.
				return fail(errUnaskedSwitch)
			}
			if resp.StatusCode < 100 {
				return fail(errBadStatus)
			}
			if resp.StatusCode < 200 {
				continue
			}
			if t.headerTimeout > 0 {
				_ = c.c.SetReadDeadline(time.Time{})
			}
			return backendConn{leanConn: c, std: resp}, nil
		}
		if fc.resp.status < 200 {
			if fc.resp.status == http.StatusSwitchingProtocols {
				return fail(errUnaskedSwitch)
			}
			_, _ = c.br.Discard(n)
			continue
		}
		if t.headerTimeout > 0 {
			_ = c.c.SetReadDeadline(time.Time{})
		}
		fc.resp.n = n
		fc.resp.close = fc.resp.close || writeErr != nil
		return backendConn{leanConn: c}, nil
	}
}

// errBadStatus: net/http reads a status code of three digits below 100,
// which is no HTTP status; it is the backend's failure (a 502), not an
// interim answer to skip.
var errBadStatus = errors.New("the backend's answer has a status code below 100")

// errUnaskedSwitch: a 101 answer to a request that asked for no upgrade
// is the backend's failure (a 502), never passed on.
var errUnaskedSwitch = errors.New("the backend switched protocols, which was not asked for")

// release discards the answer's head and returns the connection to the
// pool when its answer was read to the end and it may be reused; a 5xx
// answer that is not relayed is drained when it is all buffered.
func (fc *clientConn) release(b *backend, bc backendConn, h *respHead, done bool) {
	t := fc.s.rt.lean
	if h.n > 0 {
		_, _ = bc.br.Discard(h.n)
		h.n = 0
	}
	if !done && h.framing == framingLength && int64(bc.br.Buffered()) >= h.length {
		_, _ = bc.br.Discard(int(h.length))
		done = true
	} else if !done && h.framing == framingNone && !h.close {
		done = true
	}
	t.putIfClean(b.hostPort, bc.leanConn, done && !h.close && !h.unsure && h.framing != framingClose)
}

// shadowJob is the copy of the current request for the route's shadow:
// the client's fields less hop-by-hop ones (as Router.ServeHTTP copies
// them), the request id, and a copy of the body.
func (fc *clientConn) shadowJob(r *route, rest []byte, code int) *shadowJob {
	req := &fc.req
	var raw []byte
	for i := range req.fields {
		f := &req.fields[i]
		if f.drop || is(f.name, "Host") || is(f.name, "Content-Length") || is(f.name, hdrRequestID) {
			continue
		}
		raw = appendField(raw, f.name, f.value)
	}
	raw = append(raw, "X-Request-Id: "...)
	raw = append(raw, fc.x.id...)
	raw = append(raw, "\r\nX-Switchyard-Shadow: true\r\n"...)
	var body []byte
	if len(fc.body) > 0 {
		body = bytes.Clone(fc.body)
	}
	return &shadowJob{
		sr: r.shadow, method: string(req.method), rest: string(rest), rawQuery: string(req.query),
		raw: raw, body: body, liveCode: code, live: fc.x.capture,
	}
}
