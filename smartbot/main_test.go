package smartbot

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if goroutines leak (for example from
// chromem-go queries or the httptest fakes of the embedding adapters).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
