package rawpreview

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzPreview: Find never panics or errs oddly on any input, agrees with
// itself through a file-like ReaderAt, and any preview it returns lies in
// the file and is a JPEG the standard decoder reads at the stated size.
// Seeded with the real RAW files' first 16 KB and a small JPEG.
func FuzzPreview(f *testing.F) {
	entries, err := os.ReadDir("../testdata/raw")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !IsRAW(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("../testdata/raw", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		// Large seeds make the fuzzer crawl (each new input is minimised
		// byte by byte): seed with each file's structure, its first 16 KB;
		// the table tests read the files whole.
		f.Add(b[:min(len(b), 16<<10)])
	}
	jpg, err := os.ReadFile("../testdata/photos/orientation/orientation_6.jpg")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(jpg)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := FindBytes(b)
		if err != nil {
			if !errors.Is(err, ErrNotRAW) && !errors.Is(err, ErrNoPreview) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		checkPreview(t, b, p)
		q, err := Find(shortReader{b}, int64(len(b)))
		if err != nil || q != p {
			t.Fatalf("through a ReaderAt: %+v, %v; in memory %+v", q, err, p)
		}
	})
}
