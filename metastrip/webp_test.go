package metastrip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/webp"
)

// bitWriter writes the least significant bit first, as VP8L reads.
type bitWriter struct {
	b   []byte
	n   uint
	acc uint64
}

func (w *bitWriter) put(v uint32, bits uint) {
	w.acc |= uint64(v) << w.n
	w.n += bits
	for w.n >= 8 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

func (w *bitWriter) bytes() []byte {
	if w.n > 0 {
		w.b = append(w.b, byte(w.acc))
	}
	return w.b
}

// vp8lSolid encodes a w×h image of one colour as a lossless VP8L
// bitstream: no transforms, no colour cache, and five prefix codes of one
// symbol each (green, red, blue, alpha, distance), so each pixel takes no
// bits. Real photographs are used wherever vips or cwebp is installed;
// this keeps the structural tests independent of them.
func vp8lSolid(w, h int, a, r, g, b byte) []byte {
	var bw bitWriter
	bw.put(0x2f, 8)
	bw.put(uint32(w-1), 14)
	bw.put(uint32(h-1), 14)
	bw.put(1, 1) // alpha is used
	bw.put(0, 3) // version
	bw.put(0, 1) // no transform
	bw.put(0, 1) // no colour cache
	bw.put(0, 1) // no meta prefix codes
	for _, sym := range []byte{g, r, b, a, 0} {
		bw.put(1, 1) // simple code
		bw.put(0, 1) // one symbol
		bw.put(1, 1) // 8-bit symbol
		bw.put(uint32(sym), 8)
	}
	return bw.bytes()
}

// wchunk is a RIFF chunk with its pad byte.
func wchunk(typ string, data []byte) []byte {
	return appendChunk(nil, typ, data)
}

// riff wraps chunks in a RIFF/WEBP header.
func riff(chunks ...[]byte) []byte {
	body := []byte("WEBP")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

func vp8x(flags byte, w, h int) []byte {
	d := []byte{flags, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	return wchunk("VP8X", d)
}

func anmf(w, h int, frame ...[]byte) []byte {
	d := []byte{0, 0, 0, 0, 0, 0, byte(w - 1), 0, 0, byte(h - 1), 0, 0, 100, 0, 0, 0}
	for _, c := range frame {
		d = append(d, c...)
	}
	return wchunk("ANMF", d)
}

// chunkTypes lists the top-level chunk types of a WebP, and those inside
// ANMF frames as "ANMF/XXXX"; it fails the test if the file does not walk.
func chunkTypes(t *testing.T, b []byte) []string {
	t.Helper()
	body, err := parseWebP(b)
	if err != nil {
		t.Fatal(err)
	}
	var ts []string
	_ = riffWalk(body, 12, func(c riffChunk) error {
		ts = append(ts, c.typ)
		if c.typ == "ANMF" {
			_ = frameWalk(c, func(s riffChunk) error {
				ts = append(ts, "ANMF/"+s.typ)
				return nil
			})
		}
		return nil
	})
	return ts
}

const (
	flagICC   = 0x20
	flagAlpha = 0x10
	flagAnim  = 0x02
)

func TestWebP(t *testing.T) {
	img := wchunk("VP8L", vp8lSolid(7, 5, 255, 200, 100, 50))
	exif := wchunk("EXIF", []byte("MM\x00\x2a\x00\x00\x00\x08GPS")) // odd length: padded
	xmp := wchunk("XMP ", []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"/>`))
	icc := wchunk("ICCP", []byte("fake profile"))
	for _, tc := range []struct {
		name      string
		in        []byte
		want      []string // chunk types of the output
		private   bool     // Check refuses the input
		unchanged bool     // output is byte for byte the input
	}{
		{"simple VP8L", riff(img), []string{"VP8L"}, false, true},
		{"extended, clean", riff(vp8x(flagICC, 7, 5), icc, img), []string{"VP8X", "ICCP", "VP8L"}, false, true},
		{"EXIF and XMP after image", riff(vp8x(flagICC|vp8xEXIF|vp8xXMP, 7, 5), icc, img, exif, xmp), []string{"VP8X", "ICCP", "VP8L"}, true, false},
		{"odd EXIF before image", riff(vp8x(vp8xEXIF, 7, 5), exif, img), []string{"VP8X", "VP8L"}, true, false},
		{"flags without chunks", riff(vp8x(vp8xEXIF|vp8xXMP, 7, 5), img), []string{"VP8X", "VP8L"}, true, false},
		{"unknown chunks", riff(vp8x(0, 7, 5), wchunk("C2PA", []byte("manifest")), img, wchunk("abcd", []byte{1})), []string{"VP8X", "VP8L"}, true, false},
		{"simple format with EXIF", riff(img, exif), []string{"VP8L"}, true, false},
		{"trailing bytes", append(riff(img), "Exif\x00\x00GPS..."...), []string{"VP8L"}, true, false},
		{"animation with XMP in a frame", riff(vp8x(flagAnim, 7, 5), wchunk("ANIM", make([]byte, 6)), anmf(7, 5, img, xmp), anmf(7, 5, exif, img), xmp),
			[]string{"VP8X", "ANIM", "ANMF", "ANMF/VP8L", "ANMF", "ANMF/VP8L"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check(tc.in); (err != nil) != tc.private || (err != nil && !errors.Is(err, ErrPrivate)) {
				t.Errorf("Check(input) = %v, want private %v", err, tc.private)
			}
			out, err := WebP(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := chunkTypes(t, out); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("chunks %v, want %v", got, tc.want)
			}
			if err := Check(out); err != nil {
				t.Errorf("Check(output): %v", err)
			}
			if tc.unchanged != bytes.Equal(out, tc.in) {
				t.Errorf("output unchanged = %v, want %v", !tc.unchanged, tc.unchanged)
			}
			if again, err := WebP(out); err != nil || !bytes.Equal(again, out) {
				t.Errorf("not idempotent: %v", err)
			}
			if len(out)%2 != 0 || int(binary.LittleEndian.Uint32(out[4:])) != len(out)-8 {
				t.Errorf("RIFF size %d for %d bytes", binary.LittleEndian.Uint32(out[4:]), len(out))
			}
			if bytes.Contains(out, []byte("GPS")) || bytes.Contains(out, []byte("xmpmeta")) {
				t.Error("metadata bytes left")
			}
			if !bytes.Contains(tc.in, []byte("ANIM")) {
				m, err := webp.Decode(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				if c := m.At(3, 2); !sameRGBA(c, 200, 100, 50, 255) {
					t.Errorf("pixel %v", c)
				}
			}
		})
	}
}

func sameRGBA(c interface{ RGBA() (r, g, b, a uint32) }, r, g, b, a uint8) bool {
	cr, cg, cb, ca := c.RGBA()
	return cr>>8 == uint32(r) && cg>>8 == uint32(g) && cb>>8 == uint32(b) && ca>>8 == uint32(a)
}

func TestWebPRejectsMalformed(t *testing.T) {
	img := wchunk("VP8L", vp8lSolid(3, 3, 255, 1, 2, 3))
	good := riff(vp8x(0, 3, 3), img)
	size := func(b []byte, n uint32) []byte {
		b = bytes.Clone(b)
		binary.LittleEndian.PutUint32(b[4:], n)
		return b
	}
	unpadded := riff(img)
	unpadded = append(unpadded[:len(unpadded)-len(img)], "VP8L\x03\x00\x00\x00abc"...) // odd chunk, no pad
	unpadded = size(unpadded, uint32(len(unpadded)-8))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"header only", []byte("RIFF\x04\x00\x00\x00WEBP")},
		{"not WEBP", []byte("RIFF\x04\x00\x00\x00AVI ")},
		{"RIFF size past end", size(good, uint32(len(good)))},
		{"RIFF size odd", size(good, uint32(len(good)-9))},
		{"RIFF size cuts a chunk", size(good, uint32(len(good)-10))},
		{"chunk size past RIFF", riff(append([]byte("VP8L\xff\xff\x00\x00"), img[8:]...))},
		{"odd chunk without pad byte", unpadded},
		{"first chunk EXIF", riff(wchunk("EXIF", []byte("MM")), img)},
		{"VP8X too short", riff(wchunk("VP8X", []byte{0, 0, 0, 0}), img)},
		{"VP8X twice", riff(vp8x(0, 3, 3), vp8x(0, 3, 3), img)},
		{"no image", riff(vp8x(flagICC, 3, 3), wchunk("ICCP", []byte("p")))},
		{"ANMF too short", riff(vp8x(flagAnim, 3, 3), wchunk("ANIM", make([]byte, 6)), wchunk("ANMF", make([]byte, 8)))},
		{"ANMF frame overrun", riff(vp8x(flagAnim, 3, 3), wchunk("ANMF", append(make([]byte, 16), "VP8L\xff\x00\x00\x00"...)))},
		{"truncated", good[:len(good)-3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := WebP(tc.in); !errors.Is(err, ErrMalformed) {
				t.Errorf("WebP = %d bytes, %v; want ErrMalformed", len(out), err)
			}
			if err := Check(tc.in); err == nil {
				t.Error("Check accepted it")
			}
		})
	}
}

// TestWebPRealFiles strips WebP files that real encoders and exiftool
// wrote with EXIF (GPS, camera serial) and XMP, and checks that what is
// left passes Check, still decodes to the same pixels and, per exiftool,
// holds no metadata.
func TestWebPRealFiles(t *testing.T) {
	dir := t.TempDir()
	tagged := taggedJPEG(t, dir) // cops.jpg + GPS, serial, XMP, IPTC
	for _, tc := range []struct {
		name  string
		make  func(t *testing.T, out string)
		still bool
	}{
		{"vips thumbnail of an iPhone photo (EXIF, GPS, ICC)", func(t *testing.T, out string) {
			run(t, "vips", "thumbnail", photo("test_exif_full.jpg"), out, "320")
		}, true},
		{"cwebp -metadata all (EXIF, XMP)", func(t *testing.T, out string) {
			run(t, "cwebp", "-quiet", "-metadata", "all", tagged, "-o", out)
		}, true},
		{"cwebp lossless with alpha, exiftool EXIF+XMP", func(t *testing.T, out string) {
			run(t, "cwebp", "-quiet", "-lossless", photo("dice.png"), "-o", out)
			exiftoolWrite(t, out)
		}, true},
		{"animated (vips), exiftool XMP", func(t *testing.T, out string) {
			run(t, "vips", "copy", photo("animated.gif")+"[n=-1]", out)
			exiftoolWrite(t, out)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(dir, strings.Fields(tc.name)[0]+".webp")
			tc.make(t, src)
			in, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(in); !errors.Is(err, ErrPrivate) {
				t.Fatalf("Check(input) = %v, want ErrPrivate", err)
			}
			out, err := WebP(in)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(out); err != nil {
				t.Fatalf("Check(WebP(input)): %v", err)
			}
			stripped := filepath.Join(dir, "stripped.webp")
			if err := os.WriteFile(stripped, out, 0o644); err != nil {
				t.Fatal(err)
			}
			if tags := exiftoolPrivate(t, stripped); tags != "" {
				t.Errorf("exiftool still finds:\n%s", tags)
			}
			if tc.still {
				a, err1 := webp.Decode(bytes.NewReader(in))
				b, err2 := webp.Decode(bytes.NewReader(out))
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if !samePixels(a, b) {
					t.Error("pixels changed")
				}
				if _, err := has("dwebp"); err == nil {
					run(t, "dwebp", "-quiet", stripped, "-o", filepath.Join(dir, "d.png"))
				}
			} else {
				// x/image/webp does not decode animation; libvips does.
				run(t, "vips", "copy", stripped+"[n=-1]", filepath.Join(dir, "frames.png"))
			}
		})
	}
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}

// FuzzWebP: never panics; whatever WebP accepts comes out smaller or
// equal, passes Check and is a fixed point.
func FuzzWebP(f *testing.F) {
	img := wchunk("VP8L", vp8lSolid(4, 4, 255, 9, 8, 7))
	f.Add(riff(img))
	f.Add(riff(vp8x(vp8xEXIF|vp8xXMP|flagICC, 4, 4), wchunk("ICCP", []byte("p")), img, wchunk("EXIF", []byte("MM\x00*x")), wchunk("XMP ", []byte("<x/>"))))
	f.Add(riff(vp8x(flagAnim|flagAlpha, 4, 4), wchunk("ANIM", make([]byte, 6)), anmf(4, 4, wchunk("ALPH", []byte{0, 255}), img, wchunk("XMP ", []byte("x")))))
	f.Add(append(riff(img), 0, 1, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := WebP(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if len(out) > len(b) {
			t.Fatalf("output grew: %d > %d", len(out), len(b))
		}
		if err := Check(out); err != nil {
			t.Fatalf("Check(WebP(b)): %v", err)
		}
		if again, err := WebP(out); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not a fixed point: %v", err)
		}
	})
}
