package action

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

func TestSplitComment(t *testing.T) {
	var big strings.Builder
	for i := 0; big.Len() < 150_000; i++ {
		fmt.Fprintf(&big, "- line %d: naïve ✅ text to fill a plan comment\n", i)
		if i%500 == 0 {
			big.WriteString("```hcl\nserve = \"v8\"\n")
			for j := 0; j < 300; j++ {
				fmt.Fprintf(&big, "# fenced %d\n", j)
			}
			big.WriteString("```\n")
		}
	}
	long := strings.Repeat("é", 80_000) + "\n" // one line longer than a part
	for _, tc := range []struct {
		name  string
		md    string
		parts int
	}{
		{"small", "## plan\n\nnothing\n", 1},
		{"big", big.String(), 3},
		{"one long line", long, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := SplitComment(tc.md, MaxCommentBytes)
			if len(parts) != tc.parts {
				t.Fatalf("%d parts, want %d", len(parts), tc.parts)
			}
			var joined strings.Builder
			for i, p := range parts {
				if len(p) > MaxCommentBytes {
					t.Errorf("part %d has %d bytes", i+1, len(p))
				}
				if !utf8.ValidString(p) {
					t.Errorf("part %d is not valid UTF-8", i+1)
				}
				if markerPart(p) != i+1 {
					t.Errorf("part %d starts with %.40q", i+1, p)
				}
				if strings.Count(p, "\n```")%2 != 0 && !strings.HasPrefix(p, "```") {
					t.Errorf("part %d leaves a code fence open", i+1)
				}
				body := p[strings.Index(p, "\n")+1:]
				if len(parts) > 1 {
					prefix := fmt.Sprintf("_Switchyard plan, part %d of %d._\n\n", i+1, len(parts))
					if !strings.HasPrefix(body, prefix) {
						t.Fatalf("part %d lacks %q", i+1, prefix)
					}
					body = strings.TrimPrefix(body, prefix)
				}
				joined.WriteString(body)
			}
			// Nothing is lost: removing the fence repairs gives the input back.
			got := strings.ReplaceAll(joined.String(), "\n```\n```hcl\n", "")
			if got != tc.md {
				t.Errorf("parts do not add up to the input (%d vs %d bytes)", len(got), len(tc.md))
			}
		})
	}
}

func TestMarkerPart(t *testing.T) {
	for body, want := range map[string]int{
		Marker + "\n## plan":                  1,
		"<!-- switchyard:plan:3 -->\n## plan": 3,
		"<!-- switchyard:plan:1 -->":          0,
		"<!-- switchyard:planner -->":         0,
		"LGTM <!-- switchyard:plan -->":       0,
		"<!-- switchyard:plan:x -->":          0,
	} {
		if got := markerPart(body); got != want {
			t.Errorf("markerPart(%q) = %d, want %d", body, got, want)
		}
	}
}

// A plan that needs three comments, then one: parts are created, then
// edited, and the surplus ones deleted; unrelated comments stay.
func TestUpsertSplitComment(t *testing.T) {
	gh := newFakeGitHub(t)
	gh.seedComments(3)
	client, err := NewGitHub(gh.apiURL(), testToken, gh.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{cfg: &Config{}, gh: client, owner: testOwner, repo: testRepoName}
	big := strings.Repeat("- a line of the plan that is long enough to add up\n", 3000)
	if err := r.upsertComment(context.Background(), 42, big, true); err != nil {
		t.Fatal(err)
	}
	if n := len(gh.planComments()); n != 3 {
		t.Fatalf("%d plan comments, want 3", n)
	}
	first := gh.planComments()[0].ID
	if err := r.upsertComment(context.Background(), 42, "## small plan\n", false); err != nil {
		t.Fatal(err)
	}
	plans := gh.planComments()
	if len(plans) != 1 || plans[0].ID != first || plans[0].Body != Marker+"\n## small plan\n" {
		t.Fatalf("plan comments after shrinking: %+v", plans)
	}
	if len(gh.comments) != 4 {
		t.Fatalf("%d comments in all, want the 3 others and the plan", len(gh.comments))
	}
	log := strings.Join(gh.requests(), "\n")
	if strings.Count(log, "DELETE ") != 2 || strings.Count(log, "POST ") != 3 || strings.Count(log, "PATCH ") != 1 {
		t.Fatalf("requests:\n%s", log)
	}
}

func TestWorkflowCommands(t *testing.T) {
	var b bytes.Buffer
	WriteWorkflowCommands(&b, []diag.Diagnostic{
		{Severity: diag.Error, Summary: "Bad: value, really", Detail: "50% off\nsecond line", File: "rollouts/a,b.hcl", Line: 3, Column: 5, EndLine: 3, EndCol: 9, Rule: "r"},
		{Severity: diag.Warning, Summary: "Spans lines", File: "rollouts/x.hcl", Line: 3, Column: 1, EndLine: 7, EndCol: 2},
		{Severity: diag.Error, Summary: "No file"},
	})
	want := "::error file=rollouts/a%2Cb.hcl,line=3,col=5,endColumn=9,title=Bad%3A value%2C really::Bad: value, really: 50%25 off%0Asecond line (r)\n" +
		"::warning file=rollouts/x.hcl,line=3,col=1,endLine=7,title=Spans lines::Spans lines\n" +
		"::error title=No file::No file\n"
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteOutputs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out")
	os.WriteFile(p, []byte("earlier=1\n"), 0o644)
	err := writeOutputs(p, []Output{{"valid", "true"}, {"plan", "## plan\nSWITCHYARD_EOF\nend\n"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := "earlier=1\nvalid=true\nplan<<SWITCHYARD_EOF_1\n## plan\nSWITCHYARD_EOF\nend\nSWITCHYARD_EOF_1\n"
	if string(b) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b, want)
	}
	if err := writeOutputs(filepath.Join(t.TempDir(), "no", "dir"), []Output{{"valid", "true"}}); err == nil {
		t.Fatal("no error for an unwritable GITHUB_OUTPUT")
	}
}
