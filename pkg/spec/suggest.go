package spec

import (
	"fmt"
	"strings"
)

// levenshtein is the edit distance between a and b, by runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// suggest returns the closest option to given when it is close enough to
// be a likely typo, else "".
func suggest(given string, options []string) string {
	if len(given) > 100 {
		return ""
	}
	best, bestD := "", 1<<30
	for _, o := range options {
		d := levenshtein(strings.ToLower(given), strings.ToLower(o))
		if d < bestD {
			best, bestD = o, d
		}
	}
	limit := 2
	if n := len([]rune(given)) / 3; n > limit {
		limit = n
	}
	if best == "" || bestD == 0 && best == given || bestD > limit {
		return ""
	}
	return best
}

// didYouMean is " Did you mean \"x\"?" or "".
func didYouMean(given string, options []string) string {
	if s := suggest(given, options); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}

// oneOf explains an unknown enumerated value: what was given, the likely
// intended value, and every allowed one.
func oneOf(what, given string, allowed []string) string {
	return fmt.Sprintf("%q is not a known %s.%s Allowed values: %s.", given, what, didYouMean(given, allowed), quoteList(allowed))
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
