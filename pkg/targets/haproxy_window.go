package targets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// haCounters is what one read of an instance's `show info;show stat`
// says about its counters: the worker that holds them, how long it has
// run, and every proxy's and server's cumulative session count.
type haCounters struct {
	pid    string
	uptime time.Duration
	totals map[string]uint64 // "proxy/server" -> stot
}

// haWindow is what the measurement windows know of one instance, guarded
// by HAProxy.wmu (not HAProxy.mu: an Apply may hold that through a
// reload).
type haWindow struct {
	// last is the previous read.
	last *haCounters
	// servingSince is when the instance's worker started, counted back on
	// the reconciler's clock from its uptime (never earlier than the
	// truth): a restart or a reload starts a worker whose counters start
	// from zero.
	servingSince time.Time
	// clearedBy is when a counter was seen lower than at the read before
	// with the same worker (`clear counters all`): it went back at some
	// point before then.
	clearedBy time.Time
}

// Measurable says whether a window starting at from can be measured on
// this router's traffic: every instance answers `show info;show stat` on
// its runtime API, its worker has run since before from (an HAProxy that
// restarted or was reloaded counts again from zero, so a window spanning
// it would judge a mixed sample), and no counter went back since it was
// last read (`clear counters all`). An error names the instance, and the
// window is "no data". Each instance's call is bounded like every
// runtime API call, and the instances are asked at once.
func (h *HAProxy) Measurable(ctx context.Context, from time.Time) error {
	reads := make([]*haCounters, len(h.instances))
	errs := make([]error, len(h.instances))
	at := make([]time.Time, len(h.instances))
	var wg sync.WaitGroup
	for i, in := range h.instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := h.runtime(ctx, in, "show info;show stat")
			at[i] = h.now()
			if err == nil {
				reads[i], err = parseCounters(out)
			}
			if err != nil {
				errs[i] = fmt.Errorf("router %q: HAProxy instance %s could not be read: %w", h.name, in.api, err)
			}
		}()
	}
	wg.Wait()
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.windows == nil {
		h.windows = make([]haWindow, len(h.instances))
	}
	for i, in := range h.instances {
		if errs[i] != nil {
			continue
		}
		w, c := &h.windows[i], reads[i]
		// Counted back after the answer: never earlier than the truth.
		w.servingSince = at[i].Add(-c.uptime)
		if w.last != nil && w.last.pid == c.pid && wentBack(w.last.totals, c.totals) {
			h.log.Warn("HAProxy instance's counters went back (cleared): windows before now are no data",
				"router", h.name, "instance", in.api)
			w.clearedBy = at[i]
		}
		w.last = c
		switch {
		case w.servingSince.After(from):
			errs[i] = fmt.Errorf("router %q: HAProxy instance %s has counted only since %s (it restarted or was reloaded: worker %s), inside the window from %s: its counters started again from zero",
				h.name, in.api, w.servingSince.UTC().Format(time.RFC3339), c.pid, from.UTC().Format(time.RFC3339))
		case w.clearedBy.After(from):
			errs[i] = fmt.Errorf("router %q: HAProxy instance %s: its counters went back (cleared) by %s, inside the window from %s: its counts are incomplete",
				h.name, in.api, w.clearedBy.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
		}
	}
	return errors.Join(errs...)
}

// wentBack says whether a proxy's or server's session count is lower
// than before. A row that appeared or went is no evidence: only a reload
// changes the rows, and it starts a new worker.
func wentBack(before, now map[string]uint64) bool {
	for k, n := range now {
		if b, ok := before[k]; ok && n < b {
			return true
		}
	}
	return false
}

// parseCounters reads the answer to `show info;show stat`: Pid and
// Uptime_sec from the first, the stot column of every row of the second
// (CSV under a "# pxname,svname,..." header).
func parseCounters(out string) (*haCounters, error) {
	c := &haCounters{uptime: -1, totals: map[string]uint64{}}
	stot := -1
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "Pid: "); ok {
			c.pid = strings.TrimSpace(v)
			continue
		}
		if v, ok := strings.CutPrefix(line, "Uptime_sec: "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("show info: Uptime_sec %q: %w", v, err)
			}
			c.uptime = time.Duration(n) * time.Second
			continue
		}
		if hdr, ok := strings.CutPrefix(line, "# "); ok {
			for i, name := range strings.Split(hdr, ",") {
				if name == "stot" {
					stot = i
				}
			}
			continue
		}
		f := strings.Split(line, ",")
		if stot < 0 || len(f) <= stot || f[stot] == "" {
			continue
		}
		n, err := strconv.ParseUint(f[stot], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("show stat: %s/%s: stot %q: %w", f[0], f[1], f[stot], err)
		}
		c.totals[f[0]+"/"+f[1]] = n
	}
	switch {
	case c.pid == "" || c.uptime < 0:
		return nil, fmt.Errorf("no Pid or Uptime_sec in show info (HAProxy 1.8 or later answers both)")
	case stot < 0:
		return nil, fmt.Errorf("no stot column in show stat")
	}
	return c, nil
}
