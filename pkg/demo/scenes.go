package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/wiring"
)

// act is one scene of the demo, played from a model serving start.
type act struct {
	name  string
	title string
	start string
	play  func(s *show) error
}

// acts are the demo's scenes in order; each ends serving the next one's
// start, so that the whole demo plays them one after the other.
func acts() []act {
	return []act{
		{"canary", "A canary from v1 to v2 (steps 10% → 50% → 100%, 2s bake each, checks every second)", "v1", playCanary},
		{"rollback", "A canary from v2 to v3, a bad model (30% errors)", "v2", playRollback},
		{"drift", "A canary from v2 to v7: every answer a fast 200, but its scores shifted (drift.go)", "v2", playDrift},
		{"shadow", "A shadow assessment: v1 gets a copy of every request; its answers are compared with v2's", "v2", playShadow},
		{"ab", "An A/B test of v1 against v2 with conversion feedback, decided by a sequential test", "v2", playAB},
		{"roll_through", "A canary from v2 to v3 again, now with on_failure = \"roll_through\" to v4, the hotfix", "v2", playRollThrough},
		{"bandit", "A bandit over v4 and v5: Thompson sampling moves traffic to the better one", "v4", playBandit},
		{"blue_green", "A blue/green rollout from v5 to v6: preview traffic first, then the switch", "v5", playBlueGreen},
		{"fallback", "A canary from v6 to v3 with on_failure = \"fallback\" to the rules heuristic", "v6", playFallback},
		{"all_at_once", "Back from the rules heuristic to v6 all at once: 100% at once, then one bake with checks", "rules", playAllAtOnce},
	}
}

// actNames lists the scenes for --only.
func actNames() string {
	var names []string
	for _, a := range acts() {
		names = append(names, a.name)
	}
	return strings.Join(names, ", ")
}

// show is the running demo the scenes act on.
type show struct {
	ctx    context.Context
	o      Options
	n      *narrator
	run    *wiring.Running
	user   *userRepo
	router string
	spec   func(scene) map[string][]byte
}

type cond func(m reconcile.ModelStatus, st reconcile.Status) bool

// wait narrates the model's progress until done holds, for at most the
// act timeout.
func (s *show) wait(what string, done cond) (reconcile.ModelStatus, error) {
	deadline := time.Now().Add(s.o.Timeout)
	last := ""
	for time.Now().Before(deadline) {
		st := s.run.Daemon.Status()
		if len(st.Models) > 0 {
			m := st.Models[0]
			if line := progressLine(m); line != last {
				s.n.say("  %s", line)
				last = line
			}
			if done(m, st) {
				return m, nil
			}
		}
		select {
		case <-s.ctx.Done():
			return reconcile.ModelStatus{}, s.ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return reconcile.ModelStatus{}, fmt.Errorf("demo: timed out after %s waiting for %s", s.o.Timeout, what)
}

// commit pushes the scene's spec as the demo user and triggers a fetch,
// as a GitHub push webhook would.
func (s *show) commit(msg string, sc scene) error {
	if _, err := s.user.commit(s.ctx, msg, s.spec(sc)); err != nil {
		return err
	}
	s.n.say("$ git commit -m %q && git push", msg)
	s.run.Daemon.Trigger()
	return nil
}

// outcome waits for the reconciler's commit with marker and shows it.
func (s *show) outcome(marker string) error {
	msg, err := waitForCommit(s.ctx, s.user, marker, s.o.Timeout)
	if err != nil {
		return err
	}
	s.n.block("$ git log -1 origin/main", msg)
	return nil
}

// settled holds once version takes all traffic, Git agrees and no
// rollout runs.
func settled(version string) cond {
	return func(m reconcile.ModelStatus, st reconcile.Status) bool {
		return m.Serve == version && weightOf(m, version) == 100 && !m.Held && m.Rollout() == "" &&
			(m.Phase == "succeeded" || m.Phase == "idle")
	}
}

func playCanary(s *show) error {
	if err := s.commit("Promote fraud v2", scene{Serve: "v2"}); err != nil {
		return err
	}
	if _, err := s.wait("the v2 canary to complete", settled("v2")); err != nil {
		return err
	}
	s.n.say("The canary completed: 100%% of traffic on v2, no commit needed (Git already says v2).")
	return nil
}

// failing commits a canary to v3 and waits for the failure's hold.
func (s *show) failing(sc scene) error {
	if err := s.commit("Promote fraud v3", sc); err != nil {
		return err
	}
	if _, err := s.wait("the v3 canary to start", func(m reconcile.ModelStatus, st reconcile.Status) bool { return m.Serve == "v3" }); err != nil {
		return err
	}
	_, err := s.wait("the v3 canary to fail", func(m reconcile.ModelStatus, st reconcile.Status) bool { return m.Held || m.Serve != "v3" })
	return err
}

func playRollback(s *show) error {
	if err := s.failing(scene{Serve: "v3"}); err != nil {
		return err
	}
	s.n.say("The check failed: traffic is back on v2 at once. The reconciler now writes the revert to Git:")
	return s.reverted("v2")
}

// reverted waits for the rollback's revert commit and for Git to agree
// that version serves again.
func (s *show) reverted(version string) error {
	if err := s.outcome("Switchyard-Action: rollback"); err != nil {
		return err
	}
	if _, err := s.wait("Git to agree with the rollback", settled(version)); err != nil {
		return err
	}
	s.n.say("Git and traffic agree again: serve = %q.", version)
	return nil
}

func playShadow(s *show) error {
	if err := s.commit("Shadow v1 beside v2", scene{Serve: "v2", Shadow: true}); err != nil {
		return err
	}
	m, err := s.wait("the shadow verdict", func(m reconcile.ModelStatus, st reconcile.Status) bool {
		return m.Shadow != nil && m.Shadow.Decided
	})
	if err != nil {
		return err
	}
	verdict := "failed"
	if m.Shadow.Passed {
		verdict = "passed"
	}
	s.n.say("Shadow verdict: v1 agreed with v2 on %.1f%% of %d compared answers (95%% interval %.1f%%–%.1f%%): %s against min_agreement 0.9.",
		m.Shadow.Agreement*100, m.Shadow.Pairs, m.Shadow.Lower*100, m.Shadow.Upper*100, verdict)
	s.n.say("The verdict is recorded as a note under refs/notes/switchyard; nothing was promoted.")
	return nil
}

// promoted waits for the promote commit and says the block is gone.
func (s *show) promoted(winner string) error {
	if _, err := s.wait("the experiment's decision", func(m reconcile.ModelStatus, st reconcile.Status) bool {
		return m.Experiment != nil && m.Experiment.Decided
	}); err != nil {
		return err
	}
	if err := s.outcome("Switchyard-Action: promote"); err != nil {
		return err
	}
	if _, err := s.wait(winner+" to serve", settled(winner)); err != nil {
		return err
	}
	if src, err := s.user.read(s.ctx, "rollouts/fraud.hcl"); err == nil && !strings.Contains(string(src), "experiment {") {
		s.n.say("The winner, %s, is serving and the experiment block is gone from rollouts/fraud.hcl.", winner)
	}
	return nil
}

func playAB(s *show) error {
	if err := s.commit("A/B test v1 against v2", scene{Serve: "v2", Experiment: "ab"}); err != nil {
		return err
	}
	return s.promoted("v2")
}

func playRollThrough(s *show) error {
	if err := s.failing(scene{Serve: "v3", OnFailure: "roll_through", RollThrough: "v4"}); err != nil {
		return err
	}
	s.n.say("The check failed: traffic is back on v2 at once (never straight to an unmeasured v4). The reconciler commits the roll-through:")
	if err := s.outcome("Switchyard-Action: roll_through"); err != nil {
		return err
	}
	if _, err := s.wait("the v4 canary to start", func(m reconcile.ModelStatus, st reconcile.Status) bool { return m.Rollout() == "v2→v4" }); err != nil {
		return err
	}
	s.n.say("The reconciler accepted its own commit: v4 rolls out from v2 by the same canary, with the same checks.")
	if _, err := s.wait("v4 to serve", settled("v4")); err != nil {
		return err
	}
	s.n.say("v4 serves; Git says serve = \"v4\", and on_failure is back to its default, rollback.")
	return nil
}

func playBandit(s *show) error {
	if err := s.commit("Bandit over v4 and v5", scene{Serve: "v4", Experiment: "bandit"}); err != nil {
		return err
	}
	return s.promoted("v5")
}

func playBlueGreen(s *show) error {
	if err := s.commit("Promote fraud v6 blue/green", scene{Serve: "v6", Strategy: "blue_green"}); err != nil {
		return err
	}
	if _, err := s.wait("the preview", func(m reconcile.ModelStatus, st reconcile.Status) bool { return m.Phase == "preview" }); err != nil {
		return err
	}
	s.n.say("Preview: users stay on v5; smoke tests with the header x-switchyard-preview reach v6, and preview_mirror copies 20%% of live requests to v6 (its answers dropped): both give the checks data.")
	smoke := &smoker{url: "http://" + s.router + "/v1/fraud/predict", header: "x-switchyard-preview"}
	ctx, stop := context.WithCancel(s.ctx)
	done := make(chan struct{})
	go func() { defer close(done); smoke.run(ctx) }()
	_, err := s.wait("the switch", func(m reconcile.ModelStatus, st reconcile.Status) bool { return weightOf(m, "v6") == 100 })
	stop()
	<-done
	if err != nil {
		return err
	}
	s.n.say("Smoke tests answered by: %s. Switched: 100%% on v6, v5 kept warm at weight 0 for keep_previous.", smoke.summary())
	_, err = s.wait("v6 to serve", settled("v6"))
	return err
}

func playFallback(s *show) error {
	if err := s.failing(scene{Serve: "v3", OnFailure: "fallback"}); err != nil {
		return err
	}
	s.n.say("The check failed: traffic goes to the rules heuristic at once, and Git is told:")
	if err := s.outcome("Switchyard-Action: fallback"); err != nil {
		return err
	}
	if _, err := s.wait("Git to agree with the fallback", settled("rules")); err != nil {
		return err
	}
	s.n.say("Git and traffic agree: serve = \"rules\" until a fixed model is promoted.")
	return nil
}

func playAllAtOnce(s *show) error {
	if err := s.commit("Promote fraud v6 all at once", scene{Serve: "v6", Strategy: "all_at_once"}); err != nil {
		return err
	}
	if _, err := s.wait("v6 to take all traffic", func(m reconcile.ModelStatus, st reconcile.Status) bool {
		return m.Rollout() != "" && weightOf(m, "v6") == 100
	}); err != nil {
		return err
	}
	s.n.say("All at once: 100%% on v6 straight away; the checks still run through one bake, and a failure would roll back.")
	if _, err := s.wait("v6 to serve", settled("v6")); err != nil {
		return err
	}
	s.n.say("v6 serves; Git already said so, no commit needed.")
	return nil
}

// smoker sends preview-header requests, as a smoke test suite would.
type smoker struct {
	url, header string
	mu          sync.Mutex
	answers     map[string]int
}

func (sm *smoker) run(ctx context.Context) {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, sm.url, strings.NewReader(`{"amount": 42}`))
		if err != nil {
			return
		}
		req.Header.Set(sm.header, "1")
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		sm.mu.Lock()
		if sm.answers == nil {
			sm.answers = map[string]int{}
		}
		sm.answers[resp.Header.Get("X-Switchyard-Version")]++
		sm.mu.Unlock()
	}
}

func (sm *smoker) summary() string {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	var parts []string
	for v, n := range sm.answers {
		parts = append(parts, fmt.Sprintf("%s ×%d", v, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
