package server_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thumbd/thumbd/variant"
)

func rawFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata/raw", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawOriented returns a copy of a TIFF-based RAW with IFD0's Orientation
// set to o (the real samples all say 1).
func rawOriented(t testing.TB, b []byte, o uint16) []byte {
	t.Helper()
	b = bytes.Clone(b)
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	ifd := int(bo.Uint32(b[4:]))
	for i := range int(bo.Uint16(b[ifd:])) {
		if e := b[ifd+2+12*i:]; bo.Uint16(e) == 0x0112 {
			bo.PutUint16(e[8:], o)
			return b
		}
	}
	t.Fatal("no Orientation tag in IFD0")
	return nil
}

// rotate90 turns img a quarter clockwise (EXIF orientation 6's display).
func rotate90(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out.Set(b.Dy()-1-y, x, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

// TestE2ERAWByPreview: camera RAW files are served by their largest
// embedded JPEG preview, at every size, upright by the RAW's own
// orientation, with nothing of the RAW's metadata; original is the
// preview itself without metadata; a RAW without a usable preview (only
// uncompressed thumbnails, or cut before any) answers 415 with a body that
// says so, and a RAW whose preview is damaged 415 like a damaged JPEG.
func TestE2ERAWByPreview(t *testing.T) {
	nef := rawFile(t, "d7100.nef")
	damaged := bytes.Clone(nef)
	// The 6000x4000 preview's scan data starts near 1189376+600: overwrite
	// a stretch of it, so markers appear in the middle of the scan.
	for i := 1189376 + 200_000; i < 1189376+200_400; i++ {
		damaged[i] = 0xFF
	}
	files := map[string][]byte{
		"d7100.nef":             nef,
		"d7100-rot6.nef":        rawOriented(t, nef, 6),
		"eos-1ds-mark-iii.cr2":  rawFile(t, "eos-1ds-mark-iii.cr2"),
		"eos-d30.crw":           rawFile(t, "eos-d30.crw"),
		"k-3-ii.pef":            rawFile(t, "k-3-ii.pef"),
		"sd450.dng":             rawFile(t, "powershot-sd450-cut.dng"),
		"cut.crw":               rawFile(t, "eos-d30.crw")[:1000],
		"damaged-preview.nef":   damaged,
		"not-really.cr2":        []byte("II*\x00\x08\x00\x00\x00 not a raw file, just a TIFF header"),
		"sub/Camera Roll/A.NEF": rawOriented(t, nef, 3),
	}
	dir := t.TempDir()
	for rel, b := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ix := openIndex(t, dir)
	if ix.Len() != len(files) {
		t.Fatalf("indexed %d of %d RAW files", ix.Len(), len(files))
	}
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, ix, sg, realTransformer(), defaultOptions())
	url := func(rel, size string) string {
		h := sha1Hex(files[rel])
		name, _, _ := strings.Cut(size, ".")
		return thumbURL(base, h, sign(t, sg, h, name, time.Time{}), size)
	}

	for _, tc := range []struct {
		rel  string
		w, h int // the preview, upright
	}{
		{"d7100.nef", 6000, 4000},
		{"d7100-rot6.nef", 4000, 6000},
		{"sub/Camera Roll/A.NEF", 6000, 4000},
		{"eos-1ds-mark-iii.cr2", 2784, 1856},
		{"eos-d30.crw", 1440, 960},
		{"k-3-ii.pef", 720, 480},
	} {
		for _, sz := range []string{"tile_224", "fit_720", "fit_1920", "colors", "original"} {
			t.Run(tc.rel+"/"+sz, func(t *testing.T) {
				r := get(t, url(tc.rel, sz))
				if r.Status != http.StatusOK {
					t.Fatalf("status %d %q", r.Status, r.Body)
				}
				s, err := variant.ParseSize(sz)
				if err != nil {
					t.Fatal(err)
				}
				w, h := expectedDims(s, tc.w, tc.h)
				if s.Mode == variant.Original {
					// Stored as the camera wrote it, with the orientation tag.
					w, h = tc.w, tc.h
					if tc.rel == "d7100-rot6.nef" {
						w, h = h, w
					}
				}
				img := decode(t, r.Body)
				if b := img.Bounds(); !near(b.Dx(), w, 1) || !near(b.Dy(), h, 1) {
					t.Errorf("%dx%d; want %dx%d", b.Dx(), b.Dy(), w, h)
				}
				if meta, err := jpegMetadata(r.Body); err == nil {
					for _, m := range meta {
						if m != "APP1 Exif" || s.Mode != variant.Original {
							t.Errorf("metadata segment %s in the output", m)
						}
					}
				}
				if s.Mode == variant.Original {
					// The preview itself, orientation kept as for a JPEG
					// original (a minimal EXIF block and nothing else).
					tags, err := exifIFD0Tags(r.Body)
					o := uint32(1)
					if err == nil {
						if len(tags) != 1 {
							t.Errorf("EXIF of the original holds %v; want the orientation alone", tags)
						}
						o = tags[0x0112]
					}
					want := map[string]uint32{"d7100-rot6.nef": 6, "sub/Camera Roll/A.NEF": 3}[tc.rel]
					if want == 0 {
						want = 1
					}
					if o != want {
						t.Errorf("original carries orientation %d; want the RAW's %d", o, want)
					}
				}
			})
		}
	}

	// Upright by the RAW's orientation: the orientation-6 copy is the
	// plain one turned a quarter clockwise, the orientation-3 one upside down.
	plain := decode(t, get(t, url("d7100.nef", "fit_720")).Body)
	rot := decode(t, get(t, url("d7100-rot6.nef", "fit_720")).Body)
	if d := meanAbsDiff(rotate90(plain), rot, false, false); d > 3 {
		t.Errorf("orientation 6: differs from the plain preview turned clockwise by %.1f", d)
	}
	if d := meanAbsDiff(rotate90(rotate90(rotate90(plain))), rot, false, false); d < 10 {
		t.Errorf("orientation 6 output is within %.1f of the preview turned anticlockwise; the check cannot see the direction", d)
	}
	upside := decode(t, get(t, url("sub/Camera Roll/A.NEF", "fit_720")).Body)
	if d := meanAbsDiff(plain, upside, true, true); d > 3 {
		t.Errorf("orientation 3: differs from the plain preview turned half a turn by %.1f", d)
	}
	if d := meanAbsDiff(plain, upside, false, false); d < 10 {
		t.Errorf("orientation 3 output is within %.1f of the unrotated preview; the check cannot see rotation", d)
	}

	for _, tc := range []struct{ rel, body string }{
		{"sd450.dng", "RAW file without a usable embedded preview"},
		{"cut.crw", "RAW file without a usable embedded preview"},
		{"not-really.cr2", "RAW file without a usable embedded preview"},
		{"damaged-preview.nef", "unsupported or damaged image"},
	} {
		for _, sz := range []string{"tile_224", "original"} {
			t.Run(tc.rel+"/"+sz, func(t *testing.T) {
				r := get(t, url(tc.rel, sz))
				if r.Status != http.StatusUnsupportedMediaType || strings.TrimSpace(string(r.Body)) != tc.body {
					t.Errorf("status %d %q; want 415 %q", r.Status, r.Body, tc.body)
				}
			})
		}
	}
}
