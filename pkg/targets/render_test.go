package targets

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

var fraudBackends = map[string]string{
	"v6":    "http://127.0.0.1:9101",
	"v7":    "http://127.0.0.1:9102",
	"v8":    "http://127.0.0.1:9103",
	"rules": "http://127.0.0.1:9190",
}

// renderCases are the tables whose rendered configs are kept as goldens.
// nginxOnly cases need a capability HAProxy lacks.
func renderCases() []struct {
	name      string
	nginxOnly bool
	table     traffic.Table
} {
	single := route(fraudBackends, w("v6", 0), w("v7", 100))
	canary := route(fraudBackends, w("v6", 75), w("v7", 25))
	canary.Sticky = "header:X-User-Id"
	cookie := route(fraudBackends, w("v7", 90.5), w("v8", 9.5))
	cookie.Sticky = "cookie:uid"
	preview := route(fraudBackends, w("v6", 100), w("v7", 0))
	preview.Preview = &traffic.Preview{Header: "x-switchyard-preview", Version: "v7"}
	shadowAll := route(fraudBackends, w("v7", 100))
	shadowAll.Shadow = &traffic.Shadow{Version: "v8", Percent: 100, Compare: "json", Tolerance: 0.001}
	shadowPart := route(fraudBackends, w("v7", 100))
	shadowPart.Shadow = &traffic.Shadow{Version: "v8", Percent: 12.5, Compare: "exact"}
	fallback := route(fraudBackends, w("v7", 95), w("v8", 5))
	fallback.Fallback = "rules"
	other := traffic.Route{Model: "fraud", Stage: "staging", Path: "/v1/fraud/staging/",
		Backends: map[string]string{"v8": "http://127.0.0.1:9203/models/fraud/"}, Weights: []traffic.Weight{w("v8", 100)}}
	scores := traffic.Route{Model: "credit.score", Stage: "production", Path: "/credit",
		Backends: map[string]string{"a": "http://localhost:9301", "b": "http://[::1]:9302"},
		Weights:  []traffic.Weight{w("a", 50), w("b", 50)}}
	return []struct {
		name      string
		nginxOnly bool
		table     traffic.Table
	}{
		{"single", false, traffic.Table{Routes: []traffic.Route{single}}},
		{"canary_sticky_header", false, traffic.Table{Routes: []traffic.Route{canary}}},
		{"sticky_cookie", false, traffic.Table{Routes: []traffic.Route{cookie}}},
		{"preview", false, traffic.Table{Routes: []traffic.Route{preview}}},
		{"multi_route", false, traffic.Table{Routes: []traffic.Route{scores, other, canary}}},
		{"shadow_all", true, traffic.Table{Routes: []traffic.Route{shadowAll}}},
		{"shadow_partial", true, traffic.Table{Routes: []traffic.Route{shadowPart}}},
		{"fallback", true, traffic.Table{Routes: []traffic.Route{fallback}}},
		{"empty", false, traffic.Table{}},
	}
}

func TestNginxRenderGolden(t *testing.T) {
	n, err := NewNginx(&spec.Router{Name: "web", Type: "nginx", ConfigFile: "/unused", Listen: "127.0.0.1:8080"}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			got, err := n.Render(c.table)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("nginx", c.name+".conf"), got)
		})
	}
}

func TestHAProxyRenderGolden(t *testing.T) {
	h, err := NewHAProxy(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: "/unused", Listen: "127.0.0.1:8081", RuntimeAPI: "/unused.sock"}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range renderCases() {
		if c.nginxOnly {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			got, err := h.Render(c.table)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("haproxy", c.name+".cfg"), got)
		})
	}
}

// TestGoldensPassRouterChecks runs `nginx -t` and `haproxy -c` on every
// golden, so the goldens are known to be configs the routers accept.
func TestGoldensPassRouterChecks(t *testing.T) {
	t.Run("nginx", func(t *testing.T) {
		bin := needBinary(t, "/usr/sbin/nginx")
		for _, c := range renderCases() {
			dir := t.TempDir()
			abs, err := filepath.Abs(filepath.Join("testdata", "nginx", c.name+".conf"))
			if err != nil {
				t.Fatal(err)
			}
			conf := writeNginxMain(t, dir, abs)
			out, err := ExecRunner{}.Run(context.Background(), bin, "-p", dir, "-c", conf, "-t")
			if err != nil {
				t.Errorf("%s: nginx -t: %v\n%s", c.name, err, out)
			}
		}
	})
	t.Run("haproxy", func(t *testing.T) {
		bin := needBinary(t, "/usr/sbin/haproxy")
		for _, c := range renderCases() {
			if c.nginxOnly {
				continue
			}
			dir := t.TempDir()
			main := writeHAProxyMain(t, dir)
			out, err := ExecRunner{}.Run(context.Background(), bin, "-f", main, "-f", filepath.Join("testdata", "haproxy", c.name+".cfg"), "-c")
			if err != nil {
				t.Errorf("%s: haproxy -c: %v\n%s", c.name, err, out)
			}
		}
	})
}
