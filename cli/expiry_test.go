package cli

import (
	"strings"
	"testing"
	"time"
)

func TestParseExpiry(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 123456789, time.UTC)
	whole := now.Truncate(time.Second)
	for _, tc := range []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"90s", whole.Add(90 * time.Second), false},
		{"12h", whole.Add(12 * time.Hour), false},
		{"30d", whole.Add(30 * 24 * time.Hour), false},
		{"1d", whole.Add(24 * time.Hour), false},
		{"1.5d", whole.Add(36 * time.Hour), false},
		{"1h30m", whole.Add(90 * time.Minute), false},
		{"2030-07-01T00:00:00Z", time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC), false},
		{"2030-06-01T14:00:00+02:00", time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC), true}, // equal to now minus nanos: in the past
		{"2030-06-01T15:00:00+02:00", time.Date(2030, 6, 1, 13, 0, 0, 0, time.UTC), false},
		{"2020-01-01T00:00:00Z", time.Time{}, true},
		{"0s", time.Time{}, true},
		{"0d", time.Time{}, true},
		{"-5m", time.Time{}, true},
		{"-1d", time.Time{}, true},
		{"abc", time.Time{}, true},
		{"d", time.Time{}, true},
		{"30", time.Time{}, true},
		{"30 d", time.Time{}, true},
		{"1h30d", time.Time{}, true}, // mixed units are ambiguous
		{"90m1d", time.Time{}, true},
		{"1e2d", time.Time{}, true},
		{"2030-07-01", time.Time{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseExpiry(tc.in, now)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseExpiry(%q) = %v; want an error", tc.in, got)
				}
				if !strings.Contains(err.Error(), "--expires") {
					t.Errorf("error %q does not name --expires", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseExpiry(%q): %v", tc.in, err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("parseExpiry(%q) = %v; want %v", tc.in, got, tc.want)
			}
			if got.Nanosecond() != 0 {
				t.Errorf("parseExpiry(%q) = %v has sub-second precision the token cannot carry", tc.in, got)
			}
		})
	}
}
