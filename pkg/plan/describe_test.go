package plan

import (
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// An output_drift check without max shows the defaults it is judged by.
func TestDescribeDriftDefault(t *testing.T) {
	got := describeCheck(&spec.Check{Name: "drift", Metric: "output_drift", Output: "/label", Source: "router", MinRequests: 20})
	if !strings.Contains(got, "drift: output_drift of `/label` ≤ 0.1 for numbers, 0.03 for classes (the default;") {
		t.Errorf("describeCheck = %q", got)
	}
}

// A blue/green plan says how much live traffic its preview mirrors.
func TestDescribeBlueGreenMirror(t *testing.T) {
	r := &spec.Rollout{Strategy: "blue_green", Bake: 60e9, Interval: 10e9, PreviewHeader: "x-switchyard-preview", KeepPrevious: 600e9}
	if got := describeRollout(r, true); strings.Contains(got, "mirrored") {
		t.Errorf("without preview_mirror: %q", got)
	}
	r.PreviewMirror = 25
	if got := describeRollout(r, true); !strings.HasPrefix(got, "blue_green: preview (header x-switchyard-preview, 25% of live requests mirrored) for 1m,") {
		t.Errorf("with preview_mirror = 25: %q", got)
	}
	r.PreviewHeader = ""
	if got := describeRollout(r, true); !strings.HasPrefix(got, "blue_green: preview (25% of live requests mirrored) for 1m,") {
		t.Errorf("with preview_header = \"\" and preview_mirror = 25: %q", got)
	}
	r.PreviewMirror = 0
	if got := describeRollout(r, true); !strings.HasPrefix(got, "blue_green: no preview, 100% at once and 1m bake,") {
		t.Errorf("with preview_header = \"\" and no mirror: %q", got)
	}
}
