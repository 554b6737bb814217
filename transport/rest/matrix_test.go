package rest_test

import (
	"testing"

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
		Snapshot:    b.snapshotTenant,
		Bodies: map[string]any{
			"sendText":     map[string]any{"chat": alicePhone, "text": "intrusion"},
			"seedSendText": map[string]any{"chat": alicePhone, "text": "intrusion"},
		},
	})
}
