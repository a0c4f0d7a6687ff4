package spec

import (
	"fmt"
	"regexp"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

// Notify is a notify block (SPEC.md §9): where the reconciler announces
// what it did, and which of its events it announces there.
type Notify struct {
	Name string `json:"name"`
	Type string `json:"type"` // webhook | slack
	URL  string `json:"url"`
	// SecretEnv names the environment variable holding the webhook's
	// HMAC-SHA256 signing secret.
	SecretEnv string `json:"secret_env,omitempty"`
	// Events are the events delivered; every event when the block does
	// not say.
	Events []string `json:"events"`
	File   string   `json:"file"`
}

// Wants reports whether the block delivers event.
func (n *Notify) Wants(event string) bool { return contains(n.Events, event) }

var notifySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type", Required: true},
		{Name: "url", Required: true},
		{Name: "secret_env"},
		{Name: "events"},
	},
}

var notifyTypes = []string{"webhook", "slack"}

// NotifyEvents are the events a notify block may ask for, in the order
// the documentation lists them.
var NotifyEvents = []string{"rollback", "fallback", "roll_through", "promote", "conclude",
	"paused", "rejected_head", "started", "succeeded"}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (l *loader) decodeNotify(file string, b *hcl.Block) {
	name := b.Labels[0]
	if first, dup := l.notifyAt[name]; dup {
		l.duplicate(b.DefRange, first, "notify block", quote(name), "Notify names are unique across the spec tree: rename or remove one.")
		return
	}
	l.notifyAt[name] = b.DefRange
	content, ds := b.Body.Content(notifySchema)
	l.addHCL(diag.SourceSchema, ds)
	a := &attrs{l: l, m: content.Attributes, model: name, ranges: l.notifyRanges, vals: l.notifyRanges}
	l.notifyRanges[FieldKey{Model: name}] = b.DefRange
	n := &Notify{
		Name: name, File: file,
		Type:      a.str("type", ""),
		URL:       a.str("url", ""),
		SecretEnv: a.str("secret_env", ""),
	}
	if v, ok := a.value("events", cty.List(cty.String), `["rollback", "paused"]`); ok {
		for it := v.ElementIterator(); it.Next(); {
			if _, e := it.Element(); !e.IsNull() {
				n.Events = append(n.Events, e.AsString())
			}
		}
	}
	for attrName, attr := range content.Attributes {
		l.notifyRanges[FieldKey{Model: name, Field: attrName}] = attr.Expr.Range()
	}
	if attr, ok := content.Attributes["events"]; ok {
		// Each event's own range, so that a typo is shown where it is.
		if elems, ds := hcl.ExprList(attr.Expr); !ds.HasErrors() {
			for i, e := range elems {
				l.notifyRanges[FieldKey{Model: name, Field: fmt.Sprintf("events.%d", i)}] = e.Range()
			}
		}
	} else {
		n.Events = append([]string(nil), NotifyEvents...)
	}
	if n.Events == nil {
		n.Events = []string{}
	}
	l.tree.Notify[name] = n
}

func (l *loader) notifyRng(name, field string) hcl.Range {
	if r, ok := l.notifyRanges[FieldKey{Model: name, Field: field}]; ok {
		return r
	}
	return l.notifyRanges[FieldKey{Model: name}]
}

func (l *loader) validateNotify(n *Notify) {
	if !nameRE.MatchString(n.Name) {
		l.errorAt(l.notifyRng(n.Name, ""), "Invalid name", nameDetail("notify", n.Name))
	}
	if n.Type != "" && !contains(notifyTypes, n.Type) {
		l.errorAt(l.notifyRng(n.Name, "type"), "Unknown notify type", oneOf("notify type", n.Type, notifyTypes))
	}
	if n.URL != "" && !isHTTPURL(n.URL) {
		l.errorAt(l.notifyRng(n.Name, "url"), "Invalid notify URL",
			fmt.Sprintf("%q is not an http(s) URL. Write it as \"https://hooks.example.com/switchyard\".", n.URL))
	}
	if n.SecretEnv != "" {
		if !envNameRE.MatchString(n.SecretEnv) {
			l.errorAt(l.notifyRng(n.Name, "secret_env"), "Invalid secret_env",
				fmt.Sprintf("%q is not an environment variable name: name the variable that holds the secret, such as secret_env = \"NOTIFY_SECRET\", never the secret itself.", n.SecretEnv))
		} else if n.Type == "slack" {
			l.warnAt(l.notifyRng(n.Name, "secret_env"), "secret_env unused by slack",
				"Slack incoming webhooks are not signed: the secret is in their URL. secret_env signs type = \"webhook\" deliveries only.")
		}
	}
	if len(n.Events) == 0 && !l.bad[FieldKey{Model: n.Name, Field: "events"}] {
		l.warnAt(l.notifyRng(n.Name, "events"), "No events",
			fmt.Sprintf("This notify block delivers nothing. List some of %s, or remove events to deliver them all.", quoteList(NotifyEvents)))
	}
	seen := map[string]bool{}
	for i, ev := range n.Events {
		rng := l.notifyRng(n.Name, fmt.Sprintf("events.%d", i))
		switch {
		case !contains(NotifyEvents, ev):
			l.errorAt(rng, "Unknown event", oneOf("notify event", ev, NotifyEvents))
		case seen[ev]:
			l.warnAt(rng, "Duplicate event", fmt.Sprintf("%q is listed twice; it is delivered once.", ev))
		}
		seen[ev] = true
	}
}

// PolicyNotify returns the "notify" of the policy input, keyed by name.
func (t *Tree) PolicyNotify() map[string]any {
	out := make(map[string]any, len(t.Notify))
	for name, n := range t.Notify {
		o := map[string]any{"name": n.Name, "type": n.Type, "url": n.URL, "file": n.File,
			"events": append([]string{}, n.Events...)}
		setStr(o, "secret_env", n.SecretEnv)
		out[name] = o
	}
	return out
}
