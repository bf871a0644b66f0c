package jpegscan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image/jpeg"
	"os"
	"testing"
)

// scanInfo is one scan header: its components, spectral band and
// successive-approximation bits.
type scanInfo struct {
	comps          string
	ss, se, ah, al int
	start, end     int // the scan in the file, header and data
}

func (s scanInfo) String() string {
	return fmt.Sprintf("%s:%d-%d,%d,%d", s.comps, s.ss, s.se, s.ah, s.al)
}

// scans lists a JPEG's scans (a test-side walk, independent of plan).
func scans(t *testing.T, b []byte) []scanInfo {
	t.Helper()
	var out []scanInfo
	for i := 2; i+2 <= len(b); {
		if b[i] != 0xFF {
			t.Fatalf("no marker at %d", i)
		}
		m := b[i+1]
		if m == 0xD9 {
			return out
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		next := i + 2 + n
		if m == 0xDA {
			ns := int(b[i+4])
			s := scanInfo{start: i}
			for k := 0; k < ns; k++ {
				s.comps += fmt.Sprint(b[i+5+2*k])
			}
			h := b[i+5+2*ns:]
			s.ss, s.se, s.ah, s.al = int(h[0]), int(h[1]), int(h[2]>>4), int(h[2]&15)
			next = entropyEnd(b, next)
			s.end = next
			out = append(out, s)
		}
		i = next
	}
	t.Fatal("no EOI")
	return nil
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEighthRewrites(t *testing.T) {
	cases := []struct {
		file string
		// dcOnly: the component ids whose AC scans become one synthetic scan
		dcOnly string
	}{
		{"testdata/seeding-420.jpg", "1"},
		{"testdata/seeding-444.jpg", "123"}, // every component at 1x1, restart interval 3
		{"../testdata/photos/seeding_by_Clements_Engelhardt.jpg", "1"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			src := read(t, c.file)
			keep := bytes.Clone(src)
			out, ok := Eighth(src)
			if !ok {
				t.Fatal("not rewritten")
			}
			if !bytes.Equal(src, keep) {
				t.Fatal("Eighth modified its input")
			}
			// The structure: every DC scan and every AC scan of the other
			// components as they were, and one zero scan per dropped one.
			var want, got []string
			for _, s := range scans(t, src) {
				if s.ss > 0 && bytes.Contains([]byte(c.dcOnly), []byte(s.comps)) {
					continue
				}
				want = append(want, s.String())
			}
			for _, s := range scans(t, out) {
				if s.ss > 0 && bytes.Contains([]byte(c.dcOnly), []byte(s.comps)) {
					if s.String() != s.comps+":1-63,0,0" {
						t.Errorf("synthetic scan %v", s)
					}
					continue
				}
				got = append(got, s.String())
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("kept scans %v, want %v", got, want)
			}
			n := 0
			for _, s := range scans(t, out) {
				if s.ss > 0 && bytes.Contains([]byte(c.dcOnly), []byte(s.comps)) {
					n++
				}
			}
			if n != len(c.dcOnly) {
				t.Errorf("%d synthetic scans, want %d", n, len(c.dcOnly))
			}
			// An independent decoder accepts it: valid Huffman codes, the
			// right number of blocks, restart markers where they belong.
			a, err := jpeg.Decode(bytes.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			b, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("rewritten: %v", err)
			}
			if a.Bounds() != b.Bounds() {
				t.Errorf("bounds %v, original %v", b.Bounds(), a.Bounds())
			}
			if len(out) >= len(src) {
				t.Errorf("%d bytes, original %d", len(out), len(src))
			}
		})
	}
}

func TestEighthLeavesAlone(t *testing.T) {
	prog := read(t, "testdata/seeding-420.jpg")
	ss := scans(t, prog)
	// The last luma AC scan removed: coefficients never reach full
	// precision, and libjpeg would smooth them, so nothing is rewritten.
	var last scanInfo
	for _, s := range ss {
		if s.comps == "1" && s.ss > 0 {
			last = s
		}
	}
	incomplete := append(bytes.Clone(prog[:last.start]), prog[last.end:]...)
	baseline := read(t, "../testdata/photos/cops.jpg")
	dcOnly := append(bytes.Clone(prog[:ss[1].start]), 0xFF, 0xD9) // the DC scan, then EOI

	cases := map[string][]byte{
		"empty":                 nil,
		"not a JPEG":            []byte("GIF89a"),
		"SOI only":              {0xFF, 0xD8},
		"baseline":              baseline,
		"truncated":             prog[:len(prog)/2],
		"no EOI":                prog[:len(prog)-2],
		"incomplete AC":         incomplete,
		"only a DC scan":        dcOnly,
		"segment past the end":  append(bytes.Clone(prog[:20]), 0xFF, 0xE1, 0xFF, 0xFF),
		"arithmetic coding":     bytes.Replace(bytes.Clone(prog), []byte{0xFF, 0xC2}, []byte{0xFF, 0xCA}, 1),
		"scan before the frame": append([]byte{0xFF, 0xD8, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0, 0x00}, prog[2:]...),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if out, ok := Eighth(b); ok || out != nil {
				t.Errorf("rewritten (%d bytes)", len(out))
			}
		})
	}
}

func TestZeroScanRuns(t *testing.T) {
	// Runs longer than the longest EOBRUN (32767) split, and restart
	// intervals restart them, each ending on a byte boundary.
	for _, c := range []struct{ blocks, restart, markers int }{
		{1, 0, 0}, {32767, 0, 0}, {32768, 0, 0}, {100000, 0, 0}, {10, 3, 3}, {17, 17, 0}, {20, 1, 19},
	} {
		out := zeroScan(nil, 1, c.blocks, 0, c.restart)
		var rst []byte
		for i := 0; i+1 < len(out); i++ {
			if out[i] == 0xFF && out[i+1] >= 0xD0 && out[i+1] <= 0xD7 {
				rst = append(rst, out[i+1])
			}
		}
		if len(rst) != c.markers {
			t.Errorf("%+v: %d restart markers", c, len(rst))
		}
		for k, m := range rst {
			if m != 0xD0+byte(k%8) {
				t.Errorf("%+v: restart marker %d is %x", c, k, m)
			}
		}
	}
}

func FuzzEighth(f *testing.F) {
	for _, name := range []string{"testdata/seeding-420.jpg", "testdata/seeding-444.jpg"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)*2/3])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		keep := bytes.Clone(b)
		out, ok := Eighth(b)
		if !bytes.Equal(b, keep) {
			t.Fatal("input modified")
		}
		if !ok {
			if out != nil {
				t.Fatal("output without a rewrite")
			}
			return
		}
		if !bytes.HasPrefix(out, []byte{0xFF, 0xD8}) || !bytes.HasSuffix(out, []byte{0xFF, 0xD9}) {
			t.Fatal("output is not SOI ... EOI")
		}
		// What an independent decoder accepts, it accepts rewritten. Go's
		// decoder counts restart intervals in a one-component scan of a
		// subsampled image by MCU instead of by block (libjpeg follows the
		// standard; the transform tests decode with it), so files with a
		// restart interval are left to those tests.
		if bytes.Contains(b, []byte{0xFF, 0xDD}) {
			return
		}
		a, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			return
		}
		r, err := jpeg.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("original decodes, rewritten does not: %v", err)
		}
		if a.Bounds() != r.Bounds() {
			t.Fatalf("bounds %v, original %v", r.Bounds(), a.Bounds())
		}
	})
}
