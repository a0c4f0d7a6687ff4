package gitops

import (
	"context"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

func TestNotesReadableByGit(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	judged := promote(t, srv)
	mustFetch(t, r)
	verdicts := []string{
		`{"kind": "rollout", "outcome": "failed", "check": "errors"}`,
		`{"kind":"shadow","agreement":0.991,"samples":1200}`,
	}
	for _, v := range verdicts {
		if err := r.AddNote(ctx, judged, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	// The same verdict again changes nothing.
	if err := r.AddNote(ctx, judged, []byte(verdicts[1])); err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"rollout","outcome":"failed","check":"errors"}` + "\n" + `{"kind":"shadow","agreement":0.991,"samples":1200}` + "\n"
	if got := srv.Git("specs", "notes", "--ref", "switchyard", "show", judged); got != want {
		t.Fatalf("git notes show:\n%q\nwant:\n%q", got, want)
	}
	got, err := r.ReadNotes(judged)
	if err != nil || len(got) != 2 || string(got[1]) != `{"kind":"shadow","agreement":0.991,"samples":1200}` {
		t.Fatalf("ReadNotes = %s, %v", got, err)
	}
	if err := r.AddNote(ctx, judged, []byte("not json")); err == nil {
		t.Fatal("AddNote with invalid JSON: want error")
	}
}

func TestNotesKeepOthersNotes(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	first := srv.Head("specs")
	judged := promote(t, srv)
	// Someone else (the GitHub Action, say) adds a note with the git CLI.
	srv.Git("specs", "notes", "--ref", "switchyard", "add", "-m", `{"kind":"validation","passed":true}`, first)
	if err := r.AddNote(ctx, judged, []byte(`{"kind":"rollout"}`)); err != nil {
		t.Fatal(err)
	}
	if got := srv.Git("specs", "notes", "--ref", "switchyard", "show", first); !strings.Contains(got, "validation") {
		t.Fatalf("the other note was lost: %q", got)
	}
	if got := srv.Git("specs", "notes", "--ref", "switchyard", "show", judged); got != "{\"kind\":\"rollout\"}\n" {
		t.Fatalf("our note: %q", got)
	}
	// The git CLI appends to our note; we append after it.
	srv.Git("specs", "notes", "--ref", "switchyard", "append", "-m", `{"kind":"human"}`, judged)
	if err := r.AddNote(ctx, judged, []byte(`{"kind":"experiment"}`)); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadNotes(judged)
	if err != nil || len(got) != 3 || string(got[2]) != `{"kind":"experiment"}` {
		t.Fatalf("ReadNotes = %s, %v", got, err)
	}
	if got, _ := r.ReadNotes(first); len(got) != 1 {
		t.Fatalf("ReadNotes of the CLI-noted commit = %s", got)
	}
}

func TestNoteRetriedAfterTheServerWasDown(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	judged := promote(t, srv)
	mustFetch(t, r)
	srv.Stop()
	if err := r.AddNote(ctx, judged, []byte(`{"kind":"rollout"}`)); err == nil {
		t.Fatal("AddNote with the server down: want error")
	}
	if got, _ := r.ReadNotes(judged); len(got) != 0 {
		t.Fatalf("a note that failed is kept: %s", got)
	}
	srv.Start()
	// The caller retries; the same note twice is one line.
	for range 2 {
		if err := r.AddNote(ctx, judged, []byte(`{"kind":"rollout"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Git("specs", "notes", "--ref", "switchyard", "show", judged); got != "{\"kind\":\"rollout\"}\n" {
		t.Fatalf("note after retry: %q", got)
	}
}

// TestNotesFanout appends to a note that git stored in a fanout directory
// ("ab/cdef..."), as git does once a notes tree grows large.
func TestNotesFanout(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	judged := promote(t, srv)
	mustFetch(t, r)
	blob, err := r.writeBlob([]byte(`{"kind":"validation"}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	fanout := judged[:2] + "/" + judged[2:]
	tree, err := r.rewriteTree(plumbing.ZeroHash, map[string]treeChange{fanout: {hash: blob, mode: filemode.Regular}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.writeCommit(tree, nil, "Notes added by git\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(NotesRef, c)); err != nil {
		t.Fatal(err)
	}
	if err := r.push(ctx, []config.RefSpec{NotesRef + ":" + NotesRef}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddNote(ctx, judged, []byte(`{"kind":"rollout"}`)); err != nil {
		t.Fatal(err)
	}
	if got := srv.Git("specs", "notes", "--ref", "switchyard", "show", judged); got != "{\"kind\":\"validation\"}\n{\"kind\":\"rollout\"}\n" {
		t.Fatalf("git notes show: %q", got)
	}
	if got := srv.Git("specs", "ls-tree", "-r", "--name-only", NotesRef); got != fanout+"\n" {
		t.Fatalf("notes tree: %q, want only %s", got, fanout)
	}
}

func TestNotesHeadFollowsTheRemotesNotesRef(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	judged := promote(t, srv)
	mustFetch(t, r)
	if h, err := r.NotesHead(); err != nil || h != "" {
		t.Fatalf("NotesHead without notes = %q, %v; want \"\"", h, err)
	}
	// Someone else notes a verdict: seen at the next fetch, not before.
	srv.Git("specs", "notes", "--ref", "switchyard", "add", "-m", `{"kind":"validation","passed":false}`, judged)
	if h, err := r.NotesHead(); err != nil || h != "" {
		t.Fatalf("NotesHead before the fetch = %q, %v; want \"\"", h, err)
	}
	mustFetch(t, r)
	first := strings.TrimSpace(srv.Git("specs", "rev-parse", NotesRef))
	if h, err := r.NotesHead(); err != nil || h != first {
		t.Fatalf("NotesHead = %q, %v; want %s", h, err, first)
	}
	mustFetch(t, r)
	if h, _ := r.NotesHead(); h != first {
		t.Fatalf("NotesHead after a fetch that brought nothing = %q, want %s", h, first)
	}
	// A verdict replaced on the same commit, and our own pushed note: each
	// moves it.
	srv.Git("specs", "notes", "--ref", "switchyard", "add", "-f", "-m", `{"kind":"validation","passed":true}`, judged)
	mustFetch(t, r)
	second := strings.TrimSpace(srv.Git("specs", "rev-parse", NotesRef))
	if h, _ := r.NotesHead(); h != second || h == first {
		t.Fatalf("NotesHead after the verdict was replaced = %q, want %s (not %s)", h, second, first)
	}
	if err := r.AddNote(ctx, judged, []byte(`{"kind":"rollout"}`)); err != nil {
		t.Fatal(err)
	}
	third := strings.TrimSpace(srv.Git("specs", "rev-parse", NotesRef))
	if h, _ := r.NotesHead(); h != third || h == second {
		t.Fatalf("NotesHead after our own note = %q, want %s", h, third)
	}
}
