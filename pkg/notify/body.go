package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
)

// Body is what a delivery of ev to a destination of type typ posts: the
// event as one JSON object for "webhook", an incoming-webhook message for
// "slack".
func Body(typ string, ev Event) ([]byte, error) {
	switch typ {
	case "webhook":
		ev.At = ev.At.UTC()
		return json.Marshal(ev)
	case "slack":
		return json.Marshal(Slack(ev))
	}
	return nil, fmt.Errorf("unknown notify type %q", typ)
}

// SlackMessage is a Slack incoming-webhook payload: Text is the whole
// message (shown in notifications and by clients without blocks), Blocks
// the same laid out.
type SlackMessage struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is a section or a context block of mrkdwn text.
type SlackBlock struct {
	Type     string      `json:"type"`
	Text     *SlackText  `json:"text,omitempty"`
	Elements []SlackText `json:"elements,omitempty"`
}

// SlackText is a mrkdwn text object.
type SlackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Slack is the message that announces ev: a headline saying what
// happened to which model, the reason, then the commit and the time.
func Slack(ev Event) SlackMessage {
	head := escape(Headline(ev))
	reason := escapeClip(ev.Reason, slackReasonMax)
	text := head
	if reason != "" {
		text += "\n" + reason
	}
	var ctx []string
	if ev.Commit != "" {
		ctx = append(ctx, "commit `"+commitid.Short(ev.Commit)+"`")
	}
	if !ev.At.IsZero() {
		ctx = append(ctx, ev.At.UTC().Format(time.RFC3339))
	}
	ctx = append(ctx, "event `"+ev.Event+"`")
	msg := SlackMessage{Text: text + "\n" + strings.Join(ctx, " · ")}
	msg.Blocks = append(msg.Blocks, SlackBlock{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: head}})
	if reason != "" {
		msg.Blocks = append(msg.Blocks, SlackBlock{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: "> " + reason}})
	}
	msg.Blocks = append(msg.Blocks, SlackBlock{Type: "context", Elements: []SlackText{{Type: "mrkdwn", Text: strings.Join(ctx, " · ")}}})
	return msg
}

// Headline says in one line what ev is, with an emoji for the eye.
func Headline(ev Event) string {
	m := "*" + ev.Model + "/" + ev.Stage + "*"
	switch ev.Event {
	case "rollback":
		return fmt.Sprintf(":rewind: %s rolled back from %s to %s", m, ev.From, ev.To)
	case "fallback":
		return fmt.Sprintf(":warning: %s fell back from %s to the heuristic %s", m, ev.From, ev.To)
	case "roll_through":
		return fmt.Sprintf(":fast_forward: %s failed on %s: rolling through to %s", m, ev.From, ev.To)
	case "promote":
		return fmt.Sprintf(":trophy: %s promoted the experiment's winner %s (was %s)", m, ev.To, ev.From)
	case "conclude":
		return fmt.Sprintf(":checkered_flag: %s concluded its experiment without a winner: %s keeps serving", m, ev.To)
	case "paused":
		return fmt.Sprintf(":double_vertical_bar: %s paused rolling out %s (from %s)", m, ev.To, ev.From)
	case "rejected_head":
		return fmt.Sprintf(":no_entry: commit %s rejected: the last good commit keeps running", commitid.Short(ev.Commit))
	case "started":
		return fmt.Sprintf(":rocket: %s started rolling out %s (from %s)", m, ev.To, ev.From)
	case "succeeded":
		return fmt.Sprintf(":white_check_mark: %s now serves %s (rolled out from %s)", m, ev.To, ev.From)
	}
	return fmt.Sprintf("%s: %s", m, ev.Event)
}

// slackReasonMax keeps a section block under Slack's 3000 characters,
// escaping included (Slack refuses the whole message beyond).
const slackReasonMax = 2900

// escapeClip escapes s and keeps at most max runes of the result, never
// cutting an escape in two, marking a cut with "…".
func escapeClip(s string, max int) string {
	var b strings.Builder
	n := 0
	for i, r := range s {
		piece := escape(string(r))
		if n+len([]rune(piece)) > max-1 && i+len(string(r)) < len(s) {
			b.WriteString("…")
			return b.String()
		}
		b.WriteString(piece)
		n += len([]rune(piece))
	}
	return b.String()
}

// escape keeps Slack from reading &, < and > as markup.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
