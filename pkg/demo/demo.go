package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/wiring"
)

// Options tune the demo; zero values give the embedded defaults.
type Options struct {
	Out io.Writer
	// Dir is where the demo works (default: a new temp dir, removed after).
	Dir string
	// Policies are the default policy files to commit beside the spec
	// (name -> Rego source); nil commits none.
	Policies map[string][]byte
	// Timeout bounds each act of the demo (default 60s).
	Timeout time.Duration
	// Log receives the reconciler's own log (default: discarded).
	Log io.Writer
	// Only plays the one scene of that name (see Scenes), from a model
	// already serving what the scene starts from; empty plays them all.
	Only string
	// Listen is the reconciler's HTTP address, /api/status and /metrics
	// (default: a free port on 127.0.0.1).
	Listen string
}

// Scenes names the demo's scenes, in the order Run plays them.
func Scenes() []string {
	var out []string
	for _, a := range acts() {
		out = append(out, a.name)
	}
	return out
}

// Run plays the demo: every strategy and outcome in turn (a canary that
// completes, one reverted by a commit, a shadow assessment, an A/B test and
// a bandit promoted by commits, a roll-through, a blue/green rollout with
// preview traffic, a fallback), or only the scene o.Only names.
func Run(ctx context.Context, o Options) error {
	played := acts()
	if o.Only != "" {
		played = nil
		for _, a := range acts() {
			if a.name == o.Only {
				played = []act{a}
			}
		}
		if played == nil {
			return fmt.Errorf("no scene %q: the scenes are %s", o.Only, actNames())
		}
	}
	first := played[0]
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "switchyard-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.Dir = dir
	}
	n := &narrator{w: o.Out, start: time.Now()}

	// The example model servers: v1 and v2 good (v2 converts better and
	// answers a few inputs differently), v3 bad (30% errors), v4 the
	// hotfix, v5 and v6 converting best, and a rules heuristic.
	models := map[string]ModelBehaviour{
		"v1":    {Version: "v1", Conversion: 0.10},
		"v2":    {Version: "v2", Drift: 0.04, Conversion: 0.20},
		"v3":    {Version: "v3", ErrorRate: 0.30, Conversion: 0.10},
		"v4":    {Version: "v4", Conversion: 0.10},
		"v5":    {Version: "v5", Conversion: 0.30},
		"v6":    {Version: "v6", Conversion: 0.30},
		"v7":    {Version: "v7", Conversion: 0.10, ScoreShift: driftShift},
		"rules": {Version: "rules", Drift: 0.5, Conversion: 0.05},
	}
	urls := map[string]string{}
	for v, b := range models {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("starting model server %s: %w", v, err)
		}
		srv := &http.Server{Handler: ModelHandler(b), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		urls[v] = "http://" + ln.Addr().String()
	}
	routerAddr, err := freeAddr()
	if err != nil {
		return err
	}
	n.say("Started example model servers: v1 %s, v2 %s, v3 %s (bad: 30%% errors), v4 %s, v5 %s, v6 %s, rules %s (heuristic)",
		urls["v1"], urls["v2"], urls["v3"], urls["v4"], urls["v5"], urls["v6"], urls["rules"])

	spec := func(s scene) map[string][]byte {
		return map[string][]byte{"rollouts/fraud.hcl": []byte(specText(routerAddr, urls, s))}
	}
	files := spec(scene{Serve: first.start})
	for name, src := range o.Policies {
		files["policies/"+name] = src
	}
	user, err := newUserRepo(ctx, o.Dir, files, time.Now)
	if err != nil {
		return err
	}
	n.say("Made a Git repository %s with rollouts/fraud.hcl serving %s", user.origin, first.start)

	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	run, err := wiring.Start(ctx, wiring.Options{
		Repo: user.origin, Branch: "main", Path: "rollouts", Policies: "policies",
		State: filepath.Join(o.Dir, "state", "switchyard.db"), Listen: o.Listen,
		PollInterval: 2 * time.Second, Tick: 250 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logw, nil)),
	})
	if err != nil {
		return fmt.Errorf("starting the reconciler: %w", err)
	}
	defer run.Close()
	runCtx, stopDaemon := context.WithCancel(ctx)
	defer stopDaemon()
	go func() { _ = run.Daemon.Run(runCtx) }()
	n.say("Started the reconciler (status page on http://%s/, API /api/status) with the builtin router on %s", run.Addr, routerAddr)

	gen := &Traffic{
		Client:      &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		URL:         "http://" + routerAddr + "/v1/fraud/predict",
		FeedbackURL: "http://" + routerAddr + "/_switchyard/feedback",
		Rate:        300, Users: 5000, Seed: 1,
		Conversion: map[string]float64{},
	}
	for v, b := range models {
		gen.Conversion[v] = b.Conversion
	}
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	go gen.Run(trafficCtx)
	n.say("Sending 300 requests/s from 5,000 users, with conversion feedback")

	sh := &show{ctx: ctx, o: o, n: n, run: run, user: user, router: routerAddr, spec: spec}
	if _, err := sh.wait(first.start+" to serve", settled(first.start)); err != nil {
		return err
	}
	for i, a := range played {
		n.act(fmt.Sprintf("%d. %s", i+1, a.title))
		if err := a.play(sh); err != nil {
			return fmt.Errorf("scene %s: %w", a.name, err)
		}
	}
	stopTraffic()
	n.act(fmt.Sprintf("Done in %s. Everything ran on 127.0.0.1 under %s, now removed.", time.Since(n.start).Round(time.Second), o.Dir))
	return nil
}

// waitForCommit waits until origin's head message contains marker.
func waitForCommit(ctx context.Context, u *userRepo, marker string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_, msg, err := u.headMessage()
		if err == nil && strings.Contains(msg, marker) {
			return msg, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return "", errors.New("demo: timed out waiting for a commit with " + marker)
}

func weightOf(m reconcile.ModelStatus, version string) float64 {
	for _, w := range m.Weights {
		if w.Version == version {
			return w.Percent
		}
	}
	return 0
}

func progressLine(m reconcile.ModelStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-13s", m.Phase)
	var parts []string
	for _, w := range m.Weights {
		if w.Percent > 0 {
			parts = append(parts, fmt.Sprintf("%s %g%%", w.Version, w.Percent))
		}
	}
	fmt.Fprintf(&b, " traffic: %s", strings.Join(parts, ", "))
	if m.Steps > 0 && m.From != m.To {
		fmt.Fprintf(&b, "  step %d/%d", m.Step, m.Steps)
	}
	for _, c := range m.Measurements {
		if c.Verdict == "fail" && (m.Held || m.To != "") {
			fmt.Fprintf(&b, "  %s FAILED: %s", c.Check, c.Reason)
		}
	}
	if m.Shadow != nil && !m.Shadow.Decided {
		fmt.Fprintf(&b, "  shadow pairs %d", m.Shadow.Pairs/100*100)
	}
	if m.Experiment != nil && !m.Experiment.Decided {
		for _, a := range m.Experiment.Arms {
			fmt.Fprintf(&b, "  %s n=%d", a.Version, a.Samples/100*100)
		}
	}
	return b.String()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// narrator prints the demo's story with elapsed times.
type narrator struct {
	w     io.Writer
	start time.Time
}

func (n *narrator) say(format string, args ...any) {
	fmt.Fprintf(n.w, "[%5.1fs] %s\n", time.Since(n.start).Seconds(), fmt.Sprintf(format, args...))
}

func (n *narrator) act(title string) {
	fmt.Fprintf(n.w, "\n== %s\n", title)
}

func (n *narrator) block(title, body string) {
	fmt.Fprintf(n.w, "\n%s\n%s\n\n", title, body)
}
