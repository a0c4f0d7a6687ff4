package action

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Marker starts the sticky plan comment; later parts of a split comment
// start with "<!-- switchyard:plan:N -->".
const Marker = "<!-- switchyard:plan -->"

const markerPrefix = "<!-- switchyard:plan"

// MaxCommentBytes is GitHub's limit on a comment body (65,536 characters;
// counted here in bytes, which is never more lenient).
const MaxCommentBytes = 65536

// partMarker is the hidden marker of part n (1-based).
func partMarker(n int) string {
	if n == 1 {
		return Marker
	}
	return fmt.Sprintf("<!-- switchyard:plan:%d -->", n)
}

// markerPart returns the part number of a comment body that starts with a
// plan marker, or 0.
func markerPart(body string) int {
	if !strings.HasPrefix(body, markerPrefix) {
		return 0
	}
	rest := body[len(markerPrefix):]
	if strings.HasPrefix(rest, " -->") {
		return 1
	}
	if !strings.HasPrefix(rest, ":") {
		return 0
	}
	num, _, ok := strings.Cut(rest[1:], " -->")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 2 {
		return 0
	}
	return n
}

// SplitComment cuts markdown into comment bodies of at most limit bytes,
// each starting with its marker. Cuts fall between lines (a line longer
// than a part is cut on a rune boundary); a code fence open at a cut is
// closed and reopened.
func SplitComment(md string, limit int) []string {
	if single := Marker + "\n" + md; len(single) <= limit {
		return []string{single}
	}
	const (
		header  = 80 // marker and "part k of n" line
		fenceIO = 24 // closing "```" and a reopening fence line
	)
	budget := limit - header - fenceIO
	var pieces []string
	for _, line := range strings.SplitAfter(md, "\n") {
		for len(line) > budget/2 {
			cut := budget / 2
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			pieces = append(pieces, line[:cut])
			line = line[cut:]
		}
		if line != "" {
			pieces = append(pieces, line)
		}
	}
	var parts []string
	var cur strings.Builder
	fence := "" // the opening fence while inside a code block
	for _, p := range pieces {
		if cur.Len()+len(p) > budget {
			if fence != "" {
				cur.WriteString("\n```\n")
			}
			parts = append(parts, cur.String())
			cur.Reset()
			if fence != "" {
				cur.WriteString(fence + "\n")
			}
		}
		cur.WriteString(p)
		if t := strings.TrimSpace(p); strings.HasPrefix(t, "```") && strings.HasSuffix(p, "\n") {
			switch {
			case fence == "" && len(t) <= 16:
				fence = t
			case fence == "":
				fence = "```"
			case t == "```":
				fence = ""
			}
		}
	}
	if cur.Len() > 0 {
		parts = append(parts, cur.String())
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = fmt.Sprintf("%s\n_Switchyard plan, part %d of %d._\n\n%s", partMarker(i+1), i+1, len(parts), p)
	}
	return out
}

// upsertComment makes the pull request's sticky plan comment hold md:
// existing parts are edited in place, missing ones created, surplus ones
// (from a longer earlier plan, or duplicates) deleted. With create false,
// nothing is posted unless a plan comment exists already.
func (r *runner) upsertComment(ctx context.Context, number int, md string, create bool) error {
	bodies := SplitComment(md, MaxCommentBytes)
	existing, err := r.gh.ListIssueComments(ctx, r.owner, r.repo, number)
	if err != nil {
		return err
	}
	byPart := map[int]int64{}
	var surplus []int64
	for _, c := range existing {
		n := markerPart(c.Body)
		if n == 0 {
			continue
		}
		if _, dup := byPart[n]; dup || n > len(bodies) {
			surplus = append(surplus, c.ID)
			continue
		}
		byPart[n] = c.ID
	}
	if _, ok := byPart[1]; !ok && !create {
		return nil
	}
	for i, body := range bodies {
		if id, ok := byPart[i+1]; ok {
			if err := r.gh.EditIssueComment(ctx, r.owner, r.repo, id, body); err != nil {
				return err
			}
			continue
		}
		if _, err := r.gh.CreateIssueComment(ctx, r.owner, r.repo, number, body); err != nil {
			return err
		}
	}
	sort.Slice(surplus, func(i, j int) bool { return surplus[i] < surplus[j] })
	for _, id := range surplus {
		if err := r.gh.DeleteIssueComment(ctx, r.owner, r.repo, id); err != nil {
			return err
		}
	}
	return nil
}
