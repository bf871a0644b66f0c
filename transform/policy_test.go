package transform_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/internal/vipscli"
	"github.com/thumbd/thumbd/metastrip"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

// TestDecodingPolicy: damaged data is refused, benign warnings are not.
// The real HEIF files cut short (inside the image data) answer
// ErrUnsupported at every size and for the original, on every decoding
// route; libvips' "heifload: ignoring nclx profile" (a GLib warning the
// Sony and AVIF files raise) does not stop them (TestHEIFRealFiles); a
// file cut only after its primary image (the iPhone's gain map and
// metadata items) is refused too, though libheif alone would decode it.
func TestDecodingPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 24 MP HEIF files")
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("../testdata/heif", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	iphone, sony, dock := read("iphone.heic"), read("sony.heif"), read("dock-75-hdr.avif")
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"iphone cut at 90%", iphone[:len(iphone)*9/10]},
		{"iphone cut at 50%", iphone[:len(iphone)/2]},
		{"sony cut at 90%", sony[:len(sony)*9/10]},
		{"sony cut at 50%", sony[:len(sony)/2]},
		{"avif cut at 50%", dock[:len(dock)/2]},
		{"avif cut in its header", dock[:300]},
		// Cut only after the primary image (the gain map and metadata
		// items): libheif would decode it, but the file is damaged.
		{"iphone cut at 99%", iphone[:len(iphone)*99/100]},
	} {
		for _, sz := range []string{"tile_224", "fit_720", "original"} {
			for _, embedded := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/embedded=%v", tc.name, sz, embedded), func(t *testing.T) {
					opts := defaultOpts
					opts.HEIFThumbnails = embedded
					img, err := run(t, opts, tc.b, sz, variant.JPEG)
					if !errors.Is(err, transform.ErrUnsupported) {
						t.Fatalf("Transform = %v, %v; want ErrUnsupported", img != nil, err)
					}
				})
			}
		}
	}

}

// TestOriginalsKeepTheirFormat: the original of a HEIC, AVIF or WebP is
// the same container with its metadata removed in place: about the
// source's size (a 2 MB HEIC was a 17 MB PNG), decoding to exactly the
// source's pixels, and passing metastrip.Check.
func TestOriginalsKeepTheirFormat(t *testing.T) {
	dir := t.TempDir()
	webp := filepath.Join(dir, "dice.webp")
	if b, err := vipscli.Run("copy", filepath.Join("../testdata/photos", "dice.png"), webp); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	for _, tc := range []struct {
		path string
		f    variant.Format
	}{
		{"../testdata/heif/iphone.heic", variant.HEIF},
		{"../testdata/heif/sony.heif", variant.HEIF},
		{"../testdata/heif/dock-75-hdr.avif", variant.AVIF},
		{"../testdata/photos/test.avif", variant.AVIF},
		{webp, variant.WebP},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			src, err := os.ReadFile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := run(t, defaultOpts, src, "original", variant.JPEG)
			if err != nil {
				t.Fatal(err)
			}
			if img.Format != tc.f {
				t.Fatalf("original is %s; want %s", img.Format, tc.f)
			}
			if n, m := len(img.Bytes), len(src); n > m || n < m*9/10 {
				t.Errorf("original is %d bytes; the source %d", n, m)
			}
			if err := metastrip.Check(img.Bytes); err != nil {
				t.Errorf("Check: %v", err)
			}
			a, b := decodeRaw(t, src), decodeRaw(t, img.Bytes)
			if !bytes.Equal(a, b) {
				t.Errorf("decodes to other pixels than the source")
			}
		})
	}
}

// decodeRaw decodes every pixel with libvips, at the file's own depth.
func decodeRaw(t *testing.T, b []byte) []byte {
	t.Helper()
	p := vips.NewImportParams()
	img, err := vips.LoadImageFromBuffer(heifMajor(b), p)
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

// heifMajor sets Sony's heix major brand to one govips knows (as the
// pipeline does) so the test can load it.
func heifMajor(b []byte) []byte {
	if len(b) > 12 && string(b[4:12]) == "ftypheix" {
		b = bytes.Clone(b)
		copy(b[8:12], "mif1")
	}
	return b
}
