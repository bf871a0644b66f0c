package transform_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	_ "image/jpeg"
	_ "image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

func TestMain(m *testing.M) {
	transform.Startup(1, slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

var defaultOpts = transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78, MaxMegapixels: 100}

func photo(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata/photos", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func size(t testing.TB, name string) variant.Size {
	t.Helper()
	s, err := variant.ParseSize(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decoded describes an encoded output as an independent decoder sees it.
type decoded struct {
	format string // image.DecodeConfig's name, or vips' for webp/avif
	w, h   int
	bands  int
	interp vips.Interpretation
}

func decode(t testing.TB, b []byte) decoded {
	t.Helper()
	ref, err := vips.NewImageFromBuffer(b)
	if err != nil {
		t.Fatalf("output does not decode with libvips: %v", err)
	}
	defer ref.Close()
	d := decoded{w: ref.Width(), h: ref.Height(), bands: ref.Bands(), interp: ref.Interpretation()}
	switch ref.Format() {
	case vips.ImageTypeWEBP:
		d.format = "webp"
	case vips.ImageTypeAVIF, vips.ImageTypeHEIF:
		d.format = "avif"
	default:
		// JPEG and PNG: cross-check with Go's own decoders.
		cfg, name, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("output does not decode with Go's image package: %v", err)
		}
		if cfg.Width != d.w || cfg.Height != d.h {
			t.Fatalf("Go decodes %dx%d, libvips %dx%d", cfg.Width, cfg.Height, d.w, d.h)
		}
		d.format = name
	}
	return d
}

func run(t testing.TB, opts transform.Options, src []byte, sizeName string, f variant.Format) (*transform.Image, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return transform.New(opts).Transform(ctx, src, size(t, sizeName), f)
}

func TestFingerprint(t *testing.T) {
	a := transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78}.Fingerprint()
	b := transform.Options{JPEGQuality: 84, JPEGQualitySmall: 78}.Fingerprint()
	c := transform.Options{JPEGQuality: 83, JPEGQualitySmall: 77}.Fingerprint()
	if a == b || a == c || b == c {
		t.Errorf("Fingerprint ignores quality: %q %q %q", a, b, c)
	}
}

func TestDimensions(t *testing.T) {
	for _, tc := range []struct {
		file, size string
		f          variant.Format
		w, h       int
		format     string
	}{
		// cops.jpg: 640x426 landscape.
		{"cops.jpg", "tile_224", variant.JPEG, 224, 224, "jpeg"},
		{"cops.jpg", "tile_50", variant.JPEG, 50, 50, "jpeg"},
		{"cops.jpg", "tile_100", variant.JPEG, 100, 100, "jpeg"},
		{"cops.jpg", "left_224", variant.JPEG, 224, 224, "jpeg"},
		{"cops.jpg", "right_224", variant.JPEG, 224, 224, "jpeg"},
		{"cops.jpg", "tile_500", variant.JPEG, 500, 500, "jpeg"},
		{"cops.jpg", "tile_1080", variant.JPEG, 1080, 1080, "jpeg"}, // tiles upscale
		{"cops.jpg", "fit_720", variant.JPEG, 640, 426, "jpeg"},     // fits never upscale
		{"cops.jpg", "fit_1920", variant.JPEG, 640, 426, "jpeg"},
		{"cops.jpg", "colors", variant.JPEG, 3, 3, "png"}, // colors is always PNG
		{"cops.jpg", "colors", variant.PNG, 3, 3, "png"},
		{"cops.jpg", "tile_224", variant.PNG, 224, 224, "png"},
		{"cops.jpg", "tile_224", variant.WebP, 224, 224, "webp"},
		// test_exif_full.jpg: stored 4032x3024 with orientation 6, upright 3024x4032.
		{"test_exif_full.jpg", "tile_224", variant.JPEG, 224, 224, "jpeg"},
		{"test_exif_full.jpg", "tile_50", variant.JPEG, 50, 50, "jpeg"},
		{"test_exif_full.jpg", "fit_720", variant.JPEG, 540, 720, "jpeg"},
		{"test_exif_full.jpg", "fit_1920", variant.JPEG, 900, 1200, "jpeg"},
		{"test_exif_full.jpg", "fit_1280", variant.JPEG, 768, 1024, "jpeg"},
		{"test_exif_full.jpg", "colors", variant.PNG, 3, 3, "png"},
		// Landscape_6.jpg: stored 1200x1600 with orientation 6, upright 1600x1200.
		{"Landscape_6.jpg", "fit_720", variant.JPEG, 720, 540, "jpeg"},
		{"Landscape_6.jpg", "fit_1920", variant.JPEG, 1600, 1200, "jpeg"},
		{"Landscape_1.jpg", "fit_720", variant.JPEG, 720, 540, "jpeg"},
		// Other formats.
		{"dice.png", "tile_224", variant.PNG, 224, 224, "png"},
		{"dice.png", "fit_720", variant.JPEG, 720, 540, "jpeg"},
		{"animated.gif", "tile_100", variant.JPEG, 100, 100, "jpeg"},
		{"rgb.tiff", "fit_720", variant.JPEG, 720, 467, "jpeg"},
		{"seeding_by_Clements_Engelhardt.jpg", "fit_720", variant.JPEG, 720, 405, "jpeg"},
		{"seeding_by_Clements_Engelhardt.jpg", "tile_500", variant.JPEG, 500, 500, "jpeg"},
	} {
		t.Run(tc.file+"/"+tc.size+"."+tc.f.Ext(), func(t *testing.T) {
			img, err := run(t, defaultOpts, photo(t, tc.file), tc.size, tc.f)
			if err != nil {
				t.Fatalf("Transform: %v", err)
			}
			if img.Width != tc.w || img.Height != tc.h {
				t.Errorf("Image reports %dx%d; want %dx%d", img.Width, img.Height, tc.w, tc.h)
			}
			d := decode(t, img.Bytes)
			if d.w != tc.w || d.h != tc.h {
				t.Errorf("output decodes as %dx%d; want %dx%d", d.w, d.h, tc.w, tc.h)
			}
			if d.format != tc.format {
				t.Errorf("output is %s; want %s", d.format, tc.format)
			}
			if img.Format.Ext() != map[string]string{"jpeg": "jpg", "png": "png", "webp": "webp"}[tc.format] {
				t.Errorf("Image.Format = %s; bytes are %s", img.Format.Ext(), d.format)
			}
			if d.interp != vips.InterpretationSRGB {
				t.Errorf("interpretation %v; want sRGB", d.interp)
			}
		})
	}
}

func TestAVIF(t *testing.T) {
	if !vips.IsTypeSupported(vips.ImageTypeAVIF) {
		t.Skip("no AVIF support in this libvips")
	}
	img, err := run(t, defaultOpts, photo(t, "test.avif"), "tile_224", variant.AVIF)
	if err != nil {
		t.Fatalf("Transform: %v", err)
	}
	d := decode(t, img.Bytes)
	if d.w != 224 || d.h != 224 || d.format != "avif" {
		t.Errorf("output %s %dx%d; want avif 224x224", d.format, d.w, d.h)
	}
	img, err = run(t, defaultOpts, photo(t, "test.avif"), "fit_720", variant.JPEG)
	if err != nil {
		t.Fatalf("Transform: %v", err)
	}
	if d := decode(t, img.Bytes); d.w != 720 || d.h != 478 || d.format != "jpeg" {
		t.Errorf("output %s %dx%d; want jpeg 720x478", d.format, d.w, d.h)
	}
}

// TestOrientation: the eight Landscape_N files are the same picture stored
// with EXIF orientations 1..8; every output must match orientation 1's.
func TestOrientation(t *testing.T) {
	for _, sz := range []string{"fit_720", "tile_100", "tile_500", "colors"} {
		ref, err := run(t, defaultOpts, photo(t, "Landscape_1.jpg"), sz, variant.JPEG)
		if err != nil {
			t.Fatal(err)
		}
		refImg := pixels(t, ref.Bytes)
		// The comparison must be able to fail: a mirrored or upside-down
		// copy of the reference differs far more than the threshold.
		const threshold = 12
		if sz != "colors" {
			for name, tf := range map[string]func(x, y, w, h int) (int, int){
				"mirrored":    func(x, y, w, h int) (int, int) { return w - 1 - x, y },
				"upside down": func(x, y, w, h int) (int, int) { return x, h - 1 - y },
			} {
				if d := meanDiff(refImg, remap(refImg, tf)); d <= threshold {
					t.Fatalf("%s: %s reference differs by only %.1f; the check cannot see orientation", sz, name, d)
				}
			}
		}
		for n := 2; n <= 8; n++ {
			name := "Landscape_" + string(rune('0'+n)) + ".jpg"
			t.Run(sz+"/"+name, func(t *testing.T) {
				img, err := run(t, defaultOpts, photo(t, name), sz, variant.JPEG)
				if err != nil {
					t.Fatal(err)
				}
				got := pixels(t, img.Bytes)
				if got.w != refImg.w || got.h != refImg.h || got.bands != refImg.bands {
					t.Fatalf("%dx%dx%d; orientation 1 gives %dx%dx%d", got.w, got.h, got.bands, refImg.w, refImg.h, refImg.bands)
				}
				if d := meanDiff(refImg, got); d > threshold {
					t.Errorf("mean channel difference %.1f from orientation 1; the image is not upright", d)
				}
			})
		}
	}
}

// raster is decoded 8-bit pixels, bands interleaved.
type raster struct {
	w, h, bands int
	pix         []byte
}

func (r raster) at(x, y, c int) int { return int(r.pix[(y*r.w+x)*r.bands+c]) }

// pixels decodes with libvips (fast under -race) into a raw raster.
func pixels(t testing.TB, b []byte) raster {
	t.Helper()
	ref, err := vips.NewImageFromBuffer(b)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	pix, err := ref.ToBytes()
	if err != nil {
		t.Fatal(err)
	}
	r := raster{w: ref.Width(), h: ref.Height(), bands: ref.Bands(), pix: pix}
	if len(pix) != r.w*r.h*r.bands {
		t.Fatalf("raster is %d bytes for %dx%dx%d", len(pix), r.w, r.h, r.bands)
	}
	return r
}

func remap(src raster, tf func(x, y, w, h int) (int, int)) raster {
	out := raster{w: src.w, h: src.h, bands: src.bands, pix: make([]byte, len(src.pix))}
	for y := 0; y < src.h; y++ {
		for x := 0; x < src.w; x++ {
			sx, sy := tf(x, y, src.w, src.h)
			copy(out.pix[(y*src.w+x)*src.bands:][:src.bands], src.pix[(sy*src.w+sx)*src.bands:][:src.bands])
		}
	}
	return out
}

// meanDiff is the mean absolute difference of the first three channels.
func meanDiff(a, b raster) float64 {
	var sum, n float64
	for y := 0; y < a.h; y++ {
		for x := 0; x < a.w; x++ {
			for c := 0; c < 3; c++ {
				d := a.at(x, y, c) - b.at(x, y, c)
				sum += float64(max(d, -d))
				n++
			}
		}
	}
	return sum / n
}

func TestColourAndAlpha(t *testing.T) {
	for _, tc := range []struct {
		name, file, size string
		f                variant.Format
		bands            int
		format           string
	}{
		{"CMYK to JPEG", "jpg-32bit-cmyk-icc-swop.jpg", "tile_224", variant.JPEG, 3, "jpeg"},
		{"CMYK to PNG", "jpg-32bit-cmyk-icc-swop.jpg", "fit_720", variant.PNG, 3, "png"},
		{"CMYK colors", "jpg-32bit-cmyk-icc-swop.jpg", "colors", variant.PNG, 3, "png"},
		{"alpha to JPEG is flattened", "dice.png", "tile_224", variant.JPEG, 3, "jpeg"},
		{"alpha to PNG keeps alpha", "dice.png", "tile_224", variant.PNG, 4, "png"},
		{"alpha to WebP keeps alpha", "dice.png", "tile_224", variant.WebP, 4, "webp"},
		{"alpha colors keeps alpha", "dice.png", "colors", variant.PNG, 4, "png"},
		{"RGB JPEG stays 3 bands", "cops.jpg", "tile_224", variant.PNG, 3, "png"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := run(t, defaultOpts, photo(t, tc.file), tc.size, tc.f)
			if err != nil {
				t.Fatalf("Transform: %v", err)
			}
			d := decode(t, img.Bytes)
			if d.bands != tc.bands {
				t.Errorf("bands = %d; want %d", d.bands, tc.bands)
			}
			if d.interp != vips.InterpretationSRGB {
				t.Errorf("interpretation = %v; want sRGB", d.interp)
			}
			if d.format != tc.format {
				t.Errorf("format = %s; want %s", d.format, tc.format)
			}
			if d.format == "jpeg" {
				cfg, _, err := image.DecodeConfig(bytes.NewReader(img.Bytes))
				if err != nil {
					t.Fatal(err)
				}
				if cfg.ColorModel != color.YCbCrModel {
					t.Errorf("JPEG colour model %T; want YCbCr", cfg.ColorModel)
				}
			}
		})
	}

	// The flattened dice background is white, not black: the corner of the
	// PNG is transparent, so the JPEG corner must be near white.
	img, err := run(t, defaultOpts, photo(t, "dice.png"), "fit_720", variant.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	src := pixels(t, photo(t, "dice.png"))
	if src.bands != 4 || src.at(0, 0, 3) != 0 {
		t.Fatalf("dice.png corner is not transparent; flatten colour not checkable")
	}
	out := pixels(t, img.Bytes)
	if r, g, b := out.at(1, 1, 0), out.at(1, 1, 1), out.at(1, 1, 2); r < 240 || g < 240 || b < 240 {
		t.Errorf("flattened transparent corner is %d,%d,%d; want white", r, g, b)
	}
}

func TestStripsMetadata(t *testing.T) {
	img, err := run(t, defaultOpts, photo(t, "test_exif_full.jpg"), "fit_720", variant.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	// EXIF (with the GPS position) lives in an APP1 segment starting "Exif\0\0".
	if bytes.Contains(img.Bytes, []byte("Exif\x00\x00")) {
		t.Errorf("output still carries EXIF")
	}
	if bytes.Contains(img.Bytes, []byte("Apple")) || bytes.Contains(img.Bytes, []byte("iPhone")) {
		t.Errorf("output still carries camera metadata")
	}
}

func TestUnsupported(t *testing.T) {
	corrupt, err := os.ReadFile("../testdata/faults/corrupt.jpg")
	if err != nil {
		t.Fatal(err)
	}
	cops := photo(t, "cops.jpg")
	for _, tc := range []struct {
		name string
		src  []byte
	}{
		{"corrupt jpeg", corrupt},
		{"text", []byte("hello, this is not an image\n")},
		{"empty", nil},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`)},
		{"svg with xml header", []byte(`<?xml version="1.0"?>` + "\n" + `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`)},
		{"pdf", []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")},
		{"jpeg magic only", []byte{0xff, 0xd8, 0xff, 0xe0}},
		{"truncated jpeg", cops[:len(cops)/2]},
		{"png magic only", []byte("\x89PNG\r\n\x1a\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, sz := range []string{"tile_224", "fit_720", "colors"} {
				img, err := run(t, defaultOpts, tc.src, sz, variant.JPEG)
				if !errors.Is(err, transform.ErrUnsupported) {
					t.Fatalf("%s: Transform = %v, %v; want ErrUnsupported", sz, img, err)
				}
				if img != nil {
					t.Errorf("%s: image returned with error", sz)
				}
			}
		})
	}
}

func TestMaxMegapixels(t *testing.T) {
	opts := defaultOpts
	opts.MaxMegapixels = 1
	for _, tc := range []struct {
		file string
		want error
	}{
		{"cops.jpg", nil},                          // 0.27 MP
		{"Landscape_1.jpg", transform.ErrTooLarge}, // 1.92 MP
		{"Landscape_6.jpg", transform.ErrTooLarge},
		{"dice.png", nil}, // 0.48 MP
		{"test_exif_full.jpg", transform.ErrTooLarge},
	} {
		t.Run(tc.file, func(t *testing.T) {
			for _, sz := range []string{"tile_50", "fit_720"} {
				_, err := run(t, opts, photo(t, tc.file), sz, variant.JPEG)
				if tc.want == nil && err != nil {
					t.Fatalf("%s: %v", sz, err)
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("%s: Transform = %v; want %v", sz, err, tc.want)
				}
			}
		})
	}
	// 0 means no limit.
	opts.MaxMegapixels = 0
	if _, err := run(t, opts, photo(t, "Landscape_1.jpg"), "tile_50", variant.JPEG); err != nil {
		t.Errorf("MaxMegapixels 0: %v", err)
	}
}

// pngBomb is a valid-looking PNG whose header declares w x h 8-bit grey
// pixels; its IDAT holds only a few zlib-compressed rows.
func pngBomb(t testing.TB, w, h uint32) []byte {
	t.Helper()
	// A zlib stream of zero bytes (filter 0, black pixels), cut short:
	// stored block header for 64 KiB but fewer bytes present.
	idat := []byte{0x78, 0x01, 0x00, 0xff, 0xff, 0x00, 0x00}
	idat = append(idat, make([]byte, 4096)...)
	return pngFile(w, h, 8, 0, 0, idat) // 8-bit greyscale
}

// pngFile assembles a PNG from its IHDR fields and one IDAT.
func pngFile(w, h uint32, depth, colourType, interlace byte, idat []byte) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		buf.Write(n[:])
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		buf.WriteString(typ)
		buf.Write(data)
		binary.BigEndian.PutUint32(n[:], crc.Sum32())
		buf.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9], ihdr[12] = depth, colourType, interlace
	chunk("IHDR", ihdr)
	chunk("IDAT", idat)
	chunk("IEND", nil)
	return buf.Bytes()
}

func TestPNGBomb(t *testing.T) {
	bomb := pngBomb(t, 50000, 50000)
	if len(bomb) > 8192 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(bomb)); err != nil || cfg.Width != 50000 || cfg.Height != 50000 {
		t.Fatalf("bomb header decodes as %+v, %v; want 50000x50000", cfg, err)
	}
	opts := defaultOpts
	opts.MaxMegapixels = 100
	rss0 := rssKiB(t)
	defer func() {
		// A decoded 50000x50000 frame would be gigabytes; refusing it from
		// the header costs nothing measurable (generous bound for noise).
		if d := rssKiB(t) - rss0; d > 64<<10 {
			t.Errorf("RSS grew by %d MiB while refusing the bomb", d>>10)
		}
	}()
	for _, sz := range []string{"tile_224", "fit_720", "colors", "original", "tile_224", "fit_720"} {
		start := time.Now()
		_, err := run(t, opts, bomb, sz, variant.JPEG)
		el := time.Since(start)
		if !errors.Is(err, transform.ErrTooLarge) {
			t.Fatalf("%s: Transform(bomb) = %v; want ErrTooLarge", sz, err)
		}
		if el > time.Second {
			t.Errorf("%s: refusing the bomb took %v; want < 1s (decoded pixels?)", sz, el)
		}
	}
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	img, err := transform.New(defaultOpts).Transform(ctx, photo(t, "cops.jpg"), size(t, "tile_224"), variant.JPEG)
	if !errors.Is(err, context.Canceled) || img != nil {
		t.Fatalf("Transform(canceled) = %v, %v; want context.Canceled", img, err)
	}
}

func TestDeterministic(t *testing.T) {
	a, err := run(t, defaultOpts, photo(t, "cops.jpg"), "tile_224", variant.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	b, err := run(t, defaultOpts, photo(t, "cops.jpg"), "tile_224", variant.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes, b.Bytes) {
		t.Errorf("same input and options gave different bytes")
	}
	lower := defaultOpts
	lower.JPEGQuality = 40
	c, err := run(t, lower, photo(t, "cops.jpg"), "tile_224", variant.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Bytes) >= len(a.Bytes) {
		t.Errorf("quality 40 gave %d bytes, quality 83 %d; quality ignored", len(c.Bytes), len(a.Bytes))
	}
}

// fuzzSeeds are mutated real photos: truncations, bit flips, a header.
func fuzzSeeds(t testing.TB) [][]byte {
	cops := photo(t, "cops.jpg")
	var seeds [][]byte
	for _, n := range []int{2, 4, 20, 200, 623, 2000, 10000, len(cops) / 2, len(cops) - 2} {
		seeds = append(seeds, append([]byte(nil), cops[:n]...))
	}
	for _, off := range []int{3, 20, 160, 400, 700, 5000, 30000} {
		b := append([]byte(nil), cops...)
		b[off] ^= 0x10
		seeds = append(seeds, b)
	}
	l6 := photo(t, "Landscape_6.jpg")
	seeds = append(seeds, append([]byte(nil), l6[:4096]...))
	seeds = append(seeds, cops)
	// A progressive JPEG large enough for a 1/8 decode at tile_100: the
	// jpegscan rewrite runs on it (and on what the fuzzer makes of it).
	img, err := vips.NewThumbnailFromBuffer(photo(t, "seeding_by_Clements_Engelhardt.jpg"), 1600, 1600, vips.InterestingNone)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	ep := vips.NewJpegExportParams()
	ep.Interlace, ep.Quality = true, 60
	prog, _, err := img.ExportJpeg(ep)
	if err != nil {
		t.Fatal(err)
	}
	return append(seeds, prog)
}

func FuzzTransform(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	tr := transform.New(defaultOpts)
	tile := size(f, "tile_100")
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		img, err := tr.Transform(ctx, data, tile, variant.JPEG)
		if err != nil {
			if !errors.Is(err, transform.ErrUnsupported) && !errors.Is(err, transform.ErrTooLarge) {
				t.Fatalf("Transform error %v is neither ErrUnsupported nor ErrTooLarge", err)
			}
			if img != nil {
				t.Fatalf("image returned with error %v", err)
			}
			return
		}
		cfg, name, err := image.DecodeConfig(bytes.NewReader(img.Bytes))
		if err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
		if name != "jpeg" || cfg.Width != 100 || cfg.Height != 100 {
			t.Fatalf("output is %s %dx%d; want jpeg 100x100", name, cfg.Width, cfg.Height)
		}
		if img.Width != 100 || img.Height != 100 {
			t.Fatalf("Image reports %dx%d", img.Width, img.Height)
		}
	})
}

// rssKiB reads this process's resident set size.
func rssKiB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// Transparent areas become the configured background in JPEG output.
func TestFlattenBackground(t *testing.T) {
	bg, err := variant.ParseColor("#102030")
	if err != nil {
		t.Fatal(err)
	}
	opts := defaultOpts
	opts.Background = &bg
	img, err := transform.New(opts).Transform(context.Background(), photo(t, "dice.png"), size(t, "fit_720"), variant.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := vips.NewImageFromBuffer(img.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	px, _ := ref.GetPoint(2, 2) // a transparent corner of dice.png
	if px[0] < 8 || px[0] > 24 || px[1] < 24 || px[1] > 40 || px[2] < 40 || px[2] > 56 {
		t.Errorf("corner %v, want about (16, 32, 48)", px)
	}
	for _, bad := range []string{"white", "#12345", "#gggggg"} {
		if _, err := variant.ParseColor(bad); err == nil {
			t.Errorf("ParseColor(%q) accepted", bad)
		}
	}
}
