package wiring_test

import (
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
)

// ownPolicy lets production go back from v3 to v1 only by the
// reconciler's rollback.
const ownPolicy = `package switchyard

deny contains "v3 goes back to v1 only by the reconciler's rollback" if {
	some c in input.changes
	c.from == "v3"
	c.to == "v1"
	not "switchyard:rollback" in input.context.labels
}
`

// TestE2EPushPullRequestMerged: with `--push pr` a failed canary restores
// traffic and opens the rollback pull request, which the status lists
// until it is merged; merged with a merge commit, squashed or rebased, the
// head is the reconciler's own rollback (a policy lets only that through)
// and is applied. The same pull request amended by a person is denied.
func TestE2EPushPullRequestMerged(t *testing.T) {
	for _, tc := range []struct {
		style  gittest.MergeStyle
		edited bool
	}{{gittest.MergeCommit, false}, {gittest.Squash, false}, {gittest.Rebase, false}, {gittest.MergeCommit, true}} {
		name := string(tc.style)
		if tc.edited {
			name += ", edited"
		}
		t.Run(name, func(t *testing.T) {
			gh := newFakeGitHub(t)
			e := newE2EWith(t, e2eOptions{GitHubAPI: gh.srv.URL + "/api/v3/", Push: "pr"})
			e.git.CommitAs(e2eRepo, "Only the reconciler rolls v3 back", map[string]string{"policies/own.rego": ownPolicy})
			e.webhook(e.secret)
			e.waitFor("the policy commit applied", func() bool {
				st := e.run.Daemon.Status()
				return st.Applied == e.git.Head(e2eRepo)
			})
			bad := e.push("Promote fraud v3", "v3", "[10, 50]")

			e.waitFor("the rollback pull request", func() bool { return len(gh.pulls()) == 1 })
			// Traffic is restored while Git, until the merge, says v3.
			e.waitFor("traffic back on v1", func() bool { return weight(e.status(), "v1") == 100 && e.ask() == "v1" })
			if m := e.status(); m.Serve != "v3" || !m.Held {
				t.Fatalf("before the merge: serve %q held %v, want v3 held", m.Serve, m.Held)
			}
			pr := gh.pulls()[0]
			if e.git.Head(e2eRepo) != bad || !strings.HasSuffix(strings.TrimSpace(pr["body"]), "Switchyard-Reverts: "+bad) {
				t.Fatalf("main moved (%s, want %s), or the description does not end with the trailers:\n%s", e.git.Head(e2eRepo), bad, pr["body"])
			}
			e.waitFor("the pending pull request in the status", func() bool {
				p := e.run.Daemon.Status().PendingPullRequests
				return len(p) == 1 && p[0].URL == "https://github.com/acme/models/pull/1" && p[0].Action == "rollback" && !p[0].Opened.IsZero()
			})

			if tc.edited {
				e.git.AmendOnBranch(e2eRepo, pr["head"], map[string]string{"README.md": "an unrelated change\n"})
			}
			merged := e.git.MergePullRequest(e2eRepo, pr["head"], 1, tc.style, "")
			gh.prs.Merged(1)
			e.webhook(e.secret)
			if tc.edited {
				e.waitFor("the edited merge rejected", func() bool {
					st := e.run.Daemon.Status()
					if st.Head != merged || st.HeadError == "" {
						return false
					}
					var denied, warned bool
					for _, d := range st.HeadDiagnostics {
						denied = denied || strings.Contains(d.Summary, "only by the reconciler's rollback")
						warned = warned || d.Summary == "Not the reconciler's own outcome commit" && strings.Contains(d.Detail, "README.md")
					}
					return denied && warned && st.OwnCommitRejected == nil
				})
				return
			}
			e.waitFor("the merged rollback applied", func() bool {
				st := e.run.Daemon.Status()
				return st.Applied == merged && st.HeadError == "" && st.OwnCommitRejected == nil &&
					len(st.PendingPullRequests) == 0 && e.status().Serve == "v1"
			})
			e.waitServing("v1")
			if n := len(gh.pulls()); n != 1 {
				t.Fatalf("%d pull requests opened, want 1", n)
			}
		})
	}
}

// TestE2EPushPullRequestOneOpen: the rollback pull request proposed again
// after main moved (the reconciler restarted meanwhile, or running when
// main moves) is the same pull request, its branch now on the new main,
// never a second one; once a person commits another serve, it is closed
// with a comment saying why.
func TestE2EPushPullRequestOneOpen(t *testing.T) {
	gh := newFakeGitHub(t)
	e := newE2EWith(t, e2eOptions{GitHubAPI: gh.srv.URL + "/api/v3/", Push: "pr"})
	e.push("Promote fraud v3", "v3", "[10, 50]")
	e.waitFor("the rollback pull request", func() bool { return len(gh.pulls()) == 1 })
	e.waitFor("traffic back on v1", func() bool { return weight(e.status(), "v1") == 100 })
	branch := gh.pulls()[0]["head"]
	first := strings.TrimSpace(e.git.Git(e2eRepo, "rev-parse", "refs/heads/"+branch))

	// main moves on while the pull request waits, and the reconciler
	// restarts: it proposes the rollback again, on the new main.
	moved := e.git.CommitAs(e2eRepo, "docs", map[string]string{"README.md": "the models\n"})
	e.kill()
	e.start()
	e.waitFor("the rollback proposed again on the new main", func() bool {
		head := strings.TrimSpace(e.git.Git(e2eRepo, "rev-parse", "refs/heads/"+branch))
		return head != first && strings.TrimSpace(e.git.Git(e2eRepo, "rev-parse", head+"^")) == moved
	})
	if prs := gh.pulls(); len(prs) != 1 || prs[0]["state"] != "open" {
		t.Fatalf("after proposing again: %d pull requests %v, want the one open", len(prs), prs)
	}
	e.waitFor("pull request 1 pending in the status", func() bool {
		p := e.run.Daemon.Status().PendingPullRequests
		return len(p) == 1 && p[0].URL == "https://github.com/acme/models/pull/1"
	})

	// main moves on again while the reconciler runs: the pull request's
	// branch follows it, still the one pull request.
	again := e.git.CommitAs(e2eRepo, "docs again", map[string]string{"README.md": "the models, again\n"})
	e.webhook(e.secret)
	e.waitFor("the rollback proposed again on main's next commit", func() bool {
		head := strings.TrimSpace(e.git.Git(e2eRepo, "rev-parse", "refs/heads/"+branch))
		return strings.TrimSpace(e.git.Git(e2eRepo, "rev-parse", head+"^")) == again
	})
	if prs := gh.pulls(); len(prs) != 1 || prs[0]["state"] != "open" {
		t.Fatalf("after main's next commit: %d pull requests %v, want the one open", len(prs), prs)
	}

	// A person commits serve = v2: the rollback is moot, and closed.
	e.push("Serve v2 instead", "v2", "")
	e.waitFor("the moot pull request closed", func() bool { return gh.pulls()[0]["state"] == "closed" })
	all := gh.prs.All()
	if len(all) != 1 || len(all[0].Comments) != 1 || !strings.Contains(all[0].Comments[0], "this outcome is no longer needed") ||
		!strings.Contains(all[0].Comments[0], "`serve = \"v2\"`") {
		t.Fatalf("pull requests %+v", all)
	}
	e.waitFor("no pending pull request", func() bool { return len(e.run.Daemon.Status().PendingPullRequests) == 0 })
}
