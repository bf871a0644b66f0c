package imagehdr

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/thumbd/thumbd/internal/vipscli"
)

// photoDir holds the real sample photographs (see its LICENSES.md).
const photoDir = "../testdata/photos"

func readPhoto(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(photoDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// realPhotos lists every image in photoDir, subdirectories included.
func realPhotos(t testing.TB) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(photoDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".md") || strings.HasSuffix(p, ".txt") {
			return err
		}
		rel, _ := filepath.Rel(photoDir, p)
		names = append(names, rel)
		return nil
	})
	if err != nil || len(names) == 0 {
		t.Fatalf("no photos in %s: %v", photoDir, err)
	}
	return names
}

// TestRealFiles pins the whole header of each real photograph.
func TestRealFiles(t *testing.T) {
	jpeg := func(w, h, bands int, progressive bool) Header {
		return Header{Format: JPEG, Width: w, Height: h, Bands: bands, BitsPerSample: 8,
			Progressive: progressive, WholeFrame: progressive, Frames: 1}
	}
	tests := []struct {
		file string
		want Header
	}{
		{"Landscape_1.jpg", jpeg(1600, 1200, 3, false)},
		{"Landscape_6.jpg", jpeg(1200, 1600, 3, false)}, // EXIF-rotated: stored dims
		{"cops.jpg", jpeg(640, 426, 3, false)},
		{"test_exif_full.jpg", jpeg(4032, 3024, 3, false)},
		{"seeding_by_Clements_Engelhardt.jpg", jpeg(5312, 2988, 3, true)},
		{"jpg-32bit-cmyk-icc-swop.jpg", jpeg(1080, 1080, 4, false)},
		{"orientation/orientation_5.jpg", jpeg(70, 50, 3, false)},
		{"dice.png", Header{Format: PNG, Width: 800, Height: 600, Bands: 4, BitsPerSample: 8, Frames: 1}},
		{"animated.gif", Header{Format: GIF, Width: 320, Height: 320, Bands: 4, BitsPerSample: 8, WholeFrame: true, Frames: 10}},
		// LZW-compressed, one strip: decoded in one piece.
		{"rgb.tiff", Header{Format: TIFF, Width: 800, Height: 519, Bands: 3, BitsPerSample: 8, WholeFrame: true, Frames: 1}},
		{"test.avif", Header{Format: AVIF, Width: 3082, Height: 2048, Bands: 3, BitsPerSample: 8, WholeFrame: true, Frames: 1, Brand: "avif"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Parse(readPhoto(t, tc.file), 100)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestFrameCap checks the cap on a real animation: Frames is maxFrames+1
// when there are more, and maxFrames below 1 counts as 1.
func TestFrameCap(t *testing.T) {
	b := readPhoto(t, "animated.gif")
	for _, tc := range []struct{ max, want int }{{100, 10}, {10, 10}, {9, 10}, {3, 4}, {1, 2}, {0, 2}, {-5, 2}, {math.MaxInt, 10}} {
		h, err := Parse(b, tc.max)
		if err != nil || h.Frames != tc.want {
			t.Errorf("Parse(animated.gif, %d): Frames %d, %v; want %d", tc.max, h.Frames, err, tc.want)
		}
	}
}

// vipsInfo is what `vipsheader -a` says about a file.
type vipsInfo map[string]string

func vipsheader(t *testing.T, path string) vipsInfo {
	t.Helper()
	out, err := exec.Command("vipsheader", "-a", path).Output()
	if err != nil {
		t.Fatalf("vipsheader %s: %v", path, err)
	}
	info := vipsInfo{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			info[k] = strings.TrimSpace(v)
		}
	}
	return info
}

func (v vipsInfo) int(t *testing.T, key string) (int, bool) {
	s, ok := v[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("vipsheader %s: %q", key, s)
	}
	return n, true
}

// compareVips checks a Header against what libvips reports for the file.
func compareVips(t *testing.T, path string, h Header) {
	t.Helper()
	v := vipsheader(t, path)
	w, hgt := h.Width, h.Height
	if h.Rotated {
		w, hgt = hgt, w // libheif applies irot
	}
	check := func(key string, got int) {
		t.Helper()
		if want, ok := v.int(t, key); !ok {
			t.Errorf("vipsheader gave no %s", key)
		} else if got != want {
			t.Errorf("%s = %d, vipsheader says %d", key, got, want)
		}
	}
	check("width", w)
	check("height", hgt)
	check("bands", h.Bands)
	if n, ok := v.int(t, "n-pages"); ok && n != h.Frames {
		t.Errorf("Frames = %d, vipsheader n-pages %d", h.Frames, n)
	}
	if d, ok := v.int(t, "heif-bitdepth"); ok && d != h.BitsPerSample {
		t.Errorf("BitsPerSample = %d, vipsheader heif-bitdepth %d", h.BitsPerSample, d)
	}
	if wide := v["format"] == "ushort"; wide != (h.BitsPerSample > 8) {
		t.Errorf("BitsPerSample = %d, vipsheader format %s", h.BitsPerSample, v["format"])
	}
	if h.Format == JPEG || h.Format == PNG {
		if interlaced := v["interlaced"] == "1"; interlaced != h.Progressive {
			t.Errorf("Progressive = %v, vipsheader interlaced %q", h.Progressive, v["interlaced"])
		}
	}
}

func needVips(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"vips", "vipsheader"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian libvips-tools): %v", tool, err)
		}
	}
}

// TestRealFilesAgainstVips compares every real photograph with libvips.
func TestRealFilesAgainstVips(t *testing.T) {
	needVips(t)
	for _, name := range realPhotos(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(photoDir, name)
			h, err := Parse(readPhoto(t, name), 1000)
			if err != nil {
				t.Fatal(err)
			}
			compareVips(t, path, h)
		})
	}
}

// write16BitPNG writes a small 16-bit RGBA PNG with Go's encoder.
func write16BitPNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA64(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			img.SetRGBA64(x, y, color.RGBA64{uint16(x * 1600), uint16(y * 2100), 0x8000, 0xffff})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVipsEncoded has libvips' own encoders write each format and variant,
// then checks Parse against the expected traits and against vipsheader.
func TestVipsEncoded(t *testing.T) {
	needVips(t)
	dir := t.TempDir()
	src16 := filepath.Join(dir, "src16.png")
	write16BitPNG(t, src16)
	photo := func(n string) string { return filepath.Join(photoDir, n) }
	// Small sources keep the AV1/HEVC encoders quick.
	small := filepath.Join(dir, "small.jpg")
	smallAlpha := filepath.Join(dir, "small_alpha.png")
	smallAnim := filepath.Join(dir, "small_anim.gif")
	for _, args := range [][]string{
		{"thumbnail", photo("cops.jpg"), small, "160"},
		{"thumbnail", photo("dice.png"), smallAlpha, "160"},
		{"thumbnail", photo("animated.gif") + "[n=-1]", smallAnim, "64"},
	} {
		if out, err := vipscli.Run(args...); err != nil {
			t.Fatalf("vips %v: %v\n%s", args, err, out)
		}
	}
	anim := smallAnim + "[n=-1]" // 10 frames

	tests := []struct {
		name, src, dst string // dst may carry vips save options
		want           func(h Header) bool
	}{
		{"progressive jpeg", small, "p.jpg[interlace]", func(h Header) bool { return h.Format == JPEG && h.Progressive && h.WholeFrame }},
		{"baseline jpeg", small, "b.jpg", func(h Header) bool { return h.Format == JPEG && !h.Progressive && !h.WholeFrame }},
		{"interlaced png", smallAlpha, "i.png[interlace]", func(h Header) bool { return h.Progressive && h.WholeFrame && h.Bands == 4 }},
		{"interlaced 16-bit png", src16, "i16.png[interlace]", func(h Header) bool { return h.Progressive && h.BitsPerSample == 16 }},
		{"palette png", small, "pal.png[palette]", func(h Header) bool { return h.Format == PNG && h.BitsPerSample == 8 }},
		{"gif", anim, "a.gif", func(h Header) bool { return h.Format == GIF && h.Frames == 10 && !h.Progressive }},
		{"interlaced gif", anim, "il.gif[interlace]", func(h Header) bool { return h.Frames == 10 && h.Progressive }},
		{"animated webp", anim, "a.webp", func(h Header) bool { return h.Format == WebP && h.Frames == 10 && h.Bands == 4 }},
		{"lossy webp", small, "l.webp", func(h Header) bool { return h.Bands == 3 && h.Frames == 1 }},
		{"lossless webp", small, "ll.webp[lossless]", func(h Header) bool { return h.Bands == 3 }},
		{"alpha webp", smallAlpha, "al.webp", func(h Header) bool { return h.Bands == 4 }},
		{"alpha lossless webp", smallAlpha, "all.webp[lossless]", func(h Header) bool { return h.Bands == 4 }},
		{"multipage tiff", anim, "pages.tif", func(h Header) bool { return h.Format == TIFF && h.Frames == 10 }},
		{"tiled jpeg tiff", small, "t.tif[tile,compression=jpeg]", func(h Header) bool { return !h.WholeFrame }},
		{"stripped tiff", small, "s.tif", func(h Header) bool { return !h.WholeFrame }},
		{"LZW tiff in 128-row strips", photo("cops.jpg"), "lzw.tif[compression=lzw]", func(h Header) bool { return !h.WholeFrame }},
		{"LZW tiff in one strip", small, "lzw1.tif[compression=lzw,tile-height=1024]", func(h Header) bool { return h.WholeFrame }},
		{"16-bit tiff", src16, "16.tif", func(h Header) bool { return h.BitsPerSample == 16 }},
		{"heic", small, "x.heic[compression=hevc]", func(h Header) bool { return h.Format == HEIF && h.Brand == "heic" && h.WholeFrame }},
		{"10-bit heic", small, "x10.heic[compression=hevc,bitdepth=10]", func(h Header) bool { return h.BitsPerSample == 10 }},
		{"alpha heic", smallAlpha, "a.heic[compression=hevc]", func(h Header) bool { return h.Bands == 4 }},
		{"multipage heic", anim, "p.heic[compression=hevc]", func(h Header) bool { return h.Frames == 10 }},
		{"avif", small, "x.avif", func(h Header) bool { return h.Format == AVIF && h.Brand == "avif" }},
		{"12-bit avif", small, "x12.avif[bitdepth=12]", func(h Header) bool { return h.BitsPerSample == 12 }},
		{"alpha avif", smallAlpha, "a.avif", func(h Header) bool { return h.Format == AVIF && h.Bands == 4 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(dir, tc.dst)
			file, _, _ := strings.Cut(dst, "[")
			if out, err := vipscli.Run("copy", tc.src, dst); err != nil {
				// Encoders differ between builds (AV1, HEVC); a missing
				// one is the environment's gap, not Parse's.
				t.Skipf("vips cannot write %s here: %v\n%s", tc.dst, err, out)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			h, err := Parse(b, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(h) {
				t.Errorf("unexpected header %+v", h)
			}
			compareVips(t, file, h)
			checkTruncations(t, b, 1000, h)
		})
	}
}

// checkTruncations parses prefixes of a file: each must give ErrMalformed
// (ErrUnknown only before the format can be told) or a header consistent
// with the whole file's, and never panic.
func checkTruncations(t *testing.T, b []byte, maxFrames int, full Header) {
	t.Helper()
	var lengths []int
	for n := 0; n < len(b) && n <= 1024; n++ {
		lengths = append(lengths, n)
	}
	for i := 1; i < 64; i++ {
		lengths = append(lengths, len(b)*i/64, len(b)-i)
	}
	for _, n := range lengths {
		if n < 0 || n > len(b) {
			continue
		}
		h, err := Parse(b[:n], maxFrames)
		checkInvariants(t, b[:n], maxFrames, h, err)
		switch {
		case err == nil:
			sameSize := h.Width == full.Width && h.Height == full.Height
			if full.Format == GIF {
				// A GIF frame past the screen grows the canvas only
				// once that frame has been seen.
				sameSize = h.Width <= full.Width && h.Height <= full.Height
			}
			if h.Format != full.Format || !sameSize || h.Bands != full.Bands ||
				h.BitsPerSample != full.BitsPerSample || h.Progressive != full.Progressive ||
				h.WholeFrame != full.WholeFrame || h.Frames > full.Frames {
				t.Fatalf("prefix %d/%d: %+v, whole file %+v", n, len(b), h, full)
			}
		case errors.Is(err, ErrUnknown):
			// The format shows in the first 12 bytes, or for HEIF
			// possibly only in a compatible brand later in ftyp.
			if n >= 12 && !(full.Format == HEIF || full.Format == AVIF) || n >= 12 && n >= int(be32(b)) {
				t.Fatalf("prefix %d/%d: %v", n, len(b), err)
			}
		}
	}
}

// checkInvariants holds for every input: errors are ours and come with a
// zero Header; headers are plausible and within the cap.
func checkInvariants(t testing.TB, b []byte, maxFrames int, h Header, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrUnknown) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("foreign error %v", err)
		}
		if h != (Header{}) {
			t.Fatalf("error %v with header %+v", err, h)
		}
		return
	}
	capFrames := max(maxFrames, 1) + 1
	switch {
	case h.Format <= Unknown || h.Format > AVIF:
		t.Fatalf("format %v", h.Format)
	case h.Width <= 0 || h.Height <= 0 || h.Bands <= 0 || h.BitsPerSample <= 0:
		t.Fatalf("implausible %+v", h)
	case h.Frames < 1 || h.Frames > capFrames:
		t.Fatalf("frames %d outside 1..%d", h.Frames, capFrames)
	case (h.Brand != "") != (h.Format == HEIF || h.Format == AVIF):
		t.Fatalf("brand %q for %v", h.Brand, h.Format)
	case h.Pixels() <= 0 || h.DecodedBytes() < h.Pixels():
		t.Fatalf("pixels %d bytes %d for %+v", h.Pixels(), h.DecodedBytes(), h)
	}
	if h.Format != GIF && h.Format != WebP && h.Format != HEIF && h.Format != AVIF && h.Progressive && !h.WholeFrame {
		t.Fatalf("progressive but streamed: %+v", h)
	}
}

// TestTruncatedRealFiles cuts every real photograph short.
func TestTruncatedRealFiles(t *testing.T) {
	for _, name := range realPhotos(t) {
		t.Run(name, func(t *testing.T) {
			b := readPhoto(t, name)
			full, err := Parse(b, 1000)
			if err != nil {
				t.Fatal(err)
			}
			checkTruncations(t, b, 1000, full)
		})
	}
}

func TestPixels(t *testing.T) {
	tests := []struct {
		h             Header
		pixels, bytes int64
	}{
		{Header{Width: 800, Height: 600, Bands: 4, BitsPerSample: 8}, 480000, 1920000},
		{Header{Width: 10, Height: 10, Bands: 3, BitsPerSample: 1}, 100, 300},
		{Header{Width: 10, Height: 10, Bands: 3, BitsPerSample: 10}, 100, 600},
		{Header{Width: 10, Height: 10, Bands: 1, BitsPerSample: 32}, 100, 400},
		{Header{Width: 10, Height: 10, Bands: 1, BitsPerSample: 64}, 100, 800},
		{Header{Width: 1 << 40, Height: 1 << 40, Bands: 4, BitsPerSample: 16}, math.MaxInt64, math.MaxInt64},
		{Header{Width: 1 << 31, Height: 1 << 31, Bands: 4, BitsPerSample: 16}, 1 << 62, math.MaxInt64},
		{Header{}, 0, 0},
	}
	for _, tc := range tests {
		if p, b := tc.h.Pixels(), tc.h.DecodedBytes(); p != tc.pixels || b != tc.bytes {
			t.Errorf("%+v: Pixels %d DecodedBytes %d, want %d %d", tc.h, p, b, tc.pixels, tc.bytes)
		}
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[Format]string{Unknown: "unknown", JPEG: "jpeg", PNG: "png", GIF: "gif", WebP: "webp",
		TIFF: "tiff", HEIF: "heif", AVIF: "avif", Format(42): "Format(42)", Format(-1): "Format(-1)"} {
		if got := f.String(); got != want {
			t.Errorf("%d: %q, want %q", int(f), got, want)
		}
	}
}
