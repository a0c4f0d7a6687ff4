package action

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes"
	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes/ghnotestest"
)

// The Git Data API of the fake GitHub: every request is checked as
// GitHub would (paths, fields, types), and served from a real repository
// (ghnotestest.Store), so what the action writes can be read back by git.

var (
	reGitRef     = regexp.MustCompile(`^/repos/octo-org/models/git/ref/(.+)$`)
	reGitRefs    = regexp.MustCompile(`^/repos/octo-org/models/git/refs$`)
	reGitRefPath = regexp.MustCompile(`^/repos/octo-org/models/git/refs/(.+)$`)
	reGitObject  = regexp.MustCompile(`^/repos/octo-org/models/git/(commits|trees|blobs)/([0-9a-f]{40})$`)
	reGitCreate  = regexp.MustCompile(`^/repos/octo-org/models/git/(commits|trees|blobs)$`)
)

// newGitStore is an empty repository behind the fake's Git Data API.
func newGitStore() *ghnotestest.Store {
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		panic(err)
	}
	return ghnotestest.New(repo)
}

// useRepo serves the Git Data API from repo (a test's "origin").
func (g *fakeGitHub) useRepo(repo *git.Repository) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.git = ghnotestest.New(repo)
}

// gitWrites is the number of Git Data API writes that succeeded.
func (g *fakeGitHub) gitWrites() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.git.Writes
}

// notes returns the files of the notes ref's tree ("" keys: none).
func (g *fakeGitHub) notes() map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	files, _, err := g.git.Files(NotesRef)
	if err != nil {
		return nil
	}
	return files
}

// notesHead is the notes ref's commit and its tree ("" when none).
func (g *fakeGitHub) notesHead() (commit, tree string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, c, err := g.git.Files(NotesRef)
	if err != nil {
		return "", ""
	}
	return c.Hash.String(), c.TreeHash.String()
}

// answer writes a Store's answer: its error's status, or v with ok.
func (g *fakeGitHub) answer(w http.ResponseWriter, ok int, v any, err error) {
	if err != nil {
		var se *ghnotestest.Error
		if !errors.As(err, &se) {
			g.t.Errorf("Git Data API: %v", err)
			http.Error(w, `{"message":"internal"}`, 500)
			return
		}
		w.WriteHeader(se.Status)
		writeJSON(w, map[string]any{"message": se.Message, "documentation_url": "https://docs.github.com/rest/git"})
		return
	}
	w.WriteHeader(ok)
	writeJSON(w, v)
}

// onlyKeys checks that body has the required keys and no others but the
// optional ones.
func onlyKeys(body map[string]any, required []string, optional ...string) error {
	allowed := map[string]bool{}
	for _, k := range append(append([]string{}, required...), optional...) {
		allowed[k] = true
	}
	for k := range body {
		if !allowed[k] {
			return fmt.Errorf("unexpected field %q", k)
		}
	}
	for _, k := range required {
		if _, ok := body[k]; !ok {
			return fmt.Errorf("no %q", k)
		}
	}
	return nil
}

func (g *fakeGitHub) serveGit(w http.ResponseWriter, r *http.Request, path string, body map[string]any) {
	ctx, s := r.Context(), g.git
	switch {
	case r.Method == http.MethodGet && reGitRef.MatchString(path):
		ref := "refs/" + reGitRef.FindStringSubmatch(path)[1]
		sha, err := s.GetRef(ctx, testOwner, testRepoName, ref)
		g.answer(w, 200, map[string]any{"ref": ref, "object": map[string]any{"sha": sha, "type": "commit"}}, err)

	case r.Method == http.MethodGet && reGitObject.MatchString(path):
		m := reGitObject.FindStringSubmatch(path)
		if r.URL.RawQuery != "" {
			g.fail(w, 422, "GET %s?%s: the notes tree is read one level at a time", path, r.URL.RawQuery)
			return
		}
		switch m[1] {
		case "commits":
			tree, err := s.GetCommitTree(ctx, testOwner, testRepoName, m[2])
			var parents []map[string]any
			if err == nil {
				c, _ := s.Repo.CommitObject(plumbing.NewHash(m[2]))
				for _, p := range c.ParentHashes {
					parents = append(parents, map[string]any{"sha": p.String()})
				}
			}
			g.answer(w, 200, map[string]any{"sha": m[2], "tree": map[string]any{"sha": tree}, "parents": parents}, err)
		case "trees":
			t, err := s.GetTree(ctx, testOwner, testRepoName, m[2])
			var entries []map[string]any
			for _, e := range t.Entries {
				entries = append(entries, map[string]any{"path": e.Path, "mode": e.Mode, "type": e.Type, "sha": e.SHA})
			}
			g.answer(w, 200, map[string]any{"sha": m[2], "tree": entries, "truncated": t.Truncated}, err)
		case "blobs":
			b, err := s.GetBlob(ctx, testOwner, testRepoName, m[2])
			if err == nil && strings.Contains(r.Header.Get("Accept"), "raw") {
				w.Header().Set("Content-Type", "application/vnd.github.raw")
				w.WriteHeader(200)
				w.Write(b)
				return
			}
			g.answer(w, 200, map[string]any{"sha": m[2], "size": len(b), "encoding": "base64",
				"content": base64.StdEncoding.EncodeToString(b)}, err)
		}

	case r.Method == http.MethodPost && reGitCreate.MatchString(path):
		switch reGitCreate.FindStringSubmatch(path)[1] {
		case "blobs":
			content, _ := body["content"].(string)
			enc, _ := body["encoding"].(string)
			if err := onlyKeys(body, []string{"content", "encoding"}); err != nil || (enc != "base64" && enc != "utf-8") {
				g.fail(w, 422, "POST %s: %v %v", path, err, body)
				return
			}
			data := []byte(content)
			if enc == "base64" {
				var err error
				if data, err = base64.StdEncoding.DecodeString(content); err != nil {
					g.fail(w, 422, "POST %s: content is not base64: %v", path, err)
					return
				}
			}
			sha, err := s.CreateBlob(ctx, testOwner, testRepoName, data)
			g.answer(w, 201, map[string]any{"sha": sha}, err)
		case "trees":
			entries, err := treeEntries(body)
			if err != nil {
				g.fail(w, 422, "POST %s: %v: %v", path, err, body)
				return
			}
			base, _ := body["base_tree"].(string)
			sha, err := s.CreateTree(ctx, testOwner, testRepoName, base, entries)
			g.answer(w, 201, map[string]any{"sha": sha}, err)
		case "commits":
			msg, _ := body["message"].(string)
			tree, _ := body["tree"].(string)
			var parents []string
			ps, psOK := body["parents"].([]any)
			for _, p := range ps {
				if sha, ok := p.(string); ok {
					parents = append(parents, sha)
				} else {
					psOK = false
				}
			}
			if err := onlyKeys(body, []string{"message", "tree"}, "parents"); err != nil || msg == "" || !shaPattern.MatchString(tree) ||
				(body["parents"] != nil && !psOK) {
				g.fail(w, 422, "POST %s: %v %v", path, err, body)
				return
			}
			sha, err := s.CreateCommit(ctx, testOwner, testRepoName, msg, tree, parents)
			g.answer(w, 201, map[string]any{"sha": sha, "tree": map[string]any{"sha": tree}, "message": msg}, err)
		}

	case r.Method == http.MethodPost && reGitRefs.MatchString(path):
		ref, _ := body["ref"].(string)
		sha, _ := body["sha"].(string)
		if err := onlyKeys(body, []string{"ref", "sha"}); err != nil || !strings.HasPrefix(ref, "refs/") || !shaPattern.MatchString(sha) {
			g.fail(w, 422, "POST %s: %v %v", path, err, body)
			return
		}
		err := s.CreateRef(ctx, testOwner, testRepoName, ref, sha)
		g.answer(w, 201, map[string]any{"ref": ref, "object": map[string]any{"sha": sha, "type": "commit"}}, err)

	case r.Method == http.MethodPatch && reGitRefPath.MatchString(path):
		ref := "refs/" + reGitRefPath.FindStringSubmatch(path)[1]
		sha, _ := body["sha"].(string)
		// A notes writer must never force: it would drop others' notes.
		if err := onlyKeys(body, []string{"sha"}, "force"); err != nil || !shaPattern.MatchString(sha) || body["force"] == true {
			g.fail(w, 422, "PATCH %s: %v %v", path, err, body)
			return
		}
		err := s.UpdateRef(ctx, testOwner, testRepoName, ref, sha)
		g.answer(w, 200, map[string]any{"ref": ref, "object": map[string]any{"sha": sha, "type": "commit"}}, err)

	default:
		g.fail(w, 404, "unexpected Git Data request %s %s", r.Method, path)
	}
}

// treeEntries reads a create-tree body's entries.
func treeEntries(body map[string]any) ([]ghnotes.TreeEntry, error) {
	if err := onlyKeys(body, []string{"tree"}, "base_tree"); err != nil {
		return nil, err
	}
	if b, ok := body["base_tree"]; ok {
		if s, _ := b.(string); !shaPattern.MatchString(s) {
			return nil, fmt.Errorf("base_tree %v", b)
		}
	}
	raw, ok := body["tree"].([]any)
	if !ok || len(raw) == 0 {
		return nil, errors.New("tree is not a list of entries")
	}
	var out []ghnotes.TreeEntry
	for _, x := range raw {
		m, _ := x.(map[string]any)
		if err := onlyKeys(m, []string{"path", "mode", "type", "sha"}); err != nil {
			return nil, err
		}
		var e ghnotes.TreeEntry
		for k, dst := range map[string]*string{"path": &e.Path, "mode": &e.Mode, "type": &e.Type, "sha": &e.SHA} {
			s, ok := m[k].(string)
			if !ok {
				return nil, fmt.Errorf("entry %s is not a string", k)
			}
			*dst = s
		}
		out = append(out, e)
	}
	return out, nil
}
