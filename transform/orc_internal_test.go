package transform

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/variant"
)

// TestConcurrentSmallResizes runs the index scan's workload (small photos,
// a placeholder and a tile each) on four goroutines, with liborc off as
// Startup leaves it. With orc on, the same loop over 100k distinct small
// files (a header load and a 100 px thumbnail each) died in orc_code_free
// after 25-60 s every time; too slow and too random for a unit test, so
// this one checks the switch and that the workload itself is sound.
// THUMBD_TEST_ORC=1 runs it with orc on.
func TestConcurrentSmallResizes(t *testing.T) {
	if os.Getenv("THUMBD_TEST_ORC") == "1" {
		setVectors(true)
		defer setVectors(false)
	} else if VectorsEnabled() {
		t.Fatal("Startup left liborc enabled")
	}
	big, err := os.ReadFile("../testdata/photos/cops.jpg")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := vips.NewThumbnailFromBuffer(big, 160, 160, vips.InterestingNone)
	if err != nil {
		t.Fatal(err)
	}
	small, _, err := ref.ExportJpeg(&vips.JpegExportParams{Quality: 80, StripMetadata: true})
	ref.Close()
	if err != nil {
		t.Fatal(err)
	}
	n := 200
	if testing.Short() {
		n = 50
	}
	tr := New(Options{JPEGQuality: 83, JPEGQualitySmall: 78})
	tile, _ := variant.ParseSize("tile_100")
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if _, err := tr.Placeholder(context.Background(), small); err != nil {
					t.Error(err)
					return
				}
				if _, err := tr.Transform(context.Background(), small, tile, variant.JPEG); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
