package metastrip

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHEIFRealFiles: the real iPhone, Sony and AVIF files lose their Exif
// and XMP items and nothing else: same size, Check passes, every byte
// outside meta, the free box that replaces what meta lost, and the zeroed
// metadata ranges is the source's, and libheif (heif-info) and exiftool
// read the result without finding Exif or XMP.
func TestHEIFRealFiles(t *testing.T) {
	for _, tc := range []struct {
		file  []string
		items int // metadata items the source has
	}{
		{[]string{"heif", "iphone.heic"}, 2}, // Exif, XMP (and the gain map's XMP)
		{[]string{"heif", "sony.heif"}, 2},
		{[]string{"heif", "dock-75-hdr.avif"}, 2},
		{[]string{"photos", "test.avif"}, 0},
	} {
		t.Run(tc.file[1], func(t *testing.T) {
			src := readTestdata(t, tc.file...)
			out, err := HEIF(src)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(src) {
				t.Fatalf("%d bytes; the source has %d", len(out), len(src))
			}
			if err := Check(out); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if tc.items == 0 {
				if !bytes.Equal(out, src) {
					t.Error("a file without metadata items was changed")
				}
				return
			}
			if Check(src) == nil {
				t.Fatal("the source passes Check; the test proves nothing")
			}
			// Bytes that differ are only in meta + free or zeroed in the output.
			changed := 0
			for i := range src {
				if out[i] != src[i] {
					changed++
					if out[i] != 0 && !inMetaOrFree(t, out, i) {
						t.Fatalf("byte %d changed to %#x outside meta and free", i, out[i])
					}
				}
			}
			t.Logf("%d bytes changed", changed)
			again, err := HEIF(out)
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("not idempotent: %v", err)
			}
			if _, err := has("heif-info"); err == nil {
				p := filepath.Join(t.TempDir(), "x"+filepath.Ext(tc.file[1]))
				if err := os.WriteFile(p, out, 0o644); err != nil {
					t.Fatal(err)
				}
				info := string(run(t, "heif-info", p))
				if strings.Contains(info, "Exif:") || strings.Contains(info, "XMP:") {
					t.Errorf("heif-info still lists metadata:\n%s", info)
				}
				if _, err := has("exiftool"); err == nil {
					tags := string(run(t, "exiftool", "-a", "-G1", "-s", p))
					for _, bad := range []string{"[IFD0]", "[ExifIFD]", "[GPS]", "[XMP", "SerialNumber", "[Apple]", "[Sony]"} {
						if strings.Contains(tags, bad) {
							t.Errorf("exiftool finds %s in the output", bad)
						}
					}
				}
			}
		})
	}
}

// inMetaOrFree reports whether offset i lies in the output's top-level
// meta or free box.
func inMetaOrFree(t *testing.T, b []byte, i int) bool {
	t.Helper()
	in := false
	if err := boxWalk(b, 0, func(bx box) error {
		if (bx.typ == "meta" || bx.typ == "free") && i >= bx.off && i < bx.pos+len(bx.data) {
			in = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return in
}

// TestHEIFWrittenByExiftool: GPS, serial and XMP that exiftool adds to a
// heif-enc file are gone after HEIF, which Check and exiftool confirm.
func TestHEIFWrittenByExiftool(t *testing.T) {
	need(t, "heif-enc")
	need(t, "exiftool")
	dir := t.TempDir()
	p := filepath.Join(dir, "p.heic")
	run(t, "heif-enc", "-q", "50", "-o", p, filepath.Join("..", "testdata", "photos", "cops.jpg"))
	run(t, "exiftool", append(append([]string{"-q", "-overwrite_original"}, privateTags...), p)...)
	src, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if Check(src) == nil || !bytes.Contains(src, []byte("SN-4711")) {
		t.Fatal("exiftool wrote no metadata; the test proves nothing")
	}
	out, err := HEIF(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(out); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if bytes.Contains(out, []byte("SN-4711")) || bytes.Contains(out, []byte("Jane Doe")) {
		t.Error("the serial or the creator is still in the bytes")
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	tags := string(run(t, "exiftool", "-a", "-G1", "-s", p))
	for _, bad := range []string{"GPS", "SerialNumber", "Creator"} {
		if strings.Contains(tags, bad) {
			t.Errorf("exiftool finds %s:\n%s", bad, tags)
		}
	}
	run(t, "heif-info", p)
}

// TestHEIFRefuses: files HEIF must not pass on: cut short (item data past
// the end), sequences, no meta, and garbage.
func TestHEIFRefuses(t *testing.T) {
	iphone := readTestdata(t, "heif", "iphone.heic")
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"cut at 99%", iphone[:len(iphone)*99/100], ErrMalformed},
		{"cut at 50%", iphone[:len(iphone)/2], ErrMalformed},
		{"cut in meta", iphone[:600], ErrMalformed},
		{"not ISOBMFF", []byte("hello, world"), ErrMalformed},
		{"sequence", append(append([]byte{}, iphone[:iphoneFtyp(t, iphone)]...), 0, 0, 0, 8, 'm', 'o', 'o', 'v'), ErrUnsupportedLayout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := HEIF(tc.b); !errors.Is(err, tc.want) {
				t.Errorf("err %v; want %v", err, tc.want)
			}
		})
	}
}

func iphoneFtyp(t *testing.T, b []byte) int {
	t.Helper()
	n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if string(b[4:8]) != "ftyp" || n > len(b) {
		t.Fatal("no ftyp")
	}
	return n
}

// FuzzHEIF: HEIF never panics, and whatever it returns has the input's
// length.
func FuzzHEIF(f *testing.F) {
	for _, p := range [][]string{{"heif", "dock-75-hdr.avif"}, {"photos", "test.avif"}} {
		b, err := os.ReadFile(filepath.Join(append([]string{"..", "testdata"}, p...)...))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 8192)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := HEIF(b)
		if err == nil && len(out) != len(b) {
			t.Fatalf("%d bytes in, %d out", len(b), len(out))
		}
	})
}
