package ghnotes_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes"
	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes/ghnotestest"
)

const (
	target = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
	other  = "ffeeddccbbaa99887766554433221100ffeeddcc"
	ref    = ghnotes.DefaultRef
)

func newStore(t *testing.T) *ghnotestest.Store {
	t.Helper()
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ghnotestest.New(repo)
}

// waits records the backoff instead of waiting.
type waits []time.Duration

func (w *waits) sleep(_ context.Context, d time.Duration) error {
	*w = append(*w, d)
	return nil
}

func writer(s *ghnotestest.Store, w *waits) *ghnotes.Writer {
	return &ghnotes.Writer{API: s, Owner: "octo-org", Repo: "models", Sleep: w.sleep}
}

func appendLine(line string) func([]byte) []byte {
	return func(old []byte) []byte { return append(append([]byte(nil), old...), line+"\n"...) }
}

func files(t *testing.T, s *ghnotestest.Store) map[string]string {
	t.Helper()
	f, _, err := s.Files(ref)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEditCreatesTheRef(t *testing.T) {
	s := newStore(t)
	var w waits
	res, err := writer(s, &w).Edit(context.Background(), strings.ToUpper(target), appendLine(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != target || res.Commit == "" || res.Unchanged || res.Attempts != 1 {
		t.Fatalf("%+v", res)
	}
	got, c, _ := s.Files(ref)
	if len(got) != 1 || got[target] != "{\"n\":1}\n" || len(c.ParentHashes) != 0 || c.Message != ghnotes.DefaultMessage {
		t.Fatalf("files %v, commit %v", got, c)
	}
}

// The note goes where the tree's layout puts it, the note already there is
// what edit sees, and every other note is kept.
func TestEditHonoursTheLayout(t *testing.T) {
	tests := []struct {
		name  string
		seed  map[string]string
		path  string
		wantN string // the note after the edit
	}{
		{"flat, new note", map[string]string{other: "x\n"}, target, "new\n"},
		{"flat, existing note", map[string]string{other: "x\n", target: "old\n"}, target, "old\nnew\n"},
		{"fanout, new note", map[string]string{other[:2] + "/" + other[2:]: "x\n"}, target[:2] + "/" + target[2:], "new\n"},
		{"fanout, existing note", map[string]string{target[:2] + "/" + target[2:]: "old\n", other[:2] + "/" + other[2:]: "x\n"},
			target[:2] + "/" + target[2:], "old\nnew\n"},
		{"fanout, new note beside another in its directory", map[string]string{target[:2] + "/" + other[2:]: "x\n"},
			target[:2] + "/" + target[2:], "new\n"},
		{"two levels, existing note", map[string]string{target[:2] + "/" + target[2:4] + "/" + target[4:]: "old\n"},
			target[:2] + "/" + target[2:4] + "/" + target[4:], "old\nnew\n"},
		{"two levels, new note", map[string]string{target[:2] + "/" + other[:2] + "/" + other[2:]: "x\n"},
			target[:2] + "/" + target[2:4] + "/" + target[4:], "new\n"},
		{"a flat note in a fanout tree stays where it is", map[string]string{target: "old\n", other[:2] + "/" + other[2:]: "x\n"},
			target, "old\nnew\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			before, err := s.Commit(ref, tc.seed)
			if err != nil {
				t.Fatal(err)
			}
			var w waits
			res, err := writer(s, &w).Edit(context.Background(), target, appendLine("new"))
			if err != nil {
				t.Fatal(err)
			}
			got, c, _ := s.Files(ref)
			if res.Path != tc.path || got[tc.path] != tc.wantN {
				t.Fatalf("path %s, files %q; want %s = %q", res.Path, got, tc.path, tc.wantN)
			}
			for p, content := range tc.seed {
				if p != tc.path && got[p] != content {
					t.Errorf("note %s lost or changed: %q", p, got[p])
				}
			}
			want := len(tc.seed)
			if _, ok := tc.seed[tc.path]; !ok {
				want++
			}
			if len(got) != want || len(c.ParentHashes) != 1 || c.ParentHashes[0].String() != before {
				t.Fatalf("files %v, parents %v (want %s)", got, c.ParentHashes, before)
			}
		})
	}
}

func TestEditUnchangedWritesNothing(t *testing.T) {
	s := newStore(t)
	if _, err := s.Commit(ref, map[string]string{target: "same\n"}); err != nil {
		t.Fatal(err)
	}
	var w waits
	res, err := writer(s, &w).Edit(context.Background(), target, func(old []byte) []byte { return old })
	if err != nil || !res.Unchanged || res.Commit != "" || s.Writes != 0 {
		t.Fatalf("%+v %v, %d writes", res, err, s.Writes)
	}
}

// Someone moves the ref between the read and the update: the writer starts
// over from the new ref and keeps what they wrote.
func TestEditStartsOverWhenTheRefMoves(t *testing.T) {
	for _, exists := range []bool{true, false} {
		name := "update"
		if !exists {
			name = "create"
		}
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			if exists {
				if _, err := s.Commit(ref, map[string]string{other: "x\n"}); err != nil {
					t.Fatal(err)
				}
			}
			s.BeforeRefWrite = func() {
				if _, err := s.Commit(ref, map[string]string{target: "theirs\n"}); err != nil {
					t.Error(err)
				}
			}
			var w waits
			var seen []string
			res, err := writer(s, &w).Edit(context.Background(), target, func(old []byte) []byte {
				seen = append(seen, string(old))
				return append(old, "ours\n"...)
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Attempts != 2 || len(w) != 0 || strings.Join(seen, "|") != "|theirs\n" {
				t.Fatalf("%+v, waits %v, edit saw %q", res, w, seen)
			}
			if got := files(t, s)[target]; got != "theirs\nours\n" {
				t.Fatalf("note %q", got)
			}
		})
	}
}

func TestEditGivesUp(t *testing.T) {
	s := newStore(t)
	if _, err := s.Commit(ref, map[string]string{other: "x\n"}); err != nil {
		t.Fatal(err)
	}
	var race func()
	n := 0
	race = func() {
		n++
		if _, err := s.Commit(ref, map[string]string{other: strings.Repeat("x", n) + "\n"}); err != nil {
			t.Error(err)
		}
		s.BeforeRefWrite = race
	}
	s.BeforeRefWrite = race
	var w waits
	wr := writer(s, &w)
	wr.Attempts, wr.Backoff = 4, time.Second
	_, err := wr.Edit(context.Background(), target, appendLine("ours"))
	if err == nil || !strings.Contains(err.Error(), "gave up after 4 attempts") || ghnotes.StatusOf(err) != 422 {
		t.Fatalf("error %v (status %d)", err, ghnotes.StatusOf(err))
	}
	if len(w) != 2 || w[0] != time.Second || w[1] != 2*time.Second {
		t.Fatalf("waits %v: want none before the first retry, then 1s, 2s", w)
	}
	if _, ok := files(t, s)[target]; ok {
		t.Fatal("the note was written anyway")
	}
}

func TestEditReadOnlyToken(t *testing.T) {
	for _, status := range []int{403, 404} {
		s := newStore(t)
		s.WriteStatus = status
		var w waits
		_, err := writer(s, &w).Edit(context.Background(), target, appendLine("ours"))
		var ae *ghnotestest.Error
		if !errors.As(err, &ae) || ghnotes.StatusOf(err) != status || len(w) != 0 {
			t.Fatalf("%d: error %v, waits %v", status, err, w)
		}
	}
}

func TestEditRejectsABadTarget(t *testing.T) {
	s := newStore(t)
	var w waits
	for _, bad := range []string{"", "HEAD", target[:7], target + "zz"} {
		if _, err := writer(s, &w).Edit(context.Background(), bad, appendLine("x")); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if s.Writes != 0 {
		t.Fatalf("%d writes", s.Writes)
	}
}

// A tree GitHub lists only in part cannot say that a note is absent.
func TestEditTruncatedTree(t *testing.T) {
	s := newStore(t)
	if _, err := s.Commit(ref, map[string]string{other: "x\n"}); err != nil {
		t.Fatal(err)
	}
	var w waits
	wr := writer(s, &w)
	wr.API = truncating{s}
	_, err := wr.Edit(context.Background(), target, appendLine("x"))
	if err == nil || !strings.Contains(err.Error(), "too large") || s.Writes != 0 {
		t.Fatalf("error %v, %d writes", err, s.Writes)
	}
}

type truncating struct{ *ghnotestest.Store }

func (t truncating) GetTree(ctx context.Context, owner, repo, sha string) (ghnotes.Tree, error) {
	tr, err := t.Store.GetTree(ctx, owner, repo, sha)
	tr.Truncated = true
	return tr, err
}
