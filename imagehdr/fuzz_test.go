package imagehdr

import (
	"encoding/binary"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, must
// return only its own errors with a zero Header, must keep Frames within
// the cap, and must be deterministic. The seeds are the real photographs
// and the synthetic files of the other tests.
func FuzzParse(f *testing.F) {
	for _, name := range realPhotos(f) {
		b := readPhoto(f, name)
		// Small seeds keep the mutator fast: the first 8 KiB holds the
		// headers of most of these files, and the smaller files go in
		// whole.
		f.Add(b[:min(len(b), 8<<10)], 5)
		if len(b) <= 100<<10 {
			f.Add(b, 100)
		}
	}
	le := binary.LittleEndian
	heic := ftyp("heic", "mif1", "heic")
	for _, seed := range [][]byte{
		jpegFile(jfif, jsof(0xC2, 8, 48, 64, 3), jsos(3)),
		pngFile(ihdr(7, 5, 16, 6, 1), pngChunk("acTL", make([]byte, 8)), pngChunk("tRNS", []byte{0, 0})),
		gifFile(10, 8, gifFrame{w: 1, h: 1, interlaced: true}, gifFrame{left: 5, top: 5, w: 9, h: 9, localTable: true}),
		animatedWebP(5),
		webpFile(vp8x(0x10, 30, 20), riff("ALPH", []byte{0}), vp8(30, 20)),
		webpFile(vp8l(30, 20, true)),
		tiffFile(le, [][]tiffEntry{rgbIFD(64, 48), rgbIFD(64, 48, short(tagCompression, 5))}, 1, 0),
		tiffFile(binary.BigEndian, [][]tiffEntry{rgbIFD(64, 48, long(tagTileWidth, 16))}),
		bigTIFF(64, 48, 3),
		simpleHEIF(ftyp("heix", "mif1"), "hvc1", 64, 48, hvcC(10), irot(1), pixi(10, 10, 10)),
		simpleHEIF(ftyp("mif1", "avif"), "av01", 64, 48, av1C(12)),
		heifFile(heic, 1,
			[]heifItem{{id: 1, typ: "grid", props: []int{1}}, {id: 2, typ: "hvc1", hidden: true, props: []int{2, 3}}, {id: 3, typ: "hvc1", props: []int{2, 4}}},
			[][]byte{ispe(64, 48), ispe(32, 32), hvcC(8), auxC(alphaURN)},
			[]heifRef{{"dimg", 1, []int{2}}, {"auxl", 3, []int{1}}}),
	} {
		f.Add(seed, 3)
	}
	f.Fuzz(func(t *testing.T, b []byte, maxFrames int) {
		maxFrames %= 1000 // keep the cap small enough to be exercised
		h, err := Parse(b, maxFrames)
		checkInvariants(t, b, maxFrames, h, err)
		h2, err2 := Parse(b, maxFrames)
		if h2 != h || (err == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %+v %v / %+v %v", h, err, h2, err2)
		}
		if err != nil {
			return
		}
		// A higher cap only lets the count grow; nothing else changes.
		hi, err := Parse(b, max(maxFrames, 1)+10)
		if err != nil {
			// Only a TIFF IFD loop can surface once more pages are walked.
			if h.Format != TIFF {
				t.Fatalf("higher cap failed: %v (was %+v)", err, h)
			}
			return
		}
		got := hi
		if hi.Frames < h.Frames {
			t.Fatalf("higher cap counted fewer frames: %+v vs %+v", h, hi)
		}
		if h.Format == GIF && hi.Width >= h.Width && hi.Height >= h.Height {
			// Frames walked past the first cap may grow the canvas.
			got.Width, got.Height = h.Width, h.Height
		}
		got.Frames = h.Frames
		if got != h {
			t.Fatalf("cap changed more than Frames: %+v vs %+v", h, hi)
		}
	})
}
