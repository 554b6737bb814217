package campaign_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// benchRecipients is the campaign size of the export and upload benchmarks.
const benchRecipients = 20_000

// BenchmarkExportCSV streams a campaign of benchRecipients recipients to
// io.Discard, reporting the time per recipient. The export holds one page
// of 1,000 recipients at a time, whatever the campaign's size.
func BenchmarkExportCSV(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a campaign of 20,000 recipients")
	}
	ctx := context.Background()
	tb := setup(b, dbtest.SQLite, nil)
	rs := phones(benchRecipients)
	for i := range rs {
		rs[i].Variables = map[string]string{"name": "Name " + strconv.Itoa(i)}
	}
	c, _, err := tb.svc.Create(ctx, &campaign.CreateParams{Name: "Bench", Sessions: []string{"main"},
		Content: campaign.Content{Text: "Hi {{name}}"}, Recipients: rs})
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		require.NoError(b, tb.svc.ExportCSV(ctx, c.ID, io.Discard))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRecipients), "ns/recipient")
}

// BenchmarkRESTUpload uploads benchRecipients recipients as CSV through the
// REST route: spooled to a file, then stored in one transaction.
func BenchmarkRESTUpload(b *testing.B) {
	if testing.Short() {
		b.Skip("uploads 20,000 recipients per iteration")
	}
	var sb strings.Builder
	sb.WriteString("phone,name\n")
	for i := range benchRecipients {
		sb.WriteString("+1555" + strconv.Itoa(1_000_000+i) + ",Name " + strconv.Itoa(i) + "\n")
	}
	csv := sb.String()
	rb := setupRESTWith(b, dbtest.SQLite, campaign.MaxUploadBytesDefault)
	b.ReportAllocs()
	b.SetBytes(int64(len(csv)))
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		var created campaign.CreateResult
		require.Equal(b, http.StatusCreated, rb.call(b, rb.keyA, "POST", "/campaigns", map[string]any{"name": "Bench",
			"sessions": []string{"main"}, "content": map[string]any{"text": "Hi {{name}}"}}, &created))
		b.StartTimer()
		code, raw, _ := rb.send(b, rb.keyA, "POST", "/campaigns/"+created.ID+"/recipients", "text/csv", strings.NewReader(csv), int64(len(csv)))
		require.Equal(b, http.StatusOK, code, "%s", raw)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRecipients), "ns/recipient")
}
