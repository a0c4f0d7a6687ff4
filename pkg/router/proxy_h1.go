package router

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
)

// This file is the router's side of the hand-written HTTP/1.1 path
// (internal/h1): a plain request, already read into the connection's
// buffer, is proxied by writing its head (rewritten) and body to a pooled
// backend connection and relaying the answer's head and body back, all
// from the connection's goroutine and without building net/http's request
// and response values. It does what Router.ServeHTTP does (choice, request
// id, X-Forwarded-*, fallback, shadow copy, measurements), and is tested
// against it (server_parity_test.go, server_answers_test.go).

// replaced reports the fields the proxy sets itself on the live request
// (as httputil.ReverseProxy does with SetXForwarded).
func replaced(name []byte) bool {
	switch len(name) {
	case 4:
		return h1.Is(name, "Host")
	case 9:
		return h1.Is(name, "Forwarded")
	case 12:
		return h1.Is(name, "X-Request-Id")
	case 14:
		return h1.Is(name, "Content-Length")
	case 15:
		return h1.Is(name, "X-Forwarded-For")
	case 16:
		return h1.Is(name, "X-Forwarded-Host")
	case 17:
		return h1.Is(name, "X-Forwarded-Proto")
	}
	return false
}

// serveHandWritten proxies the parsed request (its head already consumed) to a
// version of r, falling back where the route allows, and reports whether
// the connection may serve another request.
func (cc *clientConn) serveHandWritten(r *route, rest []byte) bool {
	rt := cc.s.rt
	req := &cc.req
	cc.body = cc.body[:0]
	if req.Length > 0 {
		if int64(cc.br.Buffered()) < req.Length {
			cc.dl.Read(cc.c, time.Now(), cc.s.opts.BodyTimeout)
		}
		if int64(cap(cc.body)) < req.Length {
			cc.body = make([]byte, req.Length)
		}
		cc.body = cc.body[:req.Length]
		if _, err := io.ReadFull(cc.br, cc.body); err != nil {
			return false
		}
	}
	rnd := rt.rands.get()
	b := r.choose((*parsedKeys)(req), rnd)
	shadow := r.shadow.copies(b, rnd)
	rt.rands.put(rnd)
	id := issueID(rt, req.ID, b)
	rt.ids.put(id, b.stats)
	x := &cc.x
	*x = inFlight{id: id, closeAfter: req.Close || cc.s.closing.Load()}
	if shadow || len(r.outputs) > 0 {
		x.capture = rt.getBuf()
	}

	start := rt.now()
	// The body is at hand: the request can always be sent again.
	res := cc.attempt(r, b, rest, r.hasFallbackFor(b))
	if !res.sent && r.fallsBack(b, res.code, true) {
		start = rt.fallBack(r, b, id, start, res.code, res.err)
		b = r.fallback
		res = cc.attempt(r, b, rest, false)
	}
	keep := res.err == nil
	if !res.sent && res.code != statusClientGone {
		if res.code < 500 || res.code > 599 {
			res.code = http.StatusBadGateway
		}
		// The router's own answer is whole: the connection goes on.
		cc.writeError(res.code, b, fmt.Sprintf("version %s of %s/%s failed: %v", b.version, r.model, r.stage, res.err))
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
			rt.shadow.enqueueJob(r.shadow, cc.shadowJob(r, rest, res.code))
		default:
			rt.shadow.drop(r.shadow, x.capture)
		}
		x.capture = nil
	}
	return keep && !x.closeAfter
}

// captured is the answer's body for its outputs: nil when it was cut
// short or too large to keep.
func (x *inFlight) captured(err error) []byte {
	if err != nil || x.overflow {
		return nil
	}
	return x.capture.Bytes()
}

// inFlight is the state of the request being answered.
type inFlight struct {
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
func (cc *clientConn) attempt(r *route, b *backend, rest []byte, failOn5xx bool) attemptResult {
	cc.upstreamHead(b, rest)
	t, o := cc.s.rt.ownTransport, &cc.o
	o.Head, o.Body, o.Method, o.IdempotencyKey = cc.out, cc.body, cc.req.Method, cc.req.IdempotencyKey
	if err := t.Send(b.hostPort, o); err != nil {
		code := http.StatusBadGateway
		switch {
		case errors.Is(err, h1.ErrClientGone):
			code = statusClientGone
		case isTimeout(err):
			code = http.StatusGatewayTimeout
		}
		return attemptResult{code: code, err: err}
	}
	if o.Std != nil {
		return cc.relayStd(b, o, failOn5xx)
	}
	h, src := &o.Answer, o.Conn.R
	if failOn5xx && h.Status >= 500 {
		t.Release(b.hostPort, o, false)
		return attemptResult{code: h.Status, err: statusError{h.Status}}
	}
	if h.Framing == h1.FramingChunked && h1.BadFirstChunk(src, h.N) {
		t.Release(b.hostPort, o, false)
		return attemptResult{code: http.StatusBadGateway, err: h1.ErrMalformedChunk}
	}
	cc.writeResponseHead(b, h.StatusText, h.Status, h.Fields, h.HasDate, h.Framing)
	_, _ = src.Discard(h.N) // copied to the client's buffer
	h.N = 0
	res := attemptResult{code: h.Status, sent: true}
	if h.Framing != h1.FramingNone {
		res.err = cc.relayBody(src, h.Framing, h.Length)
	}
	t.Release(b.hostPort, o, res.err == nil)
	if h1.IsClientError(res.err) || res.err != nil && cc.Gone() {
		res.code = statusClientGone
	} else if res.err != nil {
		// The answer broke off: a failure of the version; the client's
		// connection is closed, as net/http does for an aborted handler.
		res.code = http.StatusBadGateway
	}
	return res
}

// upstreamHead writes the request head for b into cc.out: the path with
// the route's prefix replaced by the backend's, Host set to the backend,
// hop-by-hop fields left out, X-Forwarded-* and X-Request-Id set.
func (cc *clientConn) upstreamHead(b *backend, rest []byte) {
	r := &cc.req
	o := append(cc.out[:0], r.Method...)
	o = append(o, ' ')
	switch {
	case b.base == "" && len(rest) == 0:
		o = append(o, '/')
	default:
		o = append(o, b.base...)
		o = append(o, rest...)
	}
	switch {
	case b.query != "" && len(r.Query) > 0:
		o = append(o, '?')
		o = append(o, b.query...)
		o = append(o, '&')
		o = append(o, r.Query...)
	case b.query != "":
		o = append(o, '?')
		o = append(o, b.query...)
	case r.Query != nil: // "/x?" keeps its '?', as net/http's proxy does
		o = append(o, '?')
		o = append(o, r.Query...)
	}
	o = append(o, " HTTP/1.1\r\nHost: "...)
	o = append(o, b.target.Host...)
	o = append(o, "\r\n"...)
	for i := range r.Fields {
		f := &r.Fields[i]
		if f.Drop || replaced(f.Name) {
			continue
		}
		o = appendField(o, f.Name, f.Value)
	}
	if cc.ip != "" {
		o = append(o, "X-Forwarded-For: "...)
		o = append(o, cc.ip...)
		o = append(o, "\r\n"...)
	}
	o = append(o, "X-Forwarded-Host: "...)
	o = append(o, r.Host...)
	if cc.overTLS {
		o = append(o, "\r\nX-Forwarded-Proto: https\r\nX-Request-Id: "...)
	} else {
		o = append(o, "\r\nX-Forwarded-Proto: http\r\nX-Request-Id: "...)
	}
	o = append(o, cc.x.id...)
	o = append(o, "\r\n"...)
	if r.Length > 0 || r.Length <= 0 && sendsZeroLength(r.Method) {
		o = append(o, "Content-Length: "...)
		o = strconv.AppendInt(o, max(r.Length, 0), 10)
		o = append(o, "\r\n"...)
	}
	if r.PragmaNoCache && !r.CacheControl {
		o = append(o, "Cache-Control: no-cache\r\n"...)
	}
	cc.out = append(o, "\r\n"...)
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

// shadowJob is the copy of the current request for the route's shadow:
// the client's fields less hop-by-hop ones (as Router.ServeHTTP copies
// them), the request id, and a copy of the body.
func (cc *clientConn) shadowJob(r *route, rest []byte, code int) *shadowJob {
	req := &cc.req
	var raw []byte
	for i := range req.Fields {
		f := &req.Fields[i]
		if f.Drop || h1.Is(f.Name, "Host") || h1.Is(f.Name, "Content-Length") || h1.Is(f.Name, hdrRequestID) {
			continue
		}
		raw = appendField(raw, f.Name, f.Value)
	}
	raw = append(raw, "X-Request-Id: "...)
	raw = append(raw, cc.x.id...)
	raw = append(raw, "\r\nX-Switchyard-Shadow: true\r\n"...)
	var body []byte
	if len(cc.body) > 0 {
		body = bytes.Clone(cc.body)
	}
	return &shadowJob{
		sr: r.shadow, method: string(req.Method), rest: string(rest), rawQuery: string(req.Query),
		raw: raw, body: body, liveCode: code, live: cc.x.capture,
	}
}

// writeResponseHead writes the client's answer head: the backend's status
// and fields, less hop-by-hop ones and those the router sets, with the
// version and request id.
func (cc *clientConn) writeResponseHead(b *backend, statusText []byte, status int, fs []h1.Field, hasDate bool, framing h1.Framing) {
	w := cc.bw
	w.WriteString("HTTP/1.1 ")
	w.Write(statusText)
	w.WriteString("\r\n")
	for i := range fs {
		if !fs[i].Drop && !h1.LeftOutWithoutBody(fs[i].Name, status) && !routerSets(fs[i].Name) {
			w.Write(fs[i].Name)
			w.WriteString(": ")
			w.Write(fs[i].Value)
			w.WriteString("\r\n")
		}
	}
	cc.writeTail(b, hasDate, framing == h1.FramingChunked || framing == h1.FramingClose)
}

// routerSets reports the answer fields the router sets itself.
func routerSets(name []byte) bool {
	return len(name) == len(hdrRequestID) && h1.Is(name, hdrRequestID) || len(name) == len(hdrVersion) && h1.Is(name, hdrVersion)
}

// writeTail ends an answer head with the fields the router adds.
func (cc *clientConn) writeTail(b *backend, hasDate, chunked bool) {
	w := cc.bw
	w.WriteString("X-Switchyard-Version: ")
	w.WriteString(b.version)
	w.WriteString("\r\nX-Request-Id: ")
	w.WriteString(cc.x.id)
	w.WriteString("\r\n")
	if !hasDate {
		w.Write(cc.s.date.line(cc.s.rt.now()))
	}
	if chunked {
		w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if cc.s.closing.Load() {
		cc.x.closeAfter = true // shutting down: this answer is the last
	}
	if cc.x.closeAfter {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
}

// flush sends what is buffered for the client, which has WriteTimeout to
// take it.
func (cc *clientConn) flush() error {
	if cc.bw.Buffered() == 0 {
		return nil
	}
	cc.dl.Write(cc.c, time.Now(), cc.s.opts.WriteTimeout)
	if err := cc.bw.Flush(); err != nil {
		return h1.ClientError{Err: err}
	}
	return nil
}

// sawBody sees every byte of the answer's body before the client does:
// the first is the TTFB, and all are captured for the shadow's comparison
// and the outputs.
func (cc *clientConn) sawBody(p []byte) {
	x := &cc.x
	if x.firstByte.IsZero() {
		x.firstByte = cc.s.rt.now()
	}
	if x.capture == nil || x.overflow {
		return
	}
	if x.capture.Len()+len(p) > int(cc.s.rt.opts.MaxBodyBytes) {
		x.overflow = true
		return
	}
	x.capture.Write(p)
}

// relayBody relays the answer's body on src to the client (h1.Relay). A
// stream (an answer without a length) may idle for long: while it is
// relayed the client is watched, and one that leaves has the backend's
// connection closed, which ends the backend's work, as while it waited
// for the answer's head.
func (cc *clientConn) relayBody(src *bufio.Reader, f h1.Framing, n int64) error {
	cc.relay.W = cc.bw
	if f == h1.FramingLength {
		return cc.relay.Copy(src, f, n)
	}
	cc.Watch(cc.o.Conn)
	defer cc.Unwatch()
	return cc.relay.Copy(src, f, n)
}

// relayStd relays an answer whose head net/http read; its connection is
// not reused.
func (cc *clientConn) relayStd(b *backend, o *h1.Outgoing, failOn5xx bool) attemptResult {
	resp := o.Std
	if failOn5xx && resp.StatusCode >= 500 {
		resp.Body.Close()
		o.Conn.Close()
		return attemptResult{code: resp.StatusCode, err: statusError{resp.StatusCode}}
	}
	h := resp.Header
	removeHopByHop(h)
	delete(h, hdrVersion)
	delete(h, hdrRequestID)
	framing := h1.FramingClose
	switch {
	case resp.Request.Method == "HEAD" || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified:
		framing = h1.FramingNone
	case resp.ContentLength >= 0 && len(resp.TransferEncoding) == 0:
		framing = h1.FramingLength
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	h1.RemoveNoBodyFields(h, resp.StatusCode)
	w := cc.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(resp.Status)
	w.WriteString("\r\n")
	_ = h.Write(w)
	cc.writeTail(b, h.Get("Date") != "", framing == h1.FramingClose)
	res := attemptResult{code: resp.StatusCode, sent: true}
	if framing != h1.FramingNone {
		// resp.Body undoes the backend's framing; relayBody re-frames.
		res.err = cc.relayBody(bufio.NewReader(resp.Body), framing, max(resp.ContentLength, 0))
	}
	resp.Body.Close()
	o.Conn.Close()
	if res.err != nil {
		res.code = http.StatusBadGateway
		if h1.IsClientError(res.err) || cc.Gone() {
			res.code = statusClientGone
		}
	}
	return res
}

// writeError answers with the router's own JSON error (its head alone
// to a HEAD, as net/http's server does).
func (cc *clientConn) writeError(code int, b *backend, msg string) {
	body, _ := json.Marshal(map[string]string{"error": msg})
	body = append(body, '\n')
	w := cc.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(code))
	w.WriteString(" ")
	w.WriteString(http.StatusText(code))
	w.WriteString("\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ")
	w.WriteString(strconv.Itoa(len(body)))
	w.WriteString("\r\n")
	cc.writeTail(b, false, false)
	if string(cc.req.Method) != "HEAD" {
		// A HEAD's answer says the length of the body it would have.
		w.Write(body)
	}
}
