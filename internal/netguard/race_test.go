//go:build race

package netguard_test

// raceEnabled reports a -race build, where some slow negative controls skip.
const raceEnabled = true
