//go:build race

package demo

// raceBuild: the race detector slows the demo's traffic about 2.5×, so
// TestDemo plays fewer scenes under it.
const raceBuild = true
