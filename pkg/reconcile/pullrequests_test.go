package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard-dev/switchyard/pkg/rollout"
)

// prRepo proposes outcomes as pull requests (`--push pr`): a write leaves
// the branch alone and opens pull request #n.
type prRepo struct {
	*fakeRepo
	clock  *fakeClock
	opened map[string]OpenedPullRequest
}

func (r *prRepo) Write(ctx context.Context, o rollout.WriteCommit) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.written = append(r.written, o)
	n := len(r.written)
	r.opened[o.Model+"/"+o.Stage] = OpenedPullRequest{Action: string(o.Kind), Commit: fmt.Sprintf("b%039d", n),
		URL: fmt.Sprintf("https://github.com/acme/specs/pull/%d", n), Created: r.clock.Now()}
	return fmt.Sprintf("b%039d", n), nil
}

func (r *prRepo) OpenedPullRequests() map[string]OpenedPullRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.opened)
}

// An outcome pull request that stays unmerged is in the status with its
// address and age until Git says what it says.
func TestPendingPullRequestInStatus(t *testing.T) {
	h := newHarness(t)
	repo := &prRepo{fakeRepo: h.repo, clock: h.clock, opened: map[string]OpenedPullRequest{}}
	rec := &recorder{target: h.target}
	d, err := New(Config{PollInterval: time.Second, PushBackoff: 5 * time.Second}, Deps{
		Repo: repo, Check: check, Routers: h.target, Measurer: h.measure, Store: h.store, Clock: h.clock, Notifier: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	h.repo.commit("v2")
	h.run(1, time.Second)
	h.measure.set("v3", 0.4)
	h.repo.commit("v3")
	h.run(15, time.Second)
	if got := h.target.weights(); got != "v2=100" || len(repo.written) != 1 {
		t.Fatalf("after the failure: weights %q, %d outcomes written", got, len(repo.written))
	}
	opened := repo.opened["fraud/production"].Created
	// The rollback's notification says where to merge it.
	rec.mu.Lock()
	var said string
	for _, ev := range rec.events {
		if ev.Event == "rollback" {
			said = ev.Reason
		}
	}
	rec.mu.Unlock()
	if !strings.Contains(said, "(proposed as pull request https://github.com/acme/specs/pull/1: merge it, Git disagrees with traffic until then)") {
		t.Fatalf("the rollback's notification does not name its pull request: %q", said)
	}

	h.run(2, time.Hour)
	st := h.d.Status()
	want := PendingPullRequest{Model: "fraud/production", Action: "rollback", URL: "https://github.com/acme/specs/pull/1",
		Commit: fmt.Sprintf("b%039d", 1), Opened: opened, AgeSeconds: st.Now.Sub(opened).Seconds()}
	if len(st.PendingPullRequests) != 1 || st.PendingPullRequests[0] != want {
		t.Fatalf("pending pull requests %+v, want %+v", st.PendingPullRequests, want)
	}
	if want.AgeSeconds < 2*3600 {
		t.Fatalf("age %gs, want at least the two hours it has been open", want.AgeSeconds)
	}
	var text bytes.Buffer
	RenderStatus(&text, st)
	if line := "pull request not merged for fraud/production (rollback), open for 2h0m"; !strings.Contains(text.String(), line) ||
		!strings.Contains(text.String(), want.URL) {
		t.Fatalf("reconciler status does not say %q:\n%s", line, text.String())
	}
	if len(repo.written) != 1 {
		t.Fatalf("the open pull request was proposed again: %d writes", len(repo.written))
	}
	if got := testutil.ToFloat64(h.d.deps.Metrics.pullRequestAge.WithLabelValues("fraud", "production")); got < 2*3600 {
		t.Fatalf("switchyard_pending_pull_request_age_seconds = %g, want at least two hours", got)
	}

	// Merged: Git says v2 again, and nothing is pending.
	h.repo.commit("v2")
	h.run(2, time.Second)
	if st := h.d.Status(); len(st.PendingPullRequests) != 0 {
		t.Fatalf("after the merge: pending pull requests %+v", st.PendingPullRequests)
	}
	if n := testutil.CollectAndCount(h.d.deps.Metrics.pullRequestAge); n != 0 {
		t.Fatalf("after the merge: %d pull request age series, want none", n)
	}
}
