package spec

import (
	"bytes"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/spec/spectest"
)

// The router's time-to-first-byte metrics are check metrics like its
// latencies; a misspelt one is still refused.
func TestTTFBMetricsAreRouterMetrics(t *testing.T) {
	for metric, ok := range map[string]bool{"ttfb_p50": true, "ttfb_p90": true, "ttfb_p99": true, "ttfb_p95": false} {
		files := spectest.Tree(1)
		src := string(files["rollouts/model-0000.hcl"])
		if !strings.Contains(src, `"latency_p99"`) {
			t.Fatalf("model-0000 has no latency_p99 check:\n%s", src)
		}
		files["rollouts/model-0000.hcl"] = []byte(strings.Replace(src, `"latency_p99"`, `"`+metric+`"`, 1))
		tree, diags := LoadFiles(files, "rollouts")
		if diag.HasErrors(diags) == ok {
			var b bytes.Buffer
			_ = diag.WriteText(&b, diags, tree.Sources)
			t.Errorf("metric %s: want valid %v, got:\n%s", metric, ok, b.String())
		}
	}
}
