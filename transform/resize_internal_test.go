package transform

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/variant"
)

// TestResizeCropIsThumbnail: after the shrunk sequential JPEG load,
// resizeCrop must give exactly the pixels a random-access load and
// ThumbnailWithSize give (it replaces them for speed, not for a different
// look), for every orientation, crop strategy and mode, upscaling tiles
// included. It also fails if govips moves the ImageRef field adopt sets.
func TestResizeCropIsThumbnail(t *testing.T) {
	files := []string{"cops.jpg", "seeding_by_Clements_Engelhardt.jpg", "test_exif_full.jpg", "jpg-32bit-cmyk-icc-swop.jpg"}
	for n := 1; n <= 8; n++ {
		files = append(files, fmt.Sprintf("Landscape_%d.jpg", n))
	}
	sizes := []string{"tile_50", "tile_224", "tile_500", "tile_1080", "left_224", "right_224", "fit_720", "fit_1280", "fit_1920", "screen_1080x1920"}
	crops := []variant.Crop{variant.CropCentre, variant.CropEntropy, variant.CropAttention}
	for _, file := range files {
		src, err := os.ReadFile(filepath.Join("../testdata/photos", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range sizes {
			for _, c := range crops {
				s, err := variant.ParseSize(name)
				if err != nil {
					t.Fatal(err)
				}
				if s.Mode != variant.Tile && c != variant.CropCentre {
					continue // only tiles follow the crop setting
				}
				t.Run(fmt.Sprintf("%s/%s/%s", file, name, c), func(t *testing.T) {
					hdr, err := vips.LoadImageFromBuffer(src, importParams())
					if err != nil {
						t.Fatal(err)
					}
					w, h, o := hdr.Width(), hdr.Height(), hdr.Orientation()
					hdr.Close()
					if s.Mode == variant.Screen {
						uw, uh := variant.Upright(w, h, o)
						s = variant.ScreenBox(s, uw, uh)
					}
					tr := New(Options{Crop: c})
					crop, sizing := tr.cropFor(s)
					shrink := jpegShrink(w, h, o, s)
					load := func() *vips.ImageRef {
						p := importParams()
						p.JpegShrinkFactor.Set(shrink)
						img, err := vips.LoadImageFromBuffer(src, p)
						if err != nil {
							t.Fatal(err)
						}
						return img
					}
					// The production path: a sequential load, then resizeCrop.
					defer pinSource(src)()
					a, err := loadJPEGShrunk(src, shrink)
					if err != nil {
						t.Fatal(err)
					}
					b := load()
					defer a.Close()
					defer b.Close()
					if err := resizeCrop(a, s.Width, s.Height, crop, sizing); err != nil {
						t.Fatal(err)
					}
					if err := b.ThumbnailWithSize(s.Width, s.Height, crop, sizing); err != nil {
						t.Fatal(err)
					}
					if a.Width() != b.Width() || a.Height() != b.Height() || a.Bands() != b.Bands() {
						t.Fatalf("resizeCrop %dx%dx%d, ThumbnailWithSize %dx%dx%d", a.Width(), a.Height(), a.Bands(), b.Width(), b.Height(), b.Bands())
					}
					pa, err := a.ToBytes()
					if err != nil {
						t.Fatal(err)
					}
					pb, err := b.ToBytes()
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(pa, pb) {
						t.Errorf("pixels differ (%dx%d, shrink 1/%d, orientation %d)", a.Width(), a.Height(), shrink, o)
					}
				})
			}
		}
	}
}

func TestThumbShrink(t *testing.T) {
	for _, tc := range []struct {
		w, h, bw, bh, o int
		crop            vips.Interesting
		sizing          vips.Size
		hs, vs          float64
	}{
		{1000, 500, 100, 100, 1, vips.InterestingCentre, vips.SizeBoth, 5, 5}, // fill: the short side
		{1000, 500, 100, 100, 1, vips.InterestingNone, vips.SizeDown, 10, 10}, // fit: the long side
		{500, 1000, 500, 100, 6, vips.InterestingNone, vips.SizeDown, 5, 5},   // rotated: box swapped (10 if not)
		{100, 50, 1000, 1000, 1, vips.InterestingNone, vips.SizeDown, 1, 1},   // fits never enlarge
		{100, 50, 1000, 1000, 1, vips.InterestingCentre, vips.SizeBoth, 0.05, 0.05},
		{100, 50, 3, 3, 1, vips.InterestingNone, vips.SizeForce, 100.0 / 3, 50.0 / 3},
		{4, 2, 1, 1, 1, vips.InterestingNone, vips.SizeForce, 4, 2}, // never below one pixel
	} {
		hs, vs := thumbShrink(tc.w, tc.h, tc.bw, tc.bh, tc.o, tc.crop, tc.sizing)
		if hs != tc.hs || vs != tc.vs {
			t.Errorf("thumbShrink(%d, %d, %d, %d, %d, %v, %v) = %v, %v; want %v, %v", tc.w, tc.h, tc.bw, tc.bh, tc.o, tc.crop, tc.sizing, hs, vs, tc.hs, tc.vs)
		}
	}
}

func TestSameFrame(t *testing.T) {
	for _, tc := range []struct {
		w, h, tw, th int
		same         bool
	}{
		{5712, 4284, 416, 312, true},   // iPhone 15 Pro
		{4128, 6192, 1080, 1616, true}, // Sony a6700: 4 px short of 1620
		{4128, 6192, 212, 320, true},
		{4128, 6192, 160, 120, false}, // a 4:3 thumbnail of a 2:3 photo: letterboxed
		{6000, 4000, 160, 120, false}, // Canon-style 4:3 thumbnail of a 3:2 photo
		{4000, 3000, 300, 400, false}, // turned the other way
		{4000, 3000, 400, 300, true},
	} {
		if got := sameFrame(tc.w, tc.h, tc.tw, tc.th); got != tc.same {
			t.Errorf("sameFrame(%d, %d, %d, %d) = %v; want %v", tc.w, tc.h, tc.tw, tc.th, got, tc.same)
		}
	}
}

func TestCoversOutput(t *testing.T) {
	tr := New(Options{})
	for _, tc := range []struct {
		tw, th int
		size   string
		covers bool
	}{
		{416, 312, "tile_224", true},
		{416, 312, "tile_500", false},
		{416, 312, "tile_100", true},
		{416, 312, "fit_720", false},
		{416, 312, "colors", true},
		{416, 312, "left_224", true},
		{1080, 1616, "fit_1280", true}, // 855x1280 from 1080x1616
		{1080, 1616, "fit_1920", true}, // the box is 1920x1200: 802x1200
		{1080, 1616, "screen_1080x1920", false},
		{1080, 1616, "tile_1080", false},
	} {
		s, err := variant.ParseSize(tc.size)
		if err != nil {
			t.Fatal(err)
		}
		crop, sizing := tr.cropFor(s)
		if got := coversOutput(tc.tw, tc.th, s, crop, sizing); got != tc.covers {
			t.Errorf("coversOutput(%d, %d, %s) = %v; want %v", tc.tw, tc.th, tc.size, got, tc.covers)
		}
	}
}

// TestPNGResizeCropIsThumbnail: a sequential PNG load and resizeCrop (the
// production path) give exactly the pixels vips_thumbnail_buffer gives,
// for every kind of PNG an encoder writes: RGB, grey, alpha, 16 bits,
// palette, interlaced.
func TestPNGResizeCropIsThumbnail(t *testing.T) {
	dir := t.TempDir()
	jpg := filepath.Join("../testdata/photos", "Landscape_3.jpg")
	pngs := map[string]string{
		"rgb":        jpg + " %s[compression=6]",
		"grey":       jpg + " %s[compression=1]",
		"16-bit":     jpg + " %s[bitdepth=16]",
		"palette":    jpg + " %s[palette]",
		"interlaced": jpg + " %s[interlace]",
		"alpha":      filepath.Join("../testdata/photos", "dice.png") + " %s",
	}
	sizes := []string{"tile_50", "tile_224", "left_224", "fit_720", "fit_1280", "colors"}
	crops := []variant.Crop{variant.CropCentre, variant.CropAttention}
	for kind, spec := range pngs {
		path := filepath.Join(dir, kind+".png")
		args := strings.Fields(fmt.Sprintf(spec, path))
		cmd := []string{"copy"}
		if kind == "grey" {
			cmd = []string{"colourspace"}
			args = append(args, "b-w")
		}
		sh(t, "vips", append(cmd, args...)...)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range sizes {
			for _, c := range crops {
				s, err := variant.ParseSize(name)
				if err != nil {
					t.Fatal(err)
				}
				if s.Mode != variant.Tile && c != variant.CropCentre {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%s", kind, name, c), func(t *testing.T) {
					tr := New(Options{Crop: c})
					crop, sizing := tr.cropFor(s)
					defer pinSource(src)()
					a, err := loadPNGSequential(src)
					if err != nil {
						t.Fatal(err)
					}
					defer a.Close()
					if err := resizeCrop(a, s.Width, s.Height, crop, sizing); err != nil {
						t.Fatal(err)
					}
					b, err := vips.LoadThumbnailFromBuffer(src, s.Width, s.Height, crop, sizing, importParams())
					if err != nil {
						t.Fatal(err)
					}
					defer b.Close()
					if a.Width() != b.Width() || a.Height() != b.Height() || a.Bands() != b.Bands() || a.BandFormat() != b.BandFormat() {
						t.Fatalf("resizeCrop %dx%dx%d, thumbnail %dx%dx%d", a.Width(), a.Height(), a.Bands(), b.Width(), b.Height(), b.Bands())
					}
					pa, err := a.ToBytes()
					if err != nil {
						t.Fatal(err)
					}
					pb, err := b.ToBytes()
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(pa, pb) {
						t.Errorf("pixels differ (%dx%dx%d)", a.Width(), a.Height(), a.Bands())
					}
				})
			}
		}
	}
}

// TestHEIFResizeCropIsThumbnail: after the sequential HEIF/AVIF load,
// resizeCrop (the production path) gives exactly the pixels
// ThumbnailWithSize gives (HEIFs deeper than 8 bits take hdrThumbnail).
func TestHEIFResizeCropIsThumbnail(t *testing.T) {
	files := []string{"../testdata/heif/iphone.heic", "../testdata/photos/test.avif"}
	cases := []struct {
		size string
		crop variant.Crop
	}{
		{"tile_500", variant.CropCentre}, {"tile_224", variant.CropAttention}, {"right_224", variant.CropCentre},
		{"fit_1280", variant.CropCentre}, {"screen_1080x1920", variant.CropCentre},
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		typ := vips.DetermineImageType(src)
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%s/%s", filepath.Base(file), c.size, c.crop), func(t *testing.T) {
				s, err := variant.ParseSize(c.size)
				if err != nil {
					t.Fatal(err)
				}
				hdr, err := loadBuffer(src, typ, importParams())
				if err != nil {
					t.Fatal(err)
				}
				if s.Mode == variant.Screen {
					s = variant.ScreenBox(s, hdr.Width(), hdr.Height())
				}
				hdr.Close()
				crop, sizing := New(Options{Crop: c.crop}).cropFor(s)
				defer pinSource(src)()
				load := func() *vips.ImageRef {
					img, err := loadHEIFSequential(src)
					if err != nil {
						t.Fatal(err)
					}
					return img
				}
				a, b := load(), load()
				defer a.Close()
				defer b.Close()
				if err := resizeCrop(a, s.Width, s.Height, crop, sizing); err != nil {
					t.Fatal(err)
				}
				if err := b.ThumbnailWithSize(s.Width, s.Height, crop, sizing); err != nil {
					t.Fatal(err)
				}
				if a.Width() != b.Width() || a.Height() != b.Height() || a.Bands() != b.Bands() || a.BandFormat() != b.BandFormat() {
					t.Fatalf("resizeCrop %dx%dx%d, ThumbnailWithSize %dx%dx%d", a.Width(), a.Height(), a.Bands(), b.Width(), b.Height(), b.Bands())
				}
				pa, err := a.ToBytes()
				if err != nil {
					t.Fatal(err)
				}
				pb, err := b.ToBytes()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(pa, pb) {
					t.Errorf("pixels differ (%dx%dx%d)", a.Width(), a.Height(), a.Bands())
				}
			})
		}
	}
}
