package netguard_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves goroutines behind: every client must
// CloseIdleConnections and every httptest server must be closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
