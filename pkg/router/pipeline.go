package router

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// pipeliner is one shadow worker's own HTTP/1.1 connections, over which it
// sends several waiting copies in one write and reads their answers in
// order (HTTP/1.1 pipelining), all in the worker's goroutine. It makes a
// shadow copy cheaper than a proxied request; enable it with
// Options.ShadowPipeline for shadows known to handle pipelining (Go's
// net/http and nginx do; a server that does not shows up as shadow errors,
// never as a client failure).
type pipeliner struct {
	q     *shadowQueue
	conns map[string]*pipeConn
	batch []*shadowJob
	reqs  []*http.Request
}

type pipeConn struct {
	c    net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	stop func() bool // stops closing c when the queue is cancelled
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
	c := &pipeConn{c: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 16<<10)}
	// Shutdown abandoning the queue unblocks a worker waiting on answers.
	c.stop = context.AfterFunc(p.q.ctx, func() { nc.Close() })
	p.conns[host] = c
	return c, nil
}

// errPipelineClosed is the fate of copies sent behind an answer that closed
// the connection and that could not be resent.
var errPipelineClosed = errors.New("the shadow closed the connection before answering")

// send writes every copy of batch (all to the same host) and judges the
// answers as they come back; the whole batch shares one ShadowTimeout.
func (p *pipeliner) send(batch []*shadowJob) {
	q, rt := p.q, p.q.rt
	host := batch[0].sr.to.target.Host
	fail := func(js []*shadowJob, start time.Time, err error) {
		for _, j := range js {
			q.judge(j, 0, nil, rt.now().Sub(start), err)
		}
	}
	start := rt.now()
	if err := q.ctx.Err(); err != nil {
		fail(batch, start, err)
		return
	}
	c, err := p.conn(host)
	if err != nil {
		fail(batch, start, err)
		return
	}
	_ = c.c.SetDeadline(time.Now().Add(rt.opts.ShadowTimeout))
	p.reqs = p.reqs[:0]
	for _, j := range batch {
		req := shadowRequest(j)
		p.reqs = append(p.reqs, req)
		if err = req.Write(c.bw); err != nil {
			break
		}
	}
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		p.drop(host, c)
		fail(batch, start, err)
		return
	}
	max := rt.opts.MaxBodyBytes
	for i, j := range batch {
		resp, err := http.ReadResponse(c.br, p.reqs[i])
		if err != nil {
			p.drop(host, c)
			fail(batch[i:], start, err)
			return
		}
		got := rt.getBuf()
		_, err = io.Copy(got, io.LimitReader(resp.Body, max+1))
		// The rest of a large answer must be read before the next one.
		if err == nil {
			_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 256<<10))
		}
		var one [1]byte
		rest, _ := resp.Body.Read(one[:])
		resp.Body.Close()
		q.judge(j, resp.StatusCode, got, rt.now().Sub(start), err)
		rt.putBuf(got)
		if err != nil || rest > 0 || resp.Close {
			p.drop(host, c)
			if i+1 < len(batch) {
				// The copies behind it were not answered: send them again.
				if err == nil {
					p.send(batch[i+1:])
				} else {
					fail(batch[i+1:], start, errPipelineClosed)
				}
			}
			return
		}
	}
}
