package plan

import (
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/notes"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Evidence is the policy input's evidence for head judged against base:
// the validation and shadow verdicts noted on the commits of the head's
// history (notes.History, the same for the Action and the reconciler; see
// package notes for why) about the versions head changes, in any stage of
// their model, as the policies read them. The latest verdict of each kind
// per "model/stage/version" wins. No such verdict: nil.
func Evidence(noted []notes.Noted, base, head *spec.Tree) map[string]any {
	if len(noted) == 0 {
		return nil
	}
	var ev notes.Evidence
	ev.AddNoted(noted)
	changed := map[string]bool{} // "model/version"
	for _, c := range Diff(base, head) {
		for _, v := range ChangedVersions(c, base, head) {
			changed[c.Model+"/"+v] = true
		}
	}
	in := ev.Input(func(key string) bool {
		parts := strings.Split(key, "/")
		return len(parts) == 3 && changed[parts[0]+"/"+parts[2]]
	})
	if len(in) == 0 {
		return nil
	}
	return in
}
