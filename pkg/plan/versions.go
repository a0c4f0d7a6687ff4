package plan

import (
	"encoding/json"
	"sort"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// ChangedVersions are the versions change c promotes or adds, in name
// order: the served version when it changed, every version new at head or
// whose definition changed, and a shadow's version when the shadow is new
// or shadows another version. Only versions head defines are listed; a
// removed model has none. These are the versions that need evidence.
func ChangedVersions(c Change, base, head *spec.Tree) []string {
	if c.Kind == Remove || head == nil {
		return nil
	}
	hm := head.Model(c.Model, c.Stage)
	if hm == nil {
		return nil
	}
	var bm *spec.Model
	if base != nil {
		bm = base.Model(c.Model, c.Stage)
	}
	set := map[string]bool{}
	if c.ServeChanged() {
		set[c.To] = true
	}
	for name, v := range hm.Versions {
		if bm == nil {
			set[name] = true
			continue
		}
		old, ok := bm.Versions[name]
		if !ok || !sameVersion(old, v) {
			set[name] = true
		}
	}
	if hm.Shadow != nil && (bm == nil || bm.Shadow == nil || bm.Shadow.Version != hm.Shadow.Version) {
		set[hm.Shadow.Version] = true
	}
	out := make([]string, 0, len(set))
	for v := range set {
		if _, ok := hm.Versions[v]; ok {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func sameVersion(a, b *spec.Version) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
