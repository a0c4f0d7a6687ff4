package targets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

const (
	defaultHTTPTimeout = 10 * time.Second
	maxErrorBody       = 64 << 10
)

// newBuiltin picks the fleet target when the block names admin APIs (one
// standalone router is a fleet of one, so that it too is given its table
// again when it restarts empty), the in-process one otherwise.
func newBuiltin(r *spec.Router, d Deps) (Target, error) {
	if r.Admin != "" || len(r.Admins) > 0 {
		return NewFleet(r, d)
	}
	return NewBuiltin(r, d)
}

// Builtin applies tables to the builtin router running in this process.
type Builtin struct {
	name   string
	router BuiltinRouter
}

// NewBuiltin returns the target of an in-process builtin router
// (deps.Builtin).
func NewBuiltin(r *spec.Router, d Deps) (*Builtin, error) {
	if d.Builtin == nil {
		return nil, fmt.Errorf("router %q: builtin router without admin needs the in-process router, and none was started", r.Name)
	}
	return &Builtin{name: r.Name, router: d.Builtin}, nil
}

// Apply swaps the router's table.
func (b *Builtin) Apply(ctx context.Context, t traffic.Table) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.router.Update(t); err != nil {
		return fmt.Errorf("router %q: update routes: %w", b.name, err)
	}
	return nil
}

// Capabilities of the builtin router: everything.
func (b *Builtin) Capabilities() Capabilities { return capsOf("builtin") }

// RemoteBuiltin applies tables to a standalone builtin router
// (`reconciler router`) through its admin API: PUT /v1/routes.
type RemoteBuiltin struct {
	name     string
	routes   string // full URL of /v1/routes
	token    string
	tokenEnv string
	client   *http.Client
}

// NewRemoteBuiltin returns the target of a builtin router's admin API. The
// bearer token is read once, here, through deps.Getenv(r.TokenEnv).
func NewRemoteBuiltin(r *spec.Router, d Deps) (*RemoteBuiltin, error) {
	base := r.Admin
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("router %q: admin %q is not an http(s) URL", r.Name, r.Admin)
	}
	rb := &RemoteBuiltin{
		name:     r.Name,
		routes:   strings.TrimSuffix(u.String(), "/") + "/v1/routes",
		tokenEnv: r.TokenEnv,
		client:   d.HTTPClient,
	}
	if r.TokenEnv != "" {
		if d.Getenv == nil {
			return nil, fmt.Errorf("router %q: token_env %s given but no environment lookup was wired", r.Name, r.TokenEnv)
		}
		rb.token = d.Getenv(r.TokenEnv)
		if rb.token == "" {
			return nil, fmt.Errorf("router %q: environment variable %s (token_env) is empty or unset", r.Name, r.TokenEnv)
		}
	}
	return rb, nil
}

// Capabilities of the builtin router: everything.
func (rb *RemoteBuiltin) Capabilities() Capabilities { return capsOf("builtin") }

// Apply PUTs the whole table; the router swaps it atomically. A non-2xx
// answer becomes an error carrying the router's own message.
func (rb *RemoteBuiltin) Apply(ctx context.Context, t traffic.Table) error {
	body, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("router %q: encode routes: %w", rb.name, err)
	}
	return rb.put(ctx, body)
}

// put PUTs a table already encoded as JSON.
func (rb *RemoteBuiltin) put(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, rb.routes, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("router %q: %w", rb.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	// The answer would be the table just sent: ask for none.
	req.Header.Set("Prefer", "return=minimal")
	if rb.token != "" {
		req.Header.Set("Authorization", "Bearer "+rb.token)
	}
	resp, err := rb.client.Do(req)
	if err != nil {
		return fmt.Errorf("router %q: PUT %s: %w", rb.name, rb.routes, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return rb.answerError(http.MethodPut, resp, msg)
}

// answerError is the error for a non-2xx answer to method on the routes
// endpoint, carrying the router's own message (msg, the start of the
// body); a refused token wraps ErrUnauthorized.
func (rb *RemoteBuiltin) answerError(method string, resp *http.Response, msg []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	text := strings.TrimSpace(string(msg))
	if json.Unmarshal(msg, &e) == nil && e.Error != "" {
		text = e.Error
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("router %q: %s %s: %s: %s: %w (check the token in %s)",
			rb.name, method, rb.routes, resp.Status, text, ErrUnauthorized, rb.tokenEnvName())
	}
	return fmt.Errorf("router %q: %s %s: %s: %s", rb.name, method, rb.routes, resp.Status, text)
}

func (rb *RemoteBuiltin) tokenEnvName() string {
	if rb.tokenEnv == "" {
		return "token_env, which is not set"
	}
	return rb.tokenEnv
}

// ErrUnauthorized marks an admin API refusing the token.
var ErrUnauthorized = errors.New("admin API refused the token")
