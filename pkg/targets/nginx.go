package targets

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// nginxKeepalive is the idle connections kept per upstream.
const nginxKeepalive = 64

// Nginx applies tables to nginx by rewriting one owned config file (an
// http-context include), checking it with `<command> -t` and reloading
// with `<command> -s reload`.
type Nginx struct {
	name    string
	file    string
	listen  string
	command []string
	run     Runner

	mu     sync.Mutex
	synced bool // the file on disk is known to be what nginx serves
}

// NewNginx returns the target of an nginx router block. config_file and
// listen are required; command defaults to ["nginx"].
func NewNginx(r *spec.Router, d Deps) (*Nginx, error) {
	d = d.withDefaults()
	if r.ConfigFile == "" {
		return nil, fmt.Errorf("router %q (nginx): config_file is required: the one file switchyard owns and rewrites", r.Name)
	}
	if !listenRe.MatchString(r.Listen) {
		return nil, fmt.Errorf("router %q (nginx): listen %q: want an address such as 127.0.0.1:8080", r.Name, r.Listen)
	}
	cmd := r.Command
	if len(cmd) == 0 {
		cmd = []string{"nginx"}
	}
	return &Nginx{name: r.Name, file: r.ConfigFile, listen: r.Listen, command: cmd, run: d.Runner}, nil
}

// Capabilities of nginx: weights, sticky, preview, shadow (without
// comparison), per-request fallback.
func (n *Nginx) Capabilities() Capabilities { return capsOf("nginx") }

// Apply renders the table into the owned file. When the file changes (or
// this target has not yet synced nginx with it), the new file is written
// atomically, checked with `-t` (the previous file is restored if nginx
// rejects it) and nginx is reloaded.
func (n *Nginx) Apply(ctx context.Context, t traffic.Table) error {
	if err := checkCapabilities(n.name, "nginx", n.Capabilities(), t); err != nil {
		return err
	}
	data, err := n.Render(t)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	f, err := readOwned(n.file)
	if err != nil {
		return fmt.Errorf("router %q: %w", n.name, err)
	}
	if f.existed && bytes.Equal(f.prev, data) && n.synced {
		return nil
	}
	n.synced = false
	if err := f.write(data); err != nil {
		return fmt.Errorf("router %q: %w", n.name, err)
	}
	if err := n.command1(ctx, f, "-t"); err != nil {
		return err
	}
	if err := n.command1(ctx, f, "-s", "reload"); err != nil {
		return err
	}
	n.synced = true
	return nil
}

// command1 runs the base command with extra arguments; on failure it
// restores the previous file and returns nginx's message.
func (n *Nginx) command1(ctx context.Context, f *ownedFile, extra ...string) error {
	args := append(append([]string(nil), n.command[1:]...), extra...)
	out, err := n.run.Run(ctx, n.command[0], args...)
	if err == nil {
		return nil
	}
	what := "previous config restored"
	if rerr := f.restore(); rerr != nil {
		what = "and restoring the previous config failed too: " + rerr.Error()
	}
	return fmt.Errorf("router %q: `%s %s` failed (%s): %w: %s", n.name,
		strings.Join(n.command, " "), strings.Join(extra, " "), what, err, strings.TrimSpace(string(out)))
}

// Render returns the owned config file for a table.
func (n *Nginx) Render(t traffic.Table) ([]byte, error) {
	plans, err := planTable(t)
	if err != nil {
		return nil, fmt.Errorf("router %q: %w", n.name, err)
	}
	w := &confWriter{}
	w.line("# Owned by switchyard (router %q): rewritten on every change, do not edit.", n.name)
	w.line("")
	w.line("map $http_x_request_id $sy_request_id {")
	w.line(`    "~^[A-Za-z0-9._:-]{1,128}$" $http_x_request_id;`)
	w.line("    default $request_id;")
	w.line("}")
	for _, p := range plans {
		n.renderRouteHTTP(w, p)
	}
	w.line("")
	w.line("server {")
	w.line("    listen %s;", n.listen)
	for _, p := range plans {
		n.renderRouteServer(w, p)
	}
	w.line("")
	w.line("    location / {")
	w.line("        return 404;")
	w.line("    }")
	w.line("}")
	return w.Bytes(), nil
}

// renderRouteHTTP writes a route's upstreams, splits and maps.
func (n *Nginx) renderRouteHTTP(w *confWriter, p *routePlan) {
	w.line("")
	w.line("# %s/%s at %s", p.Model, p.Stage, p.Path)
	for _, v := range p.versions {
		w.line("upstream %s {", p.upstream(v))
		w.line("    server %s;", p.backends[v].hostport)
		if p.Fallback != "" && p.Fallback != v {
			w.line("    server %s backup;", p.backends[p.Fallback].hostport)
		}
		w.line("    keepalive %d;", nginxKeepalive)
		w.line("}")
	}
	key := "${request_id}"
	if p.stickyOn != "" {
		src := "$http_" + strings.ReplaceAll(strings.ToLower(p.stickyBy), "-", "_")
		if p.stickyOn == "cookie" {
			src = "$cookie_" + p.stickyBy
		}
		w.line("map %s $%s_key {", src, p.id)
		w.line(`    "" $request_id;`)
		w.line("    default %s;", src)
		w.line("}")
		key = "${" + p.id + "_key}"
	}
	split := p.id + "_up"
	if p.Preview != nil {
		split = p.id + "_split"
	}
	w.line(`split_clients "%s%s" $%s {`, key, p.id, split)
	for i, lw := range p.live {
		share := percent(lw.Percent) + "%"
		if i == len(p.live)-1 {
			share = "*"
		}
		w.line("    %s %s;", share, p.upstream(lw.Version))
	}
	w.line("}")
	if p.Preview != nil {
		w.line("map $http_%s $%s_up {", strings.ReplaceAll(strings.ToLower(p.Preview.Header), "-", "_"), p.id)
		w.line(`    "" $%s;`, split)
		w.line("    default %s;", p.upstream(p.Preview.Version))
		w.line("}")
	}
	w.line("map $%s_up $%s_version {", p.id, p.id)
	for _, v := range p.versions {
		w.line("    %s %s;", p.upstream(v), v)
	}
	w.line("}")
	w.line("map $%s_up $%s_host {", p.id, p.id)
	for _, v := range p.versions {
		w.line("    %s %s;", p.upstream(v), p.backends[v].hostport)
	}
	w.line("}")
	if p.Fallback != "" {
		// The version that answered: the fallback when nginx went on to
		// the backup server.
		w.line("map $upstream_addr $%s_answered {", p.id)
		w.line(`    "~(^|, )%s$" %s;`, regexQuote(p.backends[p.Fallback].hostport), p.Fallback)
		w.line("    default $%s_version;", p.id)
		w.line("}")
	}
	if p.Shadow != nil {
		w.line("map $request_uri $%s_mirror_uri {", p.id)
		w.line(`    "~^%s(/.*)$" $1;`, regexQuote(p.prefix))
		w.line("    default /;")
		w.line("}")
		if p.Shadow.Percent < 100 {
			w.line(`split_clients "${request_id}%s_mirror" $%s_mirror {`, p.id, p.id)
			w.line("    %s%% 1;", percent(p.Shadow.Percent))
			w.line(`    * "";`)
			w.line("}")
		}
	}
}

// renderRouteServer writes a route's locations inside the server block.
func (n *Nginx) renderRouteServer(w *confWriter, p *routePlan) {
	w.line("")
	w.line("    location %s/ {", p.prefix)
	w.line("        rewrite ^%s(/.*)$ %s$1 break;", regexQuote(p.prefix), p.base)
	w.line("        proxy_pass %s://$%s_up;", p.scheme, p.id)
	n.proxyHeaders(w, p, "$"+p.id+"_host")
	answered := p.id + "_version"
	if p.Fallback != "" {
		answered = p.id + "_answered"
	}
	w.line("        add_header X-Switchyard-Version $%s always;", answered)
	w.line("        add_header X-Request-Id $sy_request_id always;")
	if p.Fallback != "" {
		w.line("        proxy_next_upstream error timeout http_500 http_502 http_503 http_504 non_idempotent;")
	}
	if p.Shadow != nil {
		w.line("        mirror /_switchyard/mirror/%s;", p.id)
	}
	w.line("    }")
	if p.Shadow == nil {
		return
	}
	w.line("")
	w.line("    location = /_switchyard/mirror/%s {", p.id)
	w.line("        internal;")
	if p.Shadow.Percent < 100 {
		w.line(`        if ($%s_mirror = "") {`, p.id)
		w.line("            return 204;")
		w.line("        }")
	}
	w.line("        proxy_pass %s://%s%s$%s_mirror_uri;", p.scheme, p.upstream(p.Shadow.Version), p.base, p.id)
	n.proxyHeaders(w, p, p.backends[p.Shadow.Version].hostport)
	w.line("        proxy_set_header X-Switchyard-Shadow true;")
	w.line("    }")
}

func (n *Nginx) proxyHeaders(w *confWriter, p *routePlan, host string) {
	w.line("        proxy_http_version 1.1;")
	w.line(`        proxy_set_header Connection "";`)
	w.line("        proxy_set_header Host %s;", host)
	w.line("        proxy_set_header X-Request-Id $sy_request_id;")
	w.line("        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;")
	w.line("        proxy_set_header X-Forwarded-Proto $scheme;")
}

// confWriter builds a config file line by line.
type confWriter struct{ bytes.Buffer }

func (w *confWriter) line(format string, args ...any) {
	fmt.Fprintf(w, format, args...)
	w.WriteByte('\n')
}
