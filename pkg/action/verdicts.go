package action

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/notes"
	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes"
	"github.com/switchyard-dev/switchyard/pkg/plan"
)

// noteVerdict is one line of a verdict note under refs/notes/switchyard,
// shaped as the reconciler writes its own (rollout.RecordVerdict) and as
// policy.Evidence reads them back: the payload's fields are the evidence.
type noteVerdict struct {
	Kind    string         `json:"kind"`
	Model   string         `json:"model"`
	Stage   string         `json:"stage"`
	Commit  string         `json:"commit"`
	Payload map[string]any `json:"payload"`
}

// verdictLine is a note line and the "model/stage/version" it judges.
type verdictLine struct {
	key  string
	line []byte
}

// validationVerdicts are the note lines of the offline validations run
// for changes, judged on commit at time at, in the order of the changes
// and then of the versions. The payload is the validation's result (what
// the policy input's evidence holds) with its version and time; one that
// could not run is {"passed": false, "error": ...}.
func validationVerdicts(changes []plan.Change, ev map[string]*Evidence, commit string, at time.Time) ([]verdictLine, error) {
	var out []verdictLine
	for _, c := range changes {
		e := ev[c.Key()]
		if e == nil {
			continue
		}
		for _, v := range slices.Sorted(maps.Keys(e.Validations)) {
			o := e.Validations[v]
			payload := map[string]any{}
			if o.Result != nil && o.Err == "" {
				b, err := json.Marshal(o.Result)
				if err != nil {
					return nil, err
				}
				if err := json.Unmarshal(b, &payload); err != nil {
					return nil, err
				}
			} else {
				payload["passed"], payload["error"] = false, o.Err
			}
			payload["version"] = v
			payload["at"] = at.UTC().Format(time.RFC3339)
			line, err := json.Marshal(noteVerdict{Kind: notes.EvidenceValidation, Model: c.Model, Stage: c.Stage, Commit: commit, Payload: payload})
			if err != nil {
				return nil, err
			}
			out = append(out, verdictLine{key: c.Model + "/" + c.Stage + "/" + v, line: line})
		}
	}
	return out, nil
}

// validationKey is "model/stage/version" of a note line that is a
// validation verdict, "" for any other line.
func validationKey(line []byte) string {
	if kind, key := notes.KeyOf(line); kind == notes.EvidenceValidation {
		return key
	}
	return ""
}

// mergeVerdicts puts verdicts into a note (JSON Lines): each one replaces
// the line of an earlier validation of the same model, stage and version
// (a run before on the same commit), or is appended. Every other line,
// the reconciler's verdicts among them, stays as it was.
func mergeVerdicts(note []byte, verdicts []verdictLine) []byte {
	lines := make([][]byte, len(verdicts))
	for i, v := range verdicts {
		lines[i] = v.line
	}
	return notes.Merge(note, lines, validationKey)
}

// recordValidations attaches the offline validation verdicts of changes
// to commit, as its note under refs/notes/switchyard, so that the
// reconciler finds them on the commits a merge brings in. It returns a
// Markdown paragraph saying what became of them ("" when there was nothing
// to record). A token that may not write contents (403/404: a pull request
// from a fork) gets a warning, not a failure; another error is returned.
func (r *runner) recordValidations(ctx context.Context, commit string, changes []plan.Change, ev map[string]*Evidence) (string, error) {
	if !r.cfg.RecordVerdicts {
		return "", nil
	}
	lines, err := validationVerdicts(changes, ev, commit, r.cfg.Now())
	if err != nil {
		return "", fmt.Errorf("encoding the offline validation verdicts: %w", err)
	}
	if len(lines) == 0 {
		return "", nil
	}
	n := len(lines)
	what := pick(n, "offline validation verdict", fmt.Sprintf("%d offline validation verdicts", n))
	if r.notes == nil {
		return r.notRecorded(what, n, commit, "this GitHub client cannot write Git data"), nil
	}
	w := &ghnotes.Writer{API: r.notes, Owner: r.owner, Repo: r.repo, Ref: NotesRef,
		Message: fmt.Sprintf("Notes added by Switchyard: offline validation on %s\n", commitid.Short(commit))}
	res, err := w.Edit(ctx, commit, func(old []byte) []byte { return mergeVerdicts(old, lines) })
	if err != nil {
		if s := ghnotes.StatusOf(err); s == 403 || s == 404 {
			return r.notRecorded(what, n, commit, fmt.Sprintf("the token may not write to the repository (%v); grant `contents: write` (a pull request from a fork never gets it)", err)), nil
		}
		return "", fmt.Errorf("recording the %s on %s under %s: %w", what, commitid.Short(commit), NotesRef, err)
	}
	keys := make([]string, 0, n)
	for _, l := range lines {
		keys = append(keys, "`"+l.key+"`")
	}
	fmt.Fprintf(r.cfg.Stdout, "switchyard: %s (%s) noted on %s under %s (%s)\n", what, strings.Join(keys, ", "), commitid.Short(commit), NotesRef, res.Path)
	return fmt.Sprintf("📝 The %s (%s) %s noted on `%s` under `%s`, where the reconciler reads %s when it judges a head that brings that commit in.\n",
		what, strings.Join(keys, ", "), pick(n, "is", "are"), commitid.Short(commit), NotesRef, pick(n, "it", "them")), nil
}

// notRecorded warns, in the log and in Markdown, that n verdicts were not
// recorded and why.
func (r *runner) notRecorded(what string, n int, commit, why string) string {
	msg := fmt.Sprintf("The %s of %s %s not recorded under %s: %s. The reconciler will not see %s.",
		what, commitid.Short(commit), pick(n, "was", "were"), NotesRef, why, pick(n, "it", "them"))
	fmt.Fprintf(r.cfg.Stdout, "::warning title=switchyard::%s\n", escapeData(msg))
	return "> ⚠️ " + mdText(msg) + "\n"
}

// pick is one for n == 1, else many.
func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
