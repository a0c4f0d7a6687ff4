package action

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/switchyard-dev/switchyard/pkg/notes"
)

// shadowOf is the shadow evidence in the notes of head's history.
func shadowOf(t *testing.T, r *testRepo, head string) map[string]map[string]any {
	t.Helper()
	noted, err := historyNotes(context.Background(), r.repo, plumbing.NewHash(head))
	if err != nil {
		t.Fatal(err)
	}
	var ev notes.Evidence
	ev.AddNoted(noted)
	return ev.Of(notes.EvidenceShadow)
}

func TestHistoryNotesEvidence(t *testing.T) {
	r := newTestRepo(t)
	old := r.commit("old", map[string]*string{"a": ptr("1")})
	mid := r.commit("mid", map[string]*string{"a": ptr("2")})
	recent := r.commit("recent", map[string]*string{"a": ptr("3")})
	r.addNotes(map[string]string{
		// The newest verdict on v8 wins, whichever note holds it.
		old:                           `{"kind":"shadow","model":"fraud","stage":"production","payload":{"version":"v8","passed":true,"agreement":0.99,"samples":900}}`,
		recent[:2] + "/" + recent[2:]: `{"kind":"shadow","model":"fraud","stage":"production","payload":{"version":"v8","passed":false,"agreement":0.91,"samples":1500}}`,
		// Flat verdicts with their own time, several per note.
		mid: `{"kind":"shadow","model":"fraud/staging","version":"v9","passed":true,"agreement":0.97,"samples":10,"at":"2026-11-20T10:00:00Z"}
{"kind":"shadow","model":"fraud/staging","version":"v9","passed":true,"agreement":0.98,"samples":20,"at":"2026-11-21T10:00:00Z"}
not json
{"kind":"experiment","model":"fraud","stage":"production","payload":{"winner":"v8"}}`,
	})
	b, _ := json.Marshal(shadowOf(t, r, recent))
	want := `{"fraud/production/v8":{"agreement":0.91,"commit":"` + recent + `","passed":false,"samples":1500},` +
		`"fraud/staging/v9":{"agreement":0.98,"at":"2026-11-21T10:00:00Z","commit":"` + mid + `","passed":true,"samples":20}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}

	// A verdict on a commit after the head is not in its history.
	b, _ = json.Marshal(shadowOf(t, r, mid))
	want = `{"fraud/production/v8":{"agreement":0.99,"commit":"` + old + `","passed":true,"samples":900},` +
		`"fraud/staging/v9":{"agreement":0.98,"at":"2026-11-21T10:00:00Z","commit":"` + mid + `","passed":true,"samples":20}}`
	if string(b) != want {
		t.Fatalf("history of mid: got  %s\nwant %s", b, want)
	}

	// No notes ref: no evidence, no error.
	empty := newTestRepo(t)
	if got := shadowOf(t, empty, empty.commit("first", map[string]*string{"a": ptr("1")})); len(got) != 0 {
		t.Fatalf("without notes: %v", got)
	}
}
