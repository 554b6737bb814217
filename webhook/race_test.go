//go:build race

package webhook_test

// raceEnabled reports a -race build: the heavy proofs run smaller there
// (the race detector slows modernc.org/sqlite and net/http about 15 times).
const raceEnabled = true
