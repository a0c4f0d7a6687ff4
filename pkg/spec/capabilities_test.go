package spec

import (
	"strings"
	"testing"
)

// A model is refused for exactly the capabilities its router type lacks in
// RouterCapabilities, with the capability in words.
func TestCapabilityErrorsFollowTheTable(t *testing.T) {
	for _, typ := range []string{"builtin", "nginx", "haproxy"} {
		have, ok := RouterCapabilities(typ)
		if !ok {
			t.Fatalf("no row for %s", typ)
		}
		for _, f := range (Capabilities{}).fields() {
			need := Capabilities{}
			switch f.name {
			case "shadow_compare":
				need.ShadowCompare = true
			case "bandit":
				need.Bandit = true
			case "feedback":
				need.Feedback = true
			case "sticky":
				need.Sticky = true
			case "preview":
				need.Preview = true
			default:
				continue
			}
			l := &loader{tree: &Tree{}}
			m := &Model{Name: "fraud", Stage: "production"}
			l.capability(m, &Router{Name: "edge", Type: typ}, need, "shadow", "")
			refused := len(l.diags) > 0
			if refused == have.fields()[indexOf(f.name)].set {
				t.Errorf("%s, %s: refused %v with the table saying %v", typ, f.name, refused, have.fields()[indexOf(f.name)].set)
			}
			if refused && !strings.Contains(l.diags[0].Summary, f.does) {
				t.Errorf("%s, %s: summary %q does not say %q", typ, f.name, l.diags[0].Summary, f.does)
			}
		}
	}
}

func indexOf(name string) int {
	for i, f := range (Capabilities{}).fields() {
		if f.name == name {
			return i
		}
	}
	return -1
}
