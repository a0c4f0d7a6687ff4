// Package commitid prints commit ids the way people read them: the first
// seven hex digits, as git abbreviates them.
package commitid

// Len is how many characters of a commit id Short keeps.
const Len = 7

// Short is the abbreviated commit id: its first Len characters, or the id
// itself when it is shorter.
func Short(id string) string {
	if len(id) > Len {
		return id[:Len]
	}
	return id
}
