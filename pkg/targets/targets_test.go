package targets

import (
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// TestSpecAgreesWithCapabilities keeps the spec validator's view of each
// router type in step with what the adapters here implement.
func TestSpecAgreesWithCapabilities(t *testing.T) {
	for _, typ := range []string{"builtin", "nginx", "haproxy"} {
		caps, ok := CapabilitiesOf(typ)
		if !ok {
			t.Fatalf("no capabilities for %s", typ)
		}
		for _, c := range []struct {
			spec string
			have bool
		}{
			{"compare shadow responses", caps.ShadowCompare},
			{"run a bandit", caps.Bandit},
			{"route preview requests by header", caps.Preview},
			{"make sticky assignments", caps.Sticky},
		} {
			if got := spec.Supports(typ, c.spec); got != c.have {
				t.Errorf("%s: spec says %q is %v, the adapter says %v", typ, c.spec, got, c.have)
			}
		}
	}
}
