//go:build race

package main

// raceEnabled: the test binary was built with -race, so the packages are
// cached in race mode and the end-to-end build reuses them with -race.
const raceEnabled = true
