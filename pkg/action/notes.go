package action

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// NotesRef holds the reconciler's verdicts, one JSON note per judged commit.
const NotesRef = "refs/notes/switchyard"

// maxNoteBytes bounds one note read.
const maxNoteBytes = 1 << 20

// shadowEvidence reads the shadow assessments recorded as notes under
// refs/notes/switchyard and returns the latest per "model/stage/version".
// A missing notes ref means no evidence. Notes that are not shadow
// verdicts, or not JSON, are ignored.
func shadowEvidence(repo *git.Repository) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	ref, err := repo.Reference(plumbing.ReferenceName(NotesRef), true)
	if err != nil {
		// actions/checkout does not fetch notes; try the remote-tracking copy.
		ref, err = repo.Reference(plumbing.ReferenceName("refs/remotes/origin/notes/switchyard"), true)
		if err != nil {
			return out, nil
		}
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return out, nil // a notes ref not fetched in full: no evidence
	}
	tree, err := c.Tree()
	if err != nil {
		return out, nil
	}
	latest := map[string]string{} // key -> time of the verdict kept
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, e, err := walker.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, nil
		}
		if !e.Mode.IsFile() || e.Mode == filemode.Symlink {
			continue
		}
		judged := noteTarget(repo, name)
		blob, err := repo.BlobObject(e.Hash)
		if err != nil || blob.Size > maxNoteBytes {
			continue
		}
		r, err := blob.Reader()
		if err != nil {
			continue
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			continue
		}
		for _, v := range verdicts(b) {
			v = flattenPayload(v)
			if !isShadow(v) {
				continue
			}
			key := verdictKey(v)
			if key == "" {
				continue
			}
			at := verdictTime(v)
			if at == "" {
				at = judged
			}
			if _, ok := v["commit"]; !ok && len(strings.ReplaceAll(name, "/", "")) == 40 {
				v["commit"] = strings.ReplaceAll(name, "/", "")
			}
			// Later lines of one note are later verdicts: >= keeps them.
			if prev, ok := latest[key]; ok && prev > at {
				continue
			}
			latest[key] = at
			out[key] = shadowFields(v)
		}
	}
	return out, nil
}

// noteTarget is the committer time (RFC 3339) of the commit a note entry
// judges, "" when unknown. Fanout paths ("ab/cdef...") are joined.
func noteTarget(repo *git.Repository, path string) string {
	sha := strings.ReplaceAll(path, "/", "")
	if len(sha) != 40 {
		return ""
	}
	c, err := repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return ""
	}
	return c.Committer.When.UTC().Format(time.RFC3339)
}

// flattenPayload lifts the fields of a "payload" object (the reconciler's
// RecordVerdict: {"kind", "model", "stage", "commit", "payload": {...}})
// to the top level.
func flattenPayload(v map[string]any) map[string]any {
	p, ok := v["payload"].(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(v)+len(p))
	for k, x := range v {
		if k != "payload" {
			out[k] = x
		}
	}
	for k, x := range p {
		out[k] = x
	}
	return out
}

// verdicts returns the verdict objects of a note: an object, an array of
// objects, or an object with a "verdicts" array.
// A note holds one such document, or one per line (JSON Lines).
func verdicts(b []byte) []map[string]any {
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		var out []map[string]any
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && json.Valid([]byte(line)) {
				out = append(out, verdicts([]byte(line))...)
			}
		}
		return out
	}
	var out []map[string]any
	add := func(v any) {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	switch d := doc.(type) {
	case []any:
		for _, v := range d {
			add(v)
		}
	case map[string]any:
		if vs, ok := d["verdicts"].([]any); ok {
			for _, v := range vs {
				add(v)
			}
		} else {
			add(d)
		}
	}
	return out
}

func str(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func isShadow(v map[string]any) bool {
	k := strings.ToLower(str(v, "kind", "type", "verdict"))
	return k == "shadow" || k == "shadow_assessment"
}

// verdictKey is "model/stage/version" from either separate fields or a
// "model": "name/stage" key.
func verdictKey(v map[string]any) string {
	model, stage, version := str(v, "model"), str(v, "stage"), str(v, "version", "shadow_version")
	if stage == "" {
		if n, s, ok := strings.Cut(model, "/"); ok {
			model, stage = n, s
		}
	}
	if model == "" || stage == "" || version == "" {
		return ""
	}
	return model + "/" + stage + "/" + version
}

// verdictTime is the verdict's RFC 3339 time, which sorts as a string.
func verdictTime(v map[string]any) string { return str(v, "at", "time", "decided_at", "created_at") }

// shadowFields is the evidence object a policy sees.
func shadowFields(v map[string]any) map[string]any {
	out := map[string]any{}
	for k, x := range v {
		switch k {
		case "kind", "type", "verdict", "model", "stage", "version", "shadow_version":
			continue
		}
		out[k] = x
	}
	if _, ok := out["passed"]; !ok {
		if s, ok := v["outcome"].(string); ok {
			out["passed"] = s == "pass" || s == "passed"
		}
	}
	return out
}
