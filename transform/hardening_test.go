package transform_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thumbd/thumbd/budget"
	"github.com/thumbd/thumbd/internal/vipscli"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

// bigJPEG makes a large baseline JPEG with the vips CLI (a few seconds of
// libvips work to thumbnail with an attention crop on this machine).
func bigJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	if _, err := exec.LookPath("vips"); err != nil {
		t.Skip("vips CLI (libvips-tools) not installed")
	}
	dir := t.TempDir()
	noise := filepath.Join(dir, "noise.v")
	out := filepath.Join(dir, "big.jpg")
	for _, args := range [][]string{
		{"gaussnoise", noise, itoa(w), itoa(h), "--sigma", "60"},
		{"copy", noise, out + "[Q=95]"},
	} {
		if b, err := vipscli.Run(args...); err != nil {
			t.Fatalf("vips %v: %v\n%s", args, err, b)
		}
	}
	return readFile(t, out)
}

// The deadline stops libvips itself: a render of a big file (about 10 s
// of work here) whose context ends after 50 ms fails with ErrStopped, and
// libvips says it was killed (it did not run to the end); no timing is
// asserted.
func TestDeadlineStopsLibvips(t *testing.T) {
	src := bigJPEG(t, 12000, 8000)
	tr := transform.New(transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78, Crop: variant.CropAttention})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	img, err := tr.Transform(ctx, src, size(t, "fit_7680"), variant.WebP)
	if !errors.Is(err, transform.ErrStopped) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Transform = %v, %v; want ErrStopped wrapping the deadline", img != nil, err)
	}
	if !strings.Contains(err.Error(), "killed") {
		t.Errorf("libvips did not report being killed (%v): it ran to the end", err)
	}
	t.Logf("stopped after %v: %v", time.Since(start), err)
	// libvips is usable afterwards.
	if _, err := tr.Transform(context.Background(), photo(t, "cops.jpg"), size(t, "tile_224"), variant.JPEG); err != nil {
		t.Fatalf("next job: %v", err)
	}
}

// Frames and decode memory are checked from the container before libvips
// reads the file.
func TestFramesAndDecodeBudget(t *testing.T) {
	gif := photo(t, "animated.gif") // 10 frames
	tr := transform.New(transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78, MaxFrames: 5})
	if _, err := tr.Transform(context.Background(), gif, size(t, "tile_224"), variant.JPEG); !errors.Is(err, transform.ErrTooLarge) {
		t.Errorf("10-frame GIF with max_frames 5: %v; want ErrTooLarge", err)
	}
	tr = transform.New(transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78, MaxFrames: 10})
	if _, err := tr.Transform(context.Background(), gif, size(t, "tile_224"), variant.JPEG); err != nil {
		t.Errorf("10-frame GIF with max_frames 10: %v", err)
	}

	// 4000x4000 RGBA interlaced PNG header: 64 MB decoded, whole frame.
	bomb := interlacedRGBA16(4000, 4000)
	small := budget.New(16 << 20)
	tr = transform.New(transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78, Budget: small})
	if _, err := tr.Transform(context.Background(), bomb, size(t, "tile_224"), variant.JPEG); !errors.Is(err, transform.ErrTooLarge) {
		t.Errorf("PNG needing more than the whole budget: %v; want ErrTooLarge", err)
	}
	// A job that fits waits for room rather than failing, and gives it back.
	hold, err := small.Acquire(context.Background(), 15<<20)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := tr.Transform(ctx, photo(t, "cops.jpg"), size(t, "tile_224"), variant.JPEG); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("job while the budget is held: %v; want it to wait until the deadline", err)
	}
	hold()
	if _, err := tr.Transform(context.Background(), photo(t, "cops.jpg"), size(t, "tile_224"), variant.JPEG); err != nil {
		t.Errorf("after release: %v", err)
	}
	if small.InUse() != 0 {
		t.Errorf("budget in use after the jobs: %d", small.InUse())
	}
}

// Every output format passes the metadata gate, for an input full of it.
func TestEveryFormatStripsEverything(t *testing.T) {
	src := photo(t, "test_exif_full.jpg") // GPS, Apple camera
	tr := transform.New(defaultOpts)
	for _, f := range []variant.Format{variant.JPEG, variant.PNG, variant.WebP, variant.AVIF} {
		for _, name := range []string{"tile_224", "fit_720", "original"} {
			img, err := tr.Transform(context.Background(), src, size(t, name), f)
			if err != nil {
				t.Errorf("%s %s: %v", name, f.Ext(), err)
				continue
			}
			for _, needle := range []string{"Exif\x00", "Apple", "iPhone", "http://ns.adobe.com/xap", "GPS"} {
				if name == "original" && (needle == "Exif\x00" || needle == "Apple") {
					// A minimal block with the orientation only; and the
					// kept Display P3 ICC profile is "Apple Inc."'s.
					continue
				}
				if bytes.Contains(img.Bytes, []byte(needle)) {
					t.Errorf("%s as %s carries %q", name, f.Ext(), needle)
				}
			}
		}
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }

// interlacedRGBA16 is the header of a 16-bit RGBA Adam7 PNG (whole frame
// decoded: 8 bytes a pixel) with a token IDAT.
func interlacedRGBA16(w, h uint32) []byte {
	return pngFile(w, h, 16, 6, 1, []byte{0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01})
}
