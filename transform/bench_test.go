package transform

import (
	"github.com/thumbd/thumbd/variant"

	"context"
	"os"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
)

// BenchmarkVsThumbnail times the full pipeline against libvips' plain
// thumbnail + JPEG save (what tools/thumbloop does in C) on the same bytes,
// alternating the two in one loop so machine noise hits both alike, and
// reports the ratio. Run: go test ./transform -run '^$' -bench VsThumbnail
func BenchmarkVsThumbnail(b *testing.B) {
	tr := New(Options{JPEGQuality: 83, JPEGQualitySmall: 78, MaxMegapixels: 100})
	for _, bc := range []struct{ file, size string }{
		// A baseline 12 MP camera JPEG (iPhone) and a progressive 16 MP one.
		{"test_exif_full.jpg", "tile_224"},
		{"test_exif_full.jpg", "tile_500"},
		{"test_exif_full.jpg", "fit_1920"},
		{"seeding_by_Clements_Engelhardt.jpg", "tile_500"},
		{"seeding_by_Clements_Engelhardt.jpg", "fit_1920"},
	} {
		src, err := os.ReadFile("../testdata/photos/" + bc.file)
		if err != nil {
			b.Fatal(err)
		}
		name := bc.file[:4] + "/" + bc.size
		s, _ := variant.ParseSize(bc.size)
		crop, sizing := vips.InterestingCentre, vips.SizeBoth
		if s.Mode == variant.Fit {
			crop, sizing = vips.InterestingNone, vips.SizeDown
		}
		b.Run(name, func(b *testing.B) {
			var ours, base time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				img, err := vips.NewThumbnailWithSizeFromBuffer(src, s.Width, s.Height, crop, sizing)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := img.ExportJpeg(&vips.JpegExportParams{Quality: 82, StripMetadata: true}); err != nil {
					b.Fatal(err)
				}
				img.Close()
				t1 := time.Now()
				if _, err := tr.Transform(context.Background(), src, s, variant.JPEG); err != nil {
					b.Fatal(err)
				}
				base += t1.Sub(t0)
				ours += time.Since(t1)
			}
			b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "thumbd_ms/op")
			b.ReportMetric(float64(base.Milliseconds())/float64(b.N), "vips_ms/op")
			b.ReportMetric(float64(ours)/float64(base), "ratio")
		})
	}
}
