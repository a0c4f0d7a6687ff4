package action

import (
	"context"
	"fmt"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/plan"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// DeploymentPayload is the payload of a deployment the action records.
type DeploymentPayload struct {
	Model string `json:"model"`
	Stage string `json:"stage"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// push records a GitHub deployment per model and stage whose served
// version the push to the default branch changes, after the offline
// validation of the versions it promotes or adds (noted on the pushed
// commit). The reconciler, not the action, carries the rollout out.
func (r *runner) push(ctx context.Context) (int, error) {
	p := r.ev.push
	repo, err := openRepo(r.cfg.Workspace)
	if err != nil {
		return ExitEnvironment, err
	}
	after, err := commitOf(repo, p.after, "pushed")
	if err != nil {
		return ExitEnvironment, err
	}
	afterFS, err := newTreeFS(repo, after)
	if err != nil {
		return ExitEnvironment, err
	}
	headTree, headDiags := spec.Load(afterFS, r.cfg.Path)
	var baseTree *spec.Tree
	if !isZeroSHA(p.before) {
		before, err := commitOf(repo, p.before, "previous")
		if err != nil {
			return ExitEnvironment, err
		}
		beforeFS, err := newTreeFS(repo, before)
		if err != nil {
			return ExitEnvironment, err
		}
		baseTree, _ = spec.Load(beforeFS, r.cfg.Path)
	}
	if len(headDiags) > 0 {
		WriteWorkflowCommands(r.cfg.Stdout, headDiags)
	}
	if hasErrors(headDiags) {
		// The reconciler will not apply an invalid tree: no deployment.
		md := fmt.Sprintf("## Switchyard: `%s` has invalid specs\n\nThe reconciler keeps serving what it serves until they are fixed; no deployment was recorded.\n", commitid.Short(p.after))
		if err := writeSummary(r.cfg.SummaryPath, md); err != nil {
			return ExitEnvironment, err
		}
		if err := writeOutputs(r.cfg.OutputPath, []Output{{"valid", "false"}, {"changes", "[]"}}); err != nil {
			return ExitEnvironment, err
		}
		fmt.Fprintf(r.cfg.Stdout, "switchyard: %s has invalid specs: no deployment recorded\n", commitid.Short(p.after))
		return ExitFailed, nil
	}
	changes := plan.Diff(baseTree, headTree)
	// Offline validation of what the push promotes or adds, noted on the
	// pushed commit: a push that skipped review gets the same evidence.
	val := &Report{Evidence: map[string]*Evidence{}}
	var valFailed bool
	var notes string
	if r.cfg.OfflineValidation {
		valDiags := r.validate(ctx, afterFS, baseTree, headTree, changes, val)
		WriteWorkflowCommands(r.cfg.Stdout, valDiags)
		valFailed = hasErrors(valDiags)
		if notes, err = r.recordValidations(ctx, p.after, changes, val.Evidence); err != nil {
			return ExitEnvironment, err
		}
	}
	var deployed []DeploymentPayload
	for _, c := range changes {
		if !c.ServeChanged() {
			continue
		}
		pl := DeploymentPayload{Model: c.Model, Stage: c.Stage, From: c.From, To: c.To}
		from := c.From
		if from == "" {
			from = "nothing"
		}
		id, err := r.gh.CreateDeployment(ctx, r.owner, r.repo, Deployment{
			Ref: p.after, Environment: c.Stage, Payload: pl,
			Description: fmt.Sprintf("switchyard: %s %s → %s", c.Key(), from, c.To),
		})
		if err != nil {
			return ExitEnvironment, fmt.Errorf("recording the deployment of %s: %w (the token needs `deployments: write`)", c.Key(), err)
		}
		fmt.Fprintf(r.cfg.Stdout, "switchyard: deployment %d: %s %s → %s in %s\n", id, c.Key(), from, c.To, c.Stage)
		deployed = append(deployed, pl)
	}
	if len(deployed) == 0 {
		fmt.Fprintln(r.cfg.Stdout, "switchyard: the push changes no served version: no deployment")
	}
	md := deploymentsMarkdown(commitid.Short(p.after), deployed) + validationsMarkdown(changes, val.Evidence)
	if notes != "" {
		md += "\n" + notes
	}
	if err := writeSummary(r.cfg.SummaryPath, md); err != nil {
		return ExitEnvironment, err
	}
	valid := "true"
	if valFailed {
		valid = "false"
	}
	if err := writeOutputs(r.cfg.OutputPath, []Output{{"valid", valid}, {"changes", jsonString(deployed)}}); err != nil {
		return ExitEnvironment, err
	}
	if valFailed {
		fmt.Fprintf(r.cfg.Stdout, "switchyard: %s: offline validation failed\n", commitid.Short(p.after))
		return ExitFailed, nil
	}
	return ExitOK, nil
}

// validationsMarkdown lists the offline validations a push ran.
func validationsMarkdown(changes []plan.Change, ev map[string]*Evidence) string {
	var b strings.Builder
	for _, c := range changes {
		if e := ev[c.Key()]; e != nil && len(e.Validations) > 0 {
			if b.Len() == 0 {
				b.WriteString("\n### Offline validation\n\n")
			}
			fmt.Fprintf(&b, "- `%s`:", c.Key())
			writeValidations(&b, e)
		}
	}
	return b.String()
}

func deploymentsMarkdown(sha string, ds []DeploymentPayload) string {
	s := fmt.Sprintf("## Switchyard: deployments for `%s`\n\n", sha)
	if len(ds) == 0 {
		return s + "The push changes no served version.\n"
	}
	s += "| model | stage | from | to |\n|---|---|---|---|\n"
	for _, d := range ds {
		s += fmt.Sprintf("| `%s` | %s | `%s` | `%s` |\n", d.Model, d.Stage, d.From, d.To)
	}
	return s + "\nThe reconciler carries each one out; revert the merge commit to roll back.\n"
}
