package rawpreview

import (
	"bytes"
	"errors"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func readFile(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkPreview asserts what every preview must be: inside the file, a JPEG
// that Go's decoder reads with the dimensions Find reported.
func checkPreview(t testing.TB, b []byte, p Preview) {
	t.Helper()
	if p.Offset <= 0 || p.Length <= 0 || p.Offset+p.Length > int64(len(b)) {
		t.Fatalf("extent %d+%d outside %d bytes", p.Offset, p.Length, len(b))
	}
	if p.Orientation < 1 || p.Orientation > 8 {
		t.Fatalf("orientation %d", p.Orientation)
	}
	j, err := Extract(bytes.NewReader(b), p)
	if err != nil {
		t.Fatal(err)
	}
	if j[0] != 0xff || j[1] != 0xd8 {
		t.Fatalf("preview starts % x", j[:2])
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(j))
	if err != nil {
		t.Fatalf("image/jpeg: %v", err)
	}
	if cfg.Width != p.Width || cfg.Height != p.Height {
		t.Fatalf("image/jpeg says %dx%d, Find %dx%d", cfg.Width, cfg.Height, p.Width, p.Height)
	}
}

// TestRealFiles pins the preview of each real RAW file (testdata/raw, see
// its LICENSES.md): the largest usable one, not the first.
func TestRealFiles(t *testing.T) {
	tests := []struct {
		file          string
		w, h, orient  int
		container     string
		source        string
		offset, lngth int64
		taken         string // EXIF DateTimeOriginal, TIFF-based files only
		cut           bool   // Truncated: the samples are cut short after their previews
		err           error
	}{
		// Full-size JPEG in the first SubIFD, not the 640x424 PreviewIFD or IFD0's 160x120.
		{file: "d7100.nef", w: 6000, h: 4000, orient: 1, container: "tiff", source: "ifd0.sub0 JPEGInterchangeFormat", offset: 1189376, lngth: 2287892, taken: "2013:09:03 09:45:16", cut: true},
		// IFD0's strip JPEG; IFD3's lossless raw JPEG (past the cut) is not a preview.
		{file: "eos-1ds-mark-iii.cr2", w: 2784, h: 1856, orient: 1, container: "tiff", source: "ifd0 strip", offset: 42308, lngth: 296899, taken: "2007:10:18 13:44:32", cut: true},
		{file: "eos-d30.crw", w: 1440, h: 960, orient: 1, container: "crw", source: "crw JpgFromRaw", offset: 3305054, lngth: 281610},
		// The maker note's 720x480 preview beats IFD1's thumbnail; IFD2's full-size JPEG lies past the cut.
		{file: "k-3-ii.pef", w: 720, h: 480, orient: 1, container: "tiff", source: "pentax makernote preview", offset: 73952, lngth: 53753, taken: "2021:02:05 10:56:53", cut: true},
		// Cut files: the big preview points past the end, the thumbnail is what is left.
		{file: "dslr-a330-cut.arw", w: 160, h: 120, orient: 1, container: "tiff", source: "ifd1 JPEGInterchangeFormat", offset: 32770, lngth: 3598, taken: "2009:11:13 13:33:25", cut: true},
		{file: "powershot-s90-cut.cr2", w: 160, h: 120, orient: 1, container: "tiff", source: "ifd1 JPEGInterchangeFormat", offset: 11264, lngth: 7291, taken: "2011:08:24 14:41:04", cut: true},
		// Only uncompressed RGB thumbnails.
		{file: "powershot-sd450-cut.dng", err: ErrNoPreview},
		{file: "d1-cut.nef", err: ErrNoPreview},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b := readFile(t, "raw", tc.file)
			p, err := FindBytes(b)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Preview{Offset: tc.offset, Length: tc.lngth, Width: tc.w, Height: tc.h, Orientation: tc.orient, Container: tc.container, Source: tc.source}
			if tc.taken != "" {
				want.Taken, _ = time.Parse("2006:01:02 15:04:05", tc.taken)
			}
			want.Truncated = tc.cut
			if p != want {
				t.Fatalf("got  %+v\nwant %+v", p, want)
			}
			checkPreview(t, b, p)
			// The same through a file.
			fh, err := os.Open(filepath.Join("../testdata/raw", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			if q, err := Find(fh, int64(len(b))); err != nil || q != p {
				t.Fatalf("Find on the file: %+v, %v", q, err)
			}
		})
	}
}

func TestNotRAW(t *testing.T) {
	for _, b := range [][]byte{
		readFile(t, "photos", "cops.jpg"),
		readFile(t, "photos", "dice.png"),
		readFile(t, "heif", "sony.heif"),
		nil,
		[]byte("II"),
		[]byte("FUJIFILM"),
	} {
		if _, err := FindBytes(b); !errors.Is(err, ErrNotRAW) {
			t.Errorf("% x...: err %v, want ErrNotRAW", b[:min(len(b), 12)], err)
		}
	}
	// A plain TIFF photo is a TIFF container without a JPEG preview.
	if _, err := FindBytes(readFile(t, "photos", "rgb.tiff")); !errors.Is(err, ErrNoPreview) {
		t.Errorf("rgb.tiff: %v, want ErrNoPreview", err)
	}
}

func TestExtensions(t *testing.T) {
	for _, n := range []string{"a.dng", "B.CR2", "x/y.cr3", "c.NEF", "d.nrw", "e.arw", "f.sr2", "g.raf", "h.orf", "i.rw2", "j.pef", "k.srw", "l.crw"} {
		if !IsRAW(n) {
			t.Errorf("IsRAW(%q) = false", n)
		}
	}
	for _, n := range []string{"a.jpg", "b.heic", "c.tif", "dng", "e.cr2.txt", ""} {
		if IsRAW(n) {
			t.Errorf("IsRAW(%q) = true", n)
		}
	}
}

// errReader fails every read: a storage error must be reported as such,
// not as a missing preview.
type errReader struct{}

var errDisk = errors.New("disk on fire")

func (errReader) ReadAt([]byte, int64) (int, error) { return 0, errDisk }

// shortReader is a file that is shorter than its stated size.
type shortReader struct{ b []byte }

func (s shortReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(s.b)) {
		return 0, io.EOF
	}
	n := copy(p, s.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestReadErrors(t *testing.T) {
	if _, err := Find(errReader{}, 1<<20); !errors.Is(err, errDisk) {
		t.Errorf("err %v, want the reader's", err)
	}
	b := readFile(t, "raw", "d7100.nef")
	// Stated size larger than the data: reads past the data fail cleanly.
	p, err := Find(shortReader{b[:100000]}, int64(len(b)))
	if err == nil {
		t.Fatalf("found %+v in a file cut short of its previews", p)
	}
	if !errors.Is(err, ErrNoPreview) {
		t.Fatalf("err %v, want ErrNoPreview", err)
	}
}

// TestTruncatedRealFiles cuts each real file at many lengths: Find never
// panics, and any preview it still returns is whole and decodable.
func TestTruncatedRealFiles(t *testing.T) {
	entries, err := os.ReadDir("../testdata/raw")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !IsRAW(e.Name()) {
			continue
		}
		b := readFile(t, "raw", e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			for i := 0; i <= 200; i++ {
				n := len(b) * i / 200
				if i < 40 {
					n = i * 7
				}
				n = min(n, len(b))
				p, err := FindBytes(b[:n])
				if err != nil {
					if !errors.Is(err, ErrNotRAW) && !errors.Is(err, ErrNoPreview) {
						t.Fatalf("cut at %d: unexpected error %v", n, err)
					}
					continue
				}
				checkPreview(t, b[:n], p)
			}
		})
	}
}
