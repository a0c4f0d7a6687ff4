package router

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// shadowJob is one live request copied for the shadow, with the live
// answer to compare against.
type shadowJob struct {
	sr       *shadowRoute
	method   string
	rest     string
	rawQuery string
	header   http.Header
	raw      []byte // the fields as written, instead of header (hand-written path)
	body     []byte
	liveCode int
	live     *bytes.Buffer
	// liveGRPC is the live answer's grpc-status, for a gRPC call;
	// grpcDiffers: the shadow's is another (grpc.go).
	liveGRPC    string
	grpcDiffers bool
}

// shadowQueue sends shadow copies from a bounded queue through a fixed pool
// of workers, each copy bounded by its own timeout, over the shared
// transport (so connections to the shadow are reused). Nothing here ever
// blocks a live request: a full queue drops the copy and counts it.
type shadowQueue struct {
	rt       *Router
	jobs     chan *shadowJob
	closed   atomic.Bool
	done     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
	// transport sends the copies; bounded says that it bounds each
	// exchange by ShadowTimeout itself.
	transport http.RoundTripper
	bounded   bool
}

func newShadowQueue(rt *Router) *shadowQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &shadowQueue{
		rt:     rt,
		jobs:   make(chan *shadowJob, rt.opts.ShadowQueue),
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
	q.wg.Add(rt.opts.ShadowWorkers)
	for i := 0; i < rt.opts.ShadowWorkers; i++ {
		go q.work()
	}
	return q
}

// enqueue copies what the shadow needs out of a finished exchange.
func (q *shadowQueue) enqueue(x *exchange) {
	sr := x.r.shadow
	// A live answer cut short (the client went away) or too large to keep
	// cannot be compared.
	body, whole := x.body, true
	if x.grpcBody != nil {
		body, whole = x.grpcBody.copy()
	}
	if x.overflow || x.code == statusClientGone || !whole {
		q.drop(sr, x.capture)
		return
	}
	h := x.in.Header.Clone()
	removeHopByHop(h)
	h.Set("X-Switchyard-Shadow", "true")
	if isGRPC(h) {
		h.Set("Te", "trailers") // gRPC servers ask for it
	}
	code := x.code
	if code == 0 {
		code = http.StatusOK
	}
	liveGRPC, _ := grpcStatus(x.w.Header(), nil)
	q.enqueueJob(sr, &shadowJob{
		sr: sr, method: x.in.Method, rest: x.rest, rawQuery: x.in.URL.RawQuery,
		header: h, body: body, liveCode: code, live: x.capture, liveGRPC: liveGRPC,
	})
}

// enqueueJob queues a copy, or drops it when the queue is full or closed.
func (q *shadowQueue) enqueueJob(sr *shadowRoute, j *shadowJob) {
	if q.closed.Load() {
		q.drop(sr, j.live)
		return
	}
	select {
	case q.jobs <- j:
	default:
		q.drop(sr, j.live)
	}
}

// drop counts a copy that is not sent and releases the live answer.
func (q *shadowQueue) drop(sr *shadowRoute, live *bytes.Buffer) {
	sr.to.stats.recordShadow(q.rt.now(), shadowDropped, 0)
	q.rt.putBuf(live)
}

func (q *shadowQueue) work() {
	defer q.wg.Done()
	var p *pipeliner
	if q.rt.opts.ShadowPipeline > 1 || q.rt.ownTransport != nil {
		p = newPipeliner(q)
		defer p.close()
	}
	for {
		select {
		case j := <-q.jobs:
			q.handle(p, j)
		case <-q.done:
			for {
				select {
				case j := <-q.jobs:
					q.handle(p, j)
				default:
					return
				}
			}
		}
	}
}

// handle sends a copy through the transport, or, when pipelining, with
// whatever copies for the same shadow are already waiting.
func (q *shadowQueue) handle(p *pipeliner, j *shadowJob) {
	if p == nil || j.sr.to.target.Scheme != "http" {
		q.run(j)
		return
	}
	batch := append(p.batch[:0], j)
	var other *shadowJob
	for other == nil && len(batch) < q.rt.opts.ShadowPipeline {
		select {
		case j2 := <-q.jobs:
			if j2.sr.to.target.Host == j.sr.to.target.Host && j2.sr.to.target.Scheme == "http" {
				batch = append(batch, j2)
			} else {
				other = j2
			}
			continue
		default:
		}
		break
	}
	p.batch = batch
	p.send(batch)
	clear(p.batch)
	if other != nil {
		q.handle(p, other)
	}
}

// run sends one copy through the transport and records how its answer
// compares with the live one.
func (q *shadowQueue) run(j *shadowJob) {
	rt := q.rt
	to := j.sr.to
	ctx := q.ctx
	transport, bounded := q.transport, q.bounded
	if to.transport != nil { // an https:// shadow with its own CA file
		transport, bounded = to.transport, false
	}
	if !bounded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(q.ctx, rt.opts.ShadowTimeout)
		defer cancel()
	}
	req := shadowRequest(j).WithContext(ctx)
	start := rt.now()
	resp, err := transport.RoundTrip(req)
	if err != nil {
		q.judge(j, 0, nil, rt.now().Sub(start), err)
		return
	}
	got := rt.getBuf()
	defer rt.putBuf(got)
	_, err = io.Copy(got, io.LimitReader(resp.Body, rt.opts.MaxBodyBytes+1))
	// Drain a little more so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 256<<10))
	resp.Body.Close()
	if st, ok := grpcStatus(resp.Header, resp.Trailer); ok && err == nil {
		// A gRPC call's outcome is its status: a failed one is the
		// shadow's error, another than the live one's a disagreement.
		if st != "0" {
			err = grpcError(st)
		}
		j.grpcDiffers = st != j.liveGRPC
	}
	q.judge(j, resp.StatusCode, got, rt.now().Sub(start), err)
}

// shadowRequest is the copy of a live request for the shadow version.
func shadowRequest(j *shadowJob) *http.Request {
	to := j.sr.to
	if j.header == nil {
		j.header = http.Header{}
		if h, err := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(j.raw), strings.NewReader("\r\n")))).ReadMIMEHeader(); err == nil {
			j.header = http.Header(h)
		}
	}
	u := &url.URL{Scheme: to.target.Scheme, Host: to.target.Host, Path: joinPath(to.target.Path, j.rest), RawQuery: j.rawQuery}
	req := &http.Request{
		Method: j.method, URL: u, Host: u.Host, Header: j.header,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: bodyReader(j.body), ContentLength: int64(len(j.body)),
	}
	if len(j.body) == 0 {
		req.Body = nil
	}
	return req
}

// judge records one copy's outcome: an error (failed exchange or 5xx), a
// drop (answer too large to compare), an agreement or a disagreement. It
// releases the live answer.
func (q *shadowQueue) judge(j *shadowJob, code int, got *bytes.Buffer, lat time.Duration, err error) {
	rt := q.rt
	to := j.sr.to
	defer rt.putBuf(j.live)
	// Outputs first, so that a copy is read by the time it is counted.
	if err == nil && len(j.sr.outputs) > 0 && got != nil && int64(got.Len()) <= rt.opts.MaxBodyBytes {
		rt.observeOutputs(j.sr.outputs, to, "", code, got.Bytes())
	}
	switch {
	case err != nil || code >= 500:
		if err != nil {
			rt.opts.Logger.Debug("shadow copy failed", "version", to.version, "err", err)
		}
		to.stats.recordShadow(rt.now(), shadowError, lat)
	case int64(got.Len()) > rt.opts.MaxBodyBytes:
		to.stats.recordShadow(rt.now(), shadowDropped, 0)
	case code == j.liveCode && !j.grpcDiffers && sameBody(j.live.Bytes(), got.Bytes(), j.sr.json, j.sr.tolerance):
		to.stats.recordShadow(rt.now(), shadowAgree, lat)
	default:
		to.stats.recordShadow(rt.now(), shadowDisagree, lat)
	}
}

// shutdown stops new copies, lets the workers drain the queue and waits
// for them, or abandons what is left when ctx ends.
func (q *shadowQueue) shutdown(ctx context.Context) error {
	q.stopOnce.Do(func() {
		q.closed.Store(true)
		close(q.done)
	})
	finished := make(chan struct{})
	go func() { q.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		q.cancel()
		return nil
	case <-ctx.Done():
		q.cancel()
		<-finished
		return ctx.Err()
	}
}

// hop-by-hop headers (RFC 9110 §7.6.1) are not copied to the shadow.
var hopHeaders = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}
