//go:build !race

package analysis

// raceEnabled shrinks the simulations under the race detector.
const raceEnabled = false
