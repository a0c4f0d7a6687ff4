// Package policies embeds Switchyard's default Rego policies, so that the
// demo and new repositories can start from them.
package policies

import "embed"

// Files holds every default policy and its Rego unit tests.
//
//go:embed *.rego
var Files embed.FS
