package campaign_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/campaign"
)

func TestDurationMarshal(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in   time.Duration
		want string
	}{
		"zero":    {0, `"0s"`},
		"seconds": {4 * time.Second, `"4s"`},
		"minutes": {5 * time.Minute, `"5m0s"`},
		"mixed":   {90*time.Minute + 1500*time.Millisecond, `"1h30m1.5s"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(campaign.Duration(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, string(b))
			var back campaign.Duration
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, tt.in, back.Std())
			require.Equal(t, tt.in.String(), back.String())
		})
	}
}

func TestDurationUnmarshal(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		"string seconds":     {in: `"4s"`, want: 4 * time.Second},
		"string compound":    {in: `"1h30m"`, want: 90 * time.Minute},
		"string millis":      {in: `"250ms"`, want: 250 * time.Millisecond},
		"string zero":        {in: `"0"`, want: 0},
		"millis":             {in: `4000`, want: 4 * time.Second},
		"millis zero":        {in: `0`, want: 0},
		"millis fraction":    {in: `2.5`, want: 2500 * time.Microsecond},
		"millis exponent":    {in: `1e3`, want: time.Second},
		"spaces":             {in: " 4000 ", want: 4 * time.Second},
		"negative string":    {in: `"-4s"`, wantErr: "negative"},
		"negative millis":    {in: `-1`, wantErr: "negative"},
		"negative fraction":  {in: `-0.5`, wantErr: "negative"},
		"no unit":            {in: `"4"`, wantErr: "want a duration"},
		"words":              {in: `"soon"`, wantErr: "want a duration"},
		"empty string":       {in: `""`, wantErr: "want a duration"},
		"bool":               {in: `true`, wantErr: "want a duration"},
		"object":             {in: `{}`, wantErr: "want a duration"},
		"array":              {in: `[4]`, wantErr: "want a duration"},
		"millis too large":   {in: `9223372036855`, wantErr: "out of range"},
		"fraction too large": {in: `1e300`, wantErr: "out of range"},
		"string too large":   {in: `"3000000h"`, wantErr: "want a duration"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := campaign.Duration(time.Hour)
			err := json.Unmarshal([]byte(tt.in), &d)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Equal(t, time.Hour, d.Std(), "a bad value changes nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, d.Std())
		})
	}
}

func TestDurationNull(t *testing.T) {
	t.Parallel()
	var cfg struct {
		D campaign.Duration `json:"d"`
	}
	cfg.D = campaign.Duration(time.Minute)
	require.NoError(t, json.Unmarshal([]byte(`{"d":null}`), &cfg))
	require.Equal(t, time.Minute, cfg.D.Std())
}

func FuzzDurationUnmarshal(f *testing.F) {
	for _, s := range []string{`"4s"`, `"1h30m"`, `4000`, `2.5`, `-1`, `"-4s"`, `null`, `""`, `1e300`, `"3000000h"`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d := campaign.Duration(time.Hour)
		if err := d.UnmarshalJSON([]byte(in)); err != nil {
			require.Equal(t, time.Hour, d.Std(), "a bad value changes nothing")
			return
		}
		require.GreaterOrEqual(t, d.Std(), time.Duration(0))
		// Whatever was read writes back as a string that reads the same.
		b, err := json.Marshal(d)
		require.NoError(t, err)
		var back campaign.Duration
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, d, back)
	})
}
