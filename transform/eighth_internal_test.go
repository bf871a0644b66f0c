package transform

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/jpegscan"
)

// tool returns the path of an external program: skipped without it,
// except in CI, where make test installs it.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(tool(t, name), args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestEighthSamePixels: a progressive JPEG rewritten by jpegscan.Eighth
// must decode at 1/8 to exactly the pixels, orientation and ICC profile of
// the original, for every chroma layout, scan script and restart interval
// an encoder may choose. Each case must also be one Eighth rewrites, or
// the test would pass by never exercising the rewrite.
func TestEighthSamePixels(t *testing.T) {
	dir := t.TempDir()
	photo := func(name string) string { return filepath.Join("../testdata/photos", name) }
	out := func(name string) string { return filepath.Join(dir, name) }
	// A scan script with spectral selection and successive approximation
	// split differently from libjpeg's default, and more than one AC band.
	script := out("scans.txt")
	if err := os.WriteFile(script, []byte(`0,1,2: 0-0, 0, 2;
0: 1-2, 0, 1;
2: 1-63, 0, 0;
0: 3-63, 0, 1;
1: 1-9, 0, 0;
1: 10-63, 0, 0;
0,1,2: 0-0, 2, 1;
0: 1-63, 1, 0;
0,1,2: 0-0, 1, 0;
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ppm := out("cops.ppm")
	sh(t, "vips", "copy", photo("cops.jpg"), ppm)

	cases := []struct {
		name string
		make func() string // writes the case, returns its path
	}{
		{"4:2:0 by its author", func() string { return photo("seeding_by_Clements_Engelhardt.jpg") }},
		{"4:4:4 (libvips)", func() string {
			sh(t, "vips", "copy", photo("cops.jpg"), out("444.jpg")+"[Q=95,interlace,subsample-mode=off]")
			return out("444.jpg")
		}},
		{"4:2:0 restart every 5 MCUs", func() string {
			sh(t, "vips", "copy", photo("Landscape_1.jpg"), out("rst.jpg")+"[Q=85,interlace,subsample-mode=on,restart-interval=5]")
			return out("rst.jpg")
		}},
		{"greyscale", func() string {
			sh(t, "vips", "colourspace", photo("cops.jpg"), out("grey.jpg")+"[interlace]", "b-w")
			return out("grey.jpg")
		}},
		{"4:2:2 (cjpeg)", func() string {
			sh(t, "cjpeg", "-sample", "2x1", "-progressive", "-outfile", out("422.jpg"), ppm)
			return out("422.jpg")
		}},
		{"4:1:1 (cjpeg)", func() string {
			sh(t, "cjpeg", "-sample", "4x1", "-progressive", "-outfile", out("411.jpg"), ppm)
			return out("411.jpg")
		}},
		{"4:4:0 restart every row (cjpeg)", func() string {
			sh(t, "cjpeg", "-sample", "1x2", "-progressive", "-restart", "1", "-outfile", out("440.jpg"), ppm)
			return out("440.jpg")
		}},
		{"custom scan script, 4:4:4", func() string {
			sh(t, "cjpeg", "-sample", "1x1", "-scans", script, "-outfile", out("scans.jpg"), ppm)
			return out("scans.jpg")
		}},
		{"EXIF orientation 6 and Display P3 (jpegtran)", func() string {
			sh(t, "jpegtran", "-copy", "all", "-progressive", "-restart", "2", "-outfile", out("p3.jpg"), photo("test_exif_full.jpg"))
			return out("p3.jpg")
		}},
		{"CMYK with an ICC profile (jpegtran)", func() string {
			sh(t, "jpegtran", "-copy", "all", "-progressive", "-outfile", out("cmyk.jpg"), photo("jpg-32bit-cmyk-icc-swop.jpg"))
			return out("cmyk.jpg")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, err := os.ReadFile(c.make())
			if err != nil {
				t.Fatal(err)
			}
			trimmed, ok := jpegscan.Eighth(src)
			if !ok {
				t.Fatal("Eighth did not rewrite it")
			}
			if len(trimmed) >= len(src) {
				t.Errorf("rewritten %d bytes, original %d", len(trimmed), len(src))
			}
			p := importParams()
			p.JpegShrinkFactor.Set(8)
			want, err := vips.LoadImageFromBuffer(src, p)
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			got, err := loadJPEGEighth(src)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			if got.Width() != want.Width() || got.Height() != want.Height() || got.Bands() != want.Bands() ||
				got.Interpretation() != want.Interpretation() {
				t.Fatalf("rewritten %dx%dx%d %v, original %dx%dx%d %v", got.Width(), got.Height(), got.Bands(), got.Interpretation(),
					want.Width(), want.Height(), want.Bands(), want.Interpretation())
			}
			if got.Orientation() != want.Orientation() {
				t.Errorf("orientation %d, original %d", got.Orientation(), want.Orientation())
			}
			if !bytes.Equal(got.GetICCProfile(), want.GetICCProfile()) {
				t.Errorf("ICC profile %d bytes, original %d", len(got.GetICCProfile()), len(want.GetICCProfile()))
			}
			pg, err := got.ToBytes()
			if err != nil {
				t.Fatal(err)
			}
			pw, err := want.ToBytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pg, pw) {
				diff := 0
				for i := range pg {
					if pg[i] != pw[i] {
						diff++
					}
				}
				t.Errorf("%d of %d samples differ at 1/8 (%dx%d)", diff, len(pw), want.Width(), want.Height())
			}
		})
	}
}
