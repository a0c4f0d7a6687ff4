package action

import (
	"context"
	"encoding/base64"

	"github.com/google/go-github/v60/github"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes"
)

// goGitHub writes verdict notes through GitHub's Git Data API.
var _ ghnotes.API = (*goGitHub)(nil)

// HTTPStatus is the status of the failed call (ghnotes reads it).
func (e *APIError) HTTPStatus() int { return e.Status }

func (g *goGitHub) GetRef(ctx context.Context, owner, repo, ref string) (string, error) {
	r, resp, err := g.c.Git.GetRef(ctx, owner, repo, ref)
	if err != nil {
		return "", apiErr("reading "+ref, resp, err)
	}
	return r.GetObject().GetSHA(), nil
}

func (g *goGitHub) GetCommitTree(ctx context.Context, owner, repo, sha string) (string, error) {
	c, resp, err := g.c.Git.GetCommit(ctx, owner, repo, sha)
	if err != nil {
		return "", apiErr("reading commit "+commitid.Short(sha), resp, err)
	}
	return c.GetTree().GetSHA(), nil
}

func (g *goGitHub) GetTree(ctx context.Context, owner, repo, sha string) (ghnotes.Tree, error) {
	t, resp, err := g.c.Git.GetTree(ctx, owner, repo, sha, false)
	if err != nil {
		return ghnotes.Tree{}, apiErr("reading tree "+commitid.Short(sha), resp, err)
	}
	out := ghnotes.Tree{Truncated: t.GetTruncated()}
	for _, e := range t.Entries {
		out.Entries = append(out.Entries, ghnotes.TreeEntry{Path: e.GetPath(), Mode: e.GetMode(), Type: e.GetType(), SHA: e.GetSHA()})
	}
	return out, nil
}

func (g *goGitHub) GetBlob(ctx context.Context, owner, repo, sha string) ([]byte, error) {
	b, resp, err := g.c.Git.GetBlobRaw(ctx, owner, repo, sha)
	if err != nil {
		return nil, apiErr("reading blob "+commitid.Short(sha), resp, err)
	}
	return b, nil
}

func (g *goGitHub) CreateBlob(ctx context.Context, owner, repo string, content []byte) (string, error) {
	b, resp, err := g.c.Git.CreateBlob(ctx, owner, repo, &github.Blob{
		Content: github.String(base64.StdEncoding.EncodeToString(content)), Encoding: github.String("base64"),
	})
	if err != nil {
		return "", apiErr("creating a blob", resp, err)
	}
	return b.GetSHA(), nil
}

func (g *goGitHub) CreateTree(ctx context.Context, owner, repo, base string, entries []ghnotes.TreeEntry) (string, error) {
	es := make([]*github.TreeEntry, 0, len(entries))
	for _, e := range entries {
		es = append(es, &github.TreeEntry{Path: github.String(e.Path), Mode: github.String(e.Mode), Type: github.String(e.Type), SHA: github.String(e.SHA)})
	}
	t, resp, err := g.c.Git.CreateTree(ctx, owner, repo, base, es)
	if err != nil {
		return "", apiErr("creating a tree", resp, err)
	}
	return t.GetSHA(), nil
}

func (g *goGitHub) CreateCommit(ctx context.Context, owner, repo, message, tree string, parents []string) (string, error) {
	c := &github.Commit{Message: github.String(message), Tree: &github.Tree{SHA: github.String(tree)}}
	for _, p := range parents {
		c.Parents = append(c.Parents, &github.Commit{SHA: github.String(p)})
	}
	made, resp, err := g.c.Git.CreateCommit(ctx, owner, repo, c, nil)
	if err != nil {
		return "", apiErr("creating a commit", resp, err)
	}
	return made.GetSHA(), nil
}

func (g *goGitHub) UpdateRef(ctx context.Context, owner, repo, ref, sha string) error {
	_, resp, err := g.c.Git.UpdateRef(ctx, owner, repo, &github.Reference{Ref: github.String(ref), Object: &github.GitObject{SHA: github.String(sha)}}, false)
	return apiErr("updating "+ref, resp, err)
}

func (g *goGitHub) CreateRef(ctx context.Context, owner, repo, ref, sha string) error {
	_, resp, err := g.c.Git.CreateRef(ctx, owner, repo, &github.Reference{Ref: github.String(ref), Object: &github.GitObject{SHA: github.String(sha)}})
	return apiErr("creating "+ref, resp, err)
}
