//go:build race

package sphinx

// raceEnabled reports a -race build, whose instrumentation makes timings meaningless.
const raceEnabled = true
