package wiring

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// TestTwoBuiltinRoutersShareTheMetricsRegistry checks that every in-process
// router's series reach the reconciler's registry, told apart by name.
func TestTwoBuiltinRoutersShareTheMetricsRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	rs := &Routers{Registerer: reg}
	defer rs.Close()
	for _, name := range []string{"edge", "internal"} {
		if _, err := rs.Target(context.Background(), &spec.Router{Name: name, Type: "builtin", Listen: "127.0.0.1:0"}); err != nil {
			t.Fatalf("router %s: %v", name, err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "router" {
					seen[l.GetValue()] = true
				}
			}
		}
	}
	if !seen["edge"] || !seen["internal"] {
		t.Fatalf("series by router: %v, want both edge and internal", seen)
	}
}
