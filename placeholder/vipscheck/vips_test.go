// Package vipscheck_test checks the recipe by which the pipeline feeds the
// placeholder package from libvips (pixels below: a 100x100 fit thumbnail,
// sRGB, 8 bits a band, raw bytes): that the buffer has the layout
// placeholder.Compute expects, that orientation is applied, and that alpha
// and CMYK come out right. It lives apart so that placeholder stays pure Go.
package vipscheck_test

import (
	"encoding/base64"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/placeholder"
)

func TestMain(m *testing.M) {
	vips.LoggingSettings(nil, vips.LogLevelError)
	vips.Startup(&vips.Config{ConcurrencyLevel: 1})
	code := m.Run()
	vips.Shutdown()
	os.Exit(code)
}

// pixels is the recipe: thumbnail to fit 100x100 (never up; it applies
// the EXIF orientation and imports CMYK through its profile), sRGB, 8 bits
// a band, then the raw interleaved bytes.
func pixels(src []byte) (w, h, bands int, pix []byte, err error) {
	img, err := vips.LoadThumbnailFromBuffer(src, placeholder.MaxSide, placeholder.MaxSide, vips.InterestingNone, vips.SizeDown, nil)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	defer img.Close()
	if img.Interpretation() != vips.InterpretationSRGB {
		if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
			return 0, 0, 0, nil, err
		}
	}
	if img.BandFormat() != vips.BandFormatUchar {
		if err := img.Cast(vips.BandFormatUchar); err != nil {
			return 0, 0, 0, nil, err
		}
	}
	pix, err = img.ToBytes()
	if err != nil {
		return 0, 0, 0, nil, err
	}
	return img.Width(), img.Height(), img.Bands(), pix, nil
}

func compute(t *testing.T, name string) (placeholder.Placeholder, int, int, int) {
	t.Helper()
	src, err := os.ReadFile("../../testdata/photos/" + name)
	if err != nil {
		t.Fatal(err)
	}
	w, h, bands, pix, err := pixels(src)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(pix) != w*h*bands || max(w, h) != placeholder.MaxSide {
		t.Fatalf("%s: %dx%d x%d, %d bytes", name, w, h, bands, len(pix))
	}
	p, err := placeholder.Compute(w, h, bands, pix)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if _, err := placeholder.ParseThumbHash(p.ThumbHash); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	if err := placeholder.ValidBlurHash(p.BlurHash); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	return p, w, h, bands
}

func rgb(c string) [3]float64 {
	var r, g, b int
	fmt.Sscanf(c, "#%02x%02x%02x", &r, &g, &b)
	return [3]float64{float64(r), float64(g), float64(b)}
}

func render(t *testing.T, p placeholder.Placeholder) []byte {
	t.Helper()
	b, _ := base64.StdEncoding.DecodeString(p.ThumbHash)
	_, _, px, err := placeholder.DecodeThumbHash(b)
	if err != nil {
		t.Fatal(err)
	}
	return px
}

// The eight Landscape photos are one picture stored in the eight EXIF
// orientations: upright, their placeholders must agree.
func TestOrientationApplied(t *testing.T) {
	ref, w0, h0, _ := compute(t, "Landscape_1.jpg")
	refPix := render(t, ref)
	for i := 2; i <= 8; i++ {
		name := fmt.Sprintf("Landscape_%d.jpg", i)
		p, w, h, _ := compute(t, name)
		if w != w0 || h != h0 {
			t.Errorf("%s: %dx%d, Landscape_1 %dx%d: not upright", name, w, h, w0, h0)
			continue
		}
		a, b := rgb(p.Color), rgb(ref.Color)
		if d := math.Abs(a[0]-b[0]) + math.Abs(a[1]-b[1]) + math.Abs(a[2]-b[2]); d > 6 {
			t.Errorf("%s: colour %s, Landscape_1 %s", name, p.Color, ref.Color)
		}
		px := render(t, p)
		var sum float64
		for k := range px {
			sum += math.Abs(float64(px[k]) - float64(refPix[k]))
		}
		if mean := sum / float64(len(px)); mean > 6 {
			t.Errorf("%s: thumbhash %s renders %.1f levels off Landscape_1's %s", name, p.ThumbHash, mean, ref.ThumbHash)
		}
	}
}

func TestBandsAndColour(t *testing.T) {
	for _, c := range []struct {
		name     string
		bands    int
		hasAlpha bool
	}{
		{"dice.png", 4, true},
		{"jpg-32bit-cmyk-icc-swop.jpg", 3, false}, // CMYK in, sRGB out
		{"test.avif", 3, false},
		{"rgb.tiff", 3, false},
		{"cops.jpg", 3, false},
	} {
		p, _, _, bands := compute(t, c.name)
		b, _ := base64.StdEncoding.DecodeString(p.ThumbHash)
		if bands != c.bands || placeholder.ThumbHashHasAlpha(b) != c.hasAlpha {
			t.Errorf("%s: %d bands, alpha %v; want %d, %v", c.name, bands, placeholder.ThumbHashHasAlpha(b), c.bands, c.hasAlpha)
		}
		t.Logf("%s: %+v", c.name, p)
	}
}
