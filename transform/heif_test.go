package transform_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

// heifTool runs one of libheif's command-line tools (libheif-examples,
// installed by `make test`).
func heifTool(t testing.TB, tool string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s not installed; `make test` installs it (libheif-examples)", tool)
	}
	if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
}

// heifRefs caches libheif's own full-resolution rendering of each real
// HEIF file (heif-dec to PNG, with its ICC profile): the reference the
// pipeline's output must match, whichever way it decoded the file.
var heifRefs sync.Map

func heifReference(t *testing.T, path string) []byte {
	t.Helper()
	if b, ok := heifRefs.Load(path); ok {
		return b.([]byte)
	}
	out := filepath.Join(t.TempDir(), "ref.png")
	heifTool(t, "heif-dec", path, out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	heifRefs.Store(path, b)
	return b
}

// TestHEIFRealFiles: the real iPhone 15 Pro HEIC (grid, gain map, Display
// P3, 416x312 thumbnail), the Sony a6700 10-bit HEIF (major brand heix,
// irot 270, a thumbnail libheif cannot decode) and a 10-bit AVIF with a
// gain map, at sizes that take each decoding route (sequential primary;
// with HEIFThumbnails, the embedded thumbnail or, for Sony, the retry on
// the primary), match libheif's own rendering run through the same
// pipeline as a PNG: same size, upright, same colours.
func TestHEIFRealFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 24 MP HEIF files")
	}
	for _, file := range []string{"iphone.heic", "sony.heif", "dock-75-hdr.avif"} {
		path := filepath.Join("../testdata/heif", file)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ref := heifReference(t, path)
		for _, tc := range []struct {
			sz       string
			embedded bool // transform.Options.HEIFThumbnails
		}{{"tile_50", false}, {"left_224", false}, {"tile_500", false}, {"fit_1280", false}, {"colors", false},
			{"tile_50", true}, {"left_224", true}, {"fit_1280", true}, {"colors", true}} {
			sz := tc.sz
			opts := defaultOpts
			opts.HEIFThumbnails = tc.embedded
			t.Run(fmt.Sprintf("%s/%s/embedded=%v", file, sz, tc.embedded), func(t *testing.T) {
				f := variant.JPEG
				if sz == "colors" {
					f = variant.PNG
				}
				want, err := run(t, defaultOpts, ref, sz, f)
				if err != nil {
					t.Fatalf("reference: %v", err)
				}
				got, err := run(t, opts, src, sz, f)
				if err != nil {
					t.Fatalf("Transform: %v", err)
				}
				a, b := pixels(t, want.Bytes), pixels(t, got.Bytes)
				if a.w != b.w || a.h != b.h || a.bands != b.bands {
					t.Fatalf("%dx%dx%d; libheif's rendering gives %dx%dx%d", b.w, b.h, b.bands, a.w, a.h, a.bands)
				}
				if got.Width != b.w || got.Height != b.h {
					t.Errorf("Image says %dx%d, bytes are %dx%d", got.Width, got.Height, b.w, b.h)
				}
				// The embedded thumbnail is a separately encoded, smaller
				// picture: a little further from the primary's rendering.
				const threshold = 6
				if sz != "colors" {
					if d := meanDiff(a, remap(a, func(x, y, w, h int) (int, int) { return x, h - 1 - y })); d <= threshold {
						t.Fatalf("upside-down reference differs by only %.1f; the check cannot see orientation", d)
					}
				}
				d := meanDiff(a, b)
				if d > threshold {
					t.Errorf("mean channel difference %.1f from libheif's rendering", d)
				}
				t.Logf("mean channel difference %.2f", d)
			})
		}
	}
}

// TestHEIFOrientation: heif-enc turns the eight EXIF orientations of the
// Landscape photos into irot/imir boxes (and keeps the EXIF tag), with a
// 320 px embedded thumbnail turned the same way. libheif applies the
// boxes; the pipeline must not apply the tag again, on any route.
func TestHEIFOrientation(t *testing.T) {
	dir := t.TempDir()
	// t is the subtest's: a failure inside it must not FailNow the parent.
	heic := func(t *testing.T, n int) []byte {
		out := filepath.Join(dir, fmt.Sprintf("l%d.heic", n))
		if _, err := os.Stat(out); err != nil {
			heifTool(t, "heif-enc", "-q", "60", "-t", "320", "-o", out, filepath.Join("../testdata/photos", fmt.Sprintf("Landscape_%d.jpg", n)))
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// tile_100 and colors come from the thumbnail, tile_500 and fit_720
	// from the primary image.
	for _, sz := range []string{"tile_100", "left_224", "fit_720", "tile_500", "colors"} {
		ref, err := run(t, defaultOpts, photo(t, "Landscape_1.jpg"), sz, variant.JPEG)
		if err != nil {
			t.Fatal(err)
		}
		refImg := pixels(t, ref.Bytes)
		const threshold = 12 // as TestOrientation
		for n := 1; n <= 8; n++ {
			for _, embedded := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%d/embedded=%v", sz, n, embedded), func(t *testing.T) {
					opts := defaultOpts
					opts.HEIFThumbnails = embedded
					img, err := run(t, opts, heic(t, n), sz, variant.JPEG)
					if err != nil {
						t.Fatal(err)
					}
					got := pixels(t, img.Bytes)
					if got.w != refImg.w || got.h != refImg.h {
						t.Fatalf("%dx%d; the JPEG at orientation 1 gives %dx%d", got.w, got.h, refImg.w, refImg.h)
					}
					if d := meanDiff(refImg, got); d > threshold {
						t.Errorf("mean channel difference %.1f from Landscape_1.jpg; not upright", d)
					}
				})
			}
		}
	}
}

// TestHEIFDeadline: the deadline stops libvips in the sequential HEIF
// load as in any other (the adopted image is watched like govips' own).
func TestHEIFDeadline(t *testing.T) {
	src, err := os.ReadFile("../testdata/heif/sony.heif")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = transform.New(defaultOpts).Transform(ctx, src, size(t, "fit_720"), variant.JPEG)
	if !errors.Is(err, transform.ErrStopped) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Transform = %v; want ErrStopped wrapping the deadline", err)
	}
	// libvips is usable afterwards.
	if _, err := run(t, defaultOpts, src, "tile_50", variant.JPEG); err != nil {
		t.Fatalf("next job: %v", err)
	}
}
