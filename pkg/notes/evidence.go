package notes

import (
	"encoding/json"
	"strings"
	"time"
)

// Evidence kinds: the verdicts that are evidence, and the names they have
// in input.evidence["<model>/<stage>/<version>"].
const (
	EvidenceValidation = "validation" // an offline validation (offline.Result)
	EvidenceShadow     = "shadow"     // a shadow assessment (rollout.ShadowVerdict)
)

// Evidence gathers verdict notes (Ref, SPEC.md §6) into
// the policy input's evidence: the latest verdict of each kind per
// "model/stage/version". The GitHub Action and the reconciler both build
// their evidence with it. The zero value is ready to use; it is not safe
// for concurrent use.
type Evidence struct {
	latest map[string]map[string]verdictAt // kind -> key -> latest verdict
}

type verdictAt struct {
	at     string // RFC 3339, "" when unknown
	fields map[string]any
}

// AddNote adds the verdicts of one note. A note holds a JSON object, an
// array of objects or {"verdicts": [...]}, or one such document per line
// (JSON Lines, what the reconciler writes); a "payload" object's fields
// count as the verdict's own. A verdict is evidence when its "kind" is
// validation or shadow and it names a model, a stage (or "model":
// "name/stage") and a version; anything else is ignored, as are lines that
// are not JSON.
//
// commit is the commit the note is attached to: it becomes the verdict's
// "commit" when the verdict names none. judgedAt (RFC 3339, or "") is that
// commit's time, which stands in for a verdict without a time of its own
// ("at", "time", "decided_at", "created_at"). A verdict replaces the one of
// its kind and key seen so far unless that one is later; of two at the same
// time the one added last wins, so later lines of a note win.
func (e *Evidence) AddNote(commit, judgedAt string, note []byte) {
	for _, v := range verdicts(note) {
		v = flattenPayload(v)
		kind := evidenceKind(v)
		key := verdictKey(v)
		if kind == "" || key == "" {
			continue
		}
		at := textField(v, "at", "time", "decided_at", "created_at")
		if at == "" {
			at = judgedAt
		}
		if _, ok := v["commit"]; !ok && commit != "" {
			v["commit"] = commit
		}
		if e.latest == nil {
			e.latest = map[string]map[string]verdictAt{}
		}
		byKey := e.latest[kind]
		if byKey == nil {
			byKey = map[string]verdictAt{}
			e.latest[kind] = byKey
		}
		if prev, ok := byKey[key]; ok && laterThan(prev.at, at) {
			continue
		}
		byKey[key] = verdictAt{at: at, fields: evidenceFields(v)}
	}
}

// Of returns the latest verdict of kind (EvidenceValidation or
// EvidenceShadow) by "model/stage/version".
func (e *Evidence) Of(kind string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for key, v := range e.latest[kind] {
		out[key] = v.fields
	}
	return out
}

// Input is the policy input's evidence: {"model/stage/version":
// {"validation": {...}, "shadow": {...}}}, for the keys keep accepts (nil
// keeps every key).
func (e *Evidence) Input(keep func(key string) bool) map[string]any {
	out := map[string]any{}
	for kind, byKey := range e.latest {
		for key, v := range byKey {
			if keep != nil && !keep(key) {
				continue
			}
			ent, _ := out[key].(map[string]any)
			if ent == nil {
				ent = map[string]any{}
				out[key] = ent
			}
			ent[kind] = v.fields
		}
	}
	return out
}

// laterThan reports whether time a is after time b (RFC 3339). Times that
// do not parse compare as strings, which RFC 3339 times in UTC sort as.
func laterThan(a, b string) bool {
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	if errA == nil && errB == nil {
		return ta.After(tb)
	}
	return a > b
}

// verdicts returns the verdict objects of a note: an object, an array of
// objects, or an object with a "verdicts" array; or one of those per line.
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

func textField(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// evidenceKind is the evidence kind of a verdict, "" when it is none.
func evidenceKind(v map[string]any) string {
	switch strings.ToLower(textField(v, "kind", "type", "verdict")) {
	case "shadow", "shadow_assessment":
		return EvidenceShadow
	case "validation", "offline_validation":
		return EvidenceValidation
	}
	return ""
}

// verdictKey is "model/stage/version" from either separate fields or a
// "model": "name/stage" field; "" when one of them is missing.
func verdictKey(v map[string]any) string {
	model, stage, version := textField(v, "model"), textField(v, "stage"), textField(v, "version", "shadow_version")
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

// evidenceFields is the evidence object a policy sees: the verdict without
// the fields that make up its kind and key, with "passed" derived from an
// "outcome" when the verdict has no "passed" of its own.
func evidenceFields(v map[string]any) map[string]any {
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

// AddNoted adds the notes of noted commits, each judged at its commit's
// time.
func (e *Evidence) AddNoted(noted []Noted) {
	for _, c := range noted {
		at := c.At()
		for _, n := range c.Notes {
			e.AddNote(c.SHA, at, n)
		}
	}
}

// KeyOf is the evidence kind and "model/stage/version" of a verdict line,
// "" and "" when the line is no evidence.
func KeyOf(line []byte) (kind, key string) {
	vs := verdicts(line)
	if len(vs) != 1 {
		return "", ""
	}
	v := flattenPayload(vs[0])
	kind, key = evidenceKind(v), verdictKey(v)
	if kind == "" || key == "" {
		return "", ""
	}
	return kind, key
}
