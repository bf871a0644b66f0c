package server_test

// End-to-end tests: the real server on a loopback port, the real libvips
// pipeline, real photographs. Helpers and TestMain are in helpers_test.go.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/metastrip"
	"github.com/thumbd/thumbd/server"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

const immutable = "public, max-age=31536000, immutable"

var etagRe = regexp.MustCompile(`^"[0-9a-f]{32}"$`)

// The fixture index holds every photo, the corrupt JPEG and the text file
// under the hashes the test computes itself.
func TestE2EIndexHoldsFixtures(t *testing.T) {
	if got, want := sharedIx.Len(), len(photos)+2; got != want {
		t.Fatalf("index holds %d originals, want %d", got, want)
	}
	for _, p := range append(photos, photo{rel: corruptJPG}, photo{rel: textJPEG}) {
		o, err := sharedIx.Lookup(context.Background(), hashOf(t, p.rel))
		if err != nil {
			t.Errorf("%s: Lookup: %v", p.rel, err)
			continue
		}
		if o.Path != p.rel {
			t.Errorf("hash of %s maps to %s", p.rel, o.Path)
		}
	}
}

// Every named size of every photo (26 x 18 requests, all of them; about 25s
// under -race on 2 cores): status, headers, exact dimensions computed from
// the upright original, output format, JPEG mode and stripped metadata.
// Subtests run at -parallel (GOMAXPROCS) at once; the server has 2 workers
// and a deep queue, so none is refused.
func TestE2EEverySizeOfEveryPhoto(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())

	for _, p := range photos {
		for _, s := range variant.Sizes {
			if s.Mode == variant.Original {
				continue // not a thumbnail: TestE2EOriginalSize
			}
			t.Run(strings.ReplaceAll(p.rel, "/", "_")+"/"+s.Name, func(t *testing.T) {
				t.Parallel()
				hash := hashOf(t, p.rel)
				r := get(t, thumbURL(base, hash, sign(t, sg, hash, s.Name, time.Time{}), s.Name))
				if r.Status != http.StatusOK {
					t.Fatalf("status %d, body %q", r.Status, r.Body)
				}
				wantCT := "image/jpeg"
				if s.Mode == variant.Colors {
					wantCT = "image/png"
				}
				if got := r.Header.Get("Content-Type"); got != wantCT {
					t.Errorf("Content-Type %q, want %q", got, wantCT)
				}
				if got := r.Header.Get("Cache-Control"); got != immutable {
					t.Errorf("Cache-Control %q, want %q", got, immutable)
				}
				if got := r.Header.Get("Content-Length"); got != strconv.Itoa(len(r.Body)) {
					t.Errorf("Content-Length %q, body has %d bytes", got, len(r.Body))
				}
				if !etagRe.MatchString(r.Header.Get("ETag")) {
					t.Errorf("ETag %q", r.Header.Get("ETag"))
				}

				cfg, format, err := image.DecodeConfig(strings.NewReader(string(r.Body)))
				if err != nil {
					t.Fatalf("decode config: %v", err)
				}
				if want := map[string]string{"image/jpeg": "jpeg", "image/png": "png"}[wantCT]; format != want {
					t.Errorf("body is %s, want %s", format, want)
				}
				ww, wh := expectedDims(s, p.w, p.h)
				if !near(cfg.Width, ww, 1) || !near(cfg.Height, wh, 1) {
					t.Errorf("got %dx%d, want %dx%d (±1) from upright %dx%d", cfg.Width, cfg.Height, ww, wh, p.w, p.h)
				}

				switch format {
				case "jpeg":
					meta, err := jpegMetadata(r.Body)
					if err != nil {
						t.Errorf("JPEG structure: %v", err)
					}
					if len(meta) > 0 {
						t.Errorf("output JPEG carries metadata: %v", meta)
					}
					sof, w, h, comps, err := jpegSOF(r.Body)
					if err != nil {
						t.Fatalf("SOF: %v", err)
					}
					if w != cfg.Width || h != cfg.Height {
						t.Errorf("SOF says %dx%d, decoder %dx%d", w, h, cfg.Width, cfg.Height)
					}
					// Always 8-bit sRGB (YCbCr): CMYK and grey are converted.
					if comps != 3 || cfg.ColorModel != color.YCbCrModel {
						t.Errorf("JPEG has %d components (%T), want 3 (YCbCr)", comps, cfg.ColorModel)
					}
					small := w <= transform.SmallEdge && h <= transform.SmallEdge
					if small && sof != 0xC0 && sof != 0xC1 {
						t.Errorf("small %dx%d output is not baseline (SOF %#x)", w, h, sof)
					}
					if !small && sof != 0xC2 {
						t.Errorf("%dx%d output is not progressive (SOF %#x)", w, h, sof)
					}
				case "png":
					chunks, err := pngChunks(r.Body)
					if err != nil {
						t.Errorf("PNG structure: %v", err)
					}
					for _, c := range chunks {
						switch c {
						case "eXIf", "iTXt", "tEXt", "zTXt":
							t.Errorf("output PNG carries a %s chunk (%v)", c, chunks)
						}
					}
				}
			})
		}
	}
}

// Explicit extensions pick the encoder; colors is always PNG.
func TestE2EExplicitFormats(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())
	cops := hashOf(t, "cops.jpg")

	cases := []struct {
		size, ct string
		w, h     int
	}{
		{"tile_224.jpg", "image/jpeg", 224, 224},
		{"tile_224.jpeg", "image/jpeg", 224, 224},
		{"tile_224.png", "image/png", 224, 224},
		{"tile_224.webp", "image/webp", 224, 224},
		{"tile_224.avif", "image/avif", 224, 224},
		{"fit_720.webp", "image/webp", 640, 426},
		{"colors.png", "image/png", 3, 3},
		{"colors.jpg", "image/png", 3, 3},
	}
	etags := map[string]string{}
	for _, c := range cases {
		t.Run(c.size, func(t *testing.T) {
			name, _, _ := strings.Cut(c.size, ".")
			r := get(t, thumbURL(base, cops, sign(t, sg, cops, name, time.Time{}), c.size))
			if r.Status != http.StatusOK {
				t.Fatalf("status %d, body %q", r.Status, r.Body)
			}
			if got := r.Header.Get("Content-Type"); got != c.ct {
				t.Errorf("Content-Type %q, want %q", got, c.ct)
			}
			img, err := vips.NewImageFromBuffer(r.Body)
			if err != nil {
				t.Fatalf("libvips cannot read the output: %v", err)
			}
			defer img.Close()
			if img.Width() != c.w || img.Height() != c.h {
				t.Errorf("got %dx%d, want %dx%d", img.Width(), img.Height(), c.w, c.h)
			}
			wantType := map[string]vips.ImageType{"image/jpeg": vips.ImageTypeJPEG, "image/png": vips.ImageTypePNG, "image/webp": vips.ImageTypeWEBP, "image/avif": vips.ImageTypeAVIF}[c.ct]
			if got := vips.DetermineImageType(r.Body); got != wantType && !(wantType == vips.ImageTypeAVIF && got == vips.ImageTypeHEIF) {
				t.Errorf("bytes are %s, want %s", vips.ImageTypes[got], vips.ImageTypes[wantType])
			}
			if c.ct == "image/webp" {
				for _, chunk := range []string{"EXIF", "XMP ", "ICCP"} {
					if strings.Contains(string(r.Body[:min(len(r.Body), 64)]), chunk) {
						t.Errorf("WebP output has a %s chunk", chunk)
					}
				}
			}
			etags[c.size] = r.Header.Get("ETag")
		})
	}
	// Formats are distinct variants.
	if etags["tile_224.jpg"] == etags["tile_224.png"] || etags["tile_224.png"] == etags["tile_224.webp"] {
		t.Errorf("formats share an ETag: %v", etags)
	}
}

// An alpha original: JPEG output is flattened on white (not black), PNG
// output keeps the transparency.
func TestE2EAlpha(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())
	dice := hashOf(t, "dice.png") // corners are fully transparent
	tok := sign(t, sg, dice, "fit_720", time.Time{})

	r := get(t, thumbURL(base, dice, tok, "fit_720"))
	if r.Status != http.StatusOK {
		t.Fatalf("jpeg: status %d", r.Status)
	}
	img := decode(t, r.Body)
	for _, pt := range []image.Point{{1, 1}, {img.Bounds().Dx() - 2, 1}, {1, img.Bounds().Dy() - 2}} {
		cr, cg, cb, _ := img.At(pt.X, pt.Y).RGBA()
		if cr>>8 < 240 || cg>>8 < 240 || cb>>8 < 240 {
			t.Errorf("JPEG pixel %v = %d,%d,%d; transparent areas must be flattened on white", pt, cr>>8, cg>>8, cb>>8)
		}
	}

	r = get(t, thumbURL(base, dice, tok, "fit_720.png"))
	if r.Status != http.StatusOK {
		t.Fatalf("png: status %d", r.Status)
	}
	img = decode(t, r.Body)
	if _, _, _, a := img.At(1, 1).RGBA(); a != 0 {
		t.Errorf("PNG corner alpha %d, want 0 (transparent)", a>>8)
	}
	if _, _, _, a := img.At(img.Bounds().Dx()/2, img.Bounds().Dy()/2).RGBA(); a>>8 != 255 {
		t.Errorf("PNG centre alpha %d, want 255", a>>8)
	}
}

// The iPhone photo has Exif with GPS; no output may carry it, nor ICC or IPTC.
func TestE2EMetadataStripped(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(sharedDir, "test_exif_full.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	// The detector must see what the original carries, or it proves nothing.
	meta, err := jpegMetadata(src)
	if err != nil {
		t.Fatalf("original: %v", err)
	}
	if !strings.Contains(fmt.Sprint(meta), "APP1 Exif") {
		t.Fatalf("the original's Exif was not detected (found %v); the parser is broken", meta)
	}
	tags, err := exifIFD0Tags(src)
	if err != nil {
		t.Fatalf("original Exif: %v", err)
	}
	if !strings.Contains(string(src), "Apple") {
		t.Fatal("the original has no camera make; the byte check below proves nothing")
	}
	if _, gps := tags[0x8825]; !gps || tags[0x0112] != 6 {
		t.Fatalf("original IFD0: GPSInfo present %v, Orientation %d; want GPS and 6", gps, tags[0x0112])
	}
	cmyk, _ := os.ReadFile(filepath.Join(sharedDir, "jpg-32bit-cmyk-icc-swop.jpg"))
	if meta, _ := jpegMetadata(cmyk); !strings.Contains(fmt.Sprint(meta), "APP2") {
		t.Fatalf("the CMYK original's ICC profile was not detected (found %v)", meta)
	}

	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())
	for _, rel := range []string{"test_exif_full.jpg", "jpg-32bit-cmyk-icc-swop.jpg", "Landscape_6.jpg"} {
		for _, size := range []string{"tile_50", "tile_500", "fit_1920", "fit_1920.png", "colors"} {
			t.Run(rel+"/"+size, func(t *testing.T) {
				hash := hashOf(t, rel)
				name, _, _ := strings.Cut(size, ".")
				r := get(t, thumbURL(base, hash, sign(t, sg, hash, name, time.Time{}), size))
				if r.Status != http.StatusOK {
					t.Fatalf("status %d", r.Status)
				}
				if strings.Contains(string(r.Body), "Exif\x00") || strings.Contains(string(r.Body), "Apple") {
					t.Errorf("output contains Exif bytes")
				}
				if _, err := exifIFD0Tags(r.Body); err == nil {
					t.Errorf("output has an Exif IFD")
				}
				switch r.Header.Get("Content-Type") {
				case "image/jpeg":
					meta, err := jpegMetadata(r.Body)
					if err != nil {
						t.Errorf("JPEG: %v", err)
					}
					if len(meta) > 0 {
						t.Errorf("metadata survived: %v", meta)
					}
				case "image/png":
					chunks, err := pngChunks(r.Body)
					if err != nil {
						t.Errorf("PNG: %v", err)
					}
					for _, c := range chunks {
						if c == "eXIf" || c == "iTXt" || c == "tEXt" || c == "zTXt" {
							t.Errorf("metadata chunk %s survived (%v)", c, chunks)
						}
					}
				default:
					t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
				}
			})
		}
	}
}

// Orientation by pixels: the eight EXIF orientations of one picture must
// come out as the same upright image.
func TestE2EOrientationPixels(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())
	fetchImg := func(t *testing.T, rel, size string) image.Image {
		t.Helper()
		hash := hashOf(t, rel)
		r := get(t, thumbURL(base, hash, sign(t, sg, hash, size, time.Time{}), size))
		if r.Status != http.StatusOK {
			t.Fatalf("%s %s: status %d", rel, size, r.Status)
		}
		return decode(t, r.Body)
	}
	const same = 8.0 // mean absolute difference on 0..255; measured: right <= 1.5, mirrored >= 19.7

	sets := []struct {
		name, ref, pattern, size string
		w, h                     int
	}{
		// 1600x1200 photo with labels; tile_100 crops the centre square.
		{"Landscape", "Landscape_1.jpg", "Landscape_%d.jpg", "tile_100", 100, 100},
		// 50x70 letter F; fit_720 keeps the whole frame at its own size.
		{"orientation", "orientation/orientation_0.jpg", "orientation/orientation_%d.jpg", "fit_720", 50, 70},
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			ref := fetchImg(t, set.ref, set.size)
			if b := ref.Bounds(); b.Dx() != set.w || b.Dy() != set.h {
				t.Fatalf("reference is %dx%d, want %dx%d", b.Dx(), b.Dy(), set.w, set.h)
			}
			// The comparison must be able to fail: the reference mirrored
			// or flipped is clearly different from itself.
			for _, m := range []struct{ x, y bool }{{true, false}, {false, true}, {true, true}} {
				d := meanAbsDiff(ref, ref, m.x, m.y)
				t.Logf("reference vs itself mirrored (x=%v y=%v): %.1f", m.x, m.y, d)
				if d < same {
					t.Fatalf("reference vs its mirror (x=%v y=%v) differ by only %.1f; the picture is too symmetric for this test", m.x, m.y, d)
				}
			}
			for n := 1; n <= 8; n++ {
				rel := fmt.Sprintf(set.pattern, n)
				if rel == set.ref {
					continue
				}
				img := fetchImg(t, rel, set.size)
				d := meanAbsDiff(img, ref, false, false)
				t.Logf("%s: %.2f", rel, d)
				if d >= same {
					t.Errorf("%s (orientation %d) differs from %s by %.1f (>= %.0f): not auto-oriented", rel, n, set.ref, d, same)
				}
				// A wrongly handled orientation (mirror missed, rotated the
				// wrong way) would look like one of these: they must fail.
				for _, m := range []struct{ x, y bool }{{true, false}, {false, true}, {true, true}} {
					if md := meanAbsDiff(img, ref, m.x, m.y); md < same {
						t.Errorf("%s also matches the reference mirrored (x=%v y=%v): %.1f", rel, m.x, m.y, md)
					}
				}
			}
		})
	}
}

// Every refusal, triggered for real, with its exact status and text.
func TestE2EErrorStatuses(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())

	cops, dice := hashOf(t, "cops.jpg"), hashOf(t, "dice.png")
	tok500 := sign(t, sg, cops, "tile_500", time.Time{})
	flipped := []byte(tok500)
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	randTok := func() string {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)[:24] // 24 URL-safe characters, the shape of a real token
	}
	unknown := "00000000000000000000000000000000000000aa" // well-formed, not indexed
	if _, err := sharedIx.Lookup(context.Background(), unknown); err == nil {
		t.Fatal("the unknown hash is indexed")
	}
	p := func(hash, tok, size string) string { return thumbURL(base, hash, tok, size) }
	tokFor := func(hash, size string) string { return sign(t, sg, hash, size, time.Time{}) }
	const short = "public, max-age=60"

	cases := []struct {
		name, method, url string
		status            int
		body, cc          string
	}{
		{"hash 39 chars", "GET", p(cops[:39], tokFor(cops[:39], "tile_500"), "tile_500"), 400, "malformed URL", short},
		{"hash 41 chars", "GET", p(cops+"0", tokFor(cops, "tile_500"), "tile_500"), 400, "malformed URL", short},
		{"hash uppercase", "GET", p(strings.ToUpper(cops), tok500, "tile_500"), 400, "malformed URL", short},
		{"hash non-hex", "GET", p("g"+cops[1:], tok500, "tile_500"), 400, "malformed URL", short},
		{"token longer than 64", "GET", p(cops, strings.Repeat("a", 65), "tile_500"), 400, "malformed URL", short},
		// tile_501 is a custom size, refused while custom sizes are off (CustomMax 0).
		{"custom size tile_501, custom sizes off", "GET", p(cops, tokFor(cops, "tile_501"), "tile_501"), 400, "size too large", short},
		{"unknown size tile_0501", "GET", p(cops, tokFor(cops, "tile_0501"), "tile_0501"), 400, "unknown size", short},
		{"unknown size tile_99999", "GET", p(cops, tokFor(cops, "tile_99999"), "tile_99999"), 400, "unknown size", short},
		{"unknown size thumb_100", "GET", p(cops, tokFor(cops, "thumb_100"), "thumb_100"), 400, "unknown size", short},
		{"unknown size fit_1921x", "GET", p(cops, tokFor(cops, "fit_1921x"), "fit_1921x"), 400, "unknown size", short},
		{"unknown ext .bmp", "GET", p(cops, tok500, "tile_500.bmp"), 400, "unknown size", short},
		{"empty ext", "GET", p(cops, tok500, "tile_500."), 400, "unknown size", short},
		{"double ext", "GET", p(cops, tok500, "tile_500.jpg.png"), 400, "unknown size", short},
		{"random token", "GET", p(cops, randTok(), "tile_500"), 403, "invalid token", short},
		{"tampered token", "GET", p(cops, string(flipped), "tile_500"), 403, "invalid token", short},
		{"truncated token", "GET", p(cops, tok500[:23], "tile_500"), 403, "invalid token", short},
		{"token 33..64 chars", "GET", p(cops, tok500+tok500[:9], "tile_500"), 403, "invalid token", short},
		{"tile_500 token on fit_1920", "GET", p(cops, tok500, "fit_1920"), 403, "invalid token", short},
		{"photo A token on photo B", "GET", p(dice, tok500, "tile_500"), 403, "invalid token", short},
		{"public token, public off", "GET", p(cops, "public", "tile_500"), 403, "invalid token", short},
		{"unknown hash", "GET", p(unknown, tokFor(unknown, "tile_500"), "tile_500"), 404, "not found", short},
		{"POST", "POST", p(cops, tok500, "tile_500"), 405, "Method Not Allowed", short},
		{"PUT", "PUT", p(cops, tok500, "tile_500"), 405, "Method Not Allowed", short},
		{"DELETE", "DELETE", p(cops, tok500, "tile_500"), 405, "Method Not Allowed", short},
		{"corrupt JPEG", "GET", p(hashOf(t, corruptJPG), tokFor(hashOf(t, corruptJPG), "tile_500"), "tile_500"), 415, "unsupported or damaged image", short},
		{"corrupt JPEG small", "GET", p(hashOf(t, corruptJPG), tokFor(hashOf(t, corruptJPG), "tile_50"), "tile_50"), 415, "unsupported or damaged image", short},
		{"text named .jpg", "GET", p(hashOf(t, textJPEG), tokFor(hashOf(t, textJPEG), "tile_500"), "tile_500"), 415, "unsupported or damaged image", short},
		{"no such route", "GET", base + "/t/" + cops + "/" + tok500, 404, "Not Found", short},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, c.method, c.url, nil)
			if r.Status != c.status {
				t.Fatalf("status %d (%q), want %d", r.Status, r.Body, c.status)
			}
			if got := string(r.Body); got != c.body+"\n" {
				t.Errorf("body %q, want %q", got, c.body+"\n")
			}
			if got := r.Header.Get("Cache-Control"); got != c.cc {
				t.Errorf("Cache-Control %q, want %q", got, c.cc)
			}
			if et := r.Header.Get("ETag"); et != "" {
				t.Errorf("an error carries ETag %s", et)
			}
			// The router's own 404 and 405 run inside the middleware too.
			if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Request-Id") == "" {
				t.Errorf("nosniff %q, X-Request-Id %q: the middleware did not run", r.Header.Get("X-Content-Type-Options"), r.Header.Get("X-Request-Id"))
			}
			if c.status == 405 {
				allow := r.Header.Get("Allow")
				if !strings.Contains(allow, "GET") || !strings.Contains(allow, "HEAD") {
					t.Errorf("Allow %q, want GET and HEAD", allow)
				}
			}
		})
	}
}

// Originals that change after indexing: a directory in place of the file is
// a 500 that no cache keeps; a removed or rewritten file is gone (404); a
// touched but identical file still serves. Escaping symlinks and FIFOs are
// never indexed. All in a private folder.
func TestE2EOriginalsChangedAfterIndexing(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"cops.jpg", "dice.png", "rgb.tiff", "Landscape_1.jpg", "Landscape_2.jpg"} {
		if err := copyFile(filepath.Join("../testdata/photos", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	outside := t.TempDir()
	if err := copyFile("../testdata/photos/Landscape_3.jpg", filepath.Join(outside, "secret.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.jpg"), filepath.Join(dir, "escape.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}

	ix := openIndex(t, dir)
	if ix.Len() != 5 {
		t.Fatalf("index has %d originals, want 5 (no symlink escaping the folder, no FIFO): %+v", ix.Len(), ix.All())
	}
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, ix, sg, realTransformer(), defaultOptions())
	url := func(hash string) string {
		return thumbURL(base, hash, sign(t, sg, hash, "tile_224", time.Time{}), "tile_224")
	}

	cops, dice, tiff, l1, l2 := hashOf(t, "cops.jpg"), hashOf(t, "dice.png"), hashOf(t, "rgb.tiff"), hashOf(t, "Landscape_1.jpg"), hashOf(t, "Landscape_2.jpg")
	for _, h := range []string{cops, dice, tiff, l1, l2} {
		if r := get(t, url(h)); r.Status != 200 {
			t.Fatalf("before the change: status %d", r.Status)
		}
	}
	if r := get(t, url(hashOf(t, "Landscape_3.jpg"))); r.Status != 404 {
		t.Errorf("file behind an escaping symlink: status %d, want 404", r.Status)
	}

	// cops.jpg becomes a directory.
	if err := os.Remove(filepath.Join(dir, "cops.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "cops.jpg"), 0o755); err != nil {
		t.Fatal(err)
	}
	// dice.png disappears.
	if err := os.Remove(filepath.Join(dir, "dice.png")); err != nil {
		t.Fatal(err)
	}
	// rgb.tiff gets other bytes (same name).
	if err := os.WriteFile(filepath.Join(dir, "rgb.tiff"), []byte("replaced"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Landscape_1 is touched but identical.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "Landscape_1.jpg"), later, later); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		hash   string
		status int
		body   string
		cc     string
	}{
		{"original replaced by a directory", cops, 500, "internal error\n", "no-store"},
		{"original removed", dice, 404, "not found\n", "public, max-age=60"},
		{"original rewritten", tiff, 404, "not found\n", "public, max-age=60"},
		{"original touched, same bytes", l1, 200, "", immutable},
		{"untouched neighbour", l2, 200, "", immutable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := 0; i < 2; i++ { // and again: the state after the first answer
				r := get(t, url(c.hash))
				if r.Status != c.status {
					t.Fatalf("request %d: status %d (%q), want %d", i+1, r.Status, r.Body, c.status)
				}
				if c.body != "" && string(r.Body) != c.body {
					t.Errorf("body %q, want %q", r.Body, c.body)
				}
				if got := r.Header.Get("Cache-Control"); got != c.cc {
					t.Errorf("Cache-Control %q, want %q", got, c.cc)
				}
			}
		})
	}
	// The server never wrote to the folder: the directory is still empty.
	if ents, err := os.ReadDir(filepath.Join(dir, "cops.jpg")); err != nil || len(ents) != 0 {
		t.Errorf("cops.jpg directory: %v %v", ents, err)
	}
}

// Overload: one worker, no queue. While a job holds the worker, a request
// for a different variant is refused at once with 503 and Retry-After.
func TestE2EOverload503(t *testing.T) {
	tr := newCounting(true)
	opts := defaultOptions()
	opts.Workers, opts.QueueLength, opts.RequestTimeout = 1, 0, 30*time.Second
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, tr, opts)
	var once sync.Once
	release := func() { once.Do(func() { close(tr.gate) }) }
	t.Cleanup(release) // runs before the server stops

	cops := hashOf(t, "cops.jpg")
	first := make(chan result, 1)
	go func() {
		r, err := fetch(context.Background(), "GET", thumbURL(base, cops, sign(t, sg, cops, "tile_224", time.Time{}), "tile_224"), nil)
		if err != nil {
			r.Status, r.Body = -1, []byte(err.Error())
		}
		first <- r
	}()
	waitEntered(t, tr)

	start := time.Now()
	r := get(t, thumbURL(base, cops, sign(t, sg, cops, "tile_500", time.Time{}), "tile_500"))
	elapsed := time.Since(start)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("second variant while the only worker is busy: status %d, want 503", r.Status)
	}
	if elapsed > 2*time.Second {
		t.Errorf("503 took %v; an overloaded server must refuse at once", elapsed)
	}
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if string(r.Body) != "busy, retry later\n" {
		t.Errorf("body %q", r.Body)
	}

	release()
	r1 := <-first
	if r1.Status != http.StatusOK {
		t.Fatalf("the request holding the worker: status %d (%s)", r1.Status, r1.Body)
	}
	if err := checkInvariants("GET", r1); err != nil {
		t.Error(err)
	}
	// Recovered: the refused variant now renders.
	if r := get(t, thumbURL(base, cops, sign(t, sg, cops, "tile_500", time.Time{}), "tile_500")); r.Status != 200 {
		t.Errorf("after the worker is free: status %d", r.Status)
	}
	if n := tr.calls.Load(); n != 2 {
		t.Errorf("transformer ran %d times, want 2 (the refused request must not run)", n)
	}
}

// One worker, a queue of one: of two more variants, one waits and succeeds,
// the other is refused.
func TestE2EQueueThenOverload(t *testing.T) {
	tr := newCounting(true)
	opts := defaultOptions()
	opts.Workers, opts.QueueLength, opts.RequestTimeout = 1, 1, 30*time.Second
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, tr, opts)
	var once sync.Once
	release := func() { once.Do(func() { close(tr.gate) }) }
	t.Cleanup(release)

	cops := hashOf(t, "cops.jpg")
	sizes := []string{"tile_50", "tile_100", "tile_224"}
	results := make([]chan result, len(sizes))
	launch := func(i int) {
		results[i] = make(chan result, 1)
		u := thumbURL(base, cops, sign(t, sg, cops, sizes[i], time.Time{}), sizes[i])
		go func() {
			r, err := fetch(context.Background(), "GET", u, nil)
			if err != nil {
				r.Status = -1
			}
			results[i] <- r
		}()
	}
	launch(0)
	waitEntered(t, tr)
	launch(1)
	launch(2)
	// Exactly one of the two later requests is refused at once, whichever
	// arrived second.
	var refused, waiting int = -1, -1
	select {
	case r := <-results[1]:
		refused, waiting = 1, 2
		if r.Status != 503 {
			t.Fatalf("%s answered %d while the queue should hold it", sizes[1], r.Status)
		}
	case r := <-results[2]:
		refused, waiting = 2, 1
		if r.Status != 503 {
			t.Fatalf("%s answered %d while the queue should hold it", sizes[2], r.Status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("neither extra request was refused: the queue is unbounded")
	}
	release()
	if r := <-results[0]; r.Status != 200 {
		t.Errorf("first: status %d", r.Status)
	}
	if r := <-results[waiting]; r.Status != 200 {
		t.Errorf("queued %s: status %d", sizes[waiting], r.Status)
	}
	t.Logf("refused %s, queued %s", sizes[refused], sizes[waiting])
}

// A job slower than the request timeout ends in 503, not a hang.
func TestE2ETimeout503(t *testing.T) {
	tr := newCounting(true) // never released: waits for its context
	opts := defaultOptions()
	opts.RequestTimeout = 300 * time.Millisecond
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, tr, opts)
	cops := hashOf(t, "cops.jpg")
	start := time.Now()
	r := get(t, thumbURL(base, cops, sign(t, sg, cops, "tile_224", time.Time{}), "tile_224"))
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "1" {
		t.Errorf("status %d, Retry-After %q; want 503 and 1", r.Status, r.Header.Get("Retry-After"))
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("a 300ms deadline took %v", el)
	}
}

func TestE2ETokens(t *testing.T) {
	cops := hashOf(t, "cops.jpg")
	const size = "tile_224"
	signerA := newSigner(t, []string{keyA}, false)
	signerB := newSigner(t, []string{keyB}, false)
	tokA := sign(t, signerA, cops, size, time.Time{})
	tokB := sign(t, signerB, cops, size, time.Time{})
	if tokA == tokB {
		t.Fatal("two keys mint the same token")
	}
	status := func(t *testing.T, base, tok string) result {
		t.Helper()
		return get(t, thumbURL(base, cops, tok, size))
	}

	t.Run("rotation", func(t *testing.T) {
		srv, base := startServer(t, sharedIx, newSigner(t, []string{keyB, keyA}, false), realTransformer(), defaultOptions())
		if r := status(t, base, tokA); r.Status != 200 {
			t.Errorf("old key A during rotation: %d, want 200", r.Status)
		}
		if r := status(t, base, tokB); r.Status != 200 {
			t.Errorf("new key B: %d, want 200", r.Status)
		}
		srv.SetSigner(newSigner(t, []string{keyB}, false))
		if r := status(t, base, tokA); r.Status != 403 || string(r.Body) != "invalid token\n" {
			t.Errorf("retired key A: %d %q, want 403", r.Status, r.Body)
		}
		if r := status(t, base, tokB); r.Status != 200 {
			t.Errorf("key B after retiring A: %d, want 200", r.Status)
		}
	})

	t.Run("public mode", func(t *testing.T) {
		_, pub := startServer(t, sharedIx, newSigner(t, []string{keyA}, true), realTransformer(), defaultOptions())
		_, priv := startServer(t, sharedIx, newSigner(t, []string{keyA}, false), realTransformer(), defaultOptions())
		for _, s := range []string{"tile_224", "fit_720", "colors"} {
			if r := get(t, thumbURL(pub, cops, "public", s)); r.Status != 200 {
				t.Errorf("public on, %s: %d, want 200", s, r.Status)
			}
			if r := get(t, thumbURL(priv, cops, "public", s)); r.Status != 403 {
				t.Errorf("public off, %s: %d, want 403", s, r.Status)
			}
		}
		if r := status(t, pub, tokA); r.Status != 200 {
			t.Errorf("signed token in public mode: %d", r.Status)
		}
		if r := get(t, thumbURL(pub, cops, "Public", size)); r.Status != 403 {
			t.Errorf("'Public' (other case) in public mode: %d, want 403", r.Status)
		}
	})

	t.Run("expiring", func(t *testing.T) {
		_, base := startServer(t, sharedIx, signerA, realTransformer(), defaultOptions())
		exp := time.Now().Add(time.Hour).Truncate(time.Second)
		tok := sign(t, signerA, cops, size, exp)
		r := status(t, base, tok)
		if r.Status != 200 {
			t.Fatalf("valid expiring token: %d %q", r.Status, r.Body)
		}
		cc := r.Header.Get("Cache-Control")
		if strings.Contains(cc, "immutable") {
			t.Errorf("expiring link is immutable: %q", cc)
		}
		age, ok := strings.CutPrefix(cc, "public, max-age=")
		n, err := strconv.Atoi(age)
		if !ok || err != nil || n > 3600 || n < 3500 {
			t.Errorf("Cache-Control %q, want public, max-age in (3500, 3600]", cc)
		}
		if e, err := http.ParseTime(r.Header.Get("Expires")); err != nil || !e.Equal(exp) {
			t.Errorf("Expires %q, want %s", r.Header.Get("Expires"), exp.UTC().Format(http.TimeFormat))
		}

		past := sign(t, signerA, cops, size, time.Now().Add(-time.Minute))
		if r := status(t, base, past); r.Status != 403 || string(r.Body) != "link expired\n" {
			t.Errorf("expired token: %d %q, want 403 link expired", r.Status, r.Body)
		}

		// Moving the expiry of a valid token (extending the link) breaks it.
		mac, _, _ := strings.Cut(tok, ".")
		longer := mac + "." + strconv.FormatInt(exp.Add(24*time.Hour).Unix(), 36)
		if r := status(t, base, longer); r.Status != 403 || string(r.Body) != "invalid token\n" {
			t.Errorf("token with a later expiry: %d %q, want 403 invalid token", r.Status, r.Body)
		}
		if r := status(t, base, mac); r.Status != 403 {
			t.Errorf("expiring MAC without its expiry: %d, want 403", r.Status)
		}
		// The expiring token is for one size only.
		if r := get(t, thumbURL(base, cops, tok, "tile_500")); r.Status != 403 {
			t.Errorf("expiring token on another size: %d, want 403", r.Status)
		}
	})
}

func TestE2EHTTPCaching(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())
	cops, dice := hashOf(t, "cops.jpg"), hashOf(t, "dice.png")
	u := thumbURL(base, cops, sign(t, sg, cops, "tile_500", time.Time{}), "tile_500")

	first := get(t, u)
	if first.Status != 200 {
		t.Fatalf("status %d", first.Status)
	}
	etag := first.Header.Get("ETag")
	if !etagRe.MatchString(etag) {
		t.Fatalf("ETag %q is not a strong quoted hex tag", etag)
	}
	if cc := first.Header.Get("Cache-Control"); cc != immutable {
		t.Errorf("Cache-Control %q", cc)
	}
	if cl := first.Header.Get("Content-Length"); cl != strconv.Itoa(len(first.Body)) || len(first.Body) == 0 {
		t.Errorf("Content-Length %q for %d bytes", cl, len(first.Body))
	}

	t.Run("stable on the same server", func(t *testing.T) {
		again := get(t, u)
		if again.Header.Get("ETag") != etag {
			t.Errorf("ETag changed: %s then %s", etag, again.Header.Get("ETag"))
		}
		if sha1Hex(again.Body) != sha1Hex(first.Body) {
			t.Errorf("same ETag, different bytes")
		}
	})

	t.Run("stable across replicas", func(t *testing.T) {
		ix2 := openIndex(t, sharedDir) // a second, independent index and server
		_, base2 := startServer(t, ix2, newSigner(t, []string{keyA}, false), realTransformer(), defaultOptions())
		r := get(t, thumbURL(base2, cops, sign(t, sg, cops, "tile_500", time.Time{}), "tile_500"))
		if r.Status != 200 {
			t.Fatalf("replica: status %d", r.Status)
		}
		if r.Header.Get("ETag") != etag {
			t.Errorf("replica ETag %s, first server %s", r.Header.Get("ETag"), etag)
		}
		if sha1Hex(r.Body) != sha1Hex(first.Body) {
			t.Errorf("replica sends different bytes under the same strong ETag")
		}
	})

	t.Run("settings change the ETag", func(t *testing.T) {
		opts := defaultOptions()
		opts.Fingerprint = transform.Options{JPEGQuality: 90, JPEGQualitySmall: 78}.Fingerprint()
		_, base3 := startServer(t, sharedIx, sg, realTransformer(), opts)
		r := do(t, http.MethodHead, thumbURL(base3, cops, sign(t, sg, cops, "tile_500", time.Time{}), "tile_500"), nil)
		if r.Header.Get("ETag") == etag || r.Header.Get("ETag") == "" {
			t.Errorf("another JPEG quality keeps ETag %s", etag)
		}
	})

	t.Run("variants differ", func(t *testing.T) {
		others := []string{
			thumbURL(base, cops, sign(t, sg, cops, "tile_224", time.Time{}), "tile_224"),
			thumbURL(base, cops, sign(t, sg, cops, "tile_500", time.Time{}), "tile_500.png"),
			thumbURL(base, dice, sign(t, sg, dice, "tile_500", time.Time{}), "tile_500"),
		}
		for _, o := range others {
			if r := do(t, http.MethodHead, o, nil); r.Status != 200 || r.Header.Get("ETag") == etag {
				t.Errorf("%s: status %d, ETag %s (the tile_500 jpg ETag is %s)", o, r.Status, r.Header.Get("ETag"), etag)
			}
		}
	})

	t.Run("conditional", func(t *testing.T) {
		cases := []struct {
			inm    string
			status int
		}{
			{etag, 304},
			{"W/" + etag, 304},
			{`"nope", ` + etag, 304},
			{"*", 304},
			{`"nope"`, 200},
			{`"` + strings.Repeat("0", 32) + `"`, 200},
		}
		for _, c := range cases {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				r := do(t, method, u, http.Header{"If-None-Match": {c.inm}})
				if r.Status != c.status {
					t.Errorf("%s If-None-Match %s: status %d, want %d", method, c.inm, r.Status, c.status)
					continue
				}
				if c.status == 304 {
					if len(r.Body) != 0 {
						t.Errorf("304 with a %d-byte body", len(r.Body))
					}
					if r.Header.Get("ETag") != etag || r.Header.Get("Cache-Control") != immutable {
						t.Errorf("304 headers: ETag %q Cache-Control %q", r.Header.Get("ETag"), r.Header.Get("Cache-Control"))
					}
				}
			}
		}
	})

	t.Run("HEAD equals GET", func(t *testing.T) {
		h := do(t, http.MethodHead, u, nil)
		if h.Status != 200 || len(h.Body) != 0 {
			t.Fatalf("HEAD: status %d, %d body bytes", h.Status, len(h.Body))
		}
		for _, k := range []string{"Content-Length", "ETag", "Content-Type", "Cache-Control", "X-Content-Type-Options"} {
			if h.Header.Get(k) != first.Header.Get(k) {
				t.Errorf("%s: HEAD %q, GET %q", k, h.Header.Get(k), first.Header.Get(k))
			}
		}
	})

	t.Run("security headers", func(t *testing.T) {
		for _, k := range []string{"Content-Security-Policy", "Cross-Origin-Resource-Policy", "Access-Control-Allow-Origin", "X-Content-Type-Options"} {
			if first.Header.Get(k) == "" {
				t.Errorf("missing %s", k)
			}
		}
		// A stored image names no one request (errors do: TestE2EErrorStatuses).
		if id := first.Header.Get("X-Request-Id"); id != "" {
			t.Errorf("a cacheable image carries X-Request-Id %q: every cache would replay it", id)
		}
		r := do(t, "GET", base+"/healthz", nil)
		if r.Status != 200 || string(r.Body) != "ok\n" || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("healthz: %d %q %q", r.Status, r.Body, r.Header.Get("Cache-Control"))
		}
	})
}

// Eight concurrent requests for one new variant run libvips once and get
// the same bytes.
func TestE2ERequestCollapsing(t *testing.T) {
	tr := newCounting(true)
	sg := newSigner(t, []string{keyA}, false)
	srv, base := startServer(t, sharedIx, sg, tr, defaultOptions())
	var once sync.Once
	release := func() { once.Do(func() { close(tr.gate) }) }
	t.Cleanup(release)

	hash := hashOf(t, "seeding_by_Clements_Engelhardt.jpg")
	u := thumbURL(base, hash, sign(t, sg, hash, "fit_1280", time.Time{}), "fit_1280")
	const n = 8
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func() {
			r, err := fetch(context.Background(), "GET", u, nil)
			if err != nil {
				r.Status, r.Body = -1, []byte(err.Error())
			}
			results <- r
		}()
	}
	waitEntered(t, tr)
	// Wait until all eight are inside the server, waiting on the job.
	for deadline := time.Now().Add(30 * time.Second); srv.Waiting() < n && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	release()

	var bodies []string
	for i := 0; i < n; i++ {
		r := <-results
		if r.Status != 200 {
			t.Errorf("request: status %d %q", r.Status, r.Body)
			continue
		}
		if err := checkInvariants("GET", r); err != nil {
			t.Error(err)
		}
		bodies = append(bodies, sha1Hex(r.Body))
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("collapsed requests got different bytes")
		}
	}
	if c := tr.calls.Load(); c != 1 {
		t.Errorf("%d concurrent requests ran the transform %d times, want 1", n, c)
	}

	// Collapsing is for requests in flight only: a later request runs again.
	if r := get(t, u); r.Status != 200 || sha1Hex(r.Body) != bodies[0] {
		t.Errorf("later request: status %d, same bytes %v", r.Status, sha1Hex(r.Body) == bodies[0])
	}
	if c := tr.calls.Load(); c != 2 {
		t.Errorf("transform ran %d times after a later request, want 2", c)
	}
}

// A client that hangs up does not fail the others waiting for the same job.
func TestE2ECollapsedClientHangsUp(t *testing.T) {
	tr := newCounting(true)
	sg := newSigner(t, []string{keyA}, false)
	srv, base := startServer(t, sharedIx, sg, tr, defaultOptions())
	var once sync.Once
	release := func() { once.Do(func() { close(tr.gate) }) }
	t.Cleanup(release)

	hash := hashOf(t, "Landscape_2.jpg")
	u := thumbURL(base, hash, sign(t, sg, hash, "tile_1080", time.Time{}), "tile_1080")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leaver := make(chan error, 1)
	go func() { _, err := fetch(ctx, "GET", u, nil); leaver <- err }()
	waitEntered(t, tr)
	stayer := make(chan result, 1)
	go func() {
		r, err := fetch(context.Background(), "GET", u, nil)
		if err != nil {
			r.Status = -1
		}
		stayer <- r
	}()
	if !waitFor(t, 30*time.Second, func() string { return fmt.Sprintf("%d requests waiting, want 2", srv.Waiting()) },
		func() bool { return srv.Waiting() == 2 }) {
		return
	}
	cancel()
	if err := <-leaver; err == nil {
		t.Error("the cancelled request did not fail on the client side")
	}
	release()
	r := <-stayer
	if r.Status != 200 {
		t.Fatalf("the request that stayed: status %d", r.Status)
	}
	cfg, _, err := image.DecodeConfig(strings.NewReader(string(r.Body)))
	if err != nil || cfg.Width != 1080 || cfg.Height != 1080 {
		t.Errorf("the request that stayed got %+v %v", cfg, err)
	}
	if c := tr.calls.Load(); c != 1 {
		t.Errorf("the transform ran %d times, want 1", c)
	}
}

// Crops by pixels: tile/left/right of the upright picture are its centre,
// left and right squares, whatever the EXIF orientation of the file. The
// reference crops are cut in Go from the service's own fit_720 (a whole
// frame, checked above to be upright).
func TestE2ECropAnchorsPixels(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())
	fetchImg := func(t *testing.T, rel, size string) image.Image {
		t.Helper()
		hash := hashOf(t, rel)
		r := get(t, thumbURL(base, hash, sign(t, sg, hash, size, time.Time{}), size))
		if r.Status != http.StatusOK {
			t.Fatalf("%s %s: status %d", rel, size, r.Status)
		}
		return decode(t, r.Body)
	}
	full := fetchImg(t, "Landscape_1.jpg", "fit_720")
	if b := full.Bounds(); b.Dx() != 720 || b.Dy() != 540 {
		t.Fatalf("fit_720 is %dx%d, want 720x540", b.Dx(), b.Dy())
	}
	refs := map[string]image.Image{
		"left_224":  boxCrop(full, 0, 0, 540, 224),
		"tile_224":  boxCrop(full, 90, 0, 540, 224),
		"right_224": boxCrop(full, 180, 0, 540, 224),
	}
	const same = 8.0
	// The three references must tell each other apart, or nothing is proved.
	if d := meanAbsDiff(refs["left_224"], refs["right_224"], false, false); d < 2*same {
		t.Fatalf("left and right reference crops differ by only %.1f", d)
	}
	if d := meanAbsDiff(refs["left_224"], refs["tile_224"], false, false); d < same {
		t.Fatalf("left and centre reference crops differ by only %.1f", d)
	}
	for _, size := range []string{"left_224", "tile_224", "right_224"} {
		for n := 1; n <= 8; n++ {
			rel := fmt.Sprintf("Landscape_%d.jpg", n)
			t.Run(size+"/"+rel, func(t *testing.T) {
				img := fetchImg(t, rel, size)
				best, bestName := 1e9, ""
				for name, ref := range refs {
					if d := meanAbsDiff(img, ref, false, false); d < best {
						best, bestName = d, name
					}
				}
				t.Logf("closest: %s at %.2f", bestName, best)
				if bestName != size || best >= same {
					t.Errorf("%s of %s looks most like the %s crop (%.1f); want %s < %.0f", size, rel, bestName, best, size, same)
				}
			})
		}
	}
}

// MaxSize caps fit sizes: a bigger fit is served at the cap (same bytes and
// ETag as the cap), other modes are untouched.
func TestE2EMaxSizeClamp(t *testing.T) {
	limit, err := variant.NewLimit("fit_1920")
	if err != nil {
		t.Fatal(err)
	}
	opts := defaultOptions()
	opts.MaxSize = limit
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, realTransformer(), opts)
	hash := hashOf(t, "seeding_by_Clements_Engelhardt.jpg")
	fetchSize := func(size string) result {
		return get(t, thumbURL(base, hash, sign(t, sg, hash, size, time.Time{}), size))
	}
	cap1920 := fetchSize("fit_1920")
	for _, c := range []struct {
		size string
		w, h int
	}{
		{"fit_1920", 1920, 1080}, // 5312x2988 in 1920x1200
		{"fit_2560", 1920, 1080},
		{"fit_7680", 1920, 1080},
		{"fit_1280", 1280, 720},
		{"tile_1080", 1080, 1080},
	} {
		t.Run(c.size, func(t *testing.T) {
			r := fetchSize(c.size)
			if r.Status != 200 {
				t.Fatalf("status %d", r.Status)
			}
			cfg, _, err := image.DecodeConfig(strings.NewReader(string(r.Body)))
			if err != nil || !near(cfg.Width, c.w, 1) || !near(cfg.Height, c.h, 1) {
				t.Errorf("got %dx%d (%v), want %dx%d", cfg.Width, cfg.Height, err, c.w, c.h)
			}
			clamped := c.w == 1920
			if same := r.Header.Get("ETag") == cap1920.Header.Get("ETag"); same != clamped {
				t.Errorf("ETag %s vs fit_1920 %s: same=%v, want %v", r.Header.Get("ETag"), cap1920.Header.Get("ETag"), same, clamped)
			}
		})
	}
	// The token still covers the requested name, not the cap.
	tok1920 := sign(t, sg, hash, "fit_1920", time.Time{})
	if r := get(t, thumbURL(base, hash, tok1920, "fit_7680")); r.Status != 403 {
		t.Errorf("fit_1920 token on fit_7680: %d, want 403", r.Status)
	}
}

// Tokens never reach the logs, whatever the outcome.
func TestE2ETokensNeverLogged(t *testing.T) {
	var logs logBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServerLog(t, sharedIx, sg, realTransformer(), defaultOptions(), log)
	cops, corrupt := hashOf(t, "cops.jpg"), hashOf(t, corruptJPG)
	good := sign(t, sg, cops, "tile_224", time.Time{})
	forged := "Zz" + good[2:]
	corruptTok := sign(t, sg, corrupt, "tile_224", time.Time{})
	videoTok := sign(t, sg, cops, "avc", time.Time{})
	for _, c := range []struct {
		url    string
		status int
	}{
		{thumbURL(base, cops, good, "tile_224"), 200},
		{thumbURL(base, cops, forged, "tile_224"), 403},
		{thumbURL(base, cops, good, "tile_225"), 400},
		{thumbURL(base, corrupt, corruptTok, "tile_224"), 415},
		// Tokens in every other position and spelling stay out too.
		{base + "/v/" + cops + "/" + videoTok + "/avc", 415},
		{base + "//t/" + cops + "/" + good + "/tile_224", 0},
		{base + "/t/" + cops + "/" + good + "//tile_224", 0},
		{base + "/t/./" + cops + "/" + good + "/tile_224", 0},
		{base + "/t/" + cops + "/" + good + "/%74ile_224", 0},
		{base + "/x/" + good, 404},
		{base + "/t/" + cops + "/" + good + "/tile_224/extra", 0},
	} {
		if r := get(t, c.url); c.status != 0 && r.Status != c.status {
			t.Errorf("%s: status %d, want %d", c.url, r.Status, c.status)
		}
	}
	const lines = 11
	// The access line is written after the response has gone out.
	out := logs.String()
	for deadline := time.Now().Add(5 * time.Second); strings.Count(out, `"msg":"request"`) < lines && time.Now().Before(deadline); out = logs.String() {
		time.Sleep(20 * time.Millisecond)
	}
	for _, tok := range []string{good, forged, corruptTok, videoTok, good[:12], videoTok[:12]} {
		if strings.Contains(out, tok) {
			t.Errorf("token %s is in the logs:\n%s", tok, out)
		}
	}
	if n := strings.Count(out, `"msg":"request"`); n != lines {
		t.Errorf("%d access-log lines, want %d:\n%s", n, lines, out)
	}
}

// The service with its result caches on, as `thumbd serve` runs it: a hit
// answers exactly what the miss answered, without a libvips job.
func TestE2EMemoryCache(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	_, plain := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())
	tr := newCounting(false)
	opts := defaultOptions()
	opts.Tiers = []cache.Tier{cache.NewMemory(64 << 20)}
	_, base := startServer(t, sharedIx, sg, tr, opts)

	// Each case uses its own photo: colors and colors.png share a variant.
	check := func(t *testing.T, rel, size string) {
		hash := hashOf(t, rel)
		name, _, _ := strings.Cut(size, ".")
		u := thumbURL(base, hash, sign(t, sg, hash, name, time.Time{}), size)
		before := tr.calls.Load()
		miss, hit := get(t, u), get(t, u)
		head := do(t, http.MethodHead, u, nil)
		if miss.Status != 200 || hit.Status != 200 || head.Status != 200 {
			t.Fatalf("statuses %d %d %d", miss.Status, hit.Status, head.Status)
		}
		if n := tr.calls.Load() - before; n != 1 {
			t.Errorf("%d libvips jobs for a miss and two hits, want 1", n)
		}
		if sha1Hex(hit.Body) != sha1Hex(miss.Body) {
			t.Errorf("a hit sends other bytes than the miss")
		}
		for _, k := range []string{"Content-Type", "ETag", "Content-Length", "Cache-Control"} {
			if miss.Header.Get(k) != hit.Header.Get(k) || miss.Header.Get(k) != head.Header.Get(k) {
				t.Errorf("%s: miss %q, hit %q, HEAD %q", k, miss.Header.Get(k), hit.Header.Get(k), head.Header.Get(k))
			}
		}
		// The bytes a hit sends must be what its Content-Type says.
		ct := map[vips.ImageType]string{vips.ImageTypeJPEG: "image/jpeg", vips.ImageTypePNG: "image/png", vips.ImageTypeWEBP: "image/webp", vips.ImageTypeAVIF: "image/avif", vips.ImageTypeHEIF: "image/avif"}[vips.DetermineImageType(hit.Body)]
		if got := hit.Header.Get("Content-Type"); got != ct {
			t.Errorf("hit: Content-Type %q but the bytes are %s", got, ct)
		}
		// Caching does not change the identity of the bytes.
		ref := do(t, http.MethodHead, thumbURL(plain, hash, sign(t, sg, hash, name, time.Time{}), size), nil)
		if ref.Header.Get("ETag") != miss.Header.Get("ETag") {
			t.Errorf("ETag with the cache %s, without %s", miss.Header.Get("ETag"), ref.Header.Get("ETag"))
		}
	}
	for _, c := range []struct{ rel, size string }{
		{"cops.jpg", "tile_500"},
		{"cops.jpg", "fit_720"},
		{"cops.jpg", "tile_224.png"},
		{"cops.jpg", "tile_224.webp"},
		{"cops.jpg", "colors"},
		{"rgb.tiff", "colors.png"},
		{"cops.jpg", "original"},
	} {
		t.Run(c.rel+"/"+c.size, func(t *testing.T) { check(t, c.rel, c.size) })
	}
	for _, c := range []struct{ rel, size string }{
		{"dice.png", "colors.jpg"},
		{"animated.gif", "colors.webp"},
		{"dice.png", "original"}, // PNG bytes under the default .jpg key
		{"rgb.tiff", "original"}, // TIFF -> PNG bytes under the .jpg key
	} {
		t.Run(c.rel+"/"+c.size, func(t *testing.T) {
			check(t, c.rel, c.size)
		})
	}
}

// Derive: small variants made from a cached larger fit_* variant must look
// like the ones made from the original, upright, stripped, same size.
func TestE2EDerivedVariants(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	_, plain := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())
	opts := defaultOptions()
	opts.Tiers, opts.Derive = []cache.Tier{cache.NewMemory(256 << 20)}, true
	tr := newCounting(false)
	_, base := startServer(t, sharedIx, sg, tr, opts)

	cases := []struct {
		rel, from, size, ref string // ref: the photo whose plain render it must match
		w, h                 int
	}{
		{"seeding_by_Clements_Engelhardt.jpg", "fit_2048", "tile_224", "seeding_by_Clements_Engelhardt.jpg", 224, 224},
		{"seeding_by_Clements_Engelhardt.jpg", "fit_2048", "fit_720", "seeding_by_Clements_Engelhardt.jpg", 720, 405},
		{"seeding_by_Clements_Engelhardt.jpg", "fit_2048", "left_224", "seeding_by_Clements_Engelhardt.jpg", 224, 224},
		{"test_exif_full.jpg", "fit_2048", "tile_500", "test_exif_full.jpg", 500, 500},
		{"test_exif_full.jpg", "fit_2048", "fit_720", "test_exif_full.jpg", 540, 720},
		{"Landscape_6.jpg", "fit_720", "tile_224", "Landscape_1.jpg", 224, 224},
		{"Landscape_7.jpg", "fit_720", "right_224", "Landscape_1.jpg", 224, 224},
		{"jpg-32bit-cmyk-icc-swop.jpg", "fit_720", "tile_224", "jpg-32bit-cmyk-icc-swop.jpg", 224, 224},
	}
	for _, c := range cases {
		t.Run(c.rel+"/"+c.size+"_from_"+c.from, func(t *testing.T) {
			hash, refHash := hashOf(t, c.rel), hashOf(t, c.ref)
			if r := get(t, thumbURL(base, hash, sign(t, sg, hash, c.from, time.Time{}), c.from)); r.Status != 200 {
				t.Fatalf("%s: status %d", c.from, r.Status)
			}
			r := get(t, thumbURL(base, hash, sign(t, sg, hash, c.size, time.Time{}), c.size))
			ref := get(t, thumbURL(plain, refHash, sign(t, sg, refHash, c.size, time.Time{}), c.size))
			if r.Status != 200 || ref.Status != 200 {
				t.Fatalf("statuses %d %d", r.Status, ref.Status)
			}
			if r.Header.Get("ETag") == ref.Header.Get("ETag") && c.rel == c.ref {
				t.Errorf("a derived variant has the ETag of the one from the original (%s)", r.Header.Get("ETag"))
			}
			img, want := decode(t, r.Body), decode(t, ref.Body)
			if b := img.Bounds(); !near(b.Dx(), c.w, 1) || !near(b.Dy(), c.h, 1) {
				t.Fatalf("derived %dx%d, want %dx%d", b.Dx(), b.Dy(), c.w, c.h)
			}
			if d := meanAbsDiff(img, want, false, false); d >= 4 {
				t.Errorf("derived variant differs from the one made from the original by %.1f", d)
			}
			if meta, _ := jpegMetadata(r.Body); len(meta) > 0 {
				t.Errorf("derived variant carries %v", meta)
			}
			// A client holding the original-made ETag is still current.
			if c.rel == c.ref {
				if r2 := do(t, http.MethodGet, thumbURL(base, hash, sign(t, sg, hash, c.size, time.Time{}), c.size), http.Header{"If-None-Match": {ref.Header.Get("ETag")}}); r2.Status != 304 {
					t.Errorf("If-None-Match with the original-made ETag: %d, want 304", r2.Status)
				}
			}
		})
	}

	// Transparency must not depend on what happens to be cached: a PNG
	// variant derived from a (flattened) JPEG fit variant loses its alpha.
	t.Run("alpha survives derive", func(t *testing.T) {
		dice := hashOf(t, "dice.png")
		if r := get(t, thumbURL(base, dice, sign(t, sg, dice, "fit_2048", time.Time{}), "fit_2048")); r.Status != 200 {
			t.Fatalf("status %d", r.Status)
		}
		r := get(t, thumbURL(base, dice, sign(t, sg, dice, "tile_224", time.Time{}), "tile_224.png"))
		if r.Status != 200 {
			t.Fatalf("status %d", r.Status)
		}
		if _, _, _, a := decode(t, r.Body).At(1, 1).RGBA(); a != 0 {
			t.Errorf("tile_224.png of a transparent original has corner alpha %d after fit_2048 was cached; 0 without the cache", a>>8)
		}
	})
}

// The disk tier survives restarts: a new server over the same cache folder
// serves the bytes without libvips, with the same ETag.
func TestE2EDiskCache(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	dir := t.TempDir()
	cops := hashOf(t, "cops.jpg")
	u := func(base, size string) string {
		name, _, _ := strings.Cut(size, ".")
		return thumbURL(base, cops, sign(t, sg, cops, name, time.Time{}), size)
	}
	withDisk := func(tr server.Transformer, fingerprint string) string {
		opts := defaultOptions()
		opts.Fingerprint = fingerprint
		opts.Tiers = []cache.Tier{cache.OpenDisk(dir, 64<<20, defaultOptions().Fingerprint, discard)}
		_, base := startServer(t, sharedIx, sg, tr, opts)
		return base
	}

	tr1 := newCounting(false)
	base1 := withDisk(tr1, topts.Fingerprint())
	first := get(t, u(base1, "tile_500"))
	if first.Status != 200 || tr1.calls.Load() != 1 {
		t.Fatalf("first render: status %d, %d jobs", first.Status, tr1.calls.Load())
	}

	t.Run("restart", func(t *testing.T) {
		tr2 := newCounting(false)
		base2 := withDisk(tr2, topts.Fingerprint())
		r := get(t, u(base2, "tile_500"))
		if r.Status != 200 || sha1Hex(r.Body) != sha1Hex(first.Body) || r.Header.Get("ETag") != first.Header.Get("ETag") {
			t.Errorf("after restart: status %d, same bytes %v, ETag %s vs %s", r.Status, sha1Hex(r.Body) == sha1Hex(first.Body), r.Header.Get("ETag"), first.Header.Get("ETag"))
		}
		if n := tr2.calls.Load(); n != 0 {
			t.Errorf("%d libvips jobs for a variant on disk, want 0", n)
		}
	})

	t.Run("colors.jpg is cached", func(t *testing.T) {
		tr3 := newCounting(false)
		base3 := withDisk(tr3, topts.Fingerprint())
		for i := 0; i < 3; i++ {
			if r := get(t, u(base3, "colors.jpg")); r.Status != 200 {
				t.Fatalf("status %d", r.Status)
			}
		}
		if n := tr3.calls.Load(); n != 1 {
			t.Errorf("%d libvips jobs for 3 requests of colors.jpg with a disk cache, want 1", n)
		}
	})

	t.Run("revocation removes the files", func(t *testing.T) {
		tr5 := newCounting(false)
		opts := defaultOptions()
		disk := cache.OpenDisk(dir, 64<<20, defaultOptions().Fingerprint, discard)
		opts.Tiers = []cache.Tier{disk}
		srv, base5 := startServer(t, sharedIx, sg, tr5, opts)
		for _, size := range []string{"tile_500", "tile_224", "fit_720"} {
			if r := get(t, u(base5, size)); r.Status != 200 {
				t.Fatalf("%s: status %d", size, r.Status)
			}
		}
		files := func() []string {
			var out []string
			_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), cops) {
					out = append(out, d.Name())
				}
				return nil
			})
			return out
		}
		if len(files()) < 3 {
			t.Fatalf("disk tier holds %v; want the three variants", files())
		}
		r, err := thumburl.ParseRevocations([]string{cops + "/tile_224"})
		if err != nil {
			t.Fatal(err)
		}
		srv.SetRevocations(r)
		for _, f := range files() {
			if strings.HasPrefix(f, cops+"_tile_224_") {
				t.Errorf("revoked size still on disk: %s", f)
			}
		}
		if r, _ := thumburl.ParseRevocations([]string{cops}); r != nil {
			srv.SetRevocations(r)
		}
		if left := files(); len(left) != 0 {
			t.Errorf("revoked photo still on disk: %v", left)
		}
	})

	t.Run("new settings do not serve old bytes", func(t *testing.T) {
		q60 := transform.Options{JPEGQuality: 60, JPEGQualitySmall: 60, MaxMegapixels: 100}
		tr4 := &countingTransformer{inner: transform.New(q60), entered: make(chan struct{}, 64)}
		base4 := withDisk(tr4, q60.Fingerprint())
		r := get(t, u(base4, "tile_500"))
		if r.Status != 200 {
			t.Fatalf("status %d", r.Status)
		}
		if r.Header.Get("ETag") == first.Header.Get("ETag") {
			t.Fatalf("the ETag does not change with the settings")
		}
		if sha1Hex(r.Body) == sha1Hex(first.Body) {
			t.Errorf("quality 60 server sends the quality-83 bytes from the disk cache under its new ETag %s (%d jobs)", r.Header.Get("ETag"), tr4.calls.Load())
		}
	})
}

// CMYK with a SWOP profile comes out as the sRGB picture libvips' own
// profile-aware thumbnail makes (not inverted, not a naive conversion).
func TestE2ECMYKColours(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(sharedDir, "jpg-32bit-cmyk-icc-swop.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	refImg, err := vips.NewThumbnailWithSizeFromBuffer(src, 224, 224, vips.InterestingCentre, vips.SizeBoth)
	if err != nil {
		t.Fatal(err)
	}
	defer refImg.Close()
	if err := refImg.ToColorSpace(vips.InterpretationSRGB); err != nil {
		t.Fatal(err)
	}
	refPNG, _, err := refImg.ExportPng(&vips.PngExportParams{StripMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	ref := decode(t, refPNG)

	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())
	hash := hashOf(t, "jpg-32bit-cmyk-icc-swop.jpg")
	r := get(t, thumbURL(base, hash, sign(t, sg, hash, "tile_224", time.Time{}), "tile_224"))
	if r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	img := decode(t, r.Body)
	if d := meanAbsDiff(img, ref, false, false); d >= 4 {
		t.Errorf("CMYK output differs from libvips' reference by %.1f", d)
	}
	// The background of this product shot is white.
	if cr, cg, cb, _ := img.At(2, 2).RGBA(); cr>>8 < 235 || cg>>8 < 235 || cb>>8 < 235 {
		t.Errorf("corner is %d,%d,%d, want white (inverted or unconverted CMYK?)", cr>>8, cg>>8, cb>>8)
	}
}

// Revocation: a revoked photo or size answers 410 whatever the token or
// validator, at once, and its variants leave the memory cache.
func TestE2ERevocation(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	tr := newCounting(false)
	opts := defaultOptions()
	opts.Tiers = []cache.Tier{cache.NewMemory(64 << 20)}
	srv, base := startServer(t, sharedIx, sg, tr, opts)
	cops := hashOf(t, "cops.jpg")
	u := func(size string) string {
		name, _, _ := strings.Cut(size, ".")
		return thumbURL(base, cops, sign(t, sg, cops, name, time.Time{}), size)
	}

	first := get(t, u("tile_500"))
	if first.Status != 200 || get(t, u("tile_224")).Status != 200 || tr.calls.Load() != 2 {
		t.Fatalf("before revocation: status %d, %d jobs", first.Status, tr.calls.Load())
	}
	revoke := func(entries ...string) {
		t.Helper()
		r, err := thumburl.ParseRevocations(entries)
		if err != nil {
			t.Fatal(err)
		}
		srv.SetRevocations(r)
	}
	gone := func(t *testing.T, r result) {
		t.Helper()
		if r.Status != http.StatusGone || string(r.Body) != "link revoked\n" {
			t.Errorf("status %d %q, want 410 link revoked", r.Status, r.Body)
		}
		if r.Header.Get("ETag") != "" {
			t.Errorf("410 carries ETag %s", r.Header.Get("ETag"))
		}
	}

	revoke(cops + "/tile_500")
	t.Run("size revoked", func(t *testing.T) {
		gone(t, get(t, u("tile_500")))
		gone(t, get(t, u("tile_500.png")))
		gone(t, do(t, http.MethodGet, u("tile_500"), http.Header{"If-None-Match": {first.Header.Get("ETag")}}))
		if r := get(t, u("tile_224")); r.Status != 200 {
			t.Errorf("another size: %d, want 200", r.Status)
		}
	})
	revoke(cops)
	t.Run("photo revoked", func(t *testing.T) {
		for _, s := range []string{"tile_224", "fit_720", "colors"} {
			gone(t, get(t, u(s)))
		}
		if r := get(t, thumbURL(base, cops, "forged-token-000000000000", "tile_224")); r.Status != 403 {
			t.Errorf("bad token on a revoked photo: %d, want 403 (the token is checked first)", r.Status)
		}
		dice := hashOf(t, "dice.png")
		if r := get(t, thumbURL(base, dice, sign(t, sg, dice, "tile_224", time.Time{}), "tile_224")); r.Status != 200 {
			t.Errorf("another photo: %d, want 200", r.Status)
		}
	})
	revoke()
	t.Run("reinstated, not from the cache", func(t *testing.T) {
		before := tr.calls.Load()
		if r := get(t, u("tile_224")); r.Status != 200 {
			t.Fatalf("status %d", r.Status)
		}
		if tr.calls.Load() != before+1 {
			t.Errorf("the revoked photo's variant was still in the memory cache")
		}
	})
}

// Size "original": the photo itself minus private metadata. JPEG and PNG
// keep their compressed data byte for byte (and JPEG its orientation, in a
// minimal Exif block, and its ICC profile); AVIF, HEIC and WebP keep their
// container with the metadata removed in place; other formats become a
// lossless, upright PNG. Never through the public token.
func TestE2EOriginalSize(t *testing.T) {
	sg := newSigner(t, []string{keyA}, true) // public mode on: "public" must still not open originals
	_, base := startServer(t, sharedIx, sg, realTransformer(), defaultOptions())

	for _, p := range photos {
		t.Run(strings.ReplaceAll(p.rel, "/", "_"), func(t *testing.T) {
			hash := hashOf(t, p.rel)
			src, err := os.ReadFile(filepath.Join(sharedDir, p.rel))
			if err != nil {
				t.Fatal(err)
			}
			if r := get(t, thumbURL(base, hash, "public", "original")); r.Status != 403 || string(r.Body) != "invalid token\n" {
				t.Errorf("public token on original: %d %q, want 403", r.Status, r.Body)
			}
			r := get(t, thumbURL(base, hash, sign(t, sg, hash, "original", time.Time{}), "original"))
			if r.Status != 200 {
				t.Fatalf("status %d %q", r.Status, r.Body)
			}
			if got := r.Header.Get("Content-Length"); got != strconv.Itoa(len(r.Body)) {
				t.Errorf("Content-Length %q for %d bytes", got, len(r.Body))
			}
			// (Apple's ICC profile says "Copyright Apple Inc."; the ICC stays.)
			if strings.Contains(string(r.Body), "iPhone") || strings.Contains(string(r.Body), "Apple iOS") {
				t.Errorf("camera model or maker note survived")
			}
			switch vips.DetermineImageType(src) {
			case vips.ImageTypeJPEG:
				if ct := r.Header.Get("Content-Type"); ct != "image/jpeg" {
					t.Fatalf("Content-Type %q, want image/jpeg", ct)
				}
				// Not re-encoded: everything from the first scan on is the original's.
				if !strings.HasSuffix(string(src), string(afterFirstSOS(t, r.Body))) || len(afterFirstSOS(t, r.Body)) != len(afterFirstSOS(t, src)) {
					t.Errorf("the compressed pixels changed")
				}
				_, sw, sh, _, _ := jpegSOF(src)
				if _, w, h, _, err := jpegSOF(r.Body); err != nil || w != sw || h != sh {
					t.Errorf("SOF %dx%d (%v), original %dx%d", w, h, err, sw, sh)
				}
				segs, err := jpegSegments(r.Body)
				if err != nil {
					t.Fatalf("structure: %v", err)
				}
				wantOrient := uint32(0)
				if tags, err := exifIFD0Tags(src); err == nil && tags[0x0112] >= 2 && tags[0x0112] <= 8 {
					wantOrient = tags[0x0112]
				}
				origICC := strings.Contains(fmt.Sprint(mustMeta(t, src)), "APP2")
				var icc bool
				for _, s := range segs {
					switch {
					case s.marker == 0xE1 && wantOrient != 0:
						tags, err := exifIFD0Tags(r.Body)
						if err != nil || len(tags) != 1 || tags[0x0112] != wantOrient {
							t.Errorf("Exif kept %v (%v); want only Orientation=%d", tags, err, wantOrient)
						}
					case s.marker == 0xE1:
						t.Errorf("APP1 kept for an orientation-1 photo")
					case s.marker == 0xE2:
						icc = true
					case s.marker == 0xED || s.marker == 0xFE:
						t.Errorf("segment %#x kept", s.marker)
					}
				}
				if icc != origICC {
					t.Errorf("ICC profile kept=%v, original has one=%v", icc, origICC)
				}
			case vips.ImageTypePNG:
				if ct := r.Header.Get("Content-Type"); ct != "image/png" {
					t.Fatalf("Content-Type %q, want image/png", ct)
				}
				if d := meanAbsDiff(decode(t, r.Body), decode(t, src), false, false); d != 0 {
					t.Errorf("pixels changed by %.2f", d)
				}
				checkPNGChunks(t, r.Body)
			case vips.ImageTypeAVIF, vips.ImageTypeHEIF, vips.ImageTypeWEBP:
				// Their own container, metadata removed without re-encoding.
				want := map[vips.ImageType]string{vips.ImageTypeAVIF: "image/avif", vips.ImageTypeHEIF: "image/heic", vips.ImageTypeWEBP: "image/webp"}[vips.DetermineImageType(src)]
				if ct := r.Header.Get("Content-Type"); ct != want {
					t.Fatalf("Content-Type %q, want %s", ct, want)
				}
				if len(r.Body) > len(src) || len(r.Body) < len(src)*9/10 {
					t.Errorf("%d bytes, the source %d", len(r.Body), len(src))
				}
				if err := metastrip.Check(r.Body); err != nil {
					t.Errorf("Check: %v", err)
				}
				a, b := vipsPixels(t, src), vipsPixels(t, r.Body)
				if !bytes.Equal(a, b) {
					t.Errorf("decodes to other pixels than the source")
				}
			default: // TIFF, GIF -> lossless upright PNG
				if ct := r.Header.Get("Content-Type"); ct != "image/png" {
					t.Fatalf("Content-Type %q, want image/png", ct)
				}
				cfg, _, err := image.DecodeConfig(strings.NewReader(string(r.Body)))
				if err != nil || cfg.Width != p.w || cfg.Height != p.h {
					t.Errorf("PNG %dx%d (%v), want upright %dx%d", cfg.Width, cfg.Height, err, p.w, p.h)
				}
				checkPNGChunks(t, r.Body)
			}
		})
	}
}

// vipsPixels decodes every pixel with libvips.
func vipsPixels(t *testing.T, b []byte) []byte {
	t.Helper()
	img, err := vips.NewImageFromBuffer(b)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	pix, err := img.ToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return pix
}

func mustMeta(t *testing.T, b []byte) []string {
	t.Helper()
	m, err := jpegMetadata(b)
	if err != nil {
		t.Fatalf("JPEG structure: %v", err)
	}
	return m
}

func checkPNGChunks(t *testing.T, b []byte) {
	t.Helper()
	chunks, err := pngChunks(b)
	if err != nil {
		t.Errorf("PNG structure: %v", err)
	}
	for _, c := range chunks {
		switch c {
		case "eXIf", "iTXt", "tEXt", "zTXt", "tIME":
			t.Errorf("PNG keeps a %s chunk (%v)", c, chunks)
		}
	}
}

// afterFirstSOS returns the bytes from the first SOS marker to the end.
func afterFirstSOS(t *testing.T, b []byte) []byte {
	t.Helper()
	segs, err := jpegSegments(b)
	if err != nil {
		t.Fatalf("JPEG structure: %v", err)
	}
	off := 2
	for _, s := range segs {
		if s.marker == 0xDA {
			break
		}
		off += 2 + 2 + len(s.data) // marker + length + payload (no fill bytes in our inputs)
	}
	if off > len(b) {
		t.Fatalf("bad SOS offset %d", off)
	}
	return b[off:]
}

// Data after the JPEG's end (MPF secondary images, gain maps, vendor
// trailers) can carry its own Exif with GPS; "original" must not pass it on.
func TestE2EOriginalTrailingData(t *testing.T) {
	dir := t.TempDir()
	cops, err := os.ReadFile("../testdata/photos/cops.jpg")
	if err != nil {
		t.Fatal(err)
	}
	iphone, err := os.ReadFile("../testdata/photos/test_exif_full.jpg")
	if err != nil {
		t.Fatal(err)
	}
	// cops.jpg followed by a whole second JPEG with GPS, the layout of an
	// MPF (multi-picture) file.
	mpf := append(append([]byte{}, cops...), iphone...)
	if err := os.WriteFile(filepath.Join(dir, "mpf.jpg"), mpf, 0o644); err != nil {
		t.Fatal(err)
	}
	ix := openIndex(t, dir)
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, ix, sg, realTransformer(), defaultOptions())
	hash := sha1Hex(mpf)

	// libvips decodes the first picture: thumbnails work and carry nothing.
	r := get(t, thumbURL(base, hash, sign(t, sg, hash, "tile_224", time.Time{}), "tile_224"))
	if r.Status != 200 || strings.Contains(string(r.Body), "iPhone") {
		t.Fatalf("tile_224: status %d, has iPhone %v", r.Status, strings.Contains(string(r.Body), "iPhone"))
	}
	r = get(t, thumbURL(base, hash, sign(t, sg, hash, "original", time.Time{}), "original"))
	if r.Status != 200 {
		t.Fatalf("original: status %d", r.Status)
	}
	if strings.Contains(string(r.Body), "Exif\x00\x00") || strings.Contains(string(r.Body), "iPhone") {
		t.Errorf("original passes on the appended picture's Exif (camera make, GPS): %d bytes out of %d in", len(r.Body), len(mpf))
	}
}

// Custom sizes (tile_N, fit_WxH, screen_WxH): signed links only, up to
// CustomMax, exact dimensions; screen boxes turn to match the photo.
func TestE2ECustomSizes(t *testing.T) {
	sg := newSigner(t, []string{keyA}, true)
	opts := defaultOptions()
	opts.CustomMax = 2000
	_, base := startServer(t, sharedIx, sg, realTransformer(), opts)

	cases := []struct {
		rel, size string
		status    int
		w, h      int
	}{
		{"cops.jpg", "tile_501", 200, 501, 501},
		{"seeding_by_Clements_Engelhardt.jpg", "fit_640x480", 200, 640, 360},
		{"seeding_by_Clements_Engelhardt.jpg", "fit_720x720", 200, 720, 405},
		{"seeding_by_Clements_Engelhardt.jpg", "screen_1080x1920", 200, 1920, 1080}, // landscape: box turned
		{"test_exif_full.jpg", "screen_1080x1920", 200, 1080, 1440},                 // portrait (EXIF 6)
		{"test_exif_full.jpg", "screen_1920x1080", 200, 1080, 1440},                 // either way round
		{"Landscape_6.jpg", "screen_1080x1920", 200, 1440, 1080},                    // stored portrait, upright landscape
		{"test.avif", "screen_1080x1920", 200, 1625, 1080},
		{"cops.jpg", "fit_2000x2000", 200, 640, 426}, // never upscaled
		{"cops.jpg", "tile_2001", 400, 0, 0},
		{"cops.jpg", "fit_100x2001", 400, 0, 0},
		{"cops.jpg", "screen_2001x10", 400, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.rel+"/"+c.size, func(t *testing.T) {
			hash := hashOf(t, c.rel)
			r := get(t, thumbURL(base, hash, sign(t, sg, hash, c.size, time.Time{}), c.size))
			if r.Status != c.status {
				t.Fatalf("status %d %q, want %d", r.Status, r.Body, c.status)
			}
			if c.status != 200 {
				if string(r.Body) != "size too large\n" {
					t.Errorf("body %q", r.Body)
				}
				return
			}
			cfg, _, err := image.DecodeConfig(strings.NewReader(string(r.Body)))
			if err != nil || !near(cfg.Width, c.w, 1) || !near(cfg.Height, c.h, 1) {
				t.Errorf("got %dx%d (%v), want %dx%d", cfg.Width, cfg.Height, err, c.w, c.h)
			}
			if meta, _ := jpegMetadata(r.Body); len(meta) > 0 {
				t.Errorf("metadata: %v", meta)
			}
			// Public mode opens named sizes only.
			if r := get(t, thumbURL(base, hash, "public", c.size)); r.Status != 403 {
				t.Errorf("public token on a custom size: %d, want 403", r.Status)
			}
		})
	}
}
