package reconcile

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
)

// RenderStatus writes status as people read it in a terminal: one block
// per model with a progress bar for its rollout and its last measurements.
func RenderStatus(w io.Writer, s Status) {
	applied := shown(s.Applied)
	fmt.Fprintf(w, "head %s", shown(s.Head))
	if s.Head != s.Applied {
		fmt.Fprintf(w, " (not applied; running %s)", applied)
	}
	if !s.LastFetch.IsZero() {
		fmt.Fprintf(w, "   fetched %s ago", s.Now.Sub(s.LastFetch).Round(time.Second))
	}
	fmt.Fprintln(w)
	if s.Role != "" {
		fmt.Fprintf(w, "  replica %s: %s (leader: %s)\n", s.ID, s.Role, orNone(s.Leader))
	}
	renderFleets(w, s)
	if s.FetchError != "" {
		fmt.Fprintf(w, "  fetch failing: %s\n", s.FetchError)
	}
	if s.HeadError != "" {
		fmt.Fprintf(w, "  head rejected: %s\n", s.HeadError)
		for _, d := range s.HeadDiagnostics {
			fmt.Fprintf(w, "    %s:%d: %s: %s\n", d.File, d.Line, d.Severity, d.Summary)
		}
		if s.HeadNotes != "" {
			fmt.Fprintf(w, "    judged with verdict notes %s; a change to refs/notes/switchyard judges it again\n", shown(s.HeadNotes))
		}
	}
	if o := s.OwnCommitRejected; o != nil {
		fmt.Fprintf(w, "  the reconciler's own %s commit %s is rejected (a bug): Git names what it wrote while traffic stays as it was; fix the spec by hand and report it\n    %s\n",
			o.Action, shown(o.Commit), o.Reason)
	}
	for _, p := range s.PendingCommits {
		fmt.Fprintf(w, "  commit pending for %s (%s): %d attempts, last error: %s\n", p.Model, p.Action, p.Attempts, p.LastErr)
	}
	for _, p := range s.PendingPullRequests {
		age := "open"
		if !p.Opened.IsZero() {
			age = "open for " + (time.Duration(p.AgeSeconds) * time.Second).String()
		}
		fmt.Fprintf(w, "  pull request not merged for %s (%s), %s: %s\n", p.Model, p.Action, age, p.URL)
	}
	for _, m := range s.Models {
		fmt.Fprintln(w)
		renderModel(w, m)
	}
	if len(s.Events) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "recent events:")
	}
	for i, ev := range s.Events {
		if i == 5 {
			fmt.Fprintf(w, "  … %d more on the status page\n", len(s.Events)-i)
			break
		}
		fmt.Fprintf(w, "  %s %-13s", ev.At.UTC().Format("15:04:05"), ev.Event)
		if ev.Model != "" {
			fmt.Fprintf(w, " %s/%s", ev.Model, ev.Stage)
		}
		if ev.From != "" && ev.To != "" && ev.From != ev.To {
			fmt.Fprintf(w, " %s → %s", ev.From, ev.To)
		}
		if ev.Commit != "" {
			fmt.Fprintf(w, " commit %s", commitid.Short(ev.Commit))
		}
		fmt.Fprintln(w)
	}
}

func renderModel(w io.Writer, m ModelStatus) {
	head := fmt.Sprintf("%s/%s", m.Model, m.Stage)
	switch {
	case m.From != "" && m.To != "" && m.From != m.To:
		fmt.Fprintf(w, "%-28s %-12s %s → %s", head, m.Phase, m.From, m.To)
	default:
		fmt.Fprintf(w, "%-28s %-12s %s", head, m.Phase, m.Serve)
	}
	if m.Held {
		fmt.Fprint(w, "  HELD")
	}
	fmt.Fprintln(w)
	if m.Strategy != "" && m.To != "" && m.From != m.To {
		fmt.Fprintf(w, "  %s %s", progressBar(m.Progress, 24), m.Strategy)
		if m.Steps > 0 {
			fmt.Fprintf(w, " step %d/%d", m.Step, m.Steps)
		}
		fmt.Fprintln(w)
	}
	if len(m.Weights) > 0 {
		parts := make([]string, 0, len(m.Weights))
		for _, wt := range m.Weights {
			parts = append(parts, fmt.Sprintf("%s %g%%", wt.Version, wt.Percent))
		}
		fmt.Fprintf(w, "  traffic: %s (router %s)\n", strings.Join(parts, ", "), m.Router)
	}
	for _, ms := range m.Measurements {
		fmt.Fprintf(w, "  check %-12s %-8s %s (%d requests)\n", ms.Check, ms.Verdict, ms.Reason, ms.Requests)
	}
	if sh := m.Shadow; sh != nil {
		fmt.Fprintf(w, "  shadow %s: %d pairs compared, agreement %.1f%%", sh.Version, sh.Pairs, sh.Agreement*100)
		if sh.Upper > 0 {
			fmt.Fprintf(w, " (95%% interval %.1f%%–%.1f%%)", sh.Lower*100, sh.Upper*100)
		}
		fmt.Fprintf(w, ", %d shadow errors\n", sh.Errors)
	}
	if ex := m.Experiment; ex != nil {
		fmt.Fprintf(w, "  experiment %s:", ex.Method)
		for _, a := range ex.Arms {
			fmt.Fprintf(w, " %s %g%% (n=%d, mean %.3f)", a.Version, a.Weight, a.Samples, a.Mean)
		}
		if ex.PValue > 0 {
			fmt.Fprintf(w, ", p=%.4f", ex.PValue)
		}
		fmt.Fprintln(w)
	}
	for _, v := range m.Verdicts {
		fmt.Fprintf(w, "  verdict: %s\n", v)
	}
	if m.Message != "" {
		fmt.Fprintf(w, "  %s\n", m.Message)
	}
	if m.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", m.Error)
	}
	if m.LastCommit != "" {
		fmt.Fprintf(w, "  last outcome commit: %s\n", shown(m.LastCommit))
	}
}

func progressBar(p float64, width int) string {
	p = min(max(p, 0), 1)
	n := int(p*float64(width) + 0.5)
	return fmt.Sprintf("[%s%s] %3.0f%%", strings.Repeat("#", n), strings.Repeat("-", width-n), p*100)
}

// shown is a commit id as the status shows it: abbreviated, "-" for none.
func shown(sha string) string {
	if sha == "" {
		return "-"
	}
	return commitid.Short(sha)
}

// renderFleets lists every router fleet's replicas, in name order.
func renderFleets(w io.Writer, s Status) {
	names := make([]string, 0, len(s.Fleets))
	for n := range s.Fleets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  router %s:\n", n)
		for _, r := range s.Fleets[n] {
			state := "in sync"
			if !r.InSync {
				state = fmt.Sprintf("BEHIND (want %d)", r.Want)
			}
			contact := "never"
			if !r.LastContact.IsZero() {
				contact = s.Now.Sub(r.LastContact).Round(time.Second).String() + " ago"
			}
			fmt.Fprintf(w, "    %-32s generation %d %s, last contact %s", r.Admin, r.Generation, state, contact)
			if r.LastError != "" {
				fmt.Fprintf(w, ", last error: %s", r.LastError)
			}
			fmt.Fprintln(w)
		}
	}
}
