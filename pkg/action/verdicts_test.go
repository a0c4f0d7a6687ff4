package action

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes/ghnotestest"
)

// reconcilerShadow is a verdict the reconciler notes on a commit.
func reconcilerShadow(commit string) string {
	return `{"kind":"shadow","model":"fraud","stage":"production","commit":"` + commit + `","payload":{"version":"v8","passed":true,"agreement":0.99,"samples":900}}`
}

// verdictOf parses a validation verdict line and checks its envelope.
func verdictOf(t *testing.T, line, commit string) map[string]any {
	t.Helper()
	var v struct {
		Kind, Model, Stage, Commit string
		Payload                    map[string]any
	}
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		t.Fatalf("note line %q: %v", line, err)
	}
	if v.Kind != "validation" || v.Model != "fraud" || v.Stage != "production" || v.Commit != commit || v.Payload["version"] != "v8" ||
		v.Payload["at"] != "2026-11-26T10:00:00Z" || v.Payload["metric"] != "accuracy" {
		t.Fatalf("verdict %s", line)
	}
	return v.Payload
}

// A pull request's validation verdict is noted on its head commit, in a
// notes ref the action creates when there is none.
func TestPullRequestNotesValidationVerdict(t *testing.T) {
	model := fraudModel(t, 2) // half the answers wrong: the validation fails
	gh := newFakeGitHub(t)
	r := newPRRepo(t, model.URL, nil)
	res := runAction(t, baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head)))
	if res.code != ExitFailed {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	notes := gh.notes()
	lines := ghnotestest.Lines(notes[r.head])
	if len(notes) != 1 || len(lines) != 1 {
		t.Fatalf("notes %v, want one line on the head %s", notes, r.head)
	}
	p := verdictOf(t, lines[0], r.head)
	if p["passed"] != false || p["value"] != 0.5 || p["threshold"] != 0.9 || p["samples"] != float64(20) || !strings.Contains(p["reason"].(string), "accuracy 0.5 < min 0.9") {
		t.Fatalf("payload %v", p)
	}
	want := "📝 The offline validation verdict (`fraud/production/v8`) is noted on `" + commitid.Short(r.head) + "` under `refs/notes/switchyard`"
	if !strings.Contains(res.summary, want) || !strings.Contains(gh.planComments()[0].Body, want) {
		t.Fatalf("summary:\n%s", res.summary)
	}
}

// A note already on the head keeps its other verdicts: the reconciler's,
// and validations of other versions; an earlier validation of the same
// version is replaced in place; other commits' notes are left alone.
func TestPullRequestAppendsToTheNote(t *testing.T) {
	model := fraudModel(t, 0)
	gh := newFakeGitHub(t)
	r := newPRRepo(t, model.URL, nil)
	other := strings.Repeat("ab", 20)
	earlier := `{"kind":"validation","model":"fraud","stage":"production","commit":"` + r.head + `","payload":{"version":"v8","passed":false,"at":"2026-11-25T10:00:00Z"}}`
	v9 := `{"kind":"validation","model":"fraud/production","version":"v9","passed":true}`
	old := reconcilerShadow(r.head) + "\n" + earlier + "\n" + v9 + "\n"
	if _, err := gh.git.Commit(NotesRef, map[string]string{r.head: old, other: "someone else's\n"}); err != nil {
		t.Fatal(err)
	}
	before, _ := gh.notesHead()
	res := runAction(t, baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head)))
	if res.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	notes := gh.notes()
	lines := ghnotestest.Lines(notes[r.head])
	if len(notes) != 2 || notes[other] != "someone else's\n" || len(lines) != 3 || lines[0] != reconcilerShadow(r.head) || lines[2] != v9 {
		t.Fatalf("notes:\n%v", notes)
	}
	if p := verdictOf(t, lines[1], r.head); p["passed"] != true || p["value"] != 1.0 {
		t.Fatalf("payload %v", p)
	}
	_, c, _ := gh.git.Files(NotesRef)
	if len(c.ParentHashes) != 1 || c.ParentHashes[0].String() != before {
		t.Fatalf("notes commit parents %v, want the previous notes commit %s", c.ParentHashes, before)
	}

	// The same run again changes the note's content only by its own line.
	res = runAction(t, baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head)))
	if got := ghnotestest.Lines(gh.notes()[r.head]); res.code != ExitOK || len(got) != 3 || got[0] != lines[0] || got[2] != lines[2] {
		t.Fatalf("exit %d, note after a rerun:\n%s", res.code, strings.Join(got, "\n"))
	}
}

// A notes tree with fanout directories ("ab/cdef...") keeps its layout.
func TestPullRequestNoteHonoursFanout(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("existing note %v", existing), func(t *testing.T) {
			model := fraudModel(t, 0)
			gh := newFakeGitHub(t)
			r := newPRRepo(t, model.URL, nil)
			other := strings.Repeat("cd", 20)
			seed := map[string]string{other[:2] + "/" + other[2:]: "x\n"}
			path := r.head[:2] + "/" + r.head[2:]
			if existing {
				seed[path] = reconcilerShadow(r.head) + "\n"
			}
			if _, err := gh.git.Commit(NotesRef, seed); err != nil {
				t.Fatal(err)
			}
			res := runAction(t, baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head)))
			if res.code != ExitOK {
				t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			notes := gh.notes()
			lines := ghnotestest.Lines(notes[path])
			want := 1
			if existing {
				want = 2
				if lines[0] != reconcilerShadow(r.head) {
					t.Errorf("the reconciler's verdict is gone: %v", lines)
				}
			}
			if len(notes) != 2 || len(lines) != want || notes[other[:2]+"/"+other[2:]] != "x\n" {
				t.Fatalf("notes %v: want %d lines at %s", notes, want, path)
			}
			verdictOf(t, lines[want-1], r.head)
		})
	}
}

// Someone else (the reconciler) moves the notes ref between the action's
// read and its update: the update is refused as not a fast-forward, and
// the action starts over from their notes, keeping their verdict.
func TestPullRequestNoteRace(t *testing.T) {
	for _, exists := range []bool{true, false} {
		t.Run(fmt.Sprintf("ref exists %v", exists), func(t *testing.T) {
			model := fraudModel(t, 0)
			gh := newFakeGitHub(t)
			r := newPRRepo(t, model.URL, nil)
			if exists {
				if _, err := gh.git.Commit(NotesRef, map[string]string{r.base: "base note\n"}); err != nil {
					t.Fatal(err)
				}
			}
			gh.git.BeforeRefWrite = func() {
				if _, err := gh.git.Commit(NotesRef, map[string]string{r.head: reconcilerShadow(r.head) + "\n"}); err != nil {
					t.Error(err)
				}
			}
			res := runAction(t, baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head)))
			if res.code != ExitOK {
				t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			lines := ghnotestest.Lines(gh.notes()[r.head])
			if len(lines) != 2 || lines[0] != reconcilerShadow(r.head) {
				t.Fatalf("note:\n%s", strings.Join(lines, "\n"))
			}
			verdictOf(t, lines[1], r.head)
			var refWrites []string
			for _, req := range gh.requests() {
				if strings.HasSuffix(req, "/git/refs") || strings.HasSuffix(req, "/git/refs/notes/switchyard") {
					refWrites = append(refWrites, req)
				}
			}
			first := "PATCH /repos/octo-org/models/git/refs/notes/switchyard"
			if !exists {
				first = "POST /repos/octo-org/models/git/refs"
			}
			if strings.Join(refWrites, "\n") != first+"\nPATCH /repos/octo-org/models/git/refs/notes/switchyard" {
				t.Fatalf("ref writes:\n%s", strings.Join(refWrites, "\n"))
			}
		})
	}
}

// A token that may not write contents (a pull request from a fork) gets a
// warning in the log and the summary, and the job goes on; another error
// writing the note fails the job.
func TestPullRequestNoteNotPermitted(t *testing.T) {
	for _, status := range []int{403, 404, 500} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			model := fraudModel(t, 0)
			gh := newFakeGitHub(t)
			gh.git.WriteStatus = status
			r := newPRRepo(t, model.URL, nil)
			res := runAction(t, baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head)))
			if gh.gitWrites() != 0 || len(gh.notes()) != 0 {
				t.Fatalf("notes written: %v", gh.notes())
			}
			if status == 500 {
				if res.code != ExitEnvironment || !strings.Contains(res.stderr, "recording the offline validation verdict on "+commitid.Short(r.head)) {
					t.Fatalf("exit %d\n%s", res.code, res.stderr)
				}
				return
			}
			if res.code != ExitOK {
				t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			warn := "The offline validation verdict of " + commitid.Short(r.head) + " was not recorded under refs/notes/switchyard: the token may not write to the repository"
			if !strings.Contains(res.stdout, "::warning title=switchyard::"+warn) || !strings.Contains(res.stdout, "grant `contents: write`") {
				t.Errorf("stdout:\n%s", res.stdout)
			}
			if !strings.Contains(res.summary, "> ⚠️ "+warn) || !strings.Contains(res.summary, "Switchyard: this change may merge") {
				t.Errorf("summary:\n%s", res.summary)
			}
			if len(gh.planComments()) != 1 || len(gh.checkReqs) != 1 {
				t.Errorf("the report is not posted")
			}
		})
	}
}

// record-verdicts: false writes no note; nor does a change without
// validations.
func TestPullRequestRecordVerdictsOff(t *testing.T) {
	model := fraudModel(t, 0)
	gh := newFakeGitHub(t)
	r := newPRRepo(t, model.URL, nil)
	cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", r.base, r.head))
	cfg.RecordVerdicts = false
	if res := runAction(t, cfg); res.code != ExitOK || strings.Contains(res.summary, "📝") {
		t.Fatalf("exit %d\n%s", res.code, res.summary)
	}
	cfg.RecordVerdicts, cfg.OfflineValidation = true, false
	if res := runAction(t, cfg); res.code != ExitOK {
		t.Fatalf("exit %d\n%s", res.code, res.summary)
	}
	for _, req := range gh.requests() {
		if strings.Contains(req, "/git/") {
			t.Fatalf("Git Data request %s", req)
		}
	}
}

func TestMergeVerdicts(t *testing.T) {
	v8 := verdictLine{key: "fraud/production/v8", line: []byte(`{"kind":"validation","model":"fraud","stage":"production","payload":{"version":"v8","n":2}}`)}
	v9 := verdictLine{key: "fraud/production/v9", line: []byte(`{"kind":"validation","model":"fraud","stage":"production","payload":{"version":"v9"}}`)}
	old := "not json at all\n" +
		`{"kind":"validation","model":"fraud/production","version":"v8","n":1}` + "\n\n" +
		`{"kind":"shadow","model":"fraud","stage":"production","payload":{"version":"v8"}}` + "\n" +
		`{"kind":"validation","model":"fraud","stage":"production","payload":{"version":"v8","n":0}}` + "\n" +
		`{"kind":"validation","model":"fraud","stage":"staging","payload":{"version":"v8"}}`
	got := string(mergeVerdicts([]byte(old), []verdictLine{v8, v9}))
	want := "not json at all\n" + string(v8.line) + "\n" +
		`{"kind":"shadow","model":"fraud","stage":"production","payload":{"version":"v8"}}` + "\n" +
		`{"kind":"validation","model":"fraud","stage":"staging","payload":{"version":"v8"}}` + "\n" +
		string(v9.line) + "\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := string(mergeVerdicts(nil, []verdictLine{v8})); got != string(v8.line)+"\n" {
		t.Fatalf("new note %q", got)
	}
}
