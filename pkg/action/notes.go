package action

import (
	"errors"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/switchyard-dev/switchyard/pkg/policy"
)

// NotesRef holds the reconciler's verdicts, one JSON note per judged commit.
const NotesRef = "refs/notes/switchyard"

// maxNoteBytes bounds one note read.
const maxNoteBytes = 1 << 20

// shadowEvidence reads the shadow assessments recorded as notes under
// refs/notes/switchyard and returns the latest per "model/stage/version"
// (see policy.Evidence). A missing notes ref means no evidence. Notes that
// are not shadow verdicts, or not JSON, are ignored.
func shadowEvidence(repo *git.Repository) (map[string]map[string]any, error) {
	var ev policy.Evidence
	ref, err := repo.Reference(plumbing.ReferenceName(NotesRef), true)
	if err != nil {
		// actions/checkout does not fetch notes; try the remote-tracking copy.
		ref, err = repo.Reference(plumbing.ReferenceName("refs/remotes/origin/notes/switchyard"), true)
		if err != nil {
			return ev.Of(policy.EvidenceShadow), nil
		}
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return ev.Of(policy.EvidenceShadow), nil // a notes ref not fetched in full: no evidence
	}
	tree, err := c.Tree()
	if err != nil {
		return ev.Of(policy.EvidenceShadow), nil
	}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, e, err := walker.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			break
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
		commit := strings.ReplaceAll(name, "/", "")
		if len(commit) != 40 {
			commit = ""
		}
		ev.AddNote(commit, judged, b)
	}
	return ev.Of(policy.EvidenceShadow), nil
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
