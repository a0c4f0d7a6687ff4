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
	// Listen is the reconciler's HTTP address, /api/status and /metrics
	// (default: a free port on 127.0.0.1).
	Listen string
}

// scene is one spec the demo user commits.
type scene struct {
	Serve      string
	Shadow     bool
	Experiment bool
}

// Run plays the whole demo: a canary v1 → v2 that completes, a canary
// v2 → v3 that fails and is reverted by a commit, a shadow assessment, and
// an A/B test whose winner is promoted by a commit.
func Run(ctx context.Context, o Options) error {
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
	// answers a few inputs differently), v3 bad (30% errors), and a rules
	// heuristic.
	models := map[string]ModelBehaviour{
		"v1":    {Version: "v1", Conversion: 0.10},
		"v2":    {Version: "v2", Drift: 0.04, Conversion: 0.20},
		"v3":    {Version: "v3", ErrorRate: 0.30, Conversion: 0.10},
		"rules": {Version: "rules", Drift: 0.5, Conversion: 0.05},
	}
	urls := map[string]string{}
	for _, v := range []string{"v1", "v2", "v3", "rules"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("starting model server %s: %w", v, err)
		}
		srv := &http.Server{Handler: ModelHandler(models[v]), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		urls[v] = "http://" + ln.Addr().String()
	}
	routerAddr, err := freeAddr()
	if err != nil {
		return err
	}
	n.say("Started example model servers: v1 %s, v2 %s, v3 %s (bad: 30%% errors), rules %s (heuristic)",
		urls["v1"], urls["v2"], urls["v3"], urls["rules"])

	spec := func(s scene) map[string][]byte {
		return map[string][]byte{"rollouts/fraud.hcl": []byte(specText(routerAddr, urls, s))}
	}
	files := spec(scene{Serve: "v1"})
	for name, src := range o.Policies {
		files["policies/"+name] = src
	}
	user, err := newUserRepo(ctx, o.Dir, files, time.Now)
	if err != nil {
		return err
	}
	n.say("Made a Git repository %s with rollouts/fraud.hcl serving v1", user.origin)

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
	n.say("Started the reconciler (status on http://%s/api/status) with the builtin router on %s", run.Addr, routerAddr)

	gen := &Traffic{
		Client:      &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		URL:         "http://" + routerAddr + "/v1/fraud/predict",
		FeedbackURL: "http://" + routerAddr + "/_switchyard/feedback",
		Rate:        300, Users: 5000, Seed: 1,
		Conversion: map[string]float64{"v1": 0.10, "v2": 0.20, "v3": 0.10, "rules": 0.05},
	}
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	go gen.Run(trafficCtx)
	n.say("Sending 300 requests/s from 5,000 users, with conversion feedback")

	wait := func(what string, done func(m reconcile.ModelStatus, st reconcile.Status) bool) (reconcile.ModelStatus, error) {
		deadline := time.Now().Add(o.Timeout)
		last := ""
		for time.Now().Before(deadline) {
			st := run.Daemon.Status()
			if len(st.Models) > 0 {
				m := st.Models[0]
				if line := progressLine(m); line != last {
					n.say("  %s", line)
					last = line
				}
				if done(m, st) {
					return m, nil
				}
			}
			select {
			case <-ctx.Done():
				return reconcile.ModelStatus{}, ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
		return reconcile.ModelStatus{}, fmt.Errorf("demo: timed out after %s waiting for %s", o.Timeout, what)
	}
	commit := func(msg string, s scene) error {
		if _, err := user.commit(ctx, msg, spec(s)); err != nil {
			return err
		}
		n.say("$ git commit -m %q && git push", msg)
		run.Daemon.Trigger() // as a GitHub push webhook would
		return nil
	}
	live := func(version string) func(m reconcile.ModelStatus, st reconcile.Status) bool {
		return func(m reconcile.ModelStatus, st reconcile.Status) bool {
			return len(m.Weights) > 0 && weightOf(m, version) == 100 && m.Phase != "progressing" && m.Phase != "baking"
		}
	}
	if _, err := wait("v1 to serve", live("v1")); err != nil {
		return err
	}

	n.act("1. A canary from v1 to v2 (steps 10% → 50% → 100%, 3s bake each, checks every second)")
	if err := commit("Promote fraud v2", scene{Serve: "v2"}); err != nil {
		return err
	}
	if _, err := wait("the v2 canary to complete", func(m reconcile.ModelStatus, st reconcile.Status) bool {
		return m.Serve == "v2" && weightOf(m, "v2") == 100 && (m.Phase == "succeeded" || m.Phase == "idle")
	}); err != nil {
		return err
	}
	n.say("The canary completed: 100%% of traffic on v2, no commit needed (Git already says v2).")

	n.act("2. A canary from v2 to v3, a bad model (30% errors)")
	if err := commit("Promote fraud v3", scene{Serve: "v3"}); err != nil {
		return err
	}
	if _, err := wait("the v3 canary to start", func(m reconcile.ModelStatus, st reconcile.Status) bool {
		return m.Serve == "v3"
	}); err != nil {
		return err
	}
	if _, err := wait("the v3 canary to fail", func(m reconcile.ModelStatus, st reconcile.Status) bool {
		return m.Held || m.Serve == "v2"
	}); err != nil {
		return err
	}
	n.say("The check failed: traffic is back on v2 at once. The reconciler now writes the revert to Git:")
	msg, err := waitForCommit(ctx, user, "Switchyard-Action: rollback", o.Timeout)
	if err != nil {
		return err
	}
	n.block("$ git log -1 origin/main", msg)
	if _, err := wait("Git to agree with the rollback", func(m reconcile.ModelStatus, st reconcile.Status) bool {
		return m.Serve == "v2" && !m.Held
	}); err != nil {
		return err
	}
	n.say("Git and traffic agree again: serve = \"v2\".")

	n.act("3. A shadow assessment: v1 gets a copy of every request; its answers are compared with v2's")
	if err := commit("Shadow v1 beside v2", scene{Serve: "v2", Shadow: true}); err != nil {
		return err
	}
	m, err := wait("the shadow verdict", func(m reconcile.ModelStatus, st reconcile.Status) bool {
		return m.Shadow != nil && m.Shadow.Decided
	})
	if err != nil {
		return err
	}
	verdict := "failed"
	if m.Shadow.Passed {
		verdict = "passed"
	}
	n.say("Shadow verdict: v1 agreed with v2 on %.1f%% of %d compared answers (95%% interval %.1f%%–%.1f%%): %s against min_agreement 0.9.",
		m.Shadow.Agreement*100, m.Shadow.Pairs, m.Shadow.Lower*100, m.Shadow.Upper*100, verdict)
	n.say("The verdict is recorded as a note under refs/notes/switchyard; nothing was promoted.")

	n.act("4. An A/B test of v1 against v2 with conversion feedback, decided by a sequential test")
	if err := commit("A/B test v1 against v2", scene{Serve: "v2", Experiment: true}); err != nil {
		return err
	}
	if _, err := wait("the experiment's decision", func(m reconcile.ModelStatus, st reconcile.Status) bool {
		return m.Experiment != nil && m.Experiment.Decided
	}); err != nil {
		return err
	}
	msg, err = waitForCommit(ctx, user, "Switchyard-Action: promote", o.Timeout)
	if err != nil {
		return err
	}
	n.block("$ git log -1 origin/main", msg)
	src, err := user.read(ctx, "rollouts/fraud.hcl")
	if err == nil && !strings.Contains(string(src), "experiment {") {
		n.say("The winner is serving and the experiment block is gone from rollouts/fraud.hcl.")
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
