package campaign_test

import (
	"encoding/json"
	"testing"

	"github.com/waqtor/waqtor/campaign"
)

// FuzzSeedCreateRequest: the original plan's create body, with recipients as
// strings or objects, decodes or fails cleanly, and a decoded recipient keeps
// the phone it was given.
func FuzzSeedCreateRequest(f *testing.F) {
	for _, s := range []string{
		`{"name":"x","template":"Hi","recipients":["+15550000001",{"phone":"+15550000002","variables":{"a":"b"}}]}`,
		`{"recipients":[1]}`, `{"recipients":[{"tel":"1"}]}`, `{"recipients":["a",null]}`, `{"scheduleAt":"2030-01-01T00:00:00Z"}`,
		`{"recipients":[{"phone":"أحمد","variables":{"":""}}]}`, `[]`, `{"recipients":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req campaign.SeedCreateRequest
		if json.Unmarshal(data, &req) != nil {
			return
		}
		for _, r := range req.Recipients {
			b, err := json.Marshal(r.Phone)
			if err != nil {
				t.Fatalf("phone %q does not marshal: %v", r.Phone, err)
			}
			var again campaign.SeedRecipient
			if err := json.Unmarshal(b, &again); err != nil || again.Phone != r.Phone {
				t.Fatalf("phone %q does not round-trip: %q, %v", r.Phone, again.Phone, err)
			}
		}
	})
}
