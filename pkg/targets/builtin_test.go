package targets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// fakeRouter is an in-process builtin router.
type fakeRouter struct {
	got []traffic.Table
	err error
}

func (f *fakeRouter) Update(t traffic.Table) error {
	if f.err != nil {
		return f.err
	}
	f.got = append(f.got, t)
	return nil
}

func TestBuiltinInProcess(t *testing.T) {
	fr := &fakeRouter{}
	tg, err := New(&spec.Router{Name: "edge", Type: "builtin", Listen: "127.0.0.1:8080"}, Deps{Builtin: fr})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tg.(*Builtin); !ok {
		t.Fatalf("got %T, want *Builtin", tg)
	}
	r := route(fraudBackends, w("v6", 50), w("v7", 50))
	r.Bandit = &traffic.Bandit{Arms: []string{"v6", "v7"}, ExploreFloor: 0.05}
	table := traffic.Table{Routes: []traffic.Route{r}}
	if err := tg.Apply(context.Background(), table); err != nil {
		t.Fatal(err)
	}
	if len(fr.got) != 1 || fr.got[0].Routes[0].Bandit == nil {
		t.Errorf("router got %+v, want the table", fr.got)
	}
	fr.err = errors.New(`unknown version "v9"`)
	if err := tg.Apply(context.Background(), table); err == nil || !strings.Contains(err.Error(), `unknown version "v9"`) {
		t.Errorf("err = %v; want the router's error", err)
	}
}

func TestBuiltinRemote(t *testing.T) {
	type seen struct {
		method, path, auth, ctype string
		table                     traffic.Table
	}
	var last seen
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			// The fleet's check before its first table: this router holds
			// none.
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				rw.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(rw, `{"error":"missing or wrong bearer token"}`)
				return
			}
			fmt.Fprint(rw, `{"routes":[]}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		last = seen{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), ctype: r.Header.Get("Content-Type")}
		if err := json.Unmarshal(body, &last.table); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		switch {
		case last.auth != "Bearer s3cret":
			rw.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(rw, `{"error":"missing or wrong bearer token"}`)
		case last.table.Routes[0].Weights[0].Percent == 60:
			rw.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(rw, `{"error":"route fraud/production: weights sum to 60, not 100"}`)
		case last.table.Routes[0].Weights[0].Percent == 70:
			rw.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(rw, `upstream went away`)
		default:
			rw.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{"EDGE_TOKEN": "s3cret", "WRONG": "nope"}
	newTarget := func(admin, tokenEnv string) Target {
		t.Helper()
		tg, err := New(&spec.Router{Name: "edge", Type: "builtin", Admin: admin, TokenEnv: tokenEnv},
			Deps{Getenv: func(k string) string { return env[k] }, HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	table := func(p float64) traffic.Table {
		return traffic.Table{Routes: []traffic.Route{route(fraudBackends, w("v7", p), w("v8", 100-p))}}
	}
	ctx := context.Background()

	tg := newTarget(srv.URL+"/", "EDGE_TOKEN")
	if err := tg.Apply(ctx, table(90)); err != nil {
		t.Fatal(err)
	}
	if last.method != http.MethodPut || last.path != "/v1/routes" || last.auth != "Bearer s3cret" || last.ctype != "application/json" {
		t.Errorf("request was %s %s auth %q type %q; want PUT /v1/routes with the bearer token and JSON", last.method, last.path, last.auth, last.ctype)
	}
	if got := last.table.Routes[0].Weights; len(got) != 2 || got[0] != w("v7", 90) {
		t.Errorf("router got weights %v", got)
	}

	cases := []struct {
		name   string
		target Target
		table  traffic.Table
		want   []string
		unauth bool
	}{
		{"the router's JSON error", tg, table(60), []string{"400 Bad Request", "weights sum to 60, not 100"}, false},
		{"a non-JSON answer", tg, table(70), []string{"502 Bad Gateway", "upstream went away"}, false},
		{"a wrong token", newTarget(strings.TrimPrefix(srv.URL, "http://"), "WRONG"), table(90),
			[]string{"401 Unauthorized", "missing or wrong bearer token", "check the token in WRONG"}, true},
	}
	for _, c := range cases {
		err := c.target.Apply(ctx, c.table)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, want := range c.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v; want it to say %q", c.name, err, want)
			}
		}
		if got := errors.Is(err, ErrUnauthorized); got != c.unauth {
			t.Errorf("%s: errors.Is(err, ErrUnauthorized) = %v", c.name, got)
		}
	}

	srv.Close()
	if err := tg.Apply(ctx, table(90)); err == nil || !strings.Contains(err.Error(), `router "edge": PUT`) {
		t.Errorf("router down: err = %v; want a PUT error naming the router", err)
	}
}

func TestNewRejectsIncompleteBlocks(t *testing.T) {
	noEnv := Deps{Getenv: func(string) string { return "" }}
	cases := []struct {
		name   string
		router *spec.Router
		deps   Deps
		want   string
	}{
		{"unknown type", &spec.Router{Name: "x", Type: "envoy"}, Deps{}, `unknown type "envoy" (want one of builtin, haproxy, nginx)`},
		{"builtin without in-process router", &spec.Router{Name: "edge", Type: "builtin", Listen: ":8080"}, Deps{}, "needs the in-process router"},
		{"builtin token unset", &spec.Router{Name: "edge", Type: "builtin", Admin: "http://127.0.0.1:1", TokenEnv: "EDGE_TOKEN"}, noEnv, "EDGE_TOKEN (token_env) is empty or unset"},
		{"builtin bad admin", &spec.Router{Name: "edge", Type: "builtin", Admin: "ftp://127.0.0.1:1"}, Deps{}, "not an http(s) URL"},
		{"nginx without config_file", &spec.Router{Name: "web", Type: "nginx", Listen: "127.0.0.1:80"}, Deps{}, "config_file is required"},
		{"nginx bad listen", &spec.Router{Name: "web", Type: "nginx", ConfigFile: "/x", Listen: "80; include /etc/passwd"}, Deps{}, "listen"},
		{"haproxy without runtime_api", &spec.Router{Name: "lb", Type: "haproxy", ConfigFile: "/x", Listen: "127.0.0.1:80"}, Deps{}, "runtime_api is required"},
		{"no block", nil, Deps{}, "no router block"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.router, c.deps)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v; want %q", err, c.want)
			}
		})
	}
}

func TestCapabilityMatrix(t *testing.T) {
	reg := NewRegistry()
	want := map[string]string{
		"builtin": "weights sticky preview shadow shadow_compare bandit feedback fallback stats outputs",
		"nginx":   "weights sticky preview shadow fallback",
		"haproxy": "weights sticky preview",
	}
	for typ, names := range want {
		caps, ok := reg.Capabilities(typ)
		if !ok {
			t.Fatalf("%s not registered", typ)
		}
		if got := strings.Join(caps.Names(), " "); got != names {
			t.Errorf("%s: capabilities %q, want %q", typ, got, names)
		}
	}
	// A built target reports the same capabilities as its type.
	tg, err := reg.New(&spec.Router{Name: "web", Type: "nginx", ConfigFile: "/x", Listen: "127.0.0.1:80"}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if caps, _ := reg.Capabilities("nginx"); tg.Capabilities() != caps {
		t.Errorf("nginx target says %v, registry says %v", tg.Capabilities(), caps)
	}
}

func TestNeedsAndMissing(t *testing.T) {
	r := route(fraudBackends, w("v6", 100), w("v7", 0))
	if got := Needs(r).Names(); len(got) != 0 {
		t.Errorf("a single live version needs %v, want nothing", got)
	}
	r.Weights = []traffic.Weight{w("v6", 50), w("v7", 50)}
	r.Sticky = "cookie:uid"
	r.Shadow = &traffic.Shadow{Version: "v8", Percent: 10, Compare: "json"}
	r.Bandit = &traffic.Bandit{Arms: []string{"v6", "v7"}}
	if got := strings.Join(Needs(r).Names(), " "); got != "weights sticky shadow bandit" {
		t.Errorf("needs %q", got)
	}
	caps, _ := CapabilitiesOf("haproxy")
	if got := strings.Join(caps.Missing(Needs(r)), " "); got != "shadow bandit" {
		t.Errorf("haproxy misses %q, want shadow bandit", got)
	}
}

func TestTablesRefusedBeforeRendering(t *testing.T) {
	n, err := NewNginx(&spec.Router{Name: "web", Type: "nginx", ConfigFile: "/x", Listen: "127.0.0.1:80"}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	base := func() traffic.Route { return route(fraudBackends, w("v6", 50), w("v7", 50)) }
	mod := func(f func(*traffic.Route)) traffic.Table {
		r := base()
		f(&r)
		return traffic.Table{Routes: []traffic.Route{r}}
	}
	cases := []struct {
		name  string
		table traffic.Table
		want  string
	}{
		{"weights not 100", mod(func(r *traffic.Route) { r.Weights[0].Percent = 40 }), "weights sum to 90"},
		{"unknown weighted version", mod(func(r *traffic.Route) { r.Weights[0].Version = "v9" }), `"v9", which has no backend`},
		{"nothing live", mod(func(r *traffic.Route) { r.Weights = []traffic.Weight{w("v6", 0)} }), "no version has a weight above 0"},
		{"injected path", mod(func(r *traffic.Route) { r.Path = "/x { return 200; }" }), "must start with / and hold only"},
		{"relative path", mod(func(r *traffic.Route) { r.Path = "v1" }), "must start with /"},
		{"bad url", mod(func(r *traffic.Route) {
			r.Backends = map[string]string{"v6": "tcp://127.0.0.1:9", "v7": "http://127.0.0.1:9"}
		}), "want http(s)://host"},
		{"https", mod(func(r *traffic.Route) { r.Backends = map[string]string{"v6": "https://a:1", "v7": "https://a:2"} }), "https backends are not supported"},
		{"mixed base paths", mod(func(r *traffic.Route) { r.Backends = map[string]string{"v6": "http://a:1/x", "v7": "http://a:2/y"} }), "differ in scheme or base path"},
		{"unknown preview", mod(func(r *traffic.Route) { r.Preview = &traffic.Preview{Header: "x-p", Version: "v9"} }), `preview version "v9"`},
		{"bad preview header", mod(func(r *traffic.Route) { r.Preview = &traffic.Preview{Header: "x p", Version: "v7"} }), "not a header name"},
		{"bad sticky", mod(func(r *traffic.Route) { r.Sticky = "ip" }), "want header:NAME or cookie:NAME"},
		{"bad version name", mod(func(r *traffic.Route) { r.Backends["v 9"] = "http://a:1" }), `version "v 9"`},
		{"duplicate paths", traffic.Table{Routes: []traffic.Route{base(), func() traffic.Route { r := base(); r.Stage = "staging"; r.Path = "/v1/fraud/"; return r }()}}, "share the path"},
		{"colliding names", traffic.Table{Routes: []traffic.Route{base(), func() traffic.Route { r := base(); r.Model = "fraud"; r.Stage = "production"; r.Path = "/b"; return r }()}}, "same config name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := n.Render(c.table)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v; want %q", err, c.want)
			}
		})
	}
}

// The builtin router satisfies what the builtin target needs of it.
var _ BuiltinRouter = (*router.Router)(nil)

// TestBuiltinRemoteAgainstTheRouter drives a real builtin router through
// its admin API, as `reconciler router` serves it.
func TestBuiltinRemoteAgainstTheRouter(t *testing.T) {
	rt := router.New(router.Options{})
	t.Cleanup(func() { rt.Close() })
	admin := httptest.NewServer(router.NewAdminHandler(rt, "s3cret"))
	t.Cleanup(admin.Close)
	data := httptest.NewServer(rt)
	t.Cleanup(data.Close)
	tg, err := New(&spec.Router{Name: "edge", Type: "builtin", Admin: admin.URL, TokenEnv: "EDGE_TOKEN"},
		Deps{Getenv: func(string) string { return "s3cret" }})
	if err != nil {
		t.Fatal(err)
	}
	backends := map[string]string{"v7": versionBackend(t, "v7").URL}
	ctx := context.Background()
	if err := tg.Apply(ctx, traffic.Table{Routes: []traffic.Route{route(backends, w("v7", 100))}}); err != nil {
		t.Fatal(err)
	}
	c := newProxyClient(t, strings.TrimPrefix(data.URL, "http://"))
	if v, p := c.get("/v1/fraud/predict", nil); v != "v7" || p != "/predict" {
		t.Errorf("router answered %s %s, want v7 /predict", v, p)
	}
	err = tg.Apply(ctx, traffic.Table{Routes: []traffic.Route{route(backends, w("v9", 100))}})
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), "v9") {
		t.Errorf("err = %v; want the router's refusal naming v9", err)
	}
}

func TestUnusedIncompatibleVersionsLeftOut(t *testing.T) {
	n, err := NewNginx(&spec.Router{Name: "web", Type: "nginx", ConfigFile: "/x", Listen: "127.0.0.1:80"}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	r := route(map[string]string{
		"v6":   "http://127.0.0.1:9101",
		"v7":   "http://127.0.0.1:9102",
		"old":  "http://127.0.0.1:9100/legacy",
		"saas": "https://models.example.com",
	}, w("v6", 90), w("v7", 10))
	got, err := n.Render(traffic.Table{Routes: []traffic.Route{r}})
	if err != nil {
		t.Fatalf("versions without traffic and another base path refused the route: %v", err)
	}
	for _, absent := range []string{"legacy", "example.com"} {
		if strings.Contains(string(got), absent) {
			t.Errorf("config mentions %q, a version without traffic that the route cannot serve", absent)
		}
	}
	r.Preview = &traffic.Preview{Header: "x-preview", Version: "old"}
	if _, err := n.Render(traffic.Table{Routes: []traffic.Route{r}}); err == nil || !strings.Contains(err.Error(), "differ in scheme or base path") {
		t.Errorf("err = %v; want a refusal once the other base path gets traffic", err)
	}
}
