package gitops

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"

	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
)

func TestOpenFetchReuse(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	head, err := r.Head()
	if err != nil || head != srv.Head("specs") {
		t.Fatalf("Head = %s, %v; server has %s", head, err, srv.Head("specs"))
	}
	sha, changed, err := r.Fetch(ctx)
	if err != nil || changed || sha != head {
		t.Fatalf("Fetch with nothing new = %s, %v, %v", sha, changed, err)
	}
	want := promote(t, srv)
	sha, changed, err = r.Fetch(ctx)
	if err != nil || !changed || sha != want {
		t.Fatalf("Fetch after a push = %s, %v, %v; want %s, changed", sha, changed, err, want)
	}
	b, err := r.ReadFile("HEAD", fraudFile)
	if err != nil || !strings.Contains(string(b), `serve  = "v8"`) {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}

	// A second Open of the same directory reuses the clone.
	r2, err := Open(ctx, Options{URL: srv.RepoURL("specs"), Dir: r.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := r2.Head(); h != want {
		t.Fatalf("reused clone head %s, want %s", h, want)
	}
}

func TestOpenErrors(t *testing.T) {
	srv := gittest.NewServer(t)
	ctx := context.Background()
	_, err := Open(ctx, Options{URL: srv.RepoURL("missing"), Dir: filepath.Join(t.TempDir(), "c")})
	if err == nil || !strings.Contains(err.Error(), "clone") {
		t.Fatalf("Open of a missing repository: %v", err)
	}
	srv.CreateRepo("specs", map[string]string{"a": "1\n"})
	_, err = Open(ctx, Options{URL: srv.RepoURL("specs"), Branch: "release", Dir: filepath.Join(t.TempDir(), "c")})
	if err == nil {
		t.Fatal("Open of a missing branch: want error")
	}
	if _, err := Open(ctx, Options{Dir: t.TempDir()}); err == nil {
		t.Fatal("Open without URL: want error")
	}
}

func TestOpenWithToken(t *testing.T) {
	srv := gittest.NewServer(t, gittest.WithBasicAuth("x-access-token", "s3cret"))
	url := srv.CreateRepo("specs", map[string]string{fraudFile: fraudSpec})
	ctx := context.Background()
	if _, err := Open(ctx, Options{URL: url, Dir: filepath.Join(t.TempDir(), "c")}); err == nil {
		t.Fatal("Open without the token: want an authentication error")
	}
	r, err := Open(ctx, Options{URL: url, Token: "s3cret", Dir: filepath.Join(t.TempDir(), "c")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteOutcome(ctx, rollout.WriteCommit{Kind: ActionFallback, Model: "fraud", Stage: "production", File: fraudFile, From: "v7", To: "rules"}); err != nil {
		t.Fatalf("push with the token: %v", err)
	}
	if got := srv.Git("specs", "log", "-1", "--format=%s"); got != "Fall back fraud/production to rules\n" {
		t.Fatalf("remote head title %q", got)
	}
}

func TestOpenLocalPath(t *testing.T) {
	srv := gittest.NewServer(t)
	srv.CreateRepo("specs", map[string]string{fraudFile: fraudSpec})
	ctx := context.Background()
	r, err := Open(ctx, Options{URL: srv.RepoPath("specs"), Dir: filepath.Join(t.TempDir(), "c"), Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	promote(t, srv)
	if _, err := r.WriteOutcome(ctx, rollback()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Show("specs", "main", fraudFile); got != fraudSpec {
		t.Fatalf("spec after rollback through a local path:\n%s", got)
	}
}

func TestLastServeChange(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	srv.CommitAs("specs", "tighten canary", map[string]string{fraudFile: strings.Replace(fraudSpec, "[5, 25, 50]", "[1, 5, 25, 50]", 1)})
	want := srv.CommitAs("specs", "promote fraud v8", map[string]string{fraudFile: setServe(strings.Replace(fraudSpec, "[5, 25, 50]", "[1, 5, 25, 50]", 1), "v8")})
	srv.CommitAs("specs", "docs", map[string]string{"README.md": "more docs\n"})
	srv.CommitAs("specs", "comment", map[string]string{fraudFile: "# top\n" + setServe(strings.Replace(fraudSpec, "[5, 25, 50]", "[1, 5, 25, 50]", 1), "v8")})
	mustFetch(t, r)
	c, err := r.LastServeChange(ctx, fraudFile, "fraud", "production")
	if err != nil {
		t.Fatal(err)
	}
	if c.SHA != want || c.Title != "promote fraud v8" || c.Author != "Someone Else <someone@example.com>" {
		t.Fatalf("LastServeChange = %+v, want %s", c, want)
	}
	if _, err := r.LastServeChange(ctx, fraudFile, "fraud", "canary"); err == nil {
		t.Fatal("LastServeChange of a missing model: want error")
	}
}

// With no change since the first commit, the first commit is the answer.
func TestLastServeChangeFirstCommit(t *testing.T) {
	srv, r, _ := setup(t)
	c, err := r.LastServeChange(context.Background(), fraudFile, "fraud", "production")
	if err != nil || c.SHA != srv.Head("specs") {
		t.Fatalf("LastServeChange on one commit = %+v, %v", c, err)
	}
}

func TestRollbackTrueRevert(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	bad := promote(t, srv)
	mustFetch(t, r)
	w, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil {
		t.Fatal(err)
	}
	if !w.Revert || w.SHA != srv.Head("specs") {
		t.Fatalf("Written = %+v, remote head %s", w, srv.Head("specs"))
	}
	msg := srv.Git("specs", "log", "-1", "--format=%B")
	wantMsg := `Revert "promote fraud v8"

This reverts commit ` + bad + `.

fraud/production rolled back from v8 to v7: check "errors" failed:
error_rate 0.052 > max 0.01 at step 2 of 4 (25% traffic), 3 of 3 measurements.

Switchyard-Action: rollback
Switchyard-Model: fraud/production
Switchyard-Reverts: ` + bad + "\n\n"
	if msg != wantMsg {
		t.Fatalf("message:\n%s\nwant:\n%s", msg, wantMsg)
	}
	if got := srv.Git("specs", "log", "-1", "--format=%an <%ae> %cn %aI"); got != "Switchyard <switchyard@localhost> Switchyard 2026-11-26T10:00:00+00:00\n" {
		t.Fatalf("author line %q", got)
	}
	if got := srv.Git("specs", "diff", bad+"~1", "main"); got != "" {
		t.Fatalf("a true revert leaves the tree as before the bad commit; diff:\n%s", got)
	}
	if tr := Trailers(msg); tr[TrailerAction] != "rollback" || tr[TrailerModel] != "fraud/production" || tr[TrailerReverts] != bad {
		t.Fatalf("trailers %v", tr)
	}
	// The tree is the one `git revert` makes.
	work := t.TempDir()
	for _, args := range [][]string{
		{"clone", "--quiet", srv.RepoPath("specs"), work},
		{"-C", work, "reset", "--quiet", "--hard", bad},
		{"-C", work, "-c", "user.name=T", "-c", "user.email=t@x", "revert", "--no-edit", bad},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	cliTree, _ := exec.Command("git", "-C", work, "rev-parse", "HEAD^{tree}").Output()
	if ours := srv.Git("specs", "rev-parse", "main^{tree}"); ours != string(cliTree) {
		t.Fatalf("tree %s, git revert makes %s", ours, cliTree)
	}
	// git itself agrees the trailers parse.
	if got := srv.Git("specs", "log", "-1", "--format=%(trailers:key=Switchyard-Action,valueonly)"); strings.TrimSpace(got) != "rollback" {
		t.Fatalf("git trailers: %q", got)
	}
}

func TestRollbackEditWhenNotClean(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	bad := promote(t, srv)
	edited := strings.Replace(setServe(fraudSpec, "v8"), "steps    = [5, 25, 50]", "steps    = [5, 25, 50]   # tuned", 1)
	srv.CommitAs("specs", "tune", map[string]string{fraudFile: edited})
	w, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil {
		t.Fatal(err)
	}
	if w.Revert {
		t.Fatal("the file changed after the bad commit: want an edit, not a true revert")
	}
	if got := srv.Show("specs", "main", fraudFile); got != strings.Replace(edited, `serve  = "v8"`, `serve  = "v7"`, 1) {
		t.Fatalf("edit changed more than serve:\n%s", got)
	}
	msg := srv.Git("specs", "log", "-1", "--format=%B")
	if !strings.HasPrefix(msg, "Roll back fraud/production from v8 to v7\n\n") || !strings.Contains(msg, "Switchyard-Reverts: "+bad+"\n") || strings.Contains(msg, "This reverts commit") {
		t.Fatalf("message:\n%s", msg)
	}
}

func TestSomeoneElsePushedInBetween(t *testing.T) {
	srv, r, sl := setup(t)
	ctx := context.Background()
	promote(t, srv)
	mustFetch(t, r)
	var other string
	srv.BeforeNextPush(func() {
		other = srv.CommitAs("specs", "docs", map[string]string{"README.md": "someone else was here\n"})
	})
	w, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil {
		t.Fatal(err)
	}
	if sl.count() != 1 {
		t.Fatalf("backoff waits = %d, want 1 (one rejected push)", sl.count())
	}
	if !w.Revert {
		t.Fatal("want a true revert re-applied on the new head")
	}
	if parent := strings.TrimSpace(srv.Git("specs", "rev-parse", "main~1")); parent != other {
		t.Fatalf("revert's parent %s, want the other push %s", parent, other)
	}
	if got := srv.Show("specs", "main", "README.md"); got != "someone else was here\n" {
		t.Fatalf("the other push was lost: README %q", got)
	}
	if got := srv.Show("specs", "main", fraudFile); got != fraudSpec {
		t.Fatalf("spec at the remote head:\n%s", got)
	}
}

func TestPushGivesUpAfterBoundedAttempts(t *testing.T) {
	srv, r, sl := setup(t, func(o *Options) { o.PushAttempts = 3 })
	ctx := context.Background()
	promote(t, srv)
	n := 0
	var again func()
	again = func() {
		n++
		srv.CommitAs("specs", "busy", map[string]string{"README.md": strings.Repeat("x", n) + "\n"})
		srv.BeforeNextPush(again)
	}
	srv.BeforeNextPush(again)
	_, err := r.WriteOutcome(ctx, rollback())
	srv.BeforeNextPush(nil)
	if err == nil || !strings.Contains(err.Error(), "failed to push to remote") || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("err = %v", err)
	}
	if sl.count() != 2 {
		t.Fatalf("waits %d, want 2", sl.count())
	}
	// Once the others stop, the rollback written again lands.
	if _, err := r.WriteOutcome(ctx, rollback()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Show("specs", "main", fraudFile); !strings.Contains(got, `serve  = "v7"`) {
		t.Fatalf("spec after retry:\n%s", got)
	}
}

func TestServerDownThenRetried(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	promote(t, srv)
	mustFetch(t, r)
	srv.Stop()
	_, err := r.WriteOutcome(ctx, rollback())
	if err == nil || !strings.Contains(err.Error(), "failed to push to remote") {
		t.Fatalf("push to a stopped server: err = %v", err)
	}
	if h, _ := r.Head(); h != srv.Head("specs") {
		t.Fatalf("after a failed push the local head %s is not the remote's %s", h, srv.Head("specs"))
	}
	srv.Start()
	sha, err := r.WriteOutcome(ctx, rollback())
	if err != nil {
		t.Fatal(err)
	}
	if sha != srv.Head("specs") {
		t.Fatalf("retried write = %s; remote head %s", sha, srv.Head("specs"))
	}
	head := srv.Head("specs")
	// Writing the same outcome again writes nothing.
	w, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil || !w.AlreadyDone || w.SHA != head || srv.Head("specs") != head {
		t.Fatalf("second write = %+v, %v; remote head moved: %v", w, err, srv.Head("specs") != head)
	}
}

func TestSupersededByHuman(t *testing.T) {
	srv, r, _ := setup(t)
	promote(t, srv)
	srv.CommitAs("specs", "promote fraud v9", map[string]string{fraudFile: setServe(fraudSpec, "v9")})
	head := srv.Head("specs")
	_, err := r.WriteOutcome(context.Background(), rollback())
	if !errors.Is(err, ErrSuperseded) {
		t.Fatalf("err = %v, want ErrSuperseded", err)
	}
	if srv.Head("specs") != head {
		t.Fatal("a superseded outcome must write nothing")
	}
}

func TestOutcomeEdits(t *testing.T) {
	withExperiment := strings.Replace(fraudSpec, "  rollout {", `  # A/B test.
  experiment {
    method   = "ab"
    variants = { v7 = 50, v8 = 50 }
  }

  rollout {`, 1)
	// The roll_through commit also drops what would make its head invalid.
	withRollThrough := strings.Replace(fraudSpec, "    steps    = [5, 25, 50]\n", `    steps    = [5, 25, 50]
    on_failure   = "roll_through"
    roll_through = "v9"
`, 1)
	tests := []struct {
		name      string
		start     string
		o         rollout.WriteCommit
		wantTitle string
		wantSpec  string
	}{
		{"fallback", setServe(fraudSpec, "v8"),
			rollout.WriteCommit{Kind: ActionFallback, From: "v8", To: "rules", Reason: "error_rate 0.2 > max 0.01"},
			"Fall back fraud/production to rules", setServe(fraudSpec, "rules")},
		{"roll_through", setServe(fraudSpec, "v8"),
			rollout.WriteCommit{Kind: ActionRollThrough, From: "v8", To: "v9"},
			"Roll fraud/production through to v9", setServe(fraudSpec, "v9")},
		{"roll_through_settles", setServe(withRollThrough, "v8"),
			rollout.WriteCommit{Kind: ActionRollThrough, From: "v8", To: "v9"},
			"Roll fraud/production through to v9", setServe(fraudSpec, "v9")},
		{"promote", withExperiment,
			rollout.WriteCommit{Kind: ActionPromote, From: "v7", To: "v8", Reason: "v8 wins: conversion 0.121 vs 0.104, p = 0.003"},
			"Promote fraud/production to v8 (experiment winner)", setServe(fraudSpec, "v8")},
		{"conclude", withExperiment,
			rollout.WriteCommit{Kind: ActionConclude, From: "v7", To: "v7", Reason: "no winner after 20000 samples per variant"},
			"Conclude experiment on fraud/production", fraudSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, r, _ := setup(t)
			srv.CommitAs("specs", "start", map[string]string{fraudFile: tc.start})
			o := tc.o
			o.Model, o.Stage, o.File = "fraud", "production", fraudFile
			w, err := r.WriteOutcomeDetail(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if w.Revert || w.AlreadyDone {
				t.Fatalf("Written = %+v", w)
			}
			if got := srv.Git("specs", "log", "-1", "--format=%s"); got != tc.wantTitle+"\n" {
				t.Fatalf("title %q, want %q", got, tc.wantTitle)
			}
			if got := srv.Show("specs", "main", fraudFile); got != tc.wantSpec {
				t.Fatalf("spec:\n%s\nwant:\n%s", got, tc.wantSpec)
			}
			tr := Trailers(srv.Git("specs", "log", "-1", "--format=%B"))
			if tr[TrailerAction] != string(tc.o.Kind) || tr[TrailerModel] != "fraud/production" || tr[TrailerReverts] != "" {
				t.Fatalf("trailers %v", tr)
			}
		})
	}
}

func TestRepack(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	for i := range 4 {
		srv.CommitAs("specs", "docs", map[string]string{"README.md": strings.Repeat("more ", i+1) + "\n"})
		mustFetch(t, r)
	}
	packs := func() int {
		m, _ := filepath.Glob(filepath.Join(r.Dir(), "objects", "pack", "*.pack"))
		return len(m)
	}
	if packs() < 2 {
		t.Fatalf("fetches left %d packs; the test needs several", packs())
	}
	if err := r.Repack(ctx); err != nil {
		t.Fatal(err)
	}
	if packs() != 1 {
		t.Fatalf("after Repack: %d packs, want 1", packs())
	}
	if b, err := r.ReadFile("HEAD", "README.md"); err != nil || string(b) != "more more more more \n" {
		t.Fatalf("ReadFile after repack = %q, %v", b, err)
	}
	if _, err := r.LastServeChange(ctx, fraudFile, "fraud", "production"); err != nil {
		t.Fatal(err)
	}
}

func TestTreeAt(t *testing.T) {
	srv, r, _ := setup(t)
	first := srv.Head("specs")
	promote(t, srv)
	head := mustFetch(t, r)
	fsys, sha, err := r.TreeAt("HEAD")
	if err != nil || sha != head {
		t.Fatalf("TreeAt(HEAD) = %s, %v; want %s", sha, err, head)
	}
	b, err := fs.ReadFile(fsys, fraudFile)
	if err != nil || !strings.Contains(string(b), `serve  = "v8"`) {
		t.Fatalf("read at HEAD = %q, %v", b, err)
	}
	fsys, _, err = r.TreeAt(first)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := fs.ReadFile(fsys, fraudFile); string(b) != fraudSpec {
		t.Fatalf("read at the first commit = %q", b)
	}
}

func TestRollbackRevertsMergedPullRequest(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	merge := srv.MergeAs("specs", "promote-v8", "Merge pull request #42 from acme/promote-v8", map[string]string{fraudFile: setServe(fraudSpec, "v8")})
	mustFetch(t, r)
	c, err := r.LastServeChange(ctx, fraudFile, "fraud", "production")
	if err != nil || c.SHA != merge {
		t.Fatalf("LastServeChange = %+v, %v; want the merge %s", c, err, merge)
	}
	w, err := r.WriteOutcomeDetail(ctx, rollback())
	if err != nil || !w.Revert {
		t.Fatalf("Written = %+v, %v", w, err)
	}
	if got := srv.Git("specs", "log", "-1", "--format=%s"); got != "Revert \"Merge pull request #42 from acme/promote-v8\"\n" {
		t.Fatalf("title %q", got)
	}
	if got := srv.Show("specs", "main", fraudFile); got != fraudSpec {
		t.Fatalf("spec:\n%s", got)
	}
}

func TestURLKinds(t *testing.T) {
	tests := []struct {
		url        string
		local, ssh bool
	}{
		{"https://github.com/acme/specs.git", false, false},
		{"http://127.0.0.1:8080/specs.git", false, false},
		{"ssh://git@github.com/acme/specs.git", false, true},
		{"git@github.com:acme/specs.git", false, true},
		{"/srv/git/specs.git", true, false},
		{"./specs", true, false},
		{"specs", true, false},
	}
	for _, tc := range tests {
		if isLocalPath(tc.url) != tc.local || isSSH(tc.url) != tc.ssh {
			t.Errorf("%s: local %v ssh %v", tc.url, isLocalPath(tc.url), isSSH(tc.url))
		}
	}
	if got := redact("https://x-access-token:s3cret@github.com/acme/specs.git"); got != "https://***@github.com/acme/specs.git" {
		t.Errorf("redact = %s", got)
	}
}

func TestSSHKeyAuth(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := authFor(withDefaults(Options{URL: "ssh://deploy@git.example.com/specs.git", SSHKeyFile: key}))
	if err != nil {
		t.Fatal(err)
	}
	pk, ok := auth.(*gitssh.PublicKeys)
	if !ok || pk.User != "deploy" {
		t.Fatalf("auth = %#v", auth)
	}
	if _, err := authFor(withDefaults(Options{URL: "git@github.com:a/b.git", SSHKeyFile: filepath.Join(t.TempDir(), "missing")})); err == nil {
		t.Fatal("a missing key file: want error")
	}
	if auth, _ := authFor(withDefaults(Options{URL: "https://github.com/a/b.git", Token: "t"})); auth == nil {
		t.Fatal("https with a token: want basic auth")
	}
}

func TestFailedCloneKeepsExistingDir(t *testing.T) {
	srv := gittest.NewServer(t)
	dir := t.TempDir()
	keep := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), Options{URL: srv.RepoURL("missing"), Dir: dir}); err == nil {
		t.Fatal("want a clone error")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("a failed clone removed a directory it did not create: %v", err)
	}
}

// A failed write leaves nothing behind: once the server is back, nothing
// is pushed unless the caller writes again.
func TestFailedWriteKeepsNothing(t *testing.T) {
	srv, r, _ := setup(t)
	promote(t, srv)
	srv.Stop()
	if _, err := r.WriteOutcome(context.Background(), rollback()); err == nil {
		t.Fatal("want error while the server is down")
	}
	srv.Start()
	head := srv.Head("specs")
	if err := r.AddNote(context.Background(), head, []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if srv.Head("specs") != head {
		t.Fatal("a note pushed a rollback that failed before")
	}
}

func TestServerDiesDuringPush(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	promote(t, srv)
	remote := srv.Head("specs")
	srv.BeforeNextPush(srv.Stop) // fetched fine, then the server goes away
	_, err := r.WriteOutcome(ctx, rollback())
	if err == nil || !strings.Contains(err.Error(), "failed to push to remote") {
		t.Fatalf("err = %v", err)
	}
	if h, _ := r.Head(); h != remote {
		t.Fatalf("local head %s after a failed push; want the remote's %s", h, remote)
	}
	srv.Start()
	if _, err := r.WriteOutcome(ctx, rollback()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Git("specs", "log", "-1", "--format=%s"); got != "Revert \"promote fraud v8\"\n" {
		t.Fatalf("remote head %q", got)
	}
}

// TestHungServerTimesOut: a server that accepts but never answers fails
// the fetch after Timeout instead of holding the clone forever.
func TestHungServerTimesOut(t *testing.T) {
	srv, _, _ := setup(t)
	hung := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { <-hung }))
	defer api.Close()
	defer close(hung) // runs first: release the handlers, then close
	r2, err := Open(context.Background(), Options{URL: srv.RepoURL("specs"), Dir: filepath.Join(t.TempDir(), "c"), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r2.opts.URL = api.URL + "/specs.git"
	if _, _, err := r2.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "failed to fetch") {
		t.Fatalf("fetch from a hung server: %v", err)
	}
}
