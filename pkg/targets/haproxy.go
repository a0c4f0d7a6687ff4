package targets

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

const (
	// haproxyWeightScale turns percents into server weights (0..200: half
	// a percent of resolution, within HAProxy's 0..256).
	haproxyWeightScale = 2
	structureMarker    = "# switchyard-structure: "
	// Bounds on waiting for a reloaded HAProxy's new worker.
	reloadWait = 15 * time.Second
	reloadPoll = 50 * time.Millisecond
)

// HAProxy applies tables to HAProxy. It owns one config file (a frontend
// bound to listen, a backend per route with one server per version). A
// change of structure (routes, versions, paths, preview, stickiness) is
// written, checked with `<command> -c` and reloaded by sending SIGUSR2 to
// the master process (HAProxy in master-worker mode; the master's pid is
// read from the pid file given with -p in command, or found as the
// worker's parent). A change of weights only is made through the
// runtime API, without a reload; weights are set again after every
// reload. The file always holds the current weights, so any later reload
// keeps them.
//
// Several runtime_api addresses are several HAProxy instances on this
// host sharing the file (behind one load balancer, or one port with
// SO_REUSEPORT), driven like a builtin router fleet: every instance is
// reloaded (each master found as its worker's parent) and given the
// weights at once, each call bounded, and Apply succeeds only when every
// instance has the table; the next Apply of the same table goes only to
// the instances still behind. A restore thus reaches every live instance
// at once and never waits for a dead one.
type HAProxy struct {
	name      string
	file      string
	listen    string
	command   []string
	pidFile   string // the master's, from -p in command; one instance only
	run       Runner
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	now       func() time.Time
	log       *slog.Logger
	instances []*haInstance

	mu         sync.Mutex
	gen        uint64        // counts the distinct files applied, for the status
	reloadWait time.Duration // bound on waiting for a new worker

	status atomic.Pointer[[]ReplicaStatus] // of several instances, after each Apply

	wmu     sync.Mutex
	windows []haWindow // per instance, what Measurable last read
}

// NewHAProxy returns the target of an haproxy router block. config_file,
// listen and runtime_api are required; command defaults to
// ["haproxy", "-f", config_file].
func NewHAProxy(r *spec.Router, d Deps) (*HAProxy, error) {
	d = d.withDefaults()
	if r.ConfigFile == "" {
		return nil, fmt.Errorf("router %q (haproxy): config_file is required: the one file switchyard owns and rewrites", r.Name)
	}
	if !listenRe.MatchString(r.Listen) {
		return nil, fmt.Errorf("router %q (haproxy): listen %q: want an address such as 127.0.0.1:8080", r.Name, r.Listen)
	}
	apis := r.RuntimeAPIs
	if len(apis) == 0 && r.RuntimeAPI != "" {
		apis = []string{r.RuntimeAPI}
	}
	if len(apis) == 0 {
		return nil, fmt.Errorf("router %q (haproxy): runtime_api is required: the admin socket where weights change without a reload", r.Name)
	}
	cmd := r.Command
	if len(cmd) == 0 {
		cmd = []string{"haproxy", "-f", r.ConfigFile}
	}
	h := &HAProxy{name: r.Name, file: r.ConfigFile, listen: r.Listen,
		command: cmd, run: d.Runner, dial: d.Dial, now: d.Now, reloadWait: reloadWait}
	if h.now == nil {
		h.now = time.Now
	}
	h.log = d.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	for _, a := range apis {
		network, addr, local, err := spec.RuntimeAPIAddr(a)
		if err != nil {
			return nil, fmt.Errorf("router %q (haproxy): runtime_api: %w", r.Name, err)
		}
		if !local && len(apis) > 1 {
			return nil, fmt.Errorf("router %q (haproxy): runtime_api %q is not on this host: several instances are reloaded through their masters on this host", r.Name, a)
		}
		h.instances = append(h.instances, &haInstance{api: a, network: network, addr: addr})
	}
	if len(h.instances) == 1 {
		for i := 1; i+1 < len(cmd); i++ {
			if cmd[i] == "-p" {
				h.pidFile = cmd[i+1]
			}
		}
	}
	return h, nil
}

// Capabilities of HAProxy: weights, sticky, preview.
func (h *HAProxy) Capabilities() Capabilities { return capsOf("haproxy") }

// serverWeight is one server's weight in one backend.
type serverWeight struct {
	backend, server string
	weight          int
}

// haproxyConfig is a rendered config file and what Apply needs of it.
type haproxyConfig struct {
	data      []byte
	structure string // digest of the file without its weights
	weights   []serverWeight
}

// Apply makes HAProxy serve t: a reload when the structure changes, the
// runtime API when only weights do, nothing when nothing does (and every
// instance has it).
func (h *HAProxy) Apply(ctx context.Context, t traffic.Table) error {
	if err := checkCapabilities(h.name, "haproxy", h.Capabilities(), t); err != nil {
		return err
	}
	cfg, err := h.render(t)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.publish()
	f, err := readOwned(h.file)
	if err != nil {
		return fmt.Errorf("router %q: %w", h.name, err)
	}
	same := f.existed && bytes.Equal(f.prev, cfg.data)
	if same && h.inSync() {
		return nil
	}
	if !same || h.gen == 0 {
		h.gen++
		for _, in := range h.instances {
			in.synced = false
		}
	}
	if !f.existed || fileStructure(f.prev) != cfg.structure {
		// A new structure: every instance is reloaded with the file.
		if err := f.write(cfg.data); err != nil {
			return fmt.Errorf("router %q: %w", h.name, err)
		}
		if err := h.check(ctx, f); err != nil {
			return err
		}
		before := make([]bool, len(h.instances))
		for i, in := range h.instances {
			before[i], in.stale = in.stale, true
		}
		reloaded, err := h.reloadStale(ctx)
		if err != nil && reloaded == 0 {
			// No instance took the new file: put the old one back, so that
			// the next Apply sees a structure change again and retries.
			for i, in := range h.instances {
				in.stale = before[i]
			}
			if rerr := f.restore(); rerr != nil {
				return fmt.Errorf("%w; restoring the previous config failed too: %v", err, rerr)
			}
			return fmt.Errorf("%w (previous config restored)", err)
		}
		// The instances that took it get the weights; the others are
		// reloaded again on the next Apply.
		return errors.Join(err, h.setWeights(ctx, h.instances, cfg.weights))
	}
	if !same {
		// Weights only: no reload. The file is rewritten so that a later
		// reload, by us or anyone, keeps the new weights.
		if err := f.write(cfg.data); err != nil {
			return fmt.Errorf("router %q: %w", h.name, err)
		}
	}
	// The instances that run the file's structure get the weights first,
	// so that a restore never waits for an instance whose reload failed
	// before; that one is reloaded again, then given them too. An
	// instance that failed to take the weights is left for the next
	// Apply: asking a hung one again would make this one wait for it
	// twice.
	var stale []*haInstance
	for _, in := range h.instances {
		if in.stale {
			stale = append(stale, in)
		}
	}
	werr := h.setWeights(ctx, h.instances, cfg.weights)
	_, rerr := h.reloadStale(ctx)
	return errors.Join(werr, rerr, h.setWeights(ctx, stale, cfg.weights))
}

// check runs `<command> [-f file] -c`, restoring the previous file when
// HAProxy rejects the new one.
func (h *HAProxy) check(ctx context.Context, f *ownedFile) error {
	args := append([]string(nil), h.command[1:]...)
	if !containsArg(args, h.file) {
		args = append(args, "-f", h.file)
	}
	args = append(args, "-c")
	out, err := h.run.Run(ctx, h.command[0], args...)
	if err == nil {
		return nil
	}
	what := "previous config restored"
	if rerr := f.restore(); rerr != nil {
		what = "and restoring the previous config failed too: " + rerr.Error()
	}
	return fmt.Errorf("router %q: `%s %s` rejected the config (%s): %w: %s", h.name,
		h.command[0], strings.Join(args, " "), what, err, strings.TrimSpace(string(out)))
}

// Render returns the owned config file for a table.
func (h *HAProxy) Render(t traffic.Table) ([]byte, error) {
	cfg, err := h.render(t)
	if err != nil {
		return nil, err
	}
	return cfg.data, nil
}

func (h *HAProxy) render(t traffic.Table) (*haproxyConfig, error) {
	plans, err := planTable(t)
	if err != nil {
		return nil, fmt.Errorf("router %q: %w", h.name, err)
	}
	cfg := &haproxyConfig{}
	for _, p := range plans {
		for _, v := range p.versions {
			cfg.weights = append(cfg.weights, serverWeight{backend: p.id, server: v, weight: haproxyWeight(p, v)})
		}
	}
	structure := h.renderWith(plans, nil)
	cfg.structure = hashHex(string(structure))
	body := h.renderWith(plans, cfg.weights)
	w := &confWriter{}
	w.line("# Owned by switchyard (router %q): rewritten on every change, do not edit.", h.name)
	w.line("%s%s", structureMarker, cfg.structure)
	w.Write(body)
	cfg.data = w.Bytes()
	return cfg, nil
}

func haproxyWeight(p *routePlan, version string) int {
	for _, w := range p.Weights {
		if w.Version == version {
			n := int(math.Round(w.Percent * haproxyWeightScale))
			if n == 0 && w.Percent > 0 {
				n = 1
			}
			return n
		}
	}
	return 0
}

// renderWith writes the config; with weights nil, every weight is left
// out, which gives the structure that decides between reload and runtime
// API.
func (h *HAProxy) renderWith(plans []*routePlan, weights []serverWeight) []byte {
	weightOf := map[string]int{}
	for _, sw := range weights {
		weightOf[sw.backend+"/"+sw.server] = sw.weight
	}
	// Longest prefix first, so that /a/b wins over /a.
	byPath := append([]*routePlan(nil), plans...)
	sort.SliceStable(byPath, func(i, j int) bool { return len(byPath[i].prefix) > len(byPath[j].prefix) })

	w := &confWriter{}
	w.line("")
	w.line("frontend sy_%s", configID(h.name))
	w.line("    mode http")
	w.line("    bind %s", h.listen)
	w.line("    timeout client 60s")
	w.line(`    http-request set-header X-Request-Id %%[uuid] unless { req.hdr(x-request-id) -m reg ^[A-Za-z0-9._:-]{1,128}$ }`)
	w.line("    http-request set-var(txn.sy_request_id) req.hdr(x-request-id)")
	w.line("    http-response set-header X-Request-Id %%[var(txn.sy_request_id)]")
	var none []string
	for _, p := range byPath {
		w.line("    acl %s path_beg %s/", p.id, p.prefix)
		none = append(none, "!"+p.id)
		if p.Preview != nil {
			w.line("    acl %s_preview req.hdr(%s) -m found", p.id, strings.ToLower(p.Preview.Header))
		}
	}
	if len(none) == 0 {
		w.line("    http-request return status 404")
	} else {
		w.line("    http-request return status 404 if %s", strings.Join(none, " "))
	}
	for _, p := range byPath {
		if p.Preview != nil {
			w.line("    use_backend %s_preview if %s %s_preview", p.id, p.id, p.id)
		}
		w.line("    use_backend %s if %s", p.id, p.id)
	}
	for _, p := range plans {
		h.renderBackend(w, p, p.id, p.versions, func(v string) string {
			if weights == nil {
				return ""
			}
			return fmt.Sprintf(" weight %d", weightOf[p.id+"/"+v])
		})
		if p.Preview != nil {
			h.renderBackend(w, p, p.id+"_preview", []string{p.Preview.Version}, func(string) string { return "" })
		}
	}
	return w.Bytes()
}

func (h *HAProxy) renderBackend(w *confWriter, p *routePlan, name string, versions []string, weight func(string) string) {
	w.line("")
	w.line("backend %s", name)
	w.line("    mode http")
	switch p.stickyOn {
	case "header":
		w.line("    balance hdr(%s)", strings.ToLower(p.stickyBy))
		w.line("    hash-type consistent")
	case "cookie":
		w.line("    balance hash req.cook(%s)", p.stickyBy)
		w.line("    hash-type consistent")
	default:
		w.line("    balance roundrobin")
	}
	w.line("    timeout connect 5s")
	w.line("    timeout server 60s")
	w.line(`    http-request replace-path ^%s(/.*)$ %s\1`, regexQuote(p.prefix), p.base)
	w.line("    http-response set-header X-Switchyard-Version %%[srv_name]")
	for _, v := range versions {
		w.line("    server %s %s%s", v, p.backends[v].hostport, weight(v))
	}
}

// fileStructure reads the structure digest from a file written by render.
func fileStructure(data []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for i := 0; i < 3 && sc.Scan(); i++ {
		if v, ok := strings.CutPrefix(sc.Text(), structureMarker); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func containsArg(args []string, s string) bool {
	for _, a := range args {
		if a == s {
			return true
		}
	}
	return false
}
