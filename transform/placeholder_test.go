package transform_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/thumbd/thumbd/budget"
	"github.com/thumbd/thumbd/placeholder"
	"github.com/thumbd/thumbd/transform"
)

// Every sample photo gets a placeholder that decodes; the eight EXIF
// orientations of one picture agree (it is computed upright); alpha is
// kept; damaged and oversized files are refused by the same guards as
// Transform.
func TestPlaceholder(t *testing.T) {
	tr := transform.New(defaultOpts)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		alpha bool
	}{
		{"Landscape_1.jpg", false}, {"Landscape_6.jpg", false}, {"cops.jpg", false}, {"dice.png", true},
		{"jpg-32bit-cmyk-icc-swop.jpg", false}, {"test.avif", false}, {"rgb.tiff", false}, {"animated.gif", false},
		{"test_exif_full.jpg", false}, {"orientation/orientation_6.jpg", false},
	} {
		p, err := tr.Placeholder(ctx, photo(t, c.name))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		hash, err := placeholder.ParseThumbHash(p.ThumbHash)
		if err != nil {
			t.Errorf("%s: thumbhash %q: %v", c.name, p.ThumbHash, err)
			continue
		}
		if _, _, _, err := placeholder.DecodeThumbHash(hash); err != nil {
			t.Errorf("%s: thumbhash does not decode: %v", c.name, err)
		}
		if err := placeholder.ValidBlurHash(p.BlurHash); err != nil {
			t.Errorf("%s: blurhash %q: %v", c.name, p.BlurHash, err)
		}
		if _, err := placeholder.DecodeBlurHash(p.BlurHash, 32, 32); err != nil {
			t.Errorf("%s: blurhash does not decode: %v", c.name, err)
		}
		if !placeholder.ValidColor(p.Color) {
			t.Errorf("%s: colour %q", c.name, p.Color)
		}
		if placeholder.ThumbHashHasAlpha(hash) != c.alpha {
			t.Errorf("%s: alpha %v, want %v", c.name, placeholder.ThumbHashHasAlpha(hash), c.alpha)
		}
	}

	// Orientations: the ThumbHash's aspect ratio is the upright one, and
	// the colours agree with the upright file's.
	ref, _ := tr.Placeholder(ctx, photo(t, "Landscape_1.jpg"))
	refHash, _ := placeholder.ParseThumbHash(ref.ThumbHash)
	rw, rh, refPix, _ := placeholder.DecodeThumbHash(refHash)
	for _, name := range []string{"Landscape_5.jpg", "Landscape_6.jpg", "Landscape_7.jpg", "Landscape_8.jpg"} {
		p, err := tr.Placeholder(ctx, photo(t, name))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := placeholder.ParseThumbHash(p.ThumbHash)
		w, h, pix, _ := placeholder.DecodeThumbHash(b)
		if w != rw || h != rh {
			t.Errorf("%s: thumbhash renders %dx%d, upright Landscape_1 %dx%d", name, w, h, rw, rh)
			continue
		}
		var sum float64
		for i := range pix {
			sum += math.Abs(float64(pix[i]) - float64(refPix[i]))
		}
		if mean := sum / float64(len(pix)); mean > 6 {
			t.Errorf("%s: renders %.1f levels off Landscape_1", name, mean)
		}
	}

	// The guards.
	corrupt := readFile(t, "../testdata/faults/corrupt.jpg")
	if _, err := tr.Placeholder(ctx, corrupt); !errors.Is(err, transform.ErrUnsupported) {
		t.Errorf("corrupt JPEG: %v, want ErrUnsupported", err)
	}
	if _, err := tr.Placeholder(ctx, []byte("not an image at all")); !errors.Is(err, transform.ErrUnsupported) {
		t.Errorf("text: %v, want ErrUnsupported", err)
	}
	small := transform.New(transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78, MaxMegapixels: 1})
	if _, err := small.Placeholder(ctx, photo(t, "test_exif_full.jpg")); !errors.Is(err, transform.ErrTooLarge) {
		t.Errorf("12 MP with max_megapixels 1: %v, want ErrTooLarge", err)
	}
	tiny := transform.New(transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78, Budget: budget.New(1 << 10)})
	if _, err := tiny.Placeholder(ctx, photo(t, "rgb.tiff")); !errors.Is(err, transform.ErrTooLarge) {
		t.Errorf("decode budget of 1 KiB: %v, want ErrTooLarge", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tr.Placeholder(done, photo(t, "cops.jpg")); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: %v, want context.Canceled", err)
	}
}
