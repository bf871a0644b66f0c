package accesslog

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkSlogJSON compares one access line per request through slog's
// JSON handler written straight to a file (a write syscall per line, as
// thumbd does today with stderr) and through Writer to the same file.
//
//	go test ./accesslog -run '^$' -bench . -benchmem -cpu 1,2
func BenchmarkSlogJSON(b *testing.B) {
	for _, tc := range []struct {
		name  string
		async bool
	}{{"direct", false}, {"async", true}} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var dst io.Writer = f
			var w *Writer
			if tc.async {
				w = New(f, Options{})
				dst = w
			}
			log := slog.New(slog.NewJSONHandler(dst, nil))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					log.Info("request", "id", "5f3c9a0d1e2b4c6d", "method", "GET", "path", "/t/…/…/tile_500",
						"status", 200, "bytes", 57344, "ms", 0.21, "cache", "hit")
				}
			})
			b.StopTimer()
			if w != nil {
				w.Close()
				b.ReportMetric(float64(w.Dropped())/float64(b.N), "dropped/op")
			}
		})
	}
}

// BenchmarkWrite is the writer alone: the cost a caller pays per line.
func BenchmarkWrite(b *testing.B) {
	w := New(io.Discard, Options{})
	defer w.Close()
	line := []byte(`{"time":"2026-12-02T14:00:00Z","level":"INFO","msg":"request","id":"5f3c9a0d1e2b4c6d","status":200}` + "\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Write(line)
		}
	})
}
