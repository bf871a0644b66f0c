package metastrip

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image/jpeg"
	"os"
	"testing"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/photos/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// segments lists the marker bytes before the first SOS.
func segments(t *testing.T, b []byte) []byte {
	t.Helper()
	var ms []byte
	for i := 2; i+4 <= len(b); {
		m := b[i+1]
		ms = append(ms, m)
		if m == 0xDA {
			break
		}
		i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
	}
	return ms
}

// scan returns the file from its first top-level SOS on (an EXIF thumbnail
// holds an SOS of its own, so the segments are walked, not searched).
func scan(b []byte) []byte {
	for i := 2; i+4 <= len(b); {
		if b[i+1] == 0xDA {
			return b[i:]
		}
		i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
	}
	return nil
}

func TestJPEGStripsExifKeepsScanAndOrientation(t *testing.T) {
	src := read(t, "test_exif_full.jpg") // iPhone: EXIF with GPS, orientation 6, ICC
	for _, tc := range []struct {
		orientation int
		wantAPP1    bool
	}{{6, true}, {0, false}, {1, false}} {
		out, err := JPEG(src, tc.orientation)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(out, []byte("iPhone XS")) {
			t.Errorf("orientation %d: camera model left", tc.orientation)
		}
		if sc := scan(src); sc == nil || !bytes.Equal(scan(out), sc) {
			t.Fatal("entropy-coded data changed")
		}
		ms := segments(t, out)
		if bytes.Contains(ms, []byte{0xE1}) != tc.wantAPP1 {
			t.Errorf("orientation %d: APP1 present = %v", tc.orientation, !tc.wantAPP1)
		}
		if !bytes.Contains(ms, []byte{0xE2}) {
			t.Error("ICC profile (APP2) dropped")
		}
		if tc.wantAPP1 {
			i := bytes.Index(out, []byte("Exif\x00\x00"))
			if i < 0 || out[i+6+8+2+9] != byte(tc.orientation) {
				t.Errorf("orientation tag not %d", tc.orientation)
			}
		}
		a, err1 := jpeg.Decode(bytes.NewReader(src))
		b, err2 := jpeg.Decode(bytes.NewReader(out))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if a.Bounds() != b.Bounds() {
			t.Fatal("bounds changed")
		}
		if len(out) >= len(src) {
			t.Errorf("nothing stripped: %d >= %d", len(out), len(src))
		}
	}
}

func TestJPEGRejectsMalformed(t *testing.T) {
	src := read(t, "cops.jpg")
	for name, b := range map[string][]byte{
		"empty":      nil,
		"not jpeg":   []byte("GIF89a........"),
		"cut header": src[:20],
		"bad length": append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}, src[6:40]...),
	} {
		if _, err := JPEG(b, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func chunk(typ string, data []byte) []byte {
	c := make([]byte, 8, 12+len(data))
	binary.BigEndian.PutUint32(c, uint32(len(data)))
	copy(c[4:], typ)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

func TestPNGStripsText(t *testing.T) {
	src := read(t, "dice.png")
	// Insert a tEXt and an eXIf chunk after IHDR (8 + 25 bytes).
	withMeta := append(append(append([]byte{}, src[:33]...), chunk("tEXt", []byte("GPS\x0052.1,4.3"))...), chunk("eXIf", []byte("MM\x00\x2a"))...)
	withMeta = append(withMeta, src[33:]...)
	out, err := PNG(withMeta)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("tEXt")) || bytes.Contains(out, []byte("eXIf")) {
		t.Error("metadata chunk left")
	}
	if !bytes.Equal(out, mustPNG(t, src)) {
		t.Error("stripping the added chunks did not give back the original chunks")
	}
	bad := append([]byte{}, withMeta...)
	bad[40] ^= 0xFF // corrupt a chunk -> CRC mismatch
	if _, err := PNG(bad); err == nil {
		t.Error("corrupt PNG accepted")
	}
}

func mustPNG(t *testing.T, b []byte) []byte {
	out, err := PNG(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzJPEG and FuzzPNG: untrusted files never panic the strippers, and a
// stripped JPEG keeps its scan data.
func FuzzJPEG(f *testing.F) {
	src := read(f, "cops.jpg")
	f.Add(src, 6)
	f.Add(src[:300], 0)
	f.Fuzz(func(t *testing.T, b []byte, o int) {
		out, err := JPEG(b, o%10)
		if err == nil && bytes.Contains(b, []byte{0xFF, 0xDA}) && !bytes.HasSuffix(out, []byte{0xFF, 0xD9}) && !bytes.Contains(out, []byte{0xFF, 0xDA}) {
			t.Fatal("output lost the scan")
		}
	})
}

func FuzzPNG(f *testing.F) {
	f.Add(read(f, "dice.png")[:2000])
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = PNG(b)
	})
}
