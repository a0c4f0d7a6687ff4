package targets

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// haInstance is one HAProxy instance behind one runtime API address. Its
// state is guarded by HAProxy.mu (a call on it writes only its own).
type haInstance struct {
	api           string // as runtime_api lists it
	network, addr string // for net.Dial
	// stale: it runs an older structure than the file (its reload failed).
	stale bool
	// synced: it has the current file's weights.
	synced bool
	acked  uint64 // generation of the last file it had whole

	lastContact time.Time
	lastErr     string
}

// inSync says whether every instance serves the current file. The caller
// holds h.mu.
func (h *HAProxy) inSync() bool {
	for _, in := range h.instances {
		if in.stale || !in.synced {
			return false
		}
	}
	return true
}

// onEach calls fn on each instance at once and joins the errors, naming
// the instances that failed when there are several. It records every
// instance's contact. The caller holds h.mu.
func (h *HAProxy) onEach(ctx context.Context, what string, ins []*haInstance, fn func(context.Context, *haInstance) error) (ok int, err error) {
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(ctx, in)
		}()
	}
	wg.Wait()
	var bad []string
	for i, in := range ins {
		if errs[i] != nil {
			in.lastErr = errs[i].Error()
			bad = append(bad, in.api)
			continue
		}
		in.lastContact, in.lastErr = h.now(), ""
		ok++
	}
	if len(bad) == 0 {
		return ok, nil
	}
	if len(h.instances) == 1 {
		return ok, errs[0]
	}
	return ok, fmt.Errorf("router %q: %s failed on %d of %d HAProxy instances (%s): %w",
		h.name, what, len(bad), len(h.instances), strings.Join(bad, ", "), errors.Join(errs...))
}

// reloadStale reloads the instances that run an older structure than the
// file, at once, and says how many took it. The caller holds h.mu.
func (h *HAProxy) reloadStale(ctx context.Context) (int, error) {
	var stale []*haInstance
	for _, in := range h.instances {
		if in.stale {
			stale = append(stale, in)
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	return h.onEach(ctx, "the reload", stale, func(ctx context.Context, in *haInstance) error {
		if err := h.reload(ctx, in); err != nil {
			return err
		}
		in.stale = false
		return nil
	})
}

// setWeights sets every server's weight through the runtime API of each
// of ins that runs the file's structure and lacks them, at once. The
// caller holds h.mu.
func (h *HAProxy) setWeights(ctx context.Context, ins []*haInstance, ws []serverWeight) error {
	var todo []*haInstance
	for _, in := range ins {
		if !in.stale && !in.synced {
			todo = append(todo, in)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	cmds := make([]string, len(ws))
	for i, w := range ws {
		cmds[i] = fmt.Sprintf("set server %s/%s weight %d", w.backend, w.server, w.weight)
	}
	line := strings.Join(cmds, ";")
	_, err := h.onEach(ctx, "setting the weights", todo, func(ctx context.Context, in *haInstance) error {
		if len(ws) > 0 {
			out, err := h.runtime(ctx, in, line)
			if err != nil {
				return fmt.Errorf("router %q: set weights: %w", h.name, err)
			}
			// HAProxy answers every command, a set weight that worked
			// with an empty line: no answer at all is a connection that
			// ended before the instance got to it.
			if out == "" {
				return fmt.Errorf("router %q: set weights through %s: the connection closed without an answer", h.name, in.api)
			}
			if msg := strings.TrimSpace(out); msg != "" {
				return fmt.Errorf("router %q: set weights through %s: %s", h.name, in.api, msg)
			}
		}
		in.synced, in.acked = true, h.gen
		return nil
	})
	return err
}

// reload signals the instance's master to reload and waits until a new
// worker answers on its runtime API.
func (h *HAProxy) reload(ctx context.Context, in *haInstance) error {
	before, err := h.workerPid(ctx, in)
	if err != nil {
		return fmt.Errorf("router %q: before reload: %w", h.name, err)
	}
	master, err := h.masterPid(before)
	if err != nil {
		return fmt.Errorf("router %q: cannot reload HAProxy: %w", h.name, err)
	}
	signal := func() error {
		if out, err := h.run.Run(ctx, "kill", "-USR2", master); err != nil {
			return fmt.Errorf("router %q: signal HAProxy's master %s to reload: %w: %s", h.name, master, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := signal(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.reloadWait)
	defer cancel()
	tick := time.NewTicker(reloadPoll)
	defer tick.Stop()
	for polls := 1; ; polls++ {
		if pid, err := h.workerPid(ctx, in); err == nil && pid != before {
			return nil
		}
		// A master that started a moment ago may not handle the signal
		// yet (its worker answers first), and drops it: signal again
		// every second. A second reload of the same file is harmless.
		if polls%int(time.Second/reloadPoll) == 0 {
			if err := signal(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("router %q: HAProxy's worker did not change after the reload signal (is it in master-worker mode?): %w", h.name, ctx.Err())
		case <-tick.C:
		}
	}
}

// masterPid finds the master process: from the pid file given with -p in
// command (one instance only), or else as the parent of the worker (Linux
// /proc).
func (h *HAProxy) masterPid(worker string) (string, error) {
	if h.pidFile != "" {
		raw, err := os.ReadFile(h.pidFile)
		if err != nil {
			return "", fmt.Errorf("read the pid file given with -p: %w", err)
		}
		pid := strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0])
		if _, err := strconv.Atoi(pid); err != nil {
			return "", fmt.Errorf("pid file %s holds %q, not a pid", h.pidFile, pid)
		}
		return pid, nil
	}
	hint := "run HAProxy in master-worker mode (-W or -Ws) and give its pid file with -p in command"
	if len(h.instances) > 1 {
		hint = "run every HAProxy instance in master-worker mode (-W or -Ws) on this host"
	}
	stat, err := os.ReadFile("/proc/" + worker + "/stat")
	if err != nil {
		return "", fmt.Errorf("find the master of worker %s: %w; %s", worker, err, hint)
	}
	// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 2 || fields[1] == "1" || fields[1] == "0" {
		return "", fmt.Errorf("worker %s has no master process; %s", worker, hint)
	}
	comm, err := os.ReadFile("/proc/" + fields[1] + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "haproxy" {
		return "", fmt.Errorf("the parent of worker %s is not HAProxy's master; %s", worker, hint)
	}
	return fields[1], nil
}

// workerPid asks the instance's runtime API for its worker's pid.
func (h *HAProxy) workerPid(ctx context.Context, in *haInstance) (string, error) {
	out, err := h.runtime(ctx, in, "show info")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pid: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("runtime API %s: no Pid in show info", in.api)
}

// runtime sends one command line to an instance's runtime API and returns
// the answer. The call ends when ctx does (cancelled, or past its
// deadline or the 10 s bound): a hung instance holds it no longer.
func (h *HAProxy) runtime(ctx context.Context, in *haInstance, line string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultHTTPTimeout)
	defer cancel()
	conn, err := h.dial(ctx, in.network, in.addr)
	if err != nil {
		return "", fmt.Errorf("runtime API %s: %w", in.api, err)
	}
	defer conn.Close()
	// A deadline in the past unblocks the write or read in progress.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(err error) (string, error) {
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
		}
		return "", fmt.Errorf("runtime API %s: %w", in.api, err)
	}
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return fail(err)
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		return fail(err)
	}
	return string(b), nil
}

// publish makes the instances' state what Replicas reports, so that the
// status never waits for an Apply (a reload may take seconds). The caller
// holds h.mu.
func (h *HAProxy) publish() {
	if len(h.instances) < 2 {
		return
	}
	out := make([]ReplicaStatus, 0, len(h.instances))
	for _, in := range h.instances {
		out = append(out, ReplicaStatus{Admin: in.api, Generation: in.acked, Want: h.gen,
			InSync: !in.stale && in.synced, LastContact: in.lastContact, LastError: in.lastErr})
	}
	h.status.Store(&out)
}

// Replicas reports every instance of an HAProxy router with several
// runtime_api addresses, as of the end of the last Apply: the generation
// of the file it has whole (generations count the distinct files
// applied), when it last answered and its last error. One instance: none
// (it is not a fleet).
func (h *HAProxy) Replicas() []ReplicaStatus {
	if len(h.instances) < 2 {
		return nil
	}
	if p := h.status.Load(); p != nil {
		return append([]ReplicaStatus(nil), (*p)...)
	}
	out := make([]ReplicaStatus, 0, len(h.instances))
	for _, in := range h.instances {
		out = append(out, ReplicaStatus{Admin: in.api})
	}
	return out
}
