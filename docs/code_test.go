package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// capabilityRows names, by the start of its first cell, the row of the
// capability tables that stands for each of spec.Capabilities' names. ""
// marks a capability that no spec asks for by itself, so users have no row
// for it: a shadow block needs shadow_compare (nginx's mirror alone is not
// enough), and a per-request fallback is only set in a routing table given
// to a standalone router, never by the reconciler (on_failure = "fallback"
// is a change of weights, which every router can make).
var capabilityRows = map[string]string{
	"weights":        "weighted split",
	"preview":        "preview header",
	"sticky":         "sticky assignment",
	"shadow":         "",
	"shadow_compare": "shadow with answer comparison",
	"bandit":         "bandit",
	"feedback":       "bandit, feedback rewards",
	"fallback":       "",
	"stats":          "its own measurements",
	"outputs":        "behaviour checks",
}

// TestCapabilityTablesMatchTheCode reads the router capability tables of
// the README and docs/routers.md and checks every cell against
// spec.RouterCapabilities: "yes…" exactly where the router type can.
func TestCapabilityTablesMatchTheCode(t *testing.T) {
	all, _ := spec.RouterCapabilities("builtin")
	if len(all.Names()) != len(capabilityRows) {
		t.Fatalf("spec.Capabilities has %d capabilities, %v; name each one's row in capabilityRows", len(all.Names()), all.Names())
	}
	for _, f := range []string{"README.md", "docs/routers.md"} {
		rows := capabilityTable(t, f)
		if len(rows) == 0 {
			t.Errorf("%s has no table headed \"| capability | builtin | nginx | HAProxy |\"", f)
			continue
		}
		for _, name := range all.Names() {
			prefix, known := capabilityRows[name]
			if !known {
				t.Errorf("capability %s has no entry in capabilityRows", name)
			}
			if prefix == "" {
				continue
			}
			var row []string
			for _, r := range rows {
				if strings.HasPrefix(r[0], prefix) {
					row = r
				}
			}
			if row == nil {
				t.Errorf("%s: the capability table has no row %q… (capability %s)", f, prefix, name)
				continue
			}
			for i, typ := range []string{"builtin", "nginx", "haproxy"} {
				c, _ := spec.RouterCapabilities(typ)
				has := false
				for _, n := range c.Names() {
					has = has || n == name
				}
				if says := strings.HasPrefix(row[i+1], "yes"); says != has {
					t.Errorf("%s: row %q says %q for %s; the code says %s: %v", f, row[0], row[i+1], typ, name, has)
				}
			}
		}
	}
}

// capabilityTable returns the body rows of f's capability table, as
// trimmed cells.
func capabilityTable(t *testing.T, f string) [][]string {
	var out [][]string
	in := false
	for _, line := range strings.Split(read(t, f), "\n") {
		switch {
		case strings.HasPrefix(line, "| capability | builtin | nginx | HAProxy |"):
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "|"):
			var cells []string
			for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
				cells = append(cells, strings.TrimSpace(c))
			}
			if len(cells) == 4 {
				out = append(out, cells)
			}
		default:
			in = false
		}
	}
	return out
}

var handlePattern = regexp.MustCompile(`mux\.Handle(?:Func)?\("((?:GET|PUT|POST|DELETE|PATCH) [^"]+)"`)

// TestHTTPAPIListsEveryEndpoint reads the patterns the reconciler's and the
// standalone router's admin muxes register and checks that
// docs/http-api.md lists each one as "| `METHOD PATH` |".
func TestHTTPAPIListsEveryEndpoint(t *testing.T) {
	doc := read(t, "docs/http-api.md")
	n := 0
	for _, src := range []string{"pkg/reconcile/server.go", "pkg/router/admin.go"} {
		for _, m := range handlePattern.FindAllStringSubmatch(read(t, src), -1) {
			n++
			pattern := strings.TrimSuffix(m[1], "{$}")
			if pattern == "GET /ui/" {
				pattern = "GET /ui/app.js" // the page's files, listed by name
			}
			if !strings.Contains(doc, "`"+pattern) {
				t.Errorf("%s serves %s, which docs/http-api.md does not list", src, m[1])
			}
		}
	}
	if n < 8 {
		t.Errorf("found %d endpoints in the sources: the scan is broken", n)
	}
}

var trailerName = regexp.MustCompile(`"(Switchyard-[A-Z][A-Za-z-]*)`)

// TestCommitTrailersAreDocumented: every Switchyard-* trailer the code
// writes or reads is described in docs/commits-and-notes.md.
func TestCommitTrailersAreDocumented(t *testing.T) {
	doc := read(t, "docs/commits-and-notes.md")
	seen := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(root, "pkg"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		for _, m := range trailerName.FindAllSubmatch(b, -1) {
			seen[string(m[1])] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 3 {
		t.Fatalf("found the trailers %v in the code: the scan is broken", seen)
	}
	for name := range seen {
		if !strings.Contains(doc, "`"+name) {
			t.Errorf("the code uses the trailer %s, which docs/commits-and-notes.md does not describe", name)
		}
	}
}
