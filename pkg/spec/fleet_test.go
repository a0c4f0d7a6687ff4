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
  runtime_api = ["/run/a.sock"]
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
	if lb.RuntimeAPI != "/run/a.sock" || !reflect.DeepEqual(lb.RuntimeAPIs, []string{"/run/a.sock"}) {
		t.Errorf("lb: runtime_api %q runtime_apis %v", lb.RuntimeAPI, lb.RuntimeAPIs)
	}
	routers := tree.PolicyRouters()
	if got := routers["fleet"].(map[string]any)["admins"]; !reflect.DeepEqual(got, want) {
		t.Errorf("policy input admins = %v, want %v", got, want)
	}
}
