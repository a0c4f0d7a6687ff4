// Package targets applies a traffic table to a router: one adapter per
// router type (builtin, nginx, haproxy), each saying what it can do.
//
// What each router type can do is spec.RouterCapabilities, the one table
// that spec validation also checks models against.
//
// A target refuses a table that needs a capability it lacks, naming the
// router, the route and the capability; it never drops part of a table.
// nginx and HAProxy targets own exactly one configuration file each, write
// it atomically, validate it with the router's own check, and restore the
// previous file when the check fails. Applying the same table twice changes
// nothing and reloads nothing.
//
// Operating notes. nginx: the owned file is an http-context include (the
// main nginx.conf includes it); command defaults to ["nginx"], and `-t`
// and `-s reload` are appended, so pass `-p`/`-c` there if needed. A
// reload is asynchronous: Apply returns once nginx accepted the signal,
// and nginx drops idle keep-alive connections as it reloads. Sticky splits
// use split_clients ranges in table order, so with two versions a weight
// change only moves users from the shrinking version to the growing one.
// HAProxy: the owned file must be loaded by HAProxy beside its main config
// (`-f main.cfg -f switchyard.cfg`, or a config directory), HAProxy must
// run in master-worker mode (-W or -Ws); the master is sent SIGUSR2 to
// reload (its pid from the pid file given with -p in command, or else the
// parent of the worker named by the runtime API), and runtime_api is its
// `stats socket ... level admin`. Several runtime_api addresses are several
// instances on this host sharing the file, each reloaded through its own
// master (its worker's parent) and given weights like a builtin fleet's
// replicas. Weights are percents times two (0..200).
// Versions must share a scheme (http) and base path within a route on
// nginx and HAProxy.
package targets

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Target applies traffic tables to one router.
type Target interface {
	// Apply makes the router serve t. It is idempotent.
	Apply(ctx context.Context, t traffic.Table) error
	// Capabilities says what the router can do.
	Capabilities() Capabilities
}

// Capabilities lists what a router type can do with a traffic table; the
// table of what each type can do is spec.RouterCapabilities.
type Capabilities = spec.Capabilities

// Needs returns the capabilities a route asks of its router. A shadow asks
// only for Shadow: whether its answers must be compared is the spec's
// business (a shadow assessment), checked before a table exists.
func Needs(r traffic.Route) Capabilities {
	var c Capabilities
	live := 0
	for _, w := range r.Weights {
		if w.Percent > 0 {
			live++
		}
	}
	c.Weights = live > 1
	c.Sticky = r.Sticky != ""
	c.Preview = r.Preview != nil
	c.Shadow = r.Shadow != nil
	c.Bandit = r.Bandit != nil
	c.Fallback = r.Fallback != ""
	return c
}

// capsOf is the capability row of a router type this package implements.
func capsOf(typ string) Capabilities {
	c, _ := spec.RouterCapabilities(typ)
	return c
}

// Runner runs a command and returns its combined output.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// ExecRunner runs commands with os/exec.
type ExecRunner struct{}

// Run runs name with args and returns stdout and stderr together, also when
// the command fails.
func (ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out, nil
}

// BuiltinRouter is the in-process builtin router, as the builtin target
// needs it (*router.Router satisfies it).
type BuiltinRouter interface {
	Update(traffic.Table) error
}

// Deps carries what targets need from outside: nothing is read from the
// environment or the process by the package itself.
type Deps struct {
	// Runner runs router commands (nginx -t, haproxy -c, kill). Default
	// ExecRunner.
	Runner Runner
	// Getenv looks up the builtin admin API token (token_env). Required for
	// a remote builtin router with token_env.
	Getenv func(string) string
	// HTTPClient talks to remote builtin routers. Default: a client with a
	// 10 s timeout.
	HTTPClient *http.Client
	// Builtin is the in-process router serving this router block, for
	// builtin routers without admin.
	Builtin BuiltinRouter
	// Dial connects to the HAProxy runtime API. Default net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ReplicaTimeout bounds one call to one replica of a router fleet
	// (default DefaultReplicaTimeout).
	ReplicaTimeout time.Duration
	// Logger says what a router fleet does on its own (a stale replica
	// given the current table). Default: discard.
	Logger *slog.Logger
	// Now is the clock of a fleet's replica status. Default time.Now.
	Now func() time.Time
}

func (d Deps) withDefaults() Deps {
	if d.Runner == nil {
		d.Runner = ExecRunner{}
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if d.Dial == nil {
		var dialer net.Dialer
		d.Dial = dialer.DialContext
	}
	return d
}

// Factory builds the target of one router block.
type Factory func(r *spec.Router, deps Deps) (Target, error)

type entry struct {
	factory Factory
	caps    Capabilities
}

// Registry maps router types to their factories and capabilities.
type Registry struct {
	types map[string]entry
}

// Compile-time checks that every adapter is a Target.
var (
	_ Target = (*Builtin)(nil)
	_ Target = (*RemoteBuiltin)(nil)
	_ Target = (*Fleet)(nil)
	_ Target = (*Nginx)(nil)
	_ Target = (*HAProxy)(nil)
)

// NewRegistry returns a registry of the built-in router types: builtin,
// nginx and haproxy.
func NewRegistry() *Registry {
	r := &Registry{types: map[string]entry{}}
	r.Register("builtin", capsOf("builtin"), newBuiltin)
	r.Register("nginx", capsOf("nginx"), func(rt *spec.Router, d Deps) (Target, error) { return NewNginx(rt, d) })
	r.Register("haproxy", capsOf("haproxy"), func(rt *spec.Router, d Deps) (Target, error) { return NewHAProxy(rt, d) })
	return r
}

// Register adds (or replaces) a router type.
func (r *Registry) Register(typ string, caps Capabilities, f Factory) {
	r.types[typ] = entry{factory: f, caps: caps}
}

// Types lists the registered router types, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.types))
	for t := range r.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Capabilities returns what a router type can do, without building a
// target: what spec validation needs.
func (r *Registry) Capabilities(typ string) (Capabilities, bool) {
	e, ok := r.types[typ]
	return e.caps, ok
}

// New builds the target of a router block.
func (r *Registry) New(rt *spec.Router, deps Deps) (Target, error) {
	if rt == nil {
		return nil, fmt.Errorf("targets: no router block")
	}
	e, ok := r.types[rt.Type]
	if !ok {
		return nil, fmt.Errorf("router %q: unknown type %q (want one of %s)", rt.Name, rt.Type, strings.Join(r.Types(), ", "))
	}
	return e.factory(rt, deps.withDefaults())
}

// New builds the target of a router block with the built-in registry.
func New(r *spec.Router, deps Deps) (Target, error) {
	return NewRegistry().New(r, deps)
}

// CapabilitiesOf returns what a built-in router type can do.
func CapabilitiesOf(typ string) (Capabilities, bool) {
	return NewRegistry().Capabilities(typ)
}

// checkCapabilities refuses a table that needs what caps lacks.
func checkCapabilities(router, typ string, caps Capabilities, t traffic.Table) error {
	for _, rt := range t.Routes {
		if miss := caps.Missing(Needs(rt)); len(miss) > 0 {
			return fmt.Errorf("router %q (type %s) cannot serve route %s/%s: it lacks %s",
				router, typ, rt.Model, rt.Stage, strings.Join(miss, ", "))
		}
	}
	return nil
}
