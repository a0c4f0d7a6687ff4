package spec

import (
	"testing"
	"testing/fstest"
)

func TestTLSSettingsDecodeAndReachThePolicyInput(t *testing.T) {
	fsys := fstest.MapFS{"rollouts/r.hcl": {Data: []byte(`
router "edge" {
  type     = "builtin"
  listen   = "127.0.0.1:8443"
  tls_cert = "/tls/cert.pem"
  tls_key  = "/tls/key.pem"
}
router "remote" {
  type    = "builtin"
  admin   = "https://127.0.0.1:9901"
  ca_file = "/tls/admin-ca.pem"
}
model "m" "production" {
  router = "edge"
  path   = "/m"
  serve  = "v1"
  version "v1" {
    url     = "https://127.0.0.1:9102"
    ca_file = "/tls/models-ca.pem"
  }
}
`)}}
	tree, diags := Load(fsys, "rollouts")
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	edge, remote := tree.Routers["edge"], tree.Routers["remote"]
	if edge.TLSCert != "/tls/cert.pem" || edge.TLSKey != "/tls/key.pem" || remote.CAFile != "/tls/admin-ca.pem" {
		t.Fatalf("routers %+v %+v", edge, remote)
	}
	m := tree.Models[0]
	if m.Versions["v1"].CAFile != "/tls/models-ca.pem" {
		t.Fatalf("model %+v", m)
	}
	pr := tree.PolicyRouters()
	e := pr["edge"].(map[string]any)
	if e["tls_cert"] != "/tls/cert.pem" || e["tls_key"] != "/tls/key.pem" || pr["remote"].(map[string]any)["ca_file"] != "/tls/admin-ca.pem" {
		t.Fatalf("policy routers %v", pr)
	}
	v := m.PolicyJSON()["versions"].(map[string]any)["v1"].(map[string]any)
	if v["ca_file"] != "/tls/models-ca.pem" {
		t.Fatalf("policy version %v", v)
	}
}
