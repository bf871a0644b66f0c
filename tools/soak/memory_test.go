package main

import (
	"bytes"
	"image/png"
	"os"
	"testing"
)

// The generated Adam7 PNG decodes (Go's decoder checks every pass's
// scanline count and length) to transparent black at every size, including
// sizes where some passes are empty.
func TestPNGAdam7(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {2, 1}, {1, 9}, {3, 5}, {5, 3}, {8, 8}, {9, 9}, {17, 13}, {100, 33}} {
		var b bytes.Buffer
		if err := pngAdam7(&b, sz[0], sz[1]); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatalf("%dx%d: %v", sz[0], sz[1], err)
		}
		if r := img.Bounds(); r.Dx() != sz[0] || r.Dy() != sz[1] {
			t.Fatalf("%dx%d: decoded %v", sz[0], sz[1], r)
		}
		for y := 0; y < sz[1]; y++ {
			for x := 0; x < sz[0]; x++ {
				if r, g, bl, a := img.At(x, y).RGBA(); r|g|bl|a != 0 {
					t.Fatalf("%dx%d: pixel %d,%d = %d %d %d %d", sz[0], sz[1], x, y, r, g, bl, a)
				}
			}
		}
	}
}

// writeReport replaces only the parts a run produced.
func TestWriteReport(t *testing.T) {
	f := t.TempDir() + "/R.md"
	read := func() string { b, _ := os.ReadFile(f); return string(b) }
	if err := writeReport(f, "# Reliability\n\nsoak 1\n", ""); err != nil {
		t.Fatal(err)
	}
	writeReport(f, "", memHeading+"\n\nmem 1\n")
	if got, want := read(), "# Reliability\n\nsoak 1\n\n"+memHeading+"\n\nmem 1\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	writeReport(f, "# Reliability\n\nsoak 2\n", "")
	if got, want := read(), "# Reliability\n\nsoak 2\n\n"+memHeading+"\n\nmem 1\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	writeReport(f, "", memHeading+"\n\nmem 2\n")
	if got, want := read(), "# Reliability\n\nsoak 2\n\n"+memHeading+"\n\nmem 2\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Another section (make replicas writes one) survives both parts.
	os.WriteFile(f, []byte(read()+"\n## Replicas and rolling restarts\n\nreplicas 1\n"), 0o644)
	writeReport(f, "# Reliability\n\nsoak 3\n", "")
	writeReport(f, "", memHeading+"\n\nmem 3\n")
	if got, want := read(), "# Reliability\n\nsoak 3\n\n"+memHeading+"\n\nmem 3\n\n## Replicas and rolling restarts\n\nreplicas 1\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
