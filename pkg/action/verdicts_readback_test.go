package action

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/switchyard-dev/switchyard/pkg/gitops"
	"github.com/switchyard-dev/switchyard/pkg/notes"
)

// The note the action writes through the Git Data API is the note the
// reconciler reads: the fake GitHub's Git Data API writes into a bare
// repository, the "origin", which pkg/gitops then clones as the reconciler
// does, and whose verdicts notes.Evidence turns into the evidence that
// stops a failed version after the merge. git itself reads it too.
func TestValidationNoteReadBackByTheReconciler(t *testing.T) {
	for _, fanout := range []bool{false, true} {
		name := "flat notes"
		if fanout {
			name = "fanout notes"
		}
		t.Run(name, func(t *testing.T) {
			model := fraudModel(t, 2) // the validation fails
			gh := newFakeGitHub(t)
			r := newPRRepo(t, model.URL, nil)
			originDir := t.TempDir()
			origin, err := git.PlainInit(originDir, true)
			if err != nil {
				t.Fatal(err)
			}
			r.branch("promote-v8", r.head)
			if _, err := r.repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{originDir}}); err != nil {
				t.Fatal(err)
			}
			pushMain := func() {
				t.Helper()
				err := r.repo.Push(&git.PushOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{
					"+refs/heads/main:refs/heads/main", "refs/heads/promote-v8:refs/heads/promote-v8"}})
				if err != nil && err != git.NoErrAlreadyUpToDate {
					t.Fatal(err)
				}
			}
			pushMain()
			gh.useRepo(origin)
			path := r.head
			if fanout {
				// Someone's notes already fan out: the action's goes there too.
				other := strings.Repeat("0f", 20)
				if _, err := gh.git.Commit(NotesRef, map[string]string{other[:2] + "/" + other[2:]: "{}\n"}); err != nil {
					t.Fatal(err)
				}
				path = r.head[:2] + "/" + r.head[2:]
			}

			res := runAction(t, baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head)))
			if res.code != ExitFailed {
				t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			written := gh.notes()[path]
			if written == "" {
				t.Fatalf("no note at %s: %v", path, gh.notes())
			}

			// The pull request is merged anyway (a merge commit on main).
			merge := mergeInto(t, r, "main", r.base, r.head)
			pushMain()

			// The reconciler's clone reads it on the pull request's head...
			repo, err := gitops.Open(context.Background(), gitops.Options{URL: originDir, Dir: filepath.Join(t.TempDir(), "clone"), Branch: "main"})
			if err != nil {
				t.Fatal(err)
			}
			read, err := repo.ReadNotes(r.head)
			if err != nil || len(read) != 1 || string(read[0])+"\n" != written {
				t.Fatalf("ReadNotes: %q %v, want %q", read, err, written)
			}
			// ...among the notes of the merge's history,
			introduced, err := repo.HistoryNotes(context.Background(), merge, 0)
			if err != nil || len(introduced) != 1 || introduced[0].SHA != r.head {
				t.Fatalf("HistoryNotes: %+v %v", introduced, err)
			}
			// ...and notes.Evidence makes it the failed validation the
			// validation_evidence policy denies a merged commit on.
			var ev notes.Evidence
			ev.AddNoted(introduced)
			got := ev.Of(notes.EvidenceValidation)["fraud/production/v8"]
			if got == nil || got["passed"] != false || got["commit"] != r.head || got["metric"] != "accuracy" || got["value"] != 0.5 {
				b, _ := json.Marshal(ev.Input(nil))
				t.Fatalf("evidence %s", b)
			}

			// The reconciler adds its own verdict to the same note.
			shadow := reconcilerShadow(r.head)
			if err := repo.AddNote(context.Background(), r.head, []byte(shadow)); err != nil {
				t.Fatal(err)
			}
			if notes, err := repo.ReadNotes(r.head); err != nil || len(notes) != 2 || string(notes[1]) != shadow {
				t.Fatalf("after the reconciler's note: %q %v", notes, err)
			}

			// git agrees on both.
			if _, err := exec.LookPath("git"); err != nil {
				t.Log("git is not installed: git's own reading not checked")
				return
			}
			cmd := exec.Command("git", "--git-dir", originDir, "notes", "--ref", "switchyard", "show", r.head)
			cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != written+shadow+"\n" {
				t.Fatalf("git notes show: %v\n%q\nwant %q", err, out, written+shadow+"\n")
			}
			fsck := exec.Command("git", "--git-dir", originDir, "fsck", "--strict", "--no-dangling")
			fsck.Env = cmd.Env
			if out, err := fsck.CombinedOutput(); err != nil {
				t.Fatalf("git fsck: %v\n%s", err, out)
			}
		})
	}
}

// mergeInto makes the merge commit GitHub makes when a pull request is
// merged: first parent base, second head, head's tree. It moves branch.
func mergeInto(t *testing.T, r *prRepo, branch, base, head string) string {
	t.Helper()
	hc, err := r.repo.CommitObject(plumbing.NewHash(head))
	if err != nil {
		t.Fatal(err)
	}
	sig := object.Signature{Name: "GitHub", Email: "noreply@github.com", When: r.when.Add(time.Hour)}
	c := &object.Commit{Author: sig, Committer: sig, Message: "Merge pull request #42 from octo-org/promote-v8\n",
		TreeHash: hc.TreeHash, ParentHashes: []plumbing.Hash{plumbing.NewHash(base), hc.Hash}}
	eo := r.repo.Storer.NewEncodedObject()
	if err := c.Encode(eo); err != nil {
		t.Fatal(err)
	}
	h, err := r.repo.Storer.SetEncodedObject(eo)
	if err != nil {
		t.Fatal(err)
	}
	r.branch(branch, h.String())
	return h.String()
}
