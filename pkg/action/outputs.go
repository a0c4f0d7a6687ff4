package action

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

// maxSummaryBytes is GitHub's limit on one step's job summary (1 MiB).
const maxSummaryBytes = 1 << 20

// Output is one step output.
type Output struct{ Name, Value string }

// writeOutputs appends outputs to the GITHUB_OUTPUT file, multi-line
// values with the heredoc syntax `name<<DELIM`.
func writeOutputs(path string, outs []Output) error {
	if path == "" {
		return nil
	}
	var b strings.Builder
	for _, o := range outs {
		if !strings.ContainsAny(o.Value, "\r\n") {
			fmt.Fprintf(&b, "%s=%s\n", o.Name, o.Value)
			continue
		}
		delim := heredocDelimiter(o.Value)
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", o.Name, delim, strings.TrimRight(o.Value, "\n"), delim)
	}
	return appendFile(path, b.String(), "GITHUB_OUTPUT")
}

// heredocDelimiter picks a delimiter that occurs on no line of value.
func heredocDelimiter(value string) string {
	for i := 0; ; i++ {
		d := "SWITCHYARD_EOF"
		if i > 0 {
			d = fmt.Sprintf("SWITCHYARD_EOF_%d", i)
		}
		if !strings.Contains(value, d) {
			return d
		}
	}
}

// writeSummary appends markdown to the GITHUB_STEP_SUMMARY file.
func writeSummary(path, md string) error {
	if path == "" {
		return nil
	}
	return appendFile(path, truncate(md, maxSummaryBytes-1)+"\n", "GITHUB_STEP_SUMMARY")
}

func appendFile(path, s, what string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return envErrorf("writing %s: %v", what, err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return envErrorf("writing %s: %v", what, err)
	}
	if err := f.Close(); err != nil {
		return envErrorf("writing %s: %v", what, err)
	}
	return nil
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return "[]"
	}
	return string(b)
}

func hasErrors(ds []diag.Diagnostic) bool { return diag.HasErrors(ds) }
