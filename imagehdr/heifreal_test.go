package imagehdr

import (
	"os"
	"path/filepath"
	"testing"
)

// heifDir holds real HEIF/AVIF files from current phones and cameras (see
// its LICENSES.md).
const heifDir = "../testdata/heif"

func readHEIF(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(heifDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRealHEIF pins the header of each real HEIF/AVIF file: Sony's heix
// brand (which govips v2.16.0's own detection misses), an iPhone 15 Pro
// HEIC grid with a gain map, and a 10-bit AVIF with a gain map.
func TestRealHEIF(t *testing.T) {
	tests := []struct {
		file string
		want Header
	}{
		// 2x2 grid of 10-bit tiles, irot 270: shown as 4128x6192.
		{"sony.heif", Header{Format: HEIF, Width: 6192, Height: 4128, Bands: 3, BitsPerSample: 10, WholeFrame: true, Frames: 1, Rotated: true, Primaries: 1, Transfer: 13, Matrix: 5, Brand: "heix"}},
		// 9x5 grid; the thumbnail and the HDR gain map (auxl) are not frames.
		{"iphone.heic", Header{Format: HEIF, Width: 5712, Height: 4284, Bands: 3, BitsPerSample: 8, WholeFrame: true, Frames: 1, Brand: "heic"}},
		// SDR base image; the gain map is a dimg input of the tmap item.
		{"dock-75-hdr.avif", Header{Format: AVIF, Width: 1024, Height: 683, Bands: 3, BitsPerSample: 10, WholeFrame: true, Frames: 1, Primaries: 1, Transfer: 13, Matrix: 6, Brand: "avif"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b := readHEIF(t, tc.file)
			got, err := Parse(b, 100)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if testing.Short() {
				return
			}
			checkTruncations(t, b, 100, got)
		})
	}
}

// TestRealHEIFAgainstVips compares the real files with libvips (and so
// with the libheif it loads; bookworm's 1.15.1 cannot read iphone.heic).
func TestRealHEIFAgainstVips(t *testing.T) {
	needVips(t)
	for _, name := range []string{"sony.heif", "iphone.heic", "dock-75-hdr.avif"} {
		t.Run(name, func(t *testing.T) {
			h, err := Parse(readHEIF(t, name), 100)
			if err != nil {
				t.Fatal(err)
			}
			compareVips(t, filepath.Join(heifDir, name), h)
		})
	}
}

// TestEveryHEIFBrand checks each HEIF-family brand, as the major brand and
// as a compatible brand behind an unknown major one, on a real file: the
// Sony heix file with its ftyp brand bytes rewritten in place.
func TestEveryHEIFBrand(t *testing.T) {
	orig := readHEIF(t, "sony.heif")
	if string(orig[4:12]) != "ftypheix" {
		t.Fatalf("sony.heif starts %q", orig[:12])
	}
	for _, brand := range []string{"heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif", "avis"} {
		// As major brand: the compatible brands (mif1, heix, ...) are
		// replaced by "xxxx" so only the major brand can match.
		major := rewriteFtyp(orig, brand, "xxxx")
		// As compatible brand only.
		compat := rewriteFtyp(orig, "zzzz", brand)
		for name, b := range map[string][]byte{"major": major, "compatible": compat} {
			h, err := Parse(b, 10)
			if err != nil {
				t.Errorf("%s as %s brand: %v", brand, name, err)
				continue
			}
			want := HEIF
			if name == "major" && (brand == "avif" || brand == "avis") {
				want = AVIF // an avif major brand decides; hvc1 items or not
			}
			if h.Format != want || h.Width != 6192 || h.BitsPerSample != 10 {
				t.Errorf("%s as %s brand: %+v", brand, name, h)
			}
		}
	}
	if _, err := Parse(rewriteFtyp(orig, "isom", "mp42"), 10); err != ErrUnknown {
		t.Errorf("isom/mp42: err %v, want ErrUnknown", err)
	}
}

// rewriteFtyp copies b with its ftyp major brand set to major and every
// compatible brand set to compat.
func rewriteFtyp(b []byte, major, compat string) []byte {
	c := append([]byte(nil), b...)
	size := int(be32(c))
	copy(c[8:12], major)
	for i := 16; i+4 <= size; i += 4 {
		copy(c[i:i+4], compat)
	}
	return c
}
