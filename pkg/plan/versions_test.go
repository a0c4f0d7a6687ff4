package plan_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/plan"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// versionsTree is a tree whose fraud/production model serves serve, with
// versions (name -> url) and an optional shadow version.
func versionsTree(t *testing.T, serve, shadow string, versions ...string) *spec.Tree {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "router \"edge\" {\n  type   = \"builtin\"\n  listen = \"127.0.0.1:18080\"\n}\n\n")
	fmt.Fprintf(&b, "model \"fraud\" \"production\" {\n  router = \"edge\"\n  path   = \"/v1/fraud\"\n  serve  = %q\n", serve)
	for i := 0; i+1 < len(versions); i += 2 {
		fmt.Fprintf(&b, "  version %q { url = %q }\n", versions[i], versions[i+1])
	}
	if shadow != "" {
		fmt.Fprintf(&b, "  shadow {\n    version = %q\n  }\n", shadow)
	}
	b.WriteString("}\n")
	tree, diags := spec.Load(fstest.MapFS{"rollouts/fraud.hcl": {Data: []byte(b.String())}}, "rollouts")
	if diag.HasErrors(diags) {
		t.Fatalf("tree does not load: %+v\n%s", diags, b.String())
	}
	return tree
}

func TestChangedVersions(t *testing.T) {
	base := versionsTree(t, "v1", "", "v1", "http://127.0.0.1:1", "v2", "http://127.0.0.1:2", "v3", "http://127.0.0.1:3")
	cases := []struct {
		name string
		head *spec.Tree
		want string
	}{
		{"nothing changed", base, ""},
		{"serve changed", versionsTree(t, "v2", "", "v1", "http://127.0.0.1:1", "v2", "http://127.0.0.1:2", "v3", "http://127.0.0.1:3"), "v2"},
		{"a version redefined and one added", versionsTree(t, "v1", "", "v1", "http://127.0.0.1:1", "v2", "http://127.0.0.1:9", "v3", "http://127.0.0.1:3", "v4", "http://127.0.0.1:4"), "v2 v4"},
		{"a shadow added", versionsTree(t, "v1", "v3", "v1", "http://127.0.0.1:1", "v2", "http://127.0.0.1:2", "v3", "http://127.0.0.1:3"), "v3"},
		{"a version removed", versionsTree(t, "v1", "", "v1", "http://127.0.0.1:1", "v2", "http://127.0.0.1:2"), ""},
	}
	for _, c := range cases {
		var got []string
		for _, ch := range plan.Diff(base, c.head) {
			got = append(got, plan.ChangedVersions(ch, base, c.head)...)
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s: changed versions %q, want %q", c.name, g, c.want)
		}
	}
	// Without a base every version is new; a removed model has none.
	var all []string
	for _, ch := range plan.Diff(nil, base) {
		all = append(all, plan.ChangedVersions(ch, nil, base)...)
	}
	if g := strings.Join(all, " "); g != "v1 v2 v3" {
		t.Errorf("no base: %q", g)
	}
	for _, ch := range plan.Diff(base, nil) {
		if vs := plan.ChangedVersions(ch, base, nil); len(vs) != 0 {
			t.Errorf("a removed model: %v", vs)
		}
	}
}
