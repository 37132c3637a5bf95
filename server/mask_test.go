package server

import (
	"encoding/json"
	"testing"
)

// TestMaskValueKeepsTimesOfAWholeDialogRecord: a call record's transcript
// may be a whole dialog record, whose timestamps carry nanoseconds (a run
// of nine digits); masking hides the numbers said and keeps the times.
func TestMaskValueKeepsTimesOfAWholeDialogRecord(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`"2026-11-25T23:08:12.364123456Z"`, `"2026-11-25T23:08:12.364123456Z"`},
		{`"2026-11-25T23:08:12.364123456+08:00"`, `"2026-11-25T23:08:12.364123456+08:00"`},
		{`"my number is 13812345678"`, `"my number is 138****5678"`},
		{`{"start":"2026-11-25T23:08:12.364123456Z","variables":{"phone":"13812345678"},"turns":[{"vad_end":"2026-11-25T23:08:13.000000001Z"}]}`,
			`{"start":"2026-11-25T23:08:12.364123456Z","turns":[{"vad_end":"2026-11-25T23:08:13.000000001Z"}],"variables":{"phone":"138****5678"}}`},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(maskValue(v))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("mask %s = %s, want %s", tc.in, b, tc.want)
		}
	}
}
