package router

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
)

// FeedbackPath is where the data plane takes rewards (SPEC.md §1).
const FeedbackPath = "/_switchyard/feedback"

const (
	hdrVersion   = "X-Switchyard-Version"
	hdrRequestID = "X-Request-Id"
	maxIDLen     = 128
	// statusClientGone is recorded (never sent) when the client went away
	// before the answer, as nginx logs it.
	statusClientGone = 499
)

// ServeHTTP is the data plane: it routes by the longest path prefix,
// chooses a version, proxies, falls back, copies to the shadow and measures.
func (rt *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == FeedbackPath {
		rt.serveFeedback(w, req)
		return
	}
	c := rt.table.Load()
	r, rest := c.lookup(req.URL.Path)
	if r == nil {
		rt.requestID(req, nil)
		w.Header()[hdrRequestID] = req.Header[hdrRequestID]
		writeErrorFor(req.Header, w, http.StatusNotFound, fmt.Sprintf("no route for path %q", req.URL.Path))
		return
	}
	rnd := rt.rands.get()
	b := r.choose((*stdKeys)(req), rnd)
	shadow := r.shadow.copies(b, rnd)
	rt.rands.put(rnd)
	id := rt.requestID(req, b)

	if h1.AsksUpgrade(req.Header) {
		// Unless the backend switches protocols, the connection closes
		// after the answer: the gate (h1.GateReader) does not read past an
		// upgrade request.
		w = &closeUnlessSwitched{ResponseWriter: w}
	}
	x := rt.exch.Get().(*exchange)
	*x = exchange{w: w, in: req, r: r, b: b, rest: rest, id: id, replayable: true, rt: rt}
	defer func() {
		if p := recover(); p != nil {
			// The backend failed mid-answer (ReverseProxy aborts the
			// response with http.ErrAbortHandler): a failure of the version.
			x.code, x.shadow = http.StatusBadGateway, false
			rt.finish(x)
			panic(p)
		}
		rt.finish(x)
	}()

	// The body is read whole before the backend sees the head, so that a
	// client's framing error is its own 400 and never half a request at a
	// backend; one over MaxBodyBytes is streamed, and an error reading it
	// is still the client's (proxyError). A gRPC call's body streams
	// (grpc.go).
	if isGRPC(req.Header) {
		x.streamGRPC(int(rt.opts.MaxBodyBytes))
	} else if err := x.bufferBody(rt.opts.MaxBodyBytes); err != nil {
		x.code = http.StatusBadRequest
		writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return
	}
	if shadow {
		if x.replayable || x.grpcBody != nil {
			x.shadow = true
			x.capture = rt.getBuf()
			x.captureMax = int(rt.opts.MaxBodyBytes)
		} else {
			r.shadow.to.stats.recordShadow(rt.now(), shadowDropped, 0)
		}
	}
	if x.capture == nil && len(r.outputs) > 0 {
		x.capture, x.captureMax, x.outputsOnly = rt.getBuf(), int(rt.opts.MaxBodyBytes), true
	}
	rt.ids.put(id, b.stats)
	x.start = rt.now()
	if r.hasFallbackFor(b) && x.replayable {
		b.proxyFB.ServeHTTP(x, req)
		return
	}
	b.proxy.ServeHTTP(x, req)
}

// finish records the answer, hands the shadow copy to the queue and
// recycles the exchange. It runs deferred, so even an aborted response is
// counted.
func (rt *Router) finish(x *exchange) {
	now := rt.now()
	b := x.b
	if x.fellBack {
		b = x.r.fallback
	}
	code := x.code
	if code == 0 {
		code = http.StatusOK
	}
	if !x.start.IsZero() {
		ttfb := time.Duration(-1)
		if !x.firstByte.IsZero() {
			ttfb = x.firstByte.Sub(x.start)
		}
		failed := isFailure(code) || code != statusClientGone && grpcOutcome(b, x.w.Header())
		b.stats.recordRequest(now, now.Sub(x.start), ttfb, code, failed, false)
	}
	if x.capture != nil && len(x.r.outputs) > 0 && !x.start.IsZero() {
		var body []byte
		if !x.overflow {
			body = x.capture.Bytes()
		}
		rt.observeOutputs(x.r.outputs, b, x.id, code, body)
	}
	if x.shadow {
		rt.shadow.enqueue(x)
	} else if x.capture != nil {
		rt.putBuf(x.capture)
		if x.r.shadow != nil && !x.outputsOnly {
			x.r.shadow.to.stats.recordShadow(now, shadowDropped, 0)
		}
	}
	*x = exchange{}
	rt.exch.Put(x)
}

// isFailure says whether a status counts as an error of the version:
// 5xx, including the router's own 502/504 for connection failures and
// timeouts. statusClientGone (499) does not.
func isFailure(code int) bool { return code >= 500 }

// exchange is one request's state, and the ResponseWriter handed to the
// proxy: it remembers the status, captures the body for the shadow's
// comparison and lets the error handler replay the request on the fallback.
type exchange struct {
	w          http.ResponseWriter
	in         *http.Request
	r          *route
	b          *backend
	rest       string
	id         string
	code       int
	body       []byte // buffered request body, when replayable
	replayable bool
	streamed   *clientBody // the body, when too large to buffer
	grpcBody   *grpcBody   // a gRPC call's body, streamed and copied (grpc.go)
	fellBack   bool
	shadow     bool
	capture    *bytes.Buffer
	captureMax int
	overflow   bool
	// outputsOnly: capture holds the answer for its outputs, not for a
	// shadow (outputs.go).
	outputsOnly bool
	start       time.Time
	firstByte   time.Time // when the version's answer body began (TTFB)
	// own: the router answers itself (an error), which is no first byte
	// of the version's.
	own bool
	rt  *Router
}

func (x *exchange) Header() http.Header { return x.w.Header() }

func (x *exchange) WriteHeader(code int) {
	if code >= 200 && x.code == 0 {
		x.code = code
	}
	x.w.WriteHeader(code)
}

func (x *exchange) Write(p []byte) (int, error) {
	if x.code == 0 {
		x.code = http.StatusOK
	}
	if x.firstByte.IsZero() && len(p) > 0 && !x.own {
		x.firstByte = x.rt.now()
	}
	if x.capture != nil && !x.overflow {
		if x.capture.Len()+len(p) > x.captureMax {
			x.overflow = true
		} else {
			x.capture.Write(p)
		}
	}
	return x.w.Write(p)
}

// Unwrap lets http.ResponseController reach the server's writer (flushes).
func (x *exchange) Unwrap() http.ResponseWriter { return x.w }

// bufferBody reads a request body of at most max bytes so that it can be
// replayed; a larger one is streamed through and the request is not
// replayable.
func (x *exchange) bufferBody(max int64) error {
	req := x.in
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
		return nil
	}
	if req.ContentLength > max {
		x.replayable = false
		x.streamed = &clientBody{ReadCloser: req.Body}
		req.Body = x.streamed
		return nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, max+1))
	if err != nil {
		return err
	}
	if int64(len(buf)) > max {
		x.replayable = false
		x.streamed = &clientBody{ReadCloser: req.Body}
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), x.streamed), req.Body}
		return nil
	}
	x.body = buf
	req.Body = bodyReader(buf)
	req.ContentLength = int64(len(buf))
	req.TransferEncoding = nil
	return nil
}

// clientBody is a streamed request body that remembers why reading it
// failed.
type clientBody struct {
	io.ReadCloser
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// closeUnlessSwitched closes the client's connection after any answer to
// an upgrade request but a 101.
type closeUnlessSwitched struct {
	http.ResponseWriter
	wrote bool
}

func (c *closeUnlessSwitched) WriteHeader(code int) {
	if !c.wrote && code >= 200 {
		c.wrote = true
		c.Header().Set("Connection", "close")
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *closeUnlessSwitched) Write(p []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(p)
}

func (c *closeUnlessSwitched) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func bodyReader(b []byte) io.ReadCloser {
	if len(b) == 0 {
		return http.NoBody
	}
	return io.NopCloser(bytes.NewReader(b))
}

// requestID issues the request's id for version b (see issueID), after
// the client's own when it is sane (at most 128 of [A-Za-z0-9._-]), and
// puts it on the request.
func (rt *Router) requestID(req *http.Request, b *backend) string {
	if v := req.Header[hdrRequestID]; len(v) == 1 && saneID(v[0]) {
		v[0] = issueID(rt, v[0], b)
		return v[0]
	}
	id := issueID(rt, "", b)
	req.Header[hdrRequestID] = []string{id}
	return id
}

func saneID[T string | []byte](s T) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// statusError is a backend's 5xx turned into an error so that the
// fallback answers instead.
type statusError struct{ code int }

func (e statusError) Error() string { return "backend answered " + strconv.Itoa(e.code) }

// newProxy builds the proxy of one version of one route. With failOn5xx a
// 5xx answer becomes an error, for the error handler to replay the request
// on the route's fallback.
func (rt *Router) newProxy(r *route, b *backend, failOn5xx bool) *httputil.ReverseProxy {
	prefix := r.path
	target := b.target
	transport := rt.opts.Transport
	if b.transport != nil {
		transport = b.transport
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			in, out := pr.In.URL, pr.Out.URL
			rest := strings.TrimPrefix(in.Path, prefix)
			out.Scheme, out.Host = target.Scheme, target.Host
			out.Path = joinPath(target.Path, rest)
			out.RawPath = ""
			if in.RawPath != "" {
				if esc := in.EscapedPath(); strings.HasPrefix(esc, prefix) {
					out.RawPath = joinPath(target.EscapedPath(), esc[len(prefix):])
				}
			}
			if target.RawQuery != "" {
				if out.RawQuery == "" {
					out.RawQuery = target.RawQuery
				} else {
					out.RawQuery = target.RawQuery + "&" + out.RawQuery
				}
			}
			pr.Out.Host = ""
			pr.SetXForwarded()
			if over, _ := pr.In.Context().Value(overTLSKey{}).(bool); over {
				pr.Out.Header.Set("X-Forwarded-Proto", "https")
			}
			// The request id reaches the backend even when the client's
			// Connection field names it (hop-by-hop fields are removed
			// before Rewrite), as on the hand-written path.
			pr.Out.Header[hdrRequestID] = pr.In.Header[hdrRequestID]
		},
		Transport:  transport,
		BufferPool: &rt.copyBufs,
		// FlushInterval 0: ReverseProxy flushes every write of an answer
		// without a length or of text/event-stream, so streams stream
		// (TestStreamedAnswersStreamThroughNetHTTP); sized answers are
		// not flushed per write.
		ModifyResponse: func(resp *http.Response) error {
			if failOn5xx && resp.StatusCode >= 500 {
				return statusError{resp.StatusCode}
			}
			resp.Header[hdrVersion] = b.hdr
			if id := resp.Request.Header[hdrRequestID]; len(id) > 0 {
				resp.Header[hdrRequestID] = id
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, out *http.Request, err error) {
			rt.proxyError(r, b, w, out, err)
		},
		ErrorLog: rt.proxyLog,
	}
}

// proxyError handles a failed attempt: it counts the failure against the
// version and replays the request on the fallback when it can, or answers
// 502 (504 on a timeout) itself.
func (rt *Router) proxyError(r *route, b *backend, w http.ResponseWriter, out *http.Request, err error) {
	code := http.StatusBadGateway
	var se statusError
	switch {
	case errors.As(err, &se):
		code = se.code
	case out.Context().Err() != nil && errors.Is(out.Context().Err(), context.Canceled):
		code = statusClientGone
	case isTimeout(err):
		code = http.StatusGatewayTimeout
	}
	x, ok := w.(*exchange)
	if ok && x.streamed != nil && x.streamed.err != nil {
		// The client's body broke off or was malformed: its fault, not
		// the version's.
		x.code, x.own = http.StatusBadRequest, true
		writeError(w, http.StatusBadRequest, "reading the request body: "+x.streamed.err.Error())
		return
	}
	if ok && !x.fellBack && r.fallsBack(b, code, x.replayable) {
		x.start = rt.fallBack(r, b, x.id, x.start, code, err)
		x.fellBack = true
		x.in.Body = bodyReader(x.body)
		r.fallback.proxy.ServeHTTP(x, x.in)
		return
	}
	h := w.Header()
	h[hdrVersion] = b.hdr
	if id := out.Header[hdrRequestID]; len(id) > 0 {
		h[hdrRequestID] = id
	}
	if code == statusClientGone {
		if ok {
			x.code = code
		}
		return
	}
	if code < 500 || code > 599 || se.code != 0 {
		code = http.StatusBadGateway
	}
	if ok {
		x.own = true
	}
	writeErrorFor(out.Header, w, code, fmt.Sprintf("version %s of %s/%s failed: %v", b.version, r.model, r.stage, err))
}

func isTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// joinPath appends rest (empty or starting with /) to a base path.
func joinPath(base, rest string) string {
	base = strings.TrimSuffix(base, "/")
	switch {
	case base == "" && rest == "":
		return "/"
	case base == "":
		return rest
	case rest == "":
		return base
	}
	return base + rest
}

func writeError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// copyPool recycles ReverseProxy's copy buffers (32 KiB each, otherwise
// allocated per request). It pools array pointers, so Put allocates nothing.
type copyPool struct{ p sync.Pool }

const copyBufSize = 32 << 10

func (c *copyPool) Get() []byte {
	if b, ok := c.p.Get().(*[copyBufSize]byte); ok {
		return b[:]
	}
	return new([copyBufSize]byte)[:]
}

func (c *copyPool) Put(b []byte) {
	if len(b) == copyBufSize {
		c.p.Put((*[copyBufSize]byte)(b))
	}
}

func (rt *Router) getBuf() *bytes.Buffer {
	if b, ok := rt.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (rt *Router) putBuf(b *bytes.Buffer) {
	if b == nil || b.Cap() > 4<<20 {
		return
	}
	rt.bufs.Put(b)
}
