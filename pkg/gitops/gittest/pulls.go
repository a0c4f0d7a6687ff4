package gittest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Pull is a pull request the fake GitHub API holds.
type Pull struct {
	Number   int
	Head     string // the branch
	Base     string
	Title    string
	Body     string
	State    string // "open" or "closed"
	Merged   bool
	Comments []string
	Created  time.Time
}

// Pulls is the pull request part of the GitHub REST API for one
// repository, owner/repo, as go-github calls it under /api/v3/: open
// (422 when one is already open from the branch), list (by state and
// head, newest first), edit (title, body, state) and comment. Serve it
// from an httptest server on 127.0.0.1; Errs lists any request it does
// not know.
type Pulls struct {
	owner, repo string
	now         func() time.Time
	// Token, when set, is the token every request must carry.
	Token string

	mu    sync.Mutex
	pulls []*Pull
	errs  []string
}

// NewPulls is an empty fake for owner/repo; now stamps creation times.
func NewPulls(owner, repo string, now func() time.Time) *Pulls {
	return &Pulls{owner: owner, repo: repo, now: now}
}

func (p *Pulls) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	base := "/api/v3/repos/" + p.owner + "/" + p.repo
	rest, ok := strings.CutPrefix(r.URL.Path, base)
	if !ok {
		p.fail(w, r)
		return
	}
	if p.Token != "" && r.Header.Get("Authorization") != "Bearer "+p.Token {
		p.errs = append(p.errs, r.Method+" "+r.URL.Path+" without the token")
	}
	w.Header().Set("Content-Type", "application/json")
	var in map[string]string
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPatch) {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			p.errs = append(p.errs, r.Method+" "+r.URL.Path+": "+err.Error())
		}
	}
	switch {
	case r.Method == http.MethodGet && rest == "/pulls":
		p.list(w, r)
	case r.Method == http.MethodPost && rest == "/pulls":
		for _, pr := range p.pulls {
			if pr.Head == in["head"] && pr.State == "open" {
				w.WriteHeader(http.StatusUnprocessableEntity)
				_, _ = fmt.Fprintf(w, `{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for %s:%s."}]}`, p.owner, in["head"])
				return
			}
		}
		pr := &Pull{Number: len(p.pulls) + 1, Head: in["head"], Base: in["base"], Title: in["title"], Body: in["body"], State: "open", Created: p.now().UTC()}
		p.pulls = append(p.pulls, pr)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(p.json(pr))
	case r.Method == http.MethodPatch && strings.HasPrefix(rest, "/pulls/"):
		pr := p.find(strings.TrimPrefix(rest, "/pulls/"))
		if pr == nil {
			p.fail(w, r)
			return
		}
		if v, ok := in["title"]; ok {
			pr.Title = v
		}
		if v, ok := in["body"]; ok {
			pr.Body = v
		}
		if v, ok := in["state"]; ok {
			pr.State = v
		}
		_ = json.NewEncoder(w).Encode(p.json(pr))
	case r.Method == http.MethodPost && strings.HasPrefix(rest, "/issues/") && strings.HasSuffix(rest, "/comments"):
		pr := p.find(strings.TrimSuffix(strings.TrimPrefix(rest, "/issues/"), "/comments"))
		if pr == nil {
			p.fail(w, r)
			return
		}
		pr.Comments = append(pr.Comments, in["body"])
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{}`))
	default:
		p.fail(w, r)
	}
}

func (p *Pulls) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state, head := q.Get("state"), q.Get("head")
	if state == "" {
		state = "open"
	}
	out := []map[string]any{}
	for i := len(p.pulls) - 1; i >= 0; i-- { // newest first
		pr := p.pulls[i]
		if state != "all" && pr.State != state || head != "" && head != p.owner+":"+pr.Head {
			continue
		}
		out = append(out, p.json(pr))
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (p *Pulls) json(pr *Pull) map[string]any {
	m := map[string]any{
		"number":     pr.Number,
		"html_url":   fmt.Sprintf("https://github.com/%s/%s/pull/%d", p.owner, p.repo, pr.Number),
		"state":      pr.State,
		"title":      pr.Title,
		"body":       pr.Body,
		"created_at": pr.Created.Format(time.RFC3339),
		"head":       map[string]any{"ref": pr.Head, "label": p.owner + ":" + pr.Head},
		"base":       map[string]any{"ref": pr.Base},
	}
	if pr.Merged {
		m["merged_at"] = pr.Created.Format(time.RFC3339)
	}
	return m
}

func (p *Pulls) find(num string) *Pull {
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > len(p.pulls) {
		return nil
	}
	return p.pulls[n-1]
}

func (p *Pulls) fail(w http.ResponseWriter, r *http.Request) {
	p.errs = append(p.errs, r.Method+" "+r.URL.Path)
	http.NotFound(w, r)
}

// All is a copy of every pull request, in the order opened.
func (p *Pulls) All() []Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Pull, len(p.pulls))
	for i, pr := range p.pulls {
		out[i] = *pr
		out[i].Comments = append([]string(nil), pr.Comments...)
	}
	return out
}

// Open is a copy of the open pull requests, in the order opened.
func (p *Pulls) Open() []Pull {
	var out []Pull
	for _, pr := range p.All() {
		if pr.State == "open" {
			out = append(out, pr)
		}
	}
	return out
}

// Close closes pull request number without merging it, as a person does.
func (p *Pulls) Close(number int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pulls[number-1].State = "closed"
}

// Reopen reopens pull request number, as a person does.
func (p *Pulls) Reopen(number int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pulls[number-1].State = "open"
}

// Merged marks pull request number merged (and closed), as GitHub does
// once it lands; MergePullRequest lands its branch.
func (p *Pulls) Merged(number int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pulls[number-1].State, p.pulls[number-1].Merged = "closed", true
}

// Errs are the requests the fake did not know, or could not read.
func (p *Pulls) Errs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}
