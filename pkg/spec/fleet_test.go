package spec

import (
	"reflect"
	"testing"
	"testing/fstest"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

func TestRouterAdminStringOrList(t *testing.T) {
	fsys := fstest.MapFS{"rollouts/r.hcl": {Data: []byte(`
router "one" {
  type  = "builtin"
  admin = "http://127.0.0.1:9901"
}
router "fleet" {
  type  = "builtin"
  admin = ["http://127.0.0.1:9911", "http://127.0.0.1:9912", "http://127.0.0.1:9913"]
}
router "lb" {
  type        = "haproxy"
  config_file = "/etc/haproxy/switchyard.cfg"
  runtime_api = ["/run/a.sock", "unix@/run/b.sock", "127.0.0.1:9999"]
}
model "m" "production" {
  router = "fleet"
  path   = "/m"
  serve  = "v1"
  version "v1" { url = "http://127.0.0.1:9102" }
}
`)}}
	tree, diags := Load(fsys, "rollouts")
	if diag.HasErrors(diags) {
		t.Fatalf("diagnostics: %v", diags)
	}
	one, fleet, lb := tree.Routers["one"], tree.Routers["fleet"], tree.Routers["lb"]
	if one.Admin != "http://127.0.0.1:9901" || !reflect.DeepEqual(one.Admins, []string{"http://127.0.0.1:9901"}) {
		t.Errorf("one: admin %q admins %v", one.Admin, one.Admins)
	}
	want := []string{"http://127.0.0.1:9911", "http://127.0.0.1:9912", "http://127.0.0.1:9913"}
	if fleet.Admin != want[0] || !reflect.DeepEqual(fleet.Admins, want) {
		t.Errorf("fleet: admin %q admins %v, want %v", fleet.Admin, fleet.Admins, want)
	}
	if lb.RuntimeAPI != "/run/a.sock" || !reflect.DeepEqual(lb.RuntimeAPIs, []string{"/run/a.sock", "unix@/run/b.sock", "127.0.0.1:9999"}) {
		t.Errorf("lb: runtime_api %q runtime_apis %v", lb.RuntimeAPI, lb.RuntimeAPIs)
	}
	routers := tree.PolicyRouters()
	if got := routers["fleet"].(map[string]any)["admins"]; !reflect.DeepEqual(got, want) {
		t.Errorf("policy input admins = %v, want %v", got, want)
	}
}

func TestRuntimeAPIAddr(t *testing.T) {
	for _, c := range []struct {
		in, network, addr string
		local             bool
		bad               bool
	}{
		{in: "/run/haproxy/admin.sock", network: "unix", addr: "/run/haproxy/admin.sock", local: true},
		{in: "run/admin.sock", network: "unix", addr: "run/admin.sock", local: true},
		{in: "admin.sock", network: "unix", addr: "admin.sock", local: true},
		{in: "unix@/run/a.sock", network: "unix", addr: "/run/a.sock", local: true},
		{in: "abns@haproxy-admin", network: "unix", addr: "@haproxy-admin", local: true},
		{in: "127.0.0.1:9999", network: "tcp", addr: "127.0.0.1:9999", local: true},
		{in: "localhost:9999", network: "tcp", addr: "localhost:9999", local: true},
		{in: "ipv4@127.0.0.2:9999", network: "tcp", addr: "127.0.0.2:9999", local: true},
		{in: "ipv6@[::1]:9999", network: "tcp", addr: "[::1]:9999", local: true},
		{in: "10.0.0.8:9999", network: "tcp", addr: "10.0.0.8:9999"},
		{in: "lb-1.internal:9999", network: "tcp", addr: "lb-1.internal:9999"},
		{in: "/run/odd@name.sock", network: "unix", addr: "/run/odd@name.sock", local: true},
		{in: "", bad: true},
		{in: "fd@3", bad: true},
		{in: "sockpair@4", bad: true},
		{in: "unix@", bad: true},
		{in: "ipv4@127.0.0.1", bad: true},
		{in: "127.0.0.1:", bad: true},
	} {
		network, addr, local, err := RuntimeAPIAddr(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%q: accepted as %s %s", c.in, network, addr)
			}
			continue
		}
		if err != nil || network != c.network || addr != c.addr || local != c.local {
			t.Errorf("%q: %s %q local %v (%v), want %s %q local %v", c.in, network, addr, local, err, c.network, c.addr, c.local)
		}
	}
}
