package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
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

// failedCanaryWithPR starts h's daemon on repo, serving v2, and fails a
// canary of v3: the rollback is proposed as a pull request.
func failedCanaryWithPR(t *testing.T, h *harness, repo Repo, n Notifier) {
	t.Helper()
	d, err := New(Config{PollInterval: time.Second, PushBackoff: 5 * time.Second}, Deps{
		Repo: repo, Check: check, Routers: h.target, Measurer: h.measure, Store: h.store, Clock: h.clock, Notifier: n,
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
}

// An outcome pull request that stays unmerged is in the status with its
// address and age until Git says what it says.
func TestPendingPullRequestInStatus(t *testing.T) {
	h := newHarness(t)
	repo := &prRepo{fakeRepo: h.repo, clock: h.clock, opened: map[string]OpenedPullRequest{}}
	rec := &recorder{target: h.target}
	failedCanaryWithPR(t, h, repo, rec)
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

// closingPRRepo is a prRepo whose open pull requests are closed by
// CloseStalePullRequests when no model awaits their outcome.
type closingPRRepo struct {
	*prRepo
	sweeps int
	closed map[string]string // model key -> the comment it was closed with
	fail   error             // every sweep fails with it when set
}

func (r *closingPRRepo) CloseStalePullRequests(ctx context.Context, awaiting map[string]rollout.WriteCommit, why func(string) string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweeps++
	if r.fail != nil {
		return nil, r.fail
	}
	var closed []string
	for key, pr := range r.opened {
		if o, ok := awaiting[key]; ok && string(o.Kind) == pr.Action {
			continue
		}
		comment := why(key)
		if comment == "" {
			continue
		}
		r.closed[key] = comment
		closed = append(closed, pr.URL)
		delete(r.opened, key)
	}
	return closed, nil
}

// A person commits another serve while the rollback pull request is
// open: the pull request is closed, saying why, once for that commit.
func TestSupersededPullRequestClosed(t *testing.T) {
	h := newHarness(t)
	repo := &closingPRRepo{prRepo: &prRepo{fakeRepo: h.repo, clock: h.clock, opened: map[string]OpenedPullRequest{}}, closed: map[string]string{}}
	failedCanaryWithPR(t, h, repo, nil)
	repo.mu.Lock()
	if len(repo.written) != 1 || len(repo.opened) != 1 || len(repo.closed) != 0 {
		t.Fatalf("after the failure: %d written, open %v, closed %v", len(repo.written), repo.opened, repo.closed)
	}
	swept := repo.sweeps
	repo.mu.Unlock()

	person := h.repo.commit("v1")
	h.run(5, time.Second)
	repo.mu.Lock()
	defer repo.mu.Unlock()
	if len(repo.opened) != 0 || repo.sweeps != swept+1 {
		t.Fatalf("after a person set serve: open %v, %d sweeps since (want 1, once per commit)", repo.opened, repo.sweeps-swept)
	}
	got := strings.ReplaceAll(repo.closed["fraud/production"], person[:7], "PERSON_SHA")
	goldenText(t, filepath.Join("testdata", "pull_request_superseded.md"), got)
	// A model not in the tree is another reconciler's (another path of
	// the same repository), or removed: its pull request is left alone.
	if why := staleComment(h.d.tree, person, "ranker/production"); why != "" {
		t.Fatalf("a model not in the tree: %q, want it left alone", why)
	}
}

// A sweep that fails (GitHub down, a token without the permission) is
// retried with the push backoff, not on every pass, and done once it works.
func TestStalePullRequestSweepRetried(t *testing.T) {
	h := newHarness(t)
	repo := &closingPRRepo{prRepo: &prRepo{fakeRepo: h.repo, clock: h.clock, opened: map[string]OpenedPullRequest{}},
		closed: map[string]string{}, fail: errors.New("403 Resource not accessible by integration")}
	d, err := New(Config{PollInterval: time.Hour, PushBackoff: 5 * time.Second, PushBackoffMax: time.Minute}, Deps{
		Repo: repo, Check: check, Routers: h.target, Measurer: h.measure, Store: h.store, Clock: h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	h.repo.commit("v2")
	h.run(20, time.Second)
	repo.mu.Lock()
	if repo.sweeps != 3 { // at 0s, 5s and 15s; the next is due at 35s
		t.Fatalf("%d sweeps in 20 passes a second apart, want 3 (backoff 5s, doubling)", repo.sweeps)
	}
	repo.fail = nil
	repo.mu.Unlock()
	h.run(40, time.Second)
	repo.mu.Lock()
	defer repo.mu.Unlock()
	if repo.sweeps != 4 {
		t.Fatalf("%d sweeps, want 4: one more that works, then none for the same commit", repo.sweeps)
	}
}

// The followed branch moves on while the rollback pull request waits: the
// outcome is proposed again on the new head (its pull request updated,
// not a new commit counted), once per new commit.
func TestPullRequestProposedAgainOnNewHead(t *testing.T) {
	h := newHarness(t)
	repo := &prRepo{fakeRepo: h.repo, clock: h.clock, opened: map[string]OpenedPullRequest{}}
	failedCanaryWithPR(t, h, repo, nil)
	written := func() []rollout.WriteCommit {
		repo.mu.Lock()
		defer repo.mu.Unlock()
		return append([]rollout.WriteCommit(nil), repo.written...)
	}
	if w := written(); len(w) != 1 || w[0].Kind != rollout.CommitRollback {
		t.Fatalf("after the failure: %+v", w)
	}
	h.run(5, time.Second)
	if n := len(written()); n != 1 {
		t.Fatalf("proposed again without a new head: %d writes", n)
	}
	h.repo.commit("v3") // someone else's commit; serve still v3
	h.run(5, time.Second)
	w := written()
	if len(w) != 2 || w[1].Kind != w[0].Kind || w[1].From != w[0].From || w[1].To != w[0].To {
		t.Fatalf("after main moved: %+v, want the rollback proposed once more", w)
	}
	if got := testutil.ToFloat64(h.d.deps.Metrics.commits.WithLabelValues("rollback")); got != 1 {
		t.Fatalf("switchyard commits counted %g, want 1: proposing again is not a new outcome", got)
	}
	h.repo.commit("v2") // merged: Git says what the rollback says
	h.run(5, time.Second)
	if n := len(written()); n != 2 {
		t.Fatalf("proposed again after the merge: %d writes", n)
	}
}

// goldenText compares got with the file at path (written by -update).
func goldenText(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update):\n%s", path, got)
	}
}
