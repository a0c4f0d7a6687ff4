package targets_test

import (
	"fmt"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/targets"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// The capability matrix of the router types.
func ExampleCapabilitiesOf() {
	for _, typ := range []string{"builtin", "nginx", "haproxy"} {
		caps, _ := targets.CapabilitiesOf(typ)
		fmt.Printf("%-8s %s\n", typ, strings.Join(caps.Names(), " "))
	}
	// Output:
	// builtin  weights sticky preview shadow shadow_compare bandit feedback fallback stats outputs
	// nginx    weights sticky preview shadow fallback
	// haproxy  weights sticky preview
}

// What a route asks of its router, and what HAProxy lacks of it.
func ExampleNeeds() {
	r := traffic.Route{
		Model: "fraud", Stage: "production", Path: "/v1/fraud",
		Backends: map[string]string{"v7": "http://127.0.0.1:9102", "v8": "http://127.0.0.1:9103"},
		Weights:  []traffic.Weight{{Version: "v7", Percent: 95}, {Version: "v8", Percent: 5}},
		Sticky:   "header:x-user-id",
		Shadow:   &traffic.Shadow{Version: "v8", Percent: 100, Compare: "json"},
	}
	haproxy, _ := targets.CapabilitiesOf("haproxy")
	fmt.Println("needs:", targets.Needs(r).Names())
	fmt.Println("haproxy lacks:", haproxy.Missing(targets.Needs(r)))
	// Output:
	// needs: [weights sticky shadow]
	// haproxy lacks: [shadow]
}
