package rest_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// database/sql's connection opener outlives a closed *sql.DB briefly.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	)
}
