package gittest

import (
	"fmt"
	"strings"
)

// MergeStyle is one of the ways GitHub's merge button lands a pull request.
type MergeStyle string

// The three merge methods of a GitHub pull request.
const (
	// MergeCommit is "Create a merge commit": a merge commit titled
	// "Merge pull request #N from OWNER/BRANCH" with the pull request's
	// title as its body (GitHub's default merge message).
	MergeCommit MergeStyle = "merge"
	// Squash is "Squash and merge": one commit on main with the branch's
	// changes. GitHub's default message for a single-commit pull request is
	// that commit's message with " (#N)" after its title.
	Squash MergeStyle = "squash"
	// Rebase is "Rebase and merge": the branch's commits replayed on main
	// with their messages, committed anew by the person who merges.
	Rebase MergeStyle = "rebase"
)

// CommitOnBranch adds a commit with files (path -> content; "" deletes)
// on top of branch as "Someone Else" and pushes the branch: a person
// changing a pull request before it is merged. It returns the commit.
func (s *Server) CommitOnBranch(name, branch, message string, files map[string]string) string {
	s.t.Helper()
	work := s.t.TempDir()
	s.git("", "clone", "--quiet", "--branch", branch, s.RepoPath(name), work)
	s.writeFiles(work, files)
	s.git(work, "add", "-A")
	s.git(work, "commit", "--quiet", "--allow-empty", "-m", message)
	s.git(work, "push", "--quiet", "origin", branch)
	return strings.TrimSpace(s.git(work, "rev-parse", "HEAD"))
}

// AmendOnBranch rewrites the last commit of branch with files changed as
// well, keeping its message (a person amending the reconciler's commit),
// force-pushes the branch and returns the new commit.
func (s *Server) AmendOnBranch(name, branch string, files map[string]string) string {
	s.t.Helper()
	work := s.t.TempDir()
	s.git("", "clone", "--quiet", "--branch", branch, s.RepoPath(name), work)
	s.writeFiles(work, files)
	s.git(work, "add", "-A")
	s.git(work, "commit", "--quiet", "--amend", "--no-edit")
	s.git(work, "push", "--quiet", "--force", "origin", branch)
	return strings.TrimSpace(s.git(work, "rev-parse", "HEAD"))
}

// MergePullRequest lands branch on main the way GitHub does for pull
// request number with style, as "Someone Else", and returns main's new
// head. message replaces GitHub's default message when not empty (a person
// editing it in the merge dialog, or the repository's squash setting
// "Pull request title and description").
func (s *Server) MergePullRequest(name, branch string, number int, style MergeStyle, message string) string {
	s.t.Helper()
	work := s.t.TempDir()
	s.git("", "clone", "--quiet", "--branch", "main", s.RepoPath(name), work)
	s.git(work, "fetch", "--quiet", "origin", "+refs/heads/"+branch+":refs/remotes/origin/"+branch)
	pr := "origin/" + branch
	switch style {
	case MergeCommit:
		if message == "" {
			title := strings.TrimSpace(s.git(work, "log", "-1", "--format=%s", pr))
			message = fmt.Sprintf("Merge pull request #%d from acme/%s\n\n%s", number, branch, title)
		}
		s.git(work, "merge", "--quiet", "--no-ff", "-m", message, pr)
	case Squash:
		if message == "" {
			var msgs []string
			for _, m := range strings.Split(s.git(work, "log", "--reverse", "--format=%B%x00", "main.."+pr), "\x00") {
				if m = strings.TrimSpace(m); m != "" {
					msgs = append(msgs, m)
				}
			}
			if len(msgs) == 1 {
				title, body, _ := strings.Cut(msgs[0], "\n")
				message = fmt.Sprintf("%s (#%d)\n%s", title, number, body)
			} else {
				for i, m := range msgs {
					msgs[i] = "* " + m
				}
				message = fmt.Sprintf("%s (#%d)\n\n%s", branch, number, strings.Join(msgs, "\n\n"))
			}
		}
		s.git(work, "merge", "--quiet", "--squash", pr)
		s.git(work, "commit", "--quiet", "-m", message)
	case Rebase:
		s.git(work, "checkout", "--quiet", "-b", "pr", pr)
		s.git(work, "rebase", "--quiet", "--force-rebase", "main")
		s.git(work, "checkout", "--quiet", "main")
		s.git(work, "merge", "--quiet", "--ff-only", "pr")
	default:
		s.t.Fatalf("gittest: unknown merge style %q", style)
	}
	s.pushMain(work)
	return strings.TrimSpace(s.git(work, "rev-parse", "HEAD"))
}
