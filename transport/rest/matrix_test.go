package rest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest"

	"github.com/waqtor/waqtor/transport/rest/resttest"
)

func resttestRun(t *testing.T, b *testBundle, objects map[string]string, noScope string) {
	t.Helper()
	resttest.RunTenantMatrix(t, &resttest.MatrixConfig{
		BaseURL:     b.srv.URL + "/api",
		Client:      b.client,
		IntruderKey: b.keyB,
		NoScopeKey:  noScope,
		Objects:     objects,
		Snapshot:    b.snapshotVictim,
		// The handler's rate limit is off (TestTenantMatrix): more samples.
		TimingSamples: 9,
		TimingClient:  b.srv.Client(), // the validating client caches per path
		Bodies: map[string]any{
			"sendText":     map[string]any{"chat": alicePhone, "text": "intrusion"},
			"seedSendText": map[string]any{"chat": alicePhone, "text": "intrusion"},
		},
	})
}

// TestTimingOracleDetected is the negative control of the matrix's timing
// check: an ownership lookup that does extra work for existing objects (here
// 25 ms) answers 404 like a missing object, and SameProfile still reports it.
func TestTimingOracleDetected(t *testing.T) {
	t.Parallel()
	probes := rest.RouteGroup{Name: "probes", Routes: []rest.Route{{
		Method: "GET", Pattern: "/probes/{probe}", Scope: auth.ScopeRead, OperationID: "getProbe", Summary: "A probe.",
		Owner: &rest.Owner{Param: "probe", LookupFunc: func(r *http.Request, id string) (*rest.Ownership, error) {
			if id != "p1" {
				return nil, rest.ErrNotFound
			}
			time.Sleep(25 * time.Millisecond) // the leak: only existing objects pay it
			return &rest.Ownership{Tenant: "default"}, nil
		}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }),
	}}}
	b := setup(t, setupOpts{mutate: func(o *rest.HandlerOpts) { o.Groups = []rest.RouteGroup{probes} }})
	cfg := &resttest.MatrixConfig{BaseURL: b.srv.URL + "/api", Client: b.client, TimingClient: b.srv.Client(), IntruderKey: b.keyB,
		Objects: map[string]string{"probe": "p1"}, Snapshot: func(*testing.T) string { return "" }}
	op := resttest.Operation{Method: "GET", Path: "/probes/{probe}", OperationID: "getProbe", Owner: "probe"}
	victim, random := resttest.ResponseTimes(t, cfg, op, 7)
	require.Error(t, resttest.SameProfile(victim, random), "victim %v, random %v", victim, random)
	require.NoError(t, resttest.SameProfile(random, random))
}
