package router

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
	"github.com/switchyard-dev/switchyard/pkg/router/internal/rawconn"
)

// pipeliner is one shadow worker's own HTTP/1.1 connections, over which it
// sends waiting copies and reads their answers, all in the worker's
// goroutine: no pool, no per-copy context, and the router's own head
// parser. With Options.ShadowPipeline above 1 it sends up to that many
// waiting copies in one write and reads their answers in order (HTTP/1.1
// pipelining), for shadows known to handle pipelining (Go's net/http and
// nginx do; a server that does not shows up as shadow errors, never as a
// client failure); otherwise one copy at a time.
type pipeliner struct {
	q     *shadowQueue
	conns map[string]*pipeConn
	batch []*shadowJob
	head  h1.Answer

	pending []*shadowJob // the batch being written (pipeConn.write)
}

type pipeConn struct {
	c     net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	used  bool        // has carried a copy: the shadow may have closed it since
	probe *h1.Probe   // for the check before each reuse (h1.Transport's rule)
	stop  func() bool // stops closing c when the queue is cancelled

	dl       h1.Deadlines // the only setter of c's deadlines
	p        *pipeliner
	writeErr error
	writeFn  func() error // c.write, made once
}

// write writes the copies of p.pending, the batch being sent, under one
// ShadowTimeout for the whole batch.
func (c *pipeConn) write() error {
	c.dl.Both(c.c, time.Now(), c.p.q.rt.opts.ShadowTimeout)
	for _, j := range c.p.pending {
		writeShadowRequest(c.bw, j)
	}
	c.writeErr = c.bw.Flush()
	return c.writeErr
}

func newPipeliner(q *shadowQueue) *pipeliner {
	return &pipeliner{q: q, conns: map[string]*pipeConn{}}
}

func (p *pipeliner) close() {
	for host, c := range p.conns {
		p.drop(host, c)
	}
}

func (p *pipeliner) drop(host string, c *pipeConn) {
	c.stop()
	c.c.Close()
	delete(p.conns, host)
}

func (p *pipeliner) conn(host string) (*pipeConn, error) {
	if c, ok := p.conns[host]; ok {
		return c, nil
	}
	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(p.q.ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	nc = rawconn.Wrap(nc)
	c := &pipeConn{c: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 16<<10), probe: h1.NewProbe(nc), p: p}
	c.writeFn = c.write
	// Shutdown abandoning the queue unblocks a worker waiting on answers.
	c.stop = context.AfterFunc(p.q.ctx, func() { nc.Close() })
	p.conns[host] = c
	return c, nil
}

// errPipelineClosed is the fate of copies sent behind an answer that closed
// the connection and that could not be resent.
var errPipelineClosed = errors.New("the shadow closed the connection before answering")

// send writes every copy of batch (all to the same host) and judges the
// answers as they come back; the whole batch shares one ShadowTimeout. A
// connection that the shadow closed while it idled is replaced once.
func (p *pipeliner) send(batch []*shadowJob) {
	p.sendOnce(batch, p.q.rt.now(), true)
}

func (p *pipeliner) sendOnce(batch []*shadowJob, start time.Time, mayRetry bool) {
	q, rt := p.q, p.q.rt
	to := batch[0].sr.to
	host := to.hostPort
	fail := func(js []*shadowJob, err error) {
		for _, j := range js {
			q.judge(j, 0, nil, rt.now().Sub(start), err)
		}
	}
	if err := q.ctx.Err(); err != nil {
		fail(batch, err)
		return
	}
	c, err := p.conn(host)
	if err != nil {
		fail(batch, err)
		return
	}
	// A reused connection that failed before any byte of an answer: the
	// batch goes again on a new one, under the retry rule.
	retry := func(stale bool) bool { return mayRetry && stale && allReplayable(batch) }
	p.pending = batch
	written := false
	if c.used {
		c.dl.LiftIfNear(c.c, time.Now())
		written = h1.WriteIfClean(c.br, c.probe, c.writeFn)
		if !written {
			// Not provably clean: bytes nobody asked for, or closed.
			p.drop(host, c)
			if c, err = p.conn(host); err != nil {
				p.pending = nil
				fail(batch, err)
				return
			}
		}
	}
	if !written {
		_ = c.write()
	}
	p.pending = nil
	if err = c.writeErr; err != nil {
		p.drop(host, c)
		if retry(h1.Stale(err, c.used, c.br)) {
			p.sendOnce(batch, start, false)
			return
		}
		fail(batch, err)
		return
	}
	for i, j := range batch {
		got := rt.getBuf()
		code, keep, err := p.readAnswer(c, j.method, got, i == 0 && c.used)
		if err != nil && retry(errors.Is(err, h1.ErrStale)) {
			rt.putBuf(got)
			p.drop(host, c)
			p.sendOnce(batch, start, false)
			return
		}
		c.used = true
		if err != nil {
			rt.putBuf(got)
			p.drop(host, c)
			fail(batch[i:], err)
			return
		}
		q.judge(j, code, got, rt.now().Sub(start), nil)
		rt.putBuf(got)
		if !keep {
			p.drop(host, c)
			if i+1 < len(batch) {
				// The copies behind it were not answered: send them again.
				p.sendOnce(batch[i+1:], start, false)
			}
			return
		}
	}
}

// allReplayable applies the retry rule (h1.Replayable) to every copy of a
// batch.
func allReplayable(batch []*shadowJob) bool {
	for _, j := range batch {
		if !h1.Replayable(j.method, j.idempotencyKey()) {
			return false
		}
	}
	return true
}

// idempotencyKey reports the fields of the retry rule among the copy's.
func (j *shadowJob) idempotencyKey() bool {
	if j.raw == nil {
		return h1.HasIdempotencyKey(j.header)
	}
	for rest := j.raw; len(rest) > 0; {
		line := rest
		if i := bytes.Index(rest, []byte("\r\n")); i >= 0 {
			line, rest = rest[:i], rest[i+2:]
		} else {
			rest = nil
		}
		if name, _, ok := bytes.Cut(line, []byte(":")); ok && (h1.Is(name, "Idempotency-Key") || h1.Is(name, "X-Idempotency-Key")) {
			return true
		}
	}
	return false
}

// writeShadowRequest writes one copy: the live request's method, path
// (under the shadow's base path) and fields, and its body.
func writeShadowRequest(w *bufio.Writer, j *shadowJob) {
	to := j.sr.to
	w.WriteString(j.method)
	w.WriteByte(' ')
	w.WriteString(joinPath(to.base, j.rest))
	switch {
	case to.query != "" && j.rawQuery != "":
		w.WriteString("?" + to.query + "&" + j.rawQuery)
	case to.query != "":
		w.WriteString("?" + to.query)
	case j.rawQuery != "":
		w.WriteByte('?')
		w.WriteString(j.rawQuery)
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(to.target.Host)
	w.WriteString("\r\n")
	if j.raw != nil {
		w.Write(j.raw)
	} else {
		_ = j.header.WriteSubset(w, shadowExclude)
	}
	if len(j.body) > 0 || j.method == "POST" || j.method == "PUT" || j.method == "PATCH" {
		w.WriteString("Content-Length: ")
		w.WriteString(strconv.Itoa(len(j.body)))
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
	w.Write(j.body)
}

// shadowExclude: fields a copy's head gets from writeShadowRequest.
var shadowExclude = map[string]bool{"Host": true, "Content-Length": true, "Transfer-Encoding": true}

// readAnswer reads one answer into got (at most MaxBodyBytes+1 bytes; up
// to 256 KiB more are drained so that the connection can carry the next
// copy) and says whether the connection may be used again.
func (p *pipeliner) readAnswer(c *pipeConn, method string, got *bytes.Buffer, reused bool) (code int, keep bool, err error) {
	max := p.q.rt.opts.MaxBodyBytes
	h := &p.head
	// Bodies it can copy at once are read by hand, the others by net/http.
	resp, err := h1.ReadAnswerHead(c.br, h, []byte(method), func(h *h1.Answer) bool {
		return h.Framing == h1.FramingNone || h.Framing == h1.FramingLength && h.Length <= max+1
	}, reused)
	switch {
	case err != nil:
		return 0, false, err
	case resp == nil:
		if h.Framing == h1.FramingLength {
			if _, err := io.CopyN(got, c.br, h.Length); err != nil {
				return 0, false, err
			}
		}
		return h.Status, !h.Close, nil
	}
	_, err = io.Copy(got, io.LimitReader(resp.Body, max+1))
	// The rest of a large answer must be read before the next one.
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 256<<10))
	}
	var one [1]byte
	rest, _ := resp.Body.Read(one[:])
	resp.Body.Close()
	return resp.StatusCode, err == nil && rest == 0 && !resp.Close, err
}
