package notes_test

import (
	"encoding/json"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/notes"
)

func evidenceJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEvidenceFromNotes(t *testing.T) {
	var ev notes.Evidence
	// The reconciler's format: JSON Lines, fields under "payload".
	ev.AddNote("aaaa", "2026-11-20T10:00:00Z",
		[]byte(`{"kind":"validation","model":"fraud","stage":"production","payload":{"version":"v8","passed":false,"metric":"accuracy","value":0.71}}
{"kind":"shadow","model":"fraud","stage":"production","payload":{"version":"v8","passed":true,"agreement":0.99,"samples":900}}
{"kind":"rollout","model":"fraud","stage":"production","payload":{"version":"v8","outcome":"succeeded"}}
not json`))
	// Flat verdicts, "model": "name/stage", an outcome instead of passed,
	// in an array.
	ev.AddNote("bbbb", "2026-11-19T10:00:00Z",
		[]byte(`[{"kind":"offline_validation","model":"fraud/staging","version":"v9","outcome":"passed"},
		         {"kind":"validation","model":"fraud","version":"v9","passed":true}]`))
	got := evidenceJSON(t, ev.Input(nil))
	want := `{"fraud/production/v8":{` +
		`"shadow":{"agreement":0.99,"commit":"aaaa","passed":true,"samples":900},` +
		`"validation":{"commit":"aaaa","metric":"accuracy","passed":false,"value":0.71}},` +
		`"fraud/staging/v9":{"validation":{"commit":"bbbb","outcome":"passed","passed":true}}}`
	if got != want {
		t.Fatalf("evidence\n got %s\nwant %s", got, want)
	}
	if got := evidenceJSON(t, ev.Of(notes.EvidenceShadow)); got != `{"fraud/production/v8":{"agreement":0.99,"commit":"aaaa","passed":true,"samples":900}}` {
		t.Fatalf("shadow evidence: %s", got)
	}
}

func TestEvidenceLatestVerdictWins(t *testing.T) {
	failed := []byte(`{"kind":"validation","model":"fraud","stage":"production","payload":{"version":"v8","passed":false}}`)
	passed := []byte(`{"kind":"validation","model":"fraud","stage":"production","payload":{"version":"v8","passed":true}}`)
	passedFor := func(ev *notes.Evidence) any {
		return ev.Of(notes.EvidenceValidation)["fraud/production/v8"]["passed"]
	}

	// By the time of the commit the note judges, whatever the order read.
	var ev notes.Evidence
	ev.AddNote("new", "2026-11-21T10:00:00Z", passed)
	ev.AddNote("old", "2026-11-20T10:00:00Z", failed)
	if p := passedFor(&ev); p != true {
		t.Fatalf("an older failure replaced a newer pass: passed = %v", p)
	}

	// A verdict's own time comes before its commit's.
	ev = notes.Evidence{}
	ev.AddNote("c1", "2026-11-21T10:00:00Z", []byte(`{"kind":"validation","model":"fraud","stage":"production","version":"v8","passed":true,"at":"2026-11-19T10:00:00Z"}`))
	ev.AddNote("c2", "2026-11-20T10:00:00Z", failed)
	if p := passedFor(&ev); p != false {
		t.Fatalf("the verdict's own time was not used: passed = %v", p)
	}

	// Times in other zones compare as times.
	ev = notes.Evidence{}
	ev.AddNote("c1", "2026-11-20T12:00:00+02:00", failed) // 10:00 UTC
	ev.AddNote("c2", "2026-11-20T11:00:00Z", passed)
	ev.AddNote("c3", "2026-11-20T09:30:00Z", failed)
	if p := passedFor(&ev); p != true {
		t.Fatalf("zones compared as strings: passed = %v", p)
	}

	// At the same time, the later line of a note wins.
	ev = notes.Evidence{}
	ev.AddNote("c1", "2026-11-20T10:00:00Z", append(append(append([]byte{}, failed...), '\n'), passed...))
	if p := passedFor(&ev); p != true {
		t.Fatalf("the later line did not win: passed = %v", p)
	}
}

func TestEvidenceKeep(t *testing.T) {
	var ev notes.Evidence
	ev.AddNote("c1", "", []byte(`{"kind":"validation","model":"fraud","stage":"production","version":"v8","passed":false}
{"kind":"validation","model":"churn","stage":"production","version":"v8","passed":false}
{"kind":"validation","model":"fraud","stage":"production","passed":false}`))
	got := evidenceJSON(t, ev.Input(func(key string) bool { return key == "fraud/production/v8" }))
	if got != `{"fraud/production/v8":{"validation":{"commit":"c1","passed":false}}}` {
		t.Fatalf("kept %s", got)
	}
	var none notes.Evidence
	if got := evidenceJSON(t, none.Input(nil)); got != `{}` {
		t.Fatalf("no notes: %s", got)
	}
}
