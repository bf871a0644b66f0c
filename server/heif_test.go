package server_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/variant"
)

// TestE2ERealHEIF: the real iPhone 15 Pro HEIC, Sony a6700 10-bit HEIF
// (heix) and 10-bit gain-map AVIF at every named size (the AVIF) or a
// spread of them (the 24 MP files): 200, upright dimensions, nothing
// exiftool can name (GPS, Make, Model, serials, maker notes, XMP) in any
// output, the original included, which is the source's own container at
// the source's size; the same files cut short answer a clean 415.
func TestE2ERealHEIF(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 24 MP HEIF files")
	}
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Fatal("exiftool not installed; `make test` installs it")
	}
	dir := t.TempDir()
	files := map[string][]byte{}
	for _, f := range []string{"iphone.heic", "sony.heif", "dock-75-hdr.avif"} {
		b, err := os.ReadFile(filepath.Join("../testdata/heif", f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
		files["cut-"+f] = b[:len(b)*9/10]
	}
	for rel, b := range files {
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ix := openIndex(t, dir)
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, ix, sg, realTransformer(), defaultOptions())
	url := func(rel, size string) string {
		h := sha1Hex(files[rel])
		name, _, _ := strings.Cut(size, ".")
		return thumbURL(base, h, sign(t, sg, h, name, time.Time{}), size)
	}
	some := []string{"tile_50", "tile_224", "left_224", "tile_500", "fit_720", "fit_1920", "fit_7680", "fit_1600", "colors", "tile_224.webp", "original", "original.jpg"}
	for _, tc := range []struct {
		rel   string
		w, h  int // upright
		sizes []string
		ctype string // of the original
	}{
		{"iphone.heic", 5712, 4284, some, "image/heic"},
		{"sony.heif", 4128, 6192, some, "image/heic"},
		{"dock-75-hdr.avif", 1024, 683, nil, "image/avif"},
	} {
		sizes := tc.sizes
		if sizes == nil {
			for _, s := range variant.Sizes {
				sizes = append(sizes, s.Name)
			}
			sizes = append(sizes, "original", "original.jpg", "original.webp")
		}
		for _, sz := range sizes {
			t.Run(tc.rel+"/"+sz, func(t *testing.T) {
				r := get(t, url(tc.rel, sz))
				if r.Status != http.StatusOK {
					t.Fatalf("status %d %q", r.Status, r.Body)
				}
				name, _, _ := strings.Cut(sz, ".")
				s, err := variant.ParseSize(name)
				if err != nil {
					t.Fatal(err)
				}
				if full := strings.HasPrefix(sz, "original."); full {
					// The whole photo re-encoded, upright, for browsers
					// that cannot show HEIC.
					img := decodeAny(t, r.Body)
					if ct := r.Header.Get("Content-Type"); !strings.HasSuffix(sz, "."+strings.TrimPrefix(ct, "image/")) && !(ct == "image/jpeg" && strings.HasSuffix(sz, ".jpg")) {
						t.Errorf("%s is %s", sz, ct)
					}
					if img[0] != tc.w || img[1] != tc.h {
						t.Errorf("%s is %dx%d; want the full %dx%d", sz, img[0], img[1], tc.w, tc.h)
					}
				} else if s.Mode == variant.Original {
					if ct := r.Header.Get("Content-Type"); ct != tc.ctype {
						t.Errorf("original is %s; want %s", ct, tc.ctype)
					}
					if len(r.Body) != len(files[tc.rel]) {
						t.Errorf("original is %d bytes; the source %d", len(r.Body), len(files[tc.rel]))
					}
				} else {
					w, h := variant.OutputSize(s, tc.w, tc.h)
					img := decodeAny(t, r.Body)
					if !near(img[0], w, 1) || !near(img[1], h, 1) {
						t.Errorf("%dx%d; want %dx%d", img[0], img[1], w, h)
					}
				}
				exiftoolClean(t, r.Body)
			})
		}
	}
	for _, rel := range []string{"cut-iphone.heic", "cut-sony.heif", "cut-dock-75-hdr.avif"} {
		for _, sz := range []string{"tile_224", "fit_720", "original"} {
			t.Run(rel+"/"+sz, func(t *testing.T) {
				r := get(t, url(rel, sz))
				if r.Status != http.StatusUnsupportedMediaType || string(r.Body) != "unsupported or damaged image\n" {
					t.Errorf("status %d %q; want 415", r.Status, r.Body)
				}
			})
		}
	}
}

// decodeAny returns the width and height of an output in any format.
func decodeAny(t *testing.T, b []byte) [2]int {
	t.Helper()
	img, err := vips.NewImageFromBuffer(b)
	if err != nil {
		t.Fatalf("output does not decode: %v", err)
	}
	defer img.Close()
	return [2]int{img.Width(), img.Height()}
}

// exiftoolClean fails if exiftool names any private tag in b.
func exiftoolClean(t *testing.T, b []byte) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("exiftool", "-a", "-G1", "-s", "-n", f).CombinedOutput()
	if err != nil {
		t.Fatalf("exiftool: %v\n%s", err, out)
	}
	for _, line := range bytes.Split(out, []byte("\n")) {
		l := string(line)
		for _, bad := range []string{"[GPS]", "[IFD0]", "[ExifIFD]", "[XMP", "[Apple]", "[Sony]", "[MakerNotes]", "Serial", " Make ", " Model "} {
			if strings.Contains(l, bad) {
				t.Errorf("exiftool: %s", l)
			}
		}
	}
}
