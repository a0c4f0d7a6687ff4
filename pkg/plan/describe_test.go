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
