package transform

import (
	"github.com/thumbd/thumbd/variant"

	"context"
	"os"
	"testing"
)

// BenchmarkDerive measures the two ways to make a small tile: from the
// original, or from the photo's fit_720 variant (which a gallery page
// usually requests anyway). Run: go test ./transform -run '^$' -bench Derive
func BenchmarkDerive(b *testing.B) {
	tr := New(Options{JPEGQuality: 83, JPEGQualitySmall: 78, MaxMegapixels: 100})
	ctx := context.Background()
	fit720, _ := variant.ParseSize("fit_720")
	for _, file := range []string{"test_exif_full.jpg", "seeding_by_Clements_Engelhardt.jpg"} {
		src, err := os.ReadFile("../testdata/photos/" + file)
		if err != nil {
			b.Fatal(err)
		}
		mid, err := tr.Transform(ctx, src, fit720, variant.JPEG)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range []string{"tile_224", "tile_100", "colors"} {
			s, _ := variant.ParseSize(name)
			b.Run(file[:4]+"/"+name+"/from-original", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := tr.Transform(ctx, src, s, variant.JPEG); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(file[:4]+"/"+name+"/from-fit_720", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := tr.Transform(ctx, mid.Bytes, s, variant.JPEG); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(file[:4]+"/fit_720/from-original", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := tr.Transform(ctx, src, fit720, variant.JPEG); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
