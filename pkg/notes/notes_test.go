package notes_test

import (
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/notes"
)

func TestMerge(t *testing.T) {
	key := func(l []byte) string {
		if kind, k := notes.KeyOf(l); kind == notes.EvidenceValidation {
			return k
		}
		return ""
	}
	v8 := []byte(`{"kind":"validation","model":"fraud","stage":"production","payload":{"version":"v8","n":2}}`)
	old := "not json\n" +
		`{"kind":"validation","model":"fraud/production","version":"v8","n":1}` + "\n\n" +
		`{"kind":"shadow","model":"fraud","stage":"production","payload":{"version":"v8"}}` + "\n" +
		`{"kind":"validation","model":"fraud","stage":"production","payload":{"version":"v8","n":0}}` + "\n"
	got := string(notes.Merge([]byte(old), [][]byte{v8}, key))
	want := "not json\n" + string(v8) + "\n" + `{"kind":"shadow","model":"fraud","stage":"production","payload":{"version":"v8"}}` + "\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	// Same adds a line once.
	line := []byte(`{"n":1}`)
	once := notes.Merge(notes.Merge(nil, [][]byte{line}, notes.Same), [][]byte{line}, notes.Same)
	if string(once) != `{"n":1}`+"\n" {
		t.Fatalf("added twice: %q", once)
	}
}

func TestPathsAndKeyOf(t *testing.T) {
	sha := "abcdef0123456789abcdef0123456789abcdef01"
	if p := notes.Paths(sha); len(p) != 3 || p[1] != "ab/cdef0123456789abcdef0123456789abcdef01" || p[2] != "ab/cd/ef0123456789abcdef0123456789abcdef01" {
		t.Fatalf("paths %q", p)
	}
	kind, key := notes.KeyOf([]byte(`{"kind":"shadow","model":"fraud","stage":"staging","payload":{"version":"v9"}}`))
	if kind != notes.EvidenceShadow || key != "fraud/staging/v9" {
		t.Fatalf("KeyOf: %q %q", kind, key)
	}
	if kind, key := notes.KeyOf([]byte(`{"kind":"rollout","model":"fraud","stage":"staging"}`)); kind != "" || key != "" {
		t.Fatalf("a rollout verdict is no evidence: %q %q", kind, key)
	}
}
