package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// ErrNoServeChange is returned by LastServeChange when no commit in the
// branch's history set the model's serve (for example a shallow history).
var ErrNoServeChange = errors.New("no commit changed serve")

// Commit is one commit of the followed branch.
type Commit struct {
	SHA     string    `json:"sha"`
	Title   string    `json:"title"`
	Message string    `json:"message"`
	Author  string    `json:"author"` // "Name <email>"
	When    time.Time `json:"when"`
	Parents []string  `json:"parents,omitempty"`
}

func toCommit(c *object.Commit) Commit {
	ps := make([]string, len(c.ParentHashes))
	for i, p := range c.ParentHashes {
		ps[i] = p.String()
	}
	return Commit{
		SHA:     c.Hash.String(),
		Title:   title(c.Message),
		Message: c.Message,
		Author:  c.Author.Name + " <" + c.Author.Email + ">",
		When:    c.Author.When,
		Parents: ps,
	}
}

func title(msg string) string {
	line, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n")
	return strings.TrimSpace(line)
}

// CommitInfo returns the commit named by rev ("HEAD", a branch, a sha).
func (r *Repo) CommitInfo(rev string) (Commit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.resolve(rev)
	if err != nil {
		return Commit{}, err
	}
	return toCommit(c), nil
}

// Tree returns the tree of the commit named by rev, for reading the spec
// directory at that commit.
func (r *Repo) Tree(rev string) (*object.Tree, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.resolve(rev)
	if err != nil {
		return nil, err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", c.Hash, err)
	}
	return t, nil
}

// ReadFile returns the content of the repo-relative path at rev.
func (r *Repo) ReadFile(rev, path string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.resolve(rev)
	if err != nil {
		return nil, err
	}
	b, ok, err := fileAt(c, path)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: not in commit %s", path, c.Hash)
	}
	return b, nil
}

// fileAt returns the content of path in c, and false when c has no such file.
func fileAt(c *object.Commit, path string) ([]byte, bool, error) {
	t, err := c.Tree()
	if err != nil {
		return nil, false, fmt.Errorf("read tree of %s: %w", c.Hash, err)
	}
	f, err := t.File(path)
	if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s at %s: %w", path, c.Hash, err)
	}
	rd, err := f.Reader()
	if err != nil {
		return nil, false, fmt.Errorf("read %s at %s: %w", path, c.Hash, err)
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, false, fmt.Errorf("read %s at %s: %w", path, c.Hash, err)
	}
	return b, true, nil
}

// blobHash is the hash of path in c, or the zero hash when absent.
func blobHash(c *object.Commit, path string) (plumbing.Hash, error) {
	t, err := c.Tree()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read tree of %s: %w", c.Hash, err)
	}
	e, err := t.FindEntry(path)
	if err != nil {
		return plumbing.ZeroHash, nil //nolint:nilerr // absent file
	}
	return e.Hash, nil
}

// LastServeChange walks the branch's first-parent history from its head
// and returns the newest commit that changed the serve value of
// `model "<model>" "<stage>"` in file (repo-relative), including the
// commit that created it.
func (r *Repo) LastServeChange(ctx context.Context, file, model, stage string) (Commit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, err := r.head()
	if err != nil {
		return Commit{}, err
	}
	c, err := r.repo.CommitObject(h)
	if err != nil {
		return Commit{}, fmt.Errorf("read commit %s: %w", h, err)
	}
	found, err := r.lastServeChange(ctx, c, file, model, stage)
	if err != nil {
		return Commit{}, err
	}
	return toCommit(found), nil
}

func (r *Repo) lastServeChange(ctx context.Context, c *object.Commit, file, model, stage string) (*object.Commit, error) {
	cur, err := serveIn(c, file, model, stage)
	if err != nil {
		return nil, err
	}
	if cur == "" {
		return nil, fmt.Errorf("%s at %s: no model %q %q with a serve value", file, c.Hash, model, stage)
	}
	curBlob, err := blobHash(c, file)
	if err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("search history for the last change of serve: %w", err)
		}
		if len(c.ParentHashes) == 0 {
			return c, nil // the commit that created the file or model
		}
		p, err := r.repo.CommitObject(c.ParentHashes[0])
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, fmt.Errorf("%s: history ends at %s (shallow clone?): %w", file, c.Hash, ErrNoServeChange)
		}
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", c.ParentHashes[0], err)
		}
		pBlob, err := blobHash(p, file)
		if err != nil {
			return nil, err
		}
		prev := cur
		if pBlob != curBlob {
			if prev, err = serveIn(p, file, model, stage); err != nil {
				return nil, err
			}
		}
		if prev != cur {
			return c, nil
		}
		c, curBlob = p, pBlob
	}
}

// serveIn is the serve value of the model in file at c: "" when the file,
// the model or its serve is absent, "\x00invalid" when the file does not
// parse (so that a fix counts as a change).
func serveIn(c *object.Commit, file, model, stage string) (string, error) {
	src, ok, err := fileAt(c, file)
	if err != nil || !ok {
		return "", err
	}
	v, ok := parseServe(src, file, model, stage)
	if !ok {
		return "\x00invalid", nil
	}
	return v, nil
}

// parseServe reads the literal serve value of one model from HCL source.
// ok is false when the file does not parse.
func parseServe(src []byte, file, model, stage string) (serve string, ok bool) {
	b, parsed := modelBlock(src, file, model, stage)
	if !parsed {
		return "", false
	}
	if b == nil {
		return "", true
	}
	return stringAttr(b.Body, "serve"), true
}

// hasBlock reports whether the model's block contains a block of type typ.
func hasBlock(src []byte, file, model, stage, typ string) bool {
	b, _ := modelBlock(src, file, model, stage)
	return b != nil && innerBlock(b, typ) != nil
}

// modelBlock finds `model "<model>" "<stage>"` in HCL source: nil when the
// file has no such block; parsed is false when the file does not parse.
func modelBlock(src []byte, file, model, stage string) (b *hclsyntax.Block, parsed bool) {
	f, diags := hclsyntax.ParseConfig(src, file, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, false
	}
	body, isBody := f.Body.(*hclsyntax.Body)
	if !isBody {
		return nil, false
	}
	for _, b := range body.Blocks {
		if b.Type == "model" && len(b.Labels) == 2 && b.Labels[0] == model && b.Labels[1] == stage {
			return b, true
		}
	}
	return nil, true
}

// innerBlock is the first block of type typ inside b, or nil.
func innerBlock(b *hclsyntax.Block, typ string) *hclsyntax.Block {
	for _, inner := range b.Body.Blocks {
		if inner.Type == typ {
			return inner
		}
	}
	return nil
}

// literal is the value of a body's attribute; ok is false when it is
// absent, null or not a literal (it names variables or functions).
func literal(body *hclsyntax.Body, name string) (v cty.Value, ok bool) {
	attr, found := body.Attributes[name]
	if !found {
		return cty.NilVal, false
	}
	v, d := attr.Expr.Value(nil)
	if d.HasErrors() || v.IsNull() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

// stringAttr is a body's literal string attribute, "" when it is absent
// or not a literal string.
func stringAttr(body *hclsyntax.Body, name string) string {
	v, ok := literal(body, name)
	if !ok || !v.Type().Equals(cty.String) {
		return ""
	}
	return v.AsString()
}

// TreeAt returns a read-only fs.FS over the tree of the commit rev names
// ("HEAD" is the followed branch), and that commit's sha; see TreeFS.
// Files are read lazily: do not use the FS across a Repack.
func (r *Repo) TreeAt(rev string) (fs.FS, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rev == "" || rev == "HEAD" {
		rev = r.branchRef().String()
	}
	fsys, h, err := TreeFS(r.repo, rev)
	if err != nil {
		return nil, "", err
	}
	// Its files are read later, lazily: one at a time with everything
	// else the Repo does, a fetch writing to the same storage included.
	fsys.(*treeFS).mu = &r.mu
	return fsys, h.String(), nil
}

// MaxCatchUp is the most commits FirstParentsBetween walks.
const MaxCatchUp = 100

// FirstParentsBetween lists the commits after from up to, not including,
// to, oldest first, following first parents from to: the commits a branch
// went through from one fetch to the next (a merge counts once, as its
// merge commit). It returns nil when from is not among the first MaxCatchUp
// first-parent ancestors of to (history rewritten, or too far behind).
func (r *Repo) FirstParentsBetween(ctx context.Context, from, to string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.resolve(to)
	if err != nil {
		return nil, err
	}
	want := plumbing.NewHash(from)
	between := []string{}
	for i := 0; i < MaxCatchUp; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if c.NumParents() == 0 {
			return nil, nil
		}
		p, err := c.Parent(0)
		if err != nil {
			return nil, fmt.Errorf("read the first parent of %s: %w", c.Hash, err)
		}
		if p.Hash == want {
			slices.Reverse(between)
			return between, nil
		}
		between = append(between, p.Hash.String())
		c = p
	}
	return nil, nil
}
