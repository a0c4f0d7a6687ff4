package action

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/switchyard-dev/switchyard/pkg/notes/ghnotes/ghnotestest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const (
	testToken    = "ghs_testtoken123"
	testOwner    = "octo-org"
	testRepoName = "models"
)

// ---------------------------------------------------------------- GitHub

// fakeGitHub is a GitHub REST API served by httptest that checks every
// request go-github makes (method, path, auth, body) and keeps the state a
// test asserts on.
type fakeGitHub struct {
	t      testing.TB
	srv    *httptest.Server
	prefix string // "/api/v3": GitHub Enterprise Server's API path

	mu            sync.Mutex
	log           []string // "METHOD path" of every request
	comments      []*fakeComment
	nextID        int64
	checkStatus   int // status to answer check-run creation with (0: created)
	commentStatus int // status to answer every comment request with (0: normal)
	checkRuns     map[int64]*fakeCheckRun
	checkReqs     []map[string]any // bodies of check-run requests, in order
	deployments   []map[string]any
	pulls         []map[string]any
	git           *ghnotestest.Store // the Git Data API's repository
}

type fakeComment struct {
	ID   int64
	Body string
}

type fakeCheckRun struct {
	HeadSHA     string
	Status      string
	Conclusion  string
	Annotations []map[string]any
}

func newFakeGitHub(t testing.TB) *fakeGitHub {
	g := &fakeGitHub{t: t, prefix: "/api/v3", nextID: 1000, checkRuns: map[int64]*fakeCheckRun{}, git: newGitStore()}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

// apiURL is what GITHUB_API_URL says on GitHub Enterprise Server.
func (g *fakeGitHub) apiURL() string { return g.srv.URL + g.prefix }

// seedComments adds comments by others, so that the sticky comment has to
// be found past the first page.
func (g *fakeGitHub) seedComments(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := 0; i < n; i++ {
		g.nextID++
		g.comments = append(g.comments, &fakeComment{ID: g.nextID, Body: fmt.Sprintf("LGTM %d, mentions <!-- switchyard:plan --> later", i)})
	}
}

func (g *fakeGitHub) planComments() []*fakeComment {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*fakeComment
	for _, c := range g.comments {
		if strings.HasPrefix(c.Body, markerPrefix) {
			out = append(out, c)
		}
	}
	return out
}

func (g *fakeGitHub) requests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.log...)
}

var (
	reComments     = regexp.MustCompile(`^/repos/octo-org/models/issues/(\d+)/comments$`)
	reComment      = regexp.MustCompile(`^/repos/octo-org/models/issues/comments/(\d+)$`)
	reCheckRuns    = regexp.MustCompile(`^/repos/octo-org/models/check-runs$`)
	reCheckRun     = regexp.MustCompile(`^/repos/octo-org/models/check-runs/(\d+)$`)
	reDeployments  = regexp.MustCompile(`^/repos/octo-org/models/deployments$`)
	rePulls        = regexp.MustCompile(`^/repos/octo-org/models/pulls$`)
	shaPattern     = regexp.MustCompile(`^[0-9a-f]{40}$`)
	annotationKeys = map[string]bool{"path": true, "start_line": true, "end_line": true, "start_column": true,
		"end_column": true, "annotation_level": true, "message": true, "title": true}
)

func (g *fakeGitHub) fail(w http.ResponseWriter, status int, format string, args ...any) {
	g.t.Errorf("GitHub API: "+format, args...)
	http.Error(w, fmt.Sprintf(`{"message": %q}`, fmt.Sprintf(format, args...)), status)
}

func (g *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	path, ok := strings.CutPrefix(r.URL.Path, g.prefix)
	if !ok {
		g.fail(w, 404, "%s %s: not under the GHES API prefix %s", r.Method, r.URL.Path, g.prefix)
		return
	}
	g.log = append(g.log, r.Method+" "+path)
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		g.fail(w, 401, "%s %s: Authorization %q, want the token", r.Method, path, got)
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/vnd.github") {
		g.fail(w, 400, "%s %s: Accept %q", r.Method, path, r.Header.Get("Accept"))
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			g.fail(w, 415, "%s %s: Content-Type %q", r.Method, path, ct)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			g.fail(w, 400, "%s %s: body: %v", r.Method, path, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if g.commentStatus != 0 && strings.Contains(path, "/comments") {
		w.WriteHeader(g.commentStatus)
		io.WriteString(w, `{"message":"Resource not accessible by integration"}`)
		return
	}
	switch {
	case reComments.MatchString(path) && r.Method == http.MethodGet:
		g.listComments(w, r, path)
	case reComments.MatchString(path) && r.Method == http.MethodPost:
		text, ok := body["body"].(string)
		if !ok || len(body) != 1 || !strings.HasPrefix(text, markerPrefix) || len(text) > MaxCommentBytes {
			g.fail(w, 422, "POST %s: body %.200v", path, body)
			return
		}
		g.nextID++
		c := &fakeComment{ID: g.nextID, Body: text}
		g.comments = append(g.comments, c)
		w.WriteHeader(http.StatusCreated)
		writeJSON(w, commentJSON(g.srv.URL, c))
	case reComment.MatchString(path) && r.Method == http.MethodPatch:
		id, _ := strconv.ParseInt(reComment.FindStringSubmatch(path)[1], 10, 64)
		c := g.comment(id)
		text, ok := body["body"].(string)
		if c == nil || !ok || len(body) != 1 || len(text) > MaxCommentBytes || !strings.HasPrefix(c.Body, markerPrefix) {
			g.fail(w, 422, "PATCH %s: comment %v, body %.200v", path, c, body)
			return
		}
		c.Body = text
		writeJSON(w, commentJSON(g.srv.URL, c))
	case reComment.MatchString(path) && r.Method == http.MethodDelete:
		id, _ := strconv.ParseInt(reComment.FindStringSubmatch(path)[1], 10, 64)
		for i, c := range g.comments {
			if c.ID == id && strings.HasPrefix(c.Body, markerPrefix) {
				g.comments = append(g.comments[:i], g.comments[i+1:]...)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		g.fail(w, 404, "DELETE %s: no such plan comment", path)
	case reCheckRuns.MatchString(path) && r.Method == http.MethodPost:
		g.checkReqs = append(g.checkReqs, body)
		if g.checkStatus != 0 {
			w.WriteHeader(g.checkStatus)
			io.WriteString(w, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/checks/runs#create-a-check-run"}`)
			return
		}
		sha, _ := body["head_sha"].(string)
		if body["name"] != CheckName || !shaPattern.MatchString(sha) {
			g.fail(w, 422, "POST %s: name %v head_sha %v", path, body["name"], body["head_sha"])
			return
		}
		g.nextID++
		run := &fakeCheckRun{HeadSHA: sha}
		if !g.applyCheck(w, path, run, body) {
			return
		}
		g.checkRuns[g.nextID] = run
		w.WriteHeader(http.StatusCreated)
		writeJSON(w, map[string]any{"id": g.nextID, "head_sha": sha, "name": CheckName, "status": run.Status,
			"url": g.srv.URL + g.prefix + path + "/" + strconv.FormatInt(g.nextID, 10)})
	case reCheckRun.MatchString(path) && r.Method == http.MethodPatch:
		g.checkReqs = append(g.checkReqs, body)
		id, _ := strconv.ParseInt(reCheckRun.FindStringSubmatch(path)[1], 10, 64)
		run := g.checkRuns[id]
		if run == nil {
			g.fail(w, 404, "PATCH %s: no such check run", path)
			return
		}
		if run.Status == "completed" {
			g.fail(w, 422, "PATCH %s: the run is already completed", path)
			return
		}
		if !g.applyCheck(w, path, run, body) {
			return
		}
		writeJSON(w, map[string]any{"id": id, "head_sha": run.HeadSHA, "name": CheckName, "status": run.Status})
	case reDeployments.MatchString(path) && r.Method == http.MethodPost:
		sha, _ := body["ref"].(string)
		env, _ := body["environment"].(string)
		rc, rcOK := body["required_contexts"].([]any)
		if !shaPattern.MatchString(sha) || env == "" || body["auto_merge"] != false || !rcOK || len(rc) != 0 || body["task"] != "deploy" {
			g.fail(w, 422, "POST %s: %v", path, body)
			return
		}
		g.deployments = append(g.deployments, body)
		g.nextID++
		w.WriteHeader(http.StatusCreated)
		writeJSON(w, map[string]any{"id": g.nextID, "sha": sha, "ref": sha, "task": "deploy", "environment": env, "payload": body["payload"]})
	case rePulls.MatchString(path) && r.Method == http.MethodPost:
		for _, k := range []string{"title", "head", "base", "body"} {
			if s, _ := body[k].(string); s == "" {
				g.fail(w, 422, "POST %s: no %s in %v", path, k, body)
				return
			}
		}
		g.pulls = append(g.pulls, body)
		n := 100 + len(g.pulls)
		w.WriteHeader(http.StatusCreated)
		writeJSON(w, map[string]any{"id": 5000 + n, "number": n, "state": "open", "title": body["title"],
			"html_url": fmt.Sprintf("https://github.com/octo-org/models/pull/%d", n)})
	case strings.HasPrefix(path, "/repos/octo-org/models/git/"):
		g.serveGit(w, r, path, body)
	default:
		g.fail(w, 404, "unexpected request %s %s", r.Method, path)
	}
}

// applyCheck checks a check run body (at most 50 annotations, each with
// its required fields) and applies it to run.
func (g *fakeGitHub) applyCheck(w http.ResponseWriter, path string, run *fakeCheckRun, body map[string]any) bool {
	if body["name"] != CheckName {
		g.fail(w, 422, "%s: name %v", path, body["name"])
		return false
	}
	if s, ok := body["status"].(string); ok {
		run.Status = s
	}
	if c, ok := body["conclusion"].(string); ok {
		if run.Status != "completed" {
			g.fail(w, 422, "%s: conclusion without status completed", path)
			return false
		}
		run.Conclusion = c
	}
	out, _ := body["output"].(map[string]any)
	if out == nil {
		return true
	}
	if t, _ := out["title"].(string); t == "" {
		g.fail(w, 422, "%s: output without title", path)
		return false
	}
	if s, _ := out["summary"].(string); s == "" || len(s) > 65535 {
		g.fail(w, 422, "%s: output summary of %d bytes", path, len(s))
		return false
	}
	anns, _ := out["annotations"].([]any)
	if len(anns) > AnnotationBatch {
		g.fail(w, 422, "%s: %d annotations in one request (at most 50)", path, len(anns))
		return false
	}
	for _, a := range anns {
		m, _ := a.(map[string]any)
		for k := range m {
			if !annotationKeys[k] {
				g.fail(w, 422, "%s: annotation field %s", path, k)
				return false
			}
		}
		if m["path"] == nil || m["start_line"] == nil || m["end_line"] == nil || m["message"] == nil {
			g.fail(w, 422, "%s: annotation %v lacks a required field", path, m)
			return false
		}
		switch m["annotation_level"] {
		case "notice", "warning", "failure":
		default:
			g.fail(w, 422, "%s: annotation_level %v", path, m["annotation_level"])
			return false
		}
		if m["start_column"] != nil && m["start_line"] != m["end_line"] {
			g.fail(w, 422, "%s: columns on a multi-line annotation", path)
			return false
		}
		run.Annotations = append(run.Annotations, m)
	}
	return true
}

func (g *fakeGitHub) comment(id int64) *fakeComment {
	for _, c := range g.comments {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// listComments pages like GitHub: per_page, page and a Link header.
func (g *fakeGitHub) listComments(w http.ResponseWriter, r *http.Request, path string) {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page <= 0 {
		page = 1
	}
	from := min((page-1)*per, len(g.comments))
	to := min(from+per, len(g.comments))
	if to < len(g.comments) {
		u := fmt.Sprintf("%s%s%s?per_page=%d&page=%d", g.srv.URL, g.prefix, path, per, page+1)
		last := fmt.Sprintf("%s%s%s?per_page=%d&page=%d", g.srv.URL, g.prefix, path, per, (len(g.comments)+per-1)/per)
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s>; rel="last"`, u, last))
	}
	out := []any{}
	for _, c := range g.comments[from:to] {
		out = append(out, commentJSON(g.srv.URL, c))
	}
	writeJSON(w, out)
}

func commentJSON(base string, c *fakeComment) map[string]any {
	return map[string]any{
		"id": c.ID, "node_id": "IC_kwDOCyNIGs5" + strconv.FormatInt(c.ID, 10), "body": c.Body,
		"url":        fmt.Sprintf("%s/repos/octo-org/models/issues/comments/%d", base, c.ID),
		"html_url":   fmt.Sprintf("https://github.com/octo-org/models/pull/42#issuecomment-%d", c.ID),
		"user":       map[string]any{"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
		"created_at": "2026-11-26T10:02:00Z", "updated_at": "2026-11-26T10:02:00Z",
		"author_association": "NONE",
	}
}

func writeJSON(w io.Writer, v any) { json.NewEncoder(w).Encode(v) }

// ---------------------------------------------------------------- Git

// testRepo is a Git repository in a temp dir: the action's workspace.
type testRepo struct {
	t    testing.TB
	dir  string
	repo *git.Repository
	when time.Time
}

func newTestRepo(t testing.TB) *testRepo {
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{t: t, dir: dir, repo: r, when: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
}

// commit writes files (nil content deletes) and commits them; returns the sha.
func (r *testRepo) commit(msg string, files map[string]*string) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(r.dir, filepath.FromSlash(n))
		if files[n] == nil {
			if _, err := wt.Remove(n); err != nil {
				r.t.Fatalf("remove %s: %v", n, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(*files[n]), 0o644); err != nil {
			r.t.Fatal(err)
		}
		if _, err := wt.Add(n); err != nil {
			r.t.Fatal(err)
		}
	}
	r.when = r.when.Add(time.Minute)
	sig := &object.Signature{Name: "Mona Lisa", Email: "mona@example.com", When: r.when}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}

// checkout moves the worktree (and HEAD) to sha, detached like
// actions/checkout does for a pull request.
func (r *testRepo) checkout(sha string) {
	r.t.Helper()
	wt, _ := r.repo.Worktree()
	if err := wt.Checkout(&git.CheckoutOptions{Hash: plumbing.NewHash(sha), Force: true}); err != nil {
		r.t.Fatal(err)
	}
}

// branch points refs/heads/name at sha.
func (r *testRepo) branch(name, sha string) {
	r.t.Helper()
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(name), plumbing.NewHash(sha))); err != nil {
		r.t.Fatal(err)
	}
}

// addNote attaches content as the note of commit under refs/notes/switchyard.
func (r *testRepo) addNote(commit, content string) { r.addNotes(map[string]string{commit: content}) }

// addNotes writes a notes commit whose tree maps paths (a commit sha, or a
// fanout path "ab/cdef...") to contents.
func (r *testRepo) addNotes(notes map[string]string) {
	r.t.Helper()
	st := r.repo.Storer
	store := func(o interface {
		Encode(plumbing.EncodedObject) error
	}, typ plumbing.ObjectType) plumbing.Hash {
		eo := st.NewEncodedObject()
		if err := o.Encode(eo); err != nil {
			r.t.Fatal(err)
		}
		h, err := st.SetEncodedObject(eo)
		if err != nil {
			r.t.Fatal(err)
		}
		return h
	}
	blobOf := func(content string) plumbing.Hash {
		blob := st.NewEncodedObject()
		blob.SetType(plumbing.BlobObject)
		w, _ := blob.Writer()
		io.WriteString(w, content)
		w.Close()
		h, err := st.SetEncodedObject(blob)
		if err != nil {
			r.t.Fatal(err)
		}
		return h
	}
	root := map[string][]object.TreeEntry{}
	var top []object.TreeEntry
	for path, content := range notes {
		if dir, name, ok := strings.Cut(path, "/"); ok {
			root[dir] = append(root[dir], object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: blobOf(content)})
			continue
		}
		top = append(top, object.TreeEntry{Name: path, Mode: filemode.Regular, Hash: blobOf(content)})
	}
	for dir, entries := range root {
		top = append(top, object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: store(&object.Tree{Entries: entries}, plumbing.TreeObject)})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].Name < top[j].Name })
	th := store(&object.Tree{Entries: top}, plumbing.TreeObject)
	sig := object.Signature{Name: "Switchyard", Email: "switchyard@localhost", When: r.when}
	ch := store(&object.Commit{Author: sig, Committer: sig, Message: "Notes added by 'git notes add'", TreeHash: th}, plumbing.CommitObject)
	if err := st.SetReference(plumbing.NewHashReference(NotesRef, ch)); err != nil {
		r.t.Fatal(err)
	}
}

func ptr(s string) *string { return &s }

// fixture reads pkg/action/testdata/repo, with {{MODEL_URL}} replaced.
func fixture(t *testing.T, modelURL string) map[string]*string {
	t.Helper()
	out := map[string]*string{}
	root := filepath.Join("testdata", "repo")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = ptr(strings.ReplaceAll(string(b), "{{MODEL_URL}}", modelURL))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ---------------------------------------------------------------- events

// writeEvent copies testdata/events/<name>.json with fields replaced by
// set (dotted paths) into a temp file and returns its path.
func writeEvent(t testing.TB, name string, set map[string]any) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		parts := strings.Split(k, ".")
		m := doc
		for _, p := range parts[:len(parts)-1] {
			m = m[p].(map[string]any)
		}
		m[parts[len(parts)-1]] = v
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	p := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ---------------------------------------------------------------- model servers

// fraudModel answers {"label": "fraud"|"ok"} for {"amount": n}: right for
// every sample of the holdout set, or wrong for every `wrongEvery`-th.
func fraudModel(t *testing.T, wrongEvery int) *httptest.Server {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Amount int }
		if r.URL.Path != "/predict" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, "bad request", 400)
			return
		}
		label := "ok"
		if (in.Amount/10)%4 == 0 {
			label = "fraud"
		}
		mu.Lock()
		n++
		if wrongEvery > 0 && n%wrongEvery == 0 {
			label = "unsure"
		}
		mu.Unlock()
		writeJSON(w, map[string]any{"label": label, "score": 0.5})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// hangingModel never answers before the client gives up (bounded).
func hangingModel(t *testing.T) *httptest.Server {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv
}

// ---------------------------------------------------------------- running

type result struct {
	code           int
	stdout, stderr string
	summary        string
	outputs        string
}

// baseConfig is a Config for a workspace and event, against gh.
func baseConfig(t testing.TB, gh *fakeGitHub, workspace, eventName, eventPath string) Config {
	dir := t.TempDir()
	return Config{
		EventName: eventName, EventPath: eventPath, Workspace: workspace,
		Repository: testOwner + "/" + testRepoName, APIURL: gh.apiURL(), Token: testToken,
		SummaryPath: filepath.Join(dir, "summary.md"), OutputPath: filepath.Join(dir, "output.txt"),
		Comment: true, OfflineValidation: true, RecordVerdicts: true, ValidationTimeout: 2 * time.Second,
		HTTPClient: gh.srv.Client(), ModelClient: http.DefaultClient, TempDir: dir,
		Now: func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) },
	}
}

func runAction(t *testing.T, cfg Config) result {
	t.Helper()
	var out, errb bytes.Buffer
	cfg.Stdout, cfg.Stderr = &out, &errb
	code := Run(context.Background(), cfg)
	res := result{code: code, stdout: out.String(), stderr: errb.String()}
	if b, err := os.ReadFile(cfg.SummaryPath); err == nil {
		res.summary = string(b)
	}
	if b, err := os.ReadFile(cfg.OutputPath); err == nil {
		res.outputs = string(b)
	}
	return res
}

// golden compares got with testdata/golden/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// normalize replaces the run's shas and URLs with stable names.
func normalize(s string, repl map[string]string) string {
	keys := make([]string, 0, len(repl))
	for k := range repl {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		s = strings.ReplaceAll(s, k, repl[k])
	}
	return s
}
