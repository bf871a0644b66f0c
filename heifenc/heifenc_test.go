package heifenc_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/heifenc"
	"github.com/thumbd/thumbd/imagehdr"
	"github.com/thumbd/thumbd/metastrip"
)

func TestMain(m *testing.M) {
	vips.LoggingSettings(nil, vips.LogLevelError)
	vips.Startup(&vips.Config{ConcurrencyLevel: 1})
	code := m.Run()
	vips.Shutdown()
	os.Exit(code)
}

// pixels loads a real photo with libvips, shrinks it to width w (AVIF
// encoding is slow) and returns its packed 8-bit sRGB samples.
func pixels(t *testing.T, name string, w int) (pix []byte, width, height, bands int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata/photos", name))
	if err != nil {
		t.Fatal(err)
	}
	img, err := vips.NewThumbnailFromBuffer(b, w, w, vips.InterestingNone)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
		t.Fatal(err)
	}
	if err := img.Cast(vips.BandFormatUchar); err != nil {
		t.Fatal(err)
	}
	pix, err = img.ToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return pix, img.Width(), img.Height(), img.Bands()
}

// meanAbsDiff compares two packed images of the same shape, per sample.
func meanAbsDiff(a, b []byte) float64 {
	var s float64
	for i := range a {
		s += math.Abs(float64(a[i]) - float64(b[i]))
	}
	return s / float64(len(a))
}

func TestEncodeAVIFRealPhotos(t *testing.T) {
	if !heifenc.HasAVIFEncoder() {
		t.Fatal("libheif has no AV1 encoder: install libheif-plugin-aomenc (scripts/heif-backports.sh)")
	}
	for _, tc := range []struct {
		name      string
		bands     int
		q, effort int
		maxDiff   float64 // mean absolute difference per 8-bit sample
	}{
		{"cops.jpg", 3, 60, 2, 6},
		{"seeding_by_Clements_Engelhardt.jpg", 3, 60, 2, 6},
		{"dice.png", 4, 60, 2, 6},
		{"cops.jpg", 3, 95, 2, 3}, // 4:4:4 from Q 90, as libvips
	} {
		t.Run(tc.name, func(t *testing.T) {
			pix, w, h, bands := pixels(t, tc.name, 320)
			if bands != tc.bands {
				t.Fatalf("source has %d bands, want %d", bands, tc.bands)
			}
			out, err := heifenc.EncodeAVIF(pix, w, h, bands, heifenc.Options{Quality: tc.q, Effort: tc.effort})
			if err != nil {
				t.Fatal(err)
			}
			hdr, err := imagehdr.Parse(out, 1)
			if err != nil {
				t.Fatal(err)
			}
			if hdr.Format != imagehdr.AVIF || hdr.Width != w || hdr.Height != h || hdr.Bands != bands || hdr.BitsPerSample != 8 {
				t.Fatalf("header %+v, want avif %dx%d, %d bands, 8 bits", hdr, w, h, bands)
			}
			if err := metastrip.Check(out); err != nil {
				t.Fatalf("metadata left: %v", err)
			}
			back, err := vips.NewImageFromBuffer(out)
			if err != nil {
				t.Fatal(err)
			}
			defer back.Close()
			if back.Width() != w || back.Height() != h || back.Bands() != bands {
				t.Fatalf("decoded %dx%dx%d, want %dx%dx%d", back.Width(), back.Height(), back.Bands(), w, h, bands)
			}
			got, err := back.ToBytes()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(pix) {
				t.Fatalf("decoded %d bytes, want %d", len(got), len(pix))
			}
			if d := meanAbsDiff(pix, got); d > tc.maxDiff {
				t.Fatalf("mean abs difference %.2f > %.2f", d, tc.maxDiff)
			} else {
				t.Logf("%s q%d: %d bytes, mean abs difference %.2f", tc.name, tc.q, len(out), d)
			}
		})
	}
}

// TestQualityMatters shows the options reach the encoder: a lower quality
// gives a smaller file.
func TestQualityMatters(t *testing.T) {
	pix, w, h, bands := pixels(t, "cops.jpg", 320)
	lo, err := heifenc.EncodeAVIF(pix, w, h, bands, heifenc.Options{Quality: 20, Effort: 2})
	if err != nil {
		t.Fatal(err)
	}
	hi, err := heifenc.EncodeAVIF(pix, w, h, bands, heifenc.Options{Quality: 80, Effort: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(lo) >= len(hi) {
		t.Fatalf("q20 %d bytes >= q80 %d bytes", len(lo), len(hi))
	}
}

func TestEncodeAVIFBadInput(t *testing.T) {
	for _, tc := range []struct {
		name           string
		n, w, h, bands int
	}{
		{"no pixels", 0, 0, 0, 3},
		{"grey", 16, 4, 4, 1},
		{"short buffer", 47, 4, 4, 3},
		{"long buffer", 49, 4, 4, 3},
		{"negative", 48, -4, -4, 3},
		{"huge", 3, 1 << 20, 1 << 20, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := heifenc.EncodeAVIF(make([]byte, tc.n), tc.w, tc.h, tc.bands, heifenc.Options{})
			if !errors.Is(err, heifenc.ErrInput) {
				t.Fatalf("err = %v, want ErrInput", err)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	v := heifenc.Version()
	if !strings.Contains(v, ".") {
		t.Fatalf("Version() = %q", v)
	}
	t.Logf("libheif %s", v)
}

// TestLibvipsAVIFSaveBroken records why this package exists: with libvips
// before 8.15 and libheif 1.17 or later, libvips' own AVIF save fails. If
// it starts to pass (libvips upgraded), heifenc can be dropped.
func TestLibvipsAVIFSaveBroken(t *testing.T) {
	var maj, mnr int
	if _, err := fmt.Sscanf(heifenc.Version(), "%d.%d", &maj, &mnr); err != nil {
		t.Fatal(err)
	}
	newHeif := maj > 1 || maj == 1 && mnr >= 17
	oldVips := vips.MajorVersion < 8 || vips.MajorVersion == 8 && vips.MinorVersion < 15
	b, err := os.ReadFile("../testdata/photos/cops.jpg")
	if err != nil {
		t.Fatal(err)
	}
	img, err := vips.NewImageFromBuffer(b)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	_, _, err = img.ExportAvif(&vips.AvifExportParams{StripMetadata: true, Quality: 60, Effort: 2, Bitdepth: 8})
	msg := "none"
	if err != nil {
		msg, _, _ = strings.Cut(err.Error(), "\n") // govips appends a stack trace
	}
	t.Logf("libvips %d.%d, libheif %s: ExportAvif error: %s", vips.MajorVersion, vips.MinorVersion, heifenc.Version(), msg)
	switch {
	case newHeif && oldVips && err == nil:
		t.Fatal("libvips' AVIF save works with this libheif: heifenc may no longer be needed")
	case newHeif && oldVips && !strings.Contains(err.Error(), "null error text"):
		t.Fatalf("libvips' AVIF save fails for another reason: %v", err)
	case !(newHeif && oldVips) && err != nil:
		t.Fatalf("libvips' AVIF save fails: %v", err)
	}
}
