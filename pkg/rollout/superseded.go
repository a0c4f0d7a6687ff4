package rollout

import "errors"

// ErrSuperseded says an outcome commit was not written because Git no
// longer says what it undoes: someone committed a new serve (or removed
// the model) since. Nothing is written; the human's intent wins. The Git
// writer returns it and the daemon recognises it: one sentinel for both.
var ErrSuperseded = errors.New("superseded by a newer commit")
