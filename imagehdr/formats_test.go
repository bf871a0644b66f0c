package imagehdr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
	"time"
)

// parseCase is one synthetic input and what Parse must say about it.
type parseCase struct {
	name string
	data []byte
	max  int    // maxFrames; 0 means 100
	want Header // ignored when err is set
	err  error
}

func runCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = 100
			}
			got, err := Parse(tc.data, max)
			checkInvariants(t, tc.data, max, got, err)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v (header %+v)", err, tc.err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			checkTruncations(t, tc.data, max, got)
		})
	}
}

func TestJPEG(t *testing.T) {
	dqt := jseg(0xDB, make([]byte, 65)...)
	dht := jseg(0xC4, make([]byte, 29)...)
	base := Header{Format: JPEG, Width: 64, Height: 48, Bands: 3, BitsPerSample: 8, Frames: 1}
	prog := base
	prog.Progressive, prog.WholeFrame = true, true
	with := func(f func(*Header)) Header { h := base; f(&h); return h }
	file := func(sof []byte, ns int) []byte { return jpegFile(jfif, dqt, sof, dht, jsos(ns)) }

	runCases(t, []parseCase{
		{name: "baseline", data: file(jsof(0xC0, 8, 48, 64, 3), 3), want: base},
		{name: "extended 12-bit", data: file(jsof(0xC1, 12, 48, 64, 3), 3), want: with(func(h *Header) { h.BitsPerSample = 12 })},
		{name: "SOF2 progressive", data: file(jsof(0xC2, 8, 48, 64, 3), 3), want: prog},
		{name: "SOF6 progressive", data: file(jsof(0xC6, 8, 48, 64, 3), 3), want: prog},
		{name: "SOF10 progressive", data: file(jsof(0xCA, 8, 48, 64, 3), 3), want: prog},
		{name: "SOF14 progressive", data: file(jsof(0xCE, 8, 48, 64, 3), 3), want: prog},
		{name: "SOF3 lossless", data: file(jsof(0xC3, 8, 48, 64, 3), 3), want: base},
		{name: "grey", data: file(jsof(0xC0, 8, 48, 64, 1), 1), want: with(func(h *Header) { h.Bands = 1 })},
		{name: "CMYK", data: file(jsof(0xC0, 8, 48, 64, 4), 4), want: with(func(h *Header) { h.Bands = 4 })},
		// Components in separate scans: libjpeg buffers the whole image.
		{name: "sequential multi-scan", data: file(jsof(0xC0, 8, 48, 64, 3), 1), want: with(func(h *Header) { h.WholeFrame = true })},
		{name: "fill bytes", data: jpegFile(jfif, []byte{0xFF, 0xFF, 0xFF}, jsof(0xC0, 8, 48, 64, 3), []byte{0xFF}, jsos(3)), want: base},
		{name: "garbage between segments", data: jpegFile(jfif, []byte{0x00, 0x11, 0x22}, jsof(0xC0, 8, 48, 64, 3), jsos(3)), want: base},
		{name: "stuffed zero and RST", data: jpegFile(jfif, []byte{0xFF, 0x00, 0xFF, 0xD0, 0xFF, 0x01}, jsof(0xC0, 8, 48, 64, 3), jsos(3)), want: base},
		{name: "DHT and DAC are not SOF", data: jpegFile(jseg(0xCC, 0, 0), dht, jsof(0xC0, 8, 48, 64, 3), jsos(3)), want: base},
		{name: "big APP segments", data: jpegFile(jseg(0xE1, make([]byte, 65533)...), jseg(0xE2, make([]byte, 65533)...), jsof(0xC0, 8, 48, 64, 3), jsos(3)), want: base},
		{name: "max dimensions", data: file(jsof(0xC0, 8, 65535, 65535, 3), 3), want: with(func(h *Header) { h.Width, h.Height = 65535, 65535 })},

		{name: "DNL height 0", data: file(jsof(0xC0, 8, 0, 64, 3), 3), err: ErrMalformed},
		{name: "width 0", data: file(jsof(0xC0, 8, 48, 0, 3), 3), err: ErrMalformed},
		{name: "no components", data: file(jsof(0xC0, 8, 48, 64, 0), 1), err: ErrMalformed},
		{name: "SOF shorter than its components", data: jpegFile(jseg(0xC0, 8, 0, 48, 0, 64, 3, 1, 0x11, 0), jsos(3)), err: ErrMalformed},
		{name: "EOI before SOF", data: jpegFile(jfif, []byte{0xFF, 0xD9}, jsof(0xC0, 8, 48, 64, 3)), err: ErrMalformed},
		{name: "SOS before SOF", data: jpegFile(jfif, jsos(3), jsof(0xC0, 8, 48, 64, 3)), err: ErrMalformed},
		{name: "second SOI", data: jpegFile([]byte{0xFF, 0xD8}, jsof(0xC0, 8, 48, 64, 3), jsos(3)), err: ErrMalformed},
		{name: "second SOF", data: jpegFile(jsof(0xC0, 8, 48, 64, 3), jsof(0xC2, 8, 48, 64, 3), jsos(3)), err: ErrMalformed},
		{name: "segment length 1", data: jpegFile([]byte{0xFF, 0xE0, 0x00, 0x01}, jsof(0xC0, 8, 48, 64, 3), jsos(3)), err: ErrMalformed},
		{name: "APP longer than file", data: cat([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}, make([]byte, 100)), err: ErrMalformed},
		{name: "no scan", data: cat([]byte{0xFF, 0xD8}, jfif, jsof(0xC0, 8, 48, 64, 3)), err: ErrMalformed},
		{name: "signature only", data: []byte{0xFF, 0xD8, 0xFF}, err: ErrMalformed},
	})
}

// TestJPEGFromGoEncoder checks a real encoder's output, then the same file
// with its SOF0 marker patched to SOF2 (Go cannot write progressive JPEG;
// the header alone is what Parse reads).
func TestJPEGFromGoEncoder(t *testing.T) {
	img := image.NewYCbCr(image.Rect(0, 0, 123, 45), image.YCbCrSubsampleRatio420)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	h, err := Parse(b, 1)
	want := Header{Format: JPEG, Width: 123, Height: 45, Bands: 3, BitsPerSample: 8, Frames: 1}
	if err != nil || h != want {
		t.Fatalf("baseline: %+v %v", h, err)
	}
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0 in Go's output")
	}
	p := bytes.Clone(b)
	p[i+1] = 0xC2
	want.Progressive, want.WholeFrame = true, true
	if h, err := Parse(p, 1); err != nil || h != want {
		t.Fatalf("patched to SOF2: %+v %v", h, err)
	}
}

func TestPNG(t *testing.T) {
	rgba := Header{Format: PNG, Width: 7, Height: 5, Bands: 4, BitsPerSample: 8, Frames: 1}
	with := func(f func(*Header)) Header { h := rgba; f(&h); return h }
	actl := func(n uint32) []byte { return pngChunk("acTL", cat(u32be(n), u32be(0))) }
	trns := pngChunk("tRNS", []byte{0, 0})

	runCases(t, []parseCase{
		{name: "RGBA", data: pngFile(ihdr(7, 5, 8, 6, 0)), want: rgba},
		{name: "RGB 16-bit", data: pngFile(ihdr(7, 5, 16, 2, 0)), want: with(func(h *Header) { h.Bands, h.BitsPerSample = 3, 16 })},
		{name: "grey 1-bit", data: pngFile(ihdr(7, 5, 1, 0, 0)), want: with(func(h *Header) { h.Bands = 1 })},
		{name: "grey alpha 16-bit", data: pngFile(ihdr(7, 5, 16, 4, 0)), want: with(func(h *Header) { h.Bands, h.BitsPerSample = 2, 16 })},
		{name: "palette", data: pngFile(ihdr(7, 5, 4, 3, 0), pngChunk("PLTE", make([]byte, 6))), want: with(func(h *Header) { h.Bands = 3 })},
		{name: "palette tRNS", data: pngFile(ihdr(7, 5, 8, 3, 0), pngChunk("PLTE", make([]byte, 6)), trns), want: rgba},
		{name: "grey tRNS", data: pngFile(ihdr(7, 5, 8, 0, 0), trns), want: with(func(h *Header) { h.Bands = 2 })},
		{name: "RGB tRNS", data: pngFile(ihdr(7, 5, 8, 2, 0), pngChunk("tRNS", make([]byte, 6))), want: rgba},
		{name: "RGBA tRNS ignored", data: pngFile(ihdr(7, 5, 8, 6, 0), trns), want: rgba},
		{name: "two tRNS", data: pngFile(ihdr(7, 5, 8, 2, 0), trns, trns), want: rgba},
		{name: "interlaced 16-bit", data: pngFile(ihdr(99000, 1000, 16, 6, 1)),
			want: with(func(h *Header) {
				h.Width, h.Height, h.BitsPerSample, h.Progressive, h.WholeFrame = 99000, 1000, 16, true, true
			})},
		{name: "APNG", data: pngFile(ihdr(7, 5, 8, 6, 0), actl(3)), want: with(func(h *Header) { h.Frames = 3 })},
		{name: "APNG capped", data: pngFile(ihdr(7, 5, 8, 6, 0), actl(1e9)), max: 50, want: with(func(h *Header) { h.Frames = 51 })},
		{name: "APNG zero frames", data: pngFile(ihdr(7, 5, 8, 6, 0), actl(0)), want: rgba},
		{name: "acTL after IDAT ignored", data: cat(pngFile(ihdr(7, 5, 8, 6, 0))[:8+25+14], actl(5), pngChunk("IEND", nil)), want: rgba},
		{name: "max width", data: pngFile(ihdr(1<<31-1, 1, 8, 6, 0)), want: with(func(h *Header) { h.Width, h.Height = 1<<31-1, 1 })},

		{name: "bad colour type", data: pngFile(ihdr(7, 5, 8, 5, 0)), err: ErrMalformed},
		{name: "16-bit palette", data: pngFile(ihdr(7, 5, 16, 3, 0)), err: ErrMalformed},
		{name: "3-bit grey", data: pngFile(ihdr(7, 5, 3, 0, 0)), err: ErrMalformed},
		{name: "width 0", data: pngFile(ihdr(0, 5, 8, 6, 0)), err: ErrMalformed},
		{name: "height 2^31", data: pngFile(ihdr(7, 1<<31, 8, 6, 0)), err: ErrMalformed},
		{name: "interlace 2", data: pngFile(ihdr(7, 5, 8, 6, 2)), err: ErrMalformed},
		{name: "first chunk not IHDR", data: pngFile(pngChunk("gAMA", make([]byte, 4)), ihdr(7, 5, 8, 6, 0)), err: ErrMalformed},
		{name: "IEND before IDAT", data: cat([]byte(sigPNG), ihdr(7, 5, 8, 6, 0), pngChunk("IEND", nil)), err: ErrMalformed},
		{name: "ends before IDAT", data: cat([]byte(sigPNG), ihdr(7, 5, 8, 6, 0), pngChunk("tEXt", []byte("a\x00b"))), err: ErrMalformed},
		{name: "chunk past end", data: cat([]byte(sigPNG), ihdr(7, 5, 8, 6, 0), u32be(1000), []byte("tEXt")), err: ErrMalformed},
		{name: "chunk length 2^31", data: cat([]byte(sigPNG), ihdr(7, 5, 8, 6, 0), u32be(1<<31), []byte("tEXt"), make([]byte, 20)), err: ErrMalformed},
	})
}

// TestPNGFromGoEncoder: Go writes 16-bit PNG; patching the IHDR interlace
// byte (and CRC) makes the header an interlaced one.
func TestPNGFromGoEncoder(t *testing.T) {
	img := image.NewNRGBA64(image.Rect(0, 0, 300, 200))
	img.Set(1, 1, color.NRGBA64{1, 2, 3, 4})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	want := Header{Format: PNG, Width: 300, Height: 200, Bands: 4, BitsPerSample: 16, Frames: 1}
	if h, err := Parse(buf.Bytes(), 1); err != nil || h != want {
		t.Fatalf("16-bit: %+v %v", h, err)
	}
	want.Progressive, want.WholeFrame = true, true
	if h, err := Parse(setPNGInterlace(buf.Bytes(), 1), 1); err != nil || h != want {
		t.Fatalf("16-bit interlaced: %+v %v", h, err)
	}
}

func TestGIF(t *testing.T) {
	one := Header{Format: GIF, Width: 10, Height: 8, Bands: 4, BitsPerSample: 8, WholeFrame: true, Frames: 1}
	with := func(f func(*Header)) Header { h := one; f(&h); return h }
	f1 := gifFrame{w: 1, h: 1}
	noTrailer := gifFile(10, 8, f1, f1)
	noTrailer = noTrailer[:len(noTrailer)-1]

	runCases(t, []parseCase{
		{name: "one frame", data: gifFile(10, 8, f1), want: one},
		{name: "GIF87a", data: append([]byte(sigGIF87), gifFile(10, 8, f1)[6:]...), want: one},
		{name: "ten frames", data: gifFile(10, 8, manyGIFFrames(10)...), want: with(func(h *Header) { h.Frames = 10 })},
		{name: "interlaced first frame", data: gifFile(10, 8, gifFrame{w: 1, h: 1, interlaced: true}, f1), want: with(func(h *Header) { h.Progressive, h.Frames = true, 2 })},
		{name: "interlaced later frame only", data: gifFile(10, 8, f1, gifFrame{w: 1, h: 1, interlaced: true}), want: with(func(h *Header) { h.Frames = 2 })},
		{name: "local colour table", data: gifFile(10, 8, gifFrame{w: 1, h: 1, localTable: true}, f1), want: with(func(h *Header) { h.Frames = 2 })},
		{name: "frame past screen grows canvas", data: gifFile(10, 8, gifFrame{left: 5, top: 6, w: 20, h: 30}), want: with(func(h *Header) { h.Width, h.Height = 25, 36 })},
		{name: "screen 0x0 sized by frames", data: gifFile(0, 0, gifFrame{w: 10, h: 8}), want: one},
		{name: "no trailer", data: noTrailer, want: with(func(h *Header) { h.Frames = 2 })},
		{name: "garbage after frames", data: append(noTrailer, 0x99, 0x2C), want: with(func(h *Header) { h.Frames = 2 })},
		{name: "cap", data: gifFile(10, 8, manyGIFFrames(10)...), max: 4, want: with(func(h *Header) { h.Frames = 5 })},

		{name: "no frames", data: gifFile(10, 8), err: ErrMalformed},
		{name: "zero screen no frames", data: gifFile(0, 0), err: ErrMalformed},
		{name: "truncated descriptor", data: gifFile(10, 8, f1)[:13+6+8+5], err: ErrMalformed},
		{name: "truncated screen", data: []byte("GIF89a\x01\x00"), err: ErrMalformed},
	})
}

// TestGIFBuilderDecodes makes sure the synthetic GIFs are real GIFs: Go's
// decoder agrees on the frame count and size.
func TestGIFBuilderDecodes(t *testing.T) {
	b := gifFile(3, 2, manyGIFFrames(7)...)
	g, err := gif.DecodeAll(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	h, err := Parse(b, 100)
	if err != nil || h.Frames != len(g.Image) || h.Width != g.Config.Width || h.Height != g.Config.Height {
		t.Fatalf("Parse %+v %v; image/gif %d frames %dx%d", h, err, len(g.Image), g.Config.Width, g.Config.Height)
	}
}

func TestWebP(t *testing.T) {
	lossy := Header{Format: WebP, Width: 300, Height: 200, Bands: 3, BitsPerSample: 8, WholeFrame: true, Frames: 1}
	with := func(f func(*Header)) Header { h := lossy; f(&h); return h }
	alpha := with(func(h *Header) { h.Bands = 4 })
	anim := func(n int) []byte {
		chunks := [][]byte{vp8x(0x12, 300, 200), riff("ANIM", make([]byte, 6))}
		for range n {
			chunks = append(chunks, anmf(300, 200, cat(riff("ALPH", []byte{0}), vp8(300, 200))))
		}
		return webpFile(chunks...)
	}
	cut := anim(3)
	cut = cut[:len(cut)-5]

	runCases(t, []parseCase{
		{name: "VP8", data: webpFile(vp8(300, 200)), want: lossy},
		{name: "VP8 scale bits ignored", data: webpFile(vp8(300|0xC000, 200|0x4000)), want: lossy},
		{name: "VP8L", data: webpFile(vp8l(300, 200, false)), want: lossy},
		{name: "VP8L alpha", data: webpFile(vp8l(300, 200, true)), want: alpha},
		{name: "VP8L max", data: webpFile(vp8l(16384, 16384, false)), want: with(func(h *Header) { h.Width, h.Height = 16384, 16384 })},
		{name: "VP8X still", data: webpFile(vp8x(0x08, 300, 200), vp8(300, 200), riff("EXIF", []byte{1, 2, 3})), want: lossy},
		{name: "VP8X ALPH", data: webpFile(vp8x(0, 300, 200), riff("ALPH", []byte{0}), vp8(300, 200)), want: alpha},
		{name: "VP8X alpha flag", data: webpFile(vp8x(0x10, 300, 200), vp8(300, 200)), want: alpha},
		{name: "VP8X VP8L alpha", data: webpFile(vp8x(0, 300, 200), vp8l(300, 200, true)), want: alpha},
		{name: "VP8X huge canvas", data: webpFile(vp8x(0, 1<<24, 1<<24), vp8(1, 1)), want: with(func(h *Header) { h.Width, h.Height = 1<<24, 1<<24 })},
		{name: "animated", data: anim(3), want: with(func(h *Header) { h.Bands, h.Frames = 4, 3 })},
		{name: "animated capped", data: anim(5), max: 2, want: with(func(h *Header) { h.Bands, h.Frames = 4, 3 })},
		{name: "animated, last frame cut", data: cut, want: with(func(h *Header) { h.Bands, h.Frames = 4, 2 })},
		{name: "chunks past RIFF size ignored", data: cat(webpFile(vp8x(0, 300, 200), vp8(300, 200)), riff("ALPH", []byte{0})), want: lossy},

		{name: "animation without frames", data: webpFile(vp8x(0x02, 300, 200), riff("ANIM", make([]byte, 6))), err: ErrMalformed},
		{name: "VP8X without image", data: webpFile(vp8x(0, 300, 200)), err: ErrMalformed},
		{name: "truncated VP8X", data: webpFile(riff("VP8X", []byte{0, 0, 0, 0, 1})), err: ErrMalformed},
		{name: "unknown first chunk", data: webpFile(riff("ICCP", make([]byte, 10))), err: ErrMalformed},
		{name: "VP8 inter frame", data: webpFile(riff("VP8 ", []byte{0x51, 0, 0, 0x9d, 1, 0x2a, 1, 0, 1, 0})), err: ErrMalformed},
		{name: "VP8 bad start code", data: webpFile(riff("VP8 ", []byte{0x50, 0, 0, 0x9d, 1, 0x2b, 1, 0, 1, 0})), err: ErrMalformed},
		{name: "VP8 zero size", data: webpFile(vp8(0, 200)), err: ErrMalformed},
		{name: "VP8L bad signature", data: webpFile(riff("VP8L", []byte{0x2e, 0, 0, 0, 0})), err: ErrMalformed},
		{name: "VP8L version 1", data: webpFile(riff("VP8L", []byte{0x2f, 0, 0, 0, 0x20})), err: ErrMalformed},
		{name: "no chunk", data: webpFile(), err: ErrMalformed},
		{name: "RIFF size below header", data: cat([]byte("RIFF"), u32le(2), []byte("WEBP"), vp8(300, 200)), err: ErrMalformed},
	})
}

func TestTIFF(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	rgb := Header{Format: TIFF, Width: 640, Height: 480, Bands: 3, BitsPerSample: 8, Frames: 1}
	with := func(f func(*Header)) Header { h := rgb; f(&h); return h }
	page := rgbIFD(640, 480)
	pages := func(n int) [][]tiffEntry {
		p := make([][]tiffEntry, n)
		for i := range p {
			p[i] = page
		}
		return p
	}
	lzw := short(tagCompression, 5)

	runCases(t, []parseCase{
		{name: "little-endian", data: tiffFile(le, pages(1)), want: rgb},
		{name: "big-endian", data: tiffFile(be, pages(1)), want: rgb},
		{name: "short dimensions", data: tiffFile(be, [][]tiffEntry{{short(tagImageWidth, 640), short(tagImageLength, 480), short(tagSamplesPerPixel, 3), short(tagBitsPerSample, 8, 8, 8)}}), want: rgb},
		{name: "defaults: bilevel", data: tiffFile(le, [][]tiffEntry{{long(tagImageWidth, 640), long(tagImageLength, 480)}}), want: with(func(h *Header) { h.Bands, h.BitsPerSample = 1, 1 })},
		{name: "16-bit RGBA", data: tiffFile(le, [][]tiffEntry{{long(tagImageWidth, 640), long(tagImageLength, 480), short(tagSamplesPerPixel, 4), short(tagBitsPerSample, 16, 16, 16, 16)}}),
			want: with(func(h *Header) { h.Bands, h.BitsPerSample = 4, 16 })},
		{name: "palette expands to RGB", data: tiffFile(le, [][]tiffEntry{{long(tagImageWidth, 640), long(tagImageLength, 480), short(tagBitsPerSample, 8), short(tagPhotometric, 3)}}), want: rgb},
		{name: "five pages", data: tiffFile(le, pages(5)), want: with(func(h *Header) { h.Frames = 5 })},
		{name: "pages capped", data: tiffFile(be, pages(50)), max: 7, want: with(func(h *Header) { h.Frames = 8 })},
		{name: "next IFD outside file", data: tiffFile(le, pages(3), 1, 2, tiffOutside), want: with(func(h *Header) { h.Frames = 3 })},
		{name: "compressed single strip", data: tiffFile(le, [][]tiffEntry{rgbIFD(640, 480, lzw)}), want: with(func(h *Header) { h.WholeFrame = true })},
		{name: "compressed single strip, RowsPerStrip given", data: tiffFile(le, [][]tiffEntry{rgbIFD(640, 480, lzw, long(tagRowsPerStrip, 480))}), want: with(func(h *Header) { h.WholeFrame = true })},
		{name: "compressed strips", data: tiffFile(le, [][]tiffEntry{rgbIFD(640, 480, lzw, long(tagRowsPerStrip, 16))}), want: rgb},
		{name: "compressed tiles", data: tiffFile(le, [][]tiffEntry{rgbIFD(640, 480, lzw, long(tagTileWidth, 256))}), want: rgb},
		{name: "uncompressed single strip", data: tiffFile(le, [][]tiffEntry{rgbIFD(640, 480, short(tagCompression, 1))}), want: rgb},
		{name: "BigTIFF", data: bigTIFF(1<<33, 3, 4), want: Header{Format: TIFF, Width: 1 << 33, Height: 3, Bands: 4, BitsPerSample: 16, Frames: 1}},

		{name: "IFD self-loop", data: tiffFile(le, pages(1), 0), err: ErrMalformed},
		{name: "two-IFD loop", data: tiffFile(be, pages(2), 1, 0), err: ErrMalformed},
		{name: "loop after three pages", data: tiffFile(le, pages(4), 1, 2, 3, 1), err: ErrMalformed},
		// A loop longer than the cap is cut by the cap before it closes:
		// the caller refuses the "too many pages" file either way.
		{name: "loop longer than cap", data: tiffFile(le, pages(12), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0), max: 5, want: with(func(h *Header) { h.Frames = 6 })},
		{name: "BitsPerSample past end", data: tiffFile(le, pages(1))[:len(tiffFile(le, pages(1)))-6], err: ErrMalformed},
		{name: "width of type RATIONAL", data: tiffFile(le, [][]tiffEntry{{{tagImageWidth, 5, []uint32{640, 1}}, long(tagImageLength, 480)}}), err: ErrMalformed},
		{name: "no width", data: tiffFile(le, [][]tiffEntry{{long(tagImageLength, 480)}}), err: ErrMalformed},
		{name: "SamplesPerPixel 0", data: tiffFile(le, [][]tiffEntry{{long(tagImageWidth, 640), long(tagImageLength, 480), short(tagSamplesPerPixel, 0)}}), err: ErrMalformed},
		{name: "IFD0 outside file", data: cat([]byte("II*\x00"), u32le(1000)), err: ErrMalformed},
		{name: "IFD0 offset 0", data: cat([]byte("II*\x00"), u32le(0)), err: ErrMalformed},
		{name: "IFD count past end", data: cat([]byte("II*\x00"), u32le(8), u16le(1000), make([]byte, 40)), err: ErrMalformed},
		{name: "header only", data: []byte("MM\x00*"), err: ErrMalformed},
		{name: "bad BigTIFF", data: cat([]byte("II+\x00"), []byte{4, 0, 0, 0}, make([]byte, 8)), err: ErrMalformed},
	})
}

func TestHEIF(t *testing.T) {
	heic := ftyp("heic", "mif1", "heic")
	hdr := Header{Format: HEIF, Width: 6000, Height: 4000, Bands: 3, BitsPerSample: 8, WholeFrame: true, Frames: 1, Brand: "heic"}
	with := func(f func(*Header)) Header { h := hdr; f(&h); return h }

	// Primary 1 and an alpha auxiliary image 2.
	alphaFile := func(urn string, auxOf int) []byte {
		return heifFile(heic, 1,
			[]heifItem{{id: 1, typ: "hvc1", props: []int{1, 2}}, {id: 2, typ: "hvc1", hidden: true, props: []int{1, 2, 3}}},
			[][]byte{ispe(6000, 4000), hvcC(8), auxC(urn)},
			[]heifRef{{"auxl", 2, []int{auxOf}}})
	}
	// A 2x2 grid (item 1) of hidden 10-bit tiles 2-5, and a thumbnail 6.
	grid := heifFile(heic, 1,
		[]heifItem{
			{id: 1, typ: "grid", props: []int{1}},
			{id: 2, typ: "hvc1", hidden: true, props: []int{2, 3}}, {id: 3, typ: "hvc1", hidden: true, props: []int{2, 3}},
			{id: 4, typ: "hvc1", hidden: true, props: []int{2, 3}}, {id: 5, typ: "hvc1", hidden: true, props: []int{2, 3}},
			{id: 6, typ: "hvc1", props: []int{4, 3}},
			{id: 7, typ: "Exif"},
		},
		[][]byte{ispe(6000, 4000), ispe(3000, 2000), hvcC(10), ispe(320, 240)},
		[]heifRef{{"dimg", 1, []int{2, 3, 4, 5}}, {"thmb", 6, []int{1}}, {"cdsc", 7, []int{1}}})
	// n visible top-level images.
	multi := func(n int) []byte {
		var items []heifItem
		for i := 1; i <= n; i++ {
			items = append(items, heifItem{id: i, typ: "hvc1", props: []int{1, 2}})
		}
		return heifFile(heic, 1, items, [][]byte{ispe(6000, 4000), hvcC(8)}, nil)
	}
	// meta with a 64-bit box size.
	wideMeta := func() []byte {
		f := simpleHEIF(heic, "hvc1", 6000, 4000, hvcC(8))
		n := len(ftyp("heic", "mif1", "heic"))
		metaLen := int(binary.BigEndian.Uint32(f[n:]))
		return cat(f[:n], u32be(1), []byte("meta"), binary.BigEndian.AppendUint64(nil, uint64(metaLen+8)), f[n+8:])
	}()

	runCases(t, []parseCase{
		{name: "heic", data: simpleHEIF(heic, "hvc1", 6000, 4000, hvcC(8)), want: hdr},
		// Sony's 10-bit HEIF brand.
		{name: "heix 10-bit", data: simpleHEIF(ftyp("heix", "mif1", "heix"), "hvc1", 6000, 4000, hvcC(10)),
			want: with(func(h *Header) { h.BitsPerSample, h.Brand = 10, "heix" })},
		{name: "heix as compatible brand only", data: simpleHEIF(ftyp("xxxx", "heix"), "hvc1", 6000, 4000, hvcC(10)),
			want: with(func(h *Header) { h.BitsPerSample, h.Brand = 10, "xxxx" })},
		{name: "pixi wins over codec config", data: simpleHEIF(heic, "hvc1", 6000, 4000, hvcC(8), pixi(12, 12, 12)), want: with(func(h *Header) { h.BitsPerSample = 12 })},
		{name: "msf1", data: simpleHEIF(ftyp("msf1", "msf1"), "hvc1", 6000, 4000, hvcC(8)), want: with(func(h *Header) { h.Brand = "msf1" })},
		{name: "irot 90", data: simpleHEIF(heic, "hvc1", 6000, 4000, hvcC(8), irot(1)), want: with(func(h *Header) { h.Rotated = true })},
		{name: "irot 180", data: simpleHEIF(heic, "hvc1", 6000, 4000, hvcC(8), irot(2)), want: hdr},
		{name: "irot 270", data: simpleHEIF(heic, "hvc1", 6000, 4000, hvcC(8), irot(3)), want: with(func(h *Header) { h.Rotated = true })},
		{name: "alpha auxiliary", data: alphaFile(alphaURN, 1), want: with(func(h *Header) { h.Bands = 4 })},
		{name: "HEVC alpha auxiliary", data: alphaFile("urn:mpeg:hevc:2015:auxid:1", 1), want: with(func(h *Header) { h.Bands = 4 })},
		{name: "depth auxiliary", data: alphaFile("urn:mpeg:hevc:2015:auxid:2", 1), want: hdr},
		{name: "alpha of another item", data: alphaFile(alphaURN, 9), want: hdr},
		{name: "grid of 10-bit tiles with thumbnail", data: grid, want: with(func(h *Header) { h.BitsPerSample = 10 })},
		{name: "three top-level images", data: multi(3), want: with(func(h *Header) { h.Frames = 3 })},
		{name: "top-level images capped", data: multi(9), max: 4, want: with(func(h *Header) { h.Frames = 5 })},
		{name: "64-bit box size", data: wideMeta, want: hdr},
		{name: "AVIF brand", data: simpleHEIF(ftyp("avif", "mif1", "avif"), "av01", 6000, 4000, av1C(10)),
			want: with(func(h *Header) { h.Format, h.BitsPerSample, h.Brand = AVIF, 10, "avif" })},
		{name: "AVIF by compatible brand and av01", data: simpleHEIF(ftyp("mif1", "mif1", "avif"), "av01", 6000, 4000, av1C(12)),
			want: with(func(h *Header) { h.Format, h.BitsPerSample, h.Brand = AVIF, 12, "mif1" })},
		{name: "avif compatible but hvc1 item", data: simpleHEIF(ftyp("mif1", "heic", "avif"), "hvc1", 6000, 4000, hvcC(8)),
			want: with(func(h *Header) { h.Brand = "mif1" })},
		{name: "av01 without avif brand", data: simpleHEIF(ftyp("mif1", "mif1"), "av01", 6000, 4000, av1C(8)), want: with(func(h *Header) { h.Brand = "mif1" })},
		{name: "unprintable brand", data: simpleHEIF(ftyp("\x00\x01ab", "heic"), "hvc1", 6000, 4000, hvcC(8)), want: with(func(h *Header) { h.Brand = "??ab" })},

		{name: "MP4 video", data: cat(ftyp("isom", "isom", "mp42"), box("moov")), err: ErrUnknown},
		{name: "Canon CR3", data: cat(ftyp("crx ", "crx ", "isom"), box("moov")), err: ErrUnknown},
		{name: "ftyp too small", data: cat(u32be(10), []byte("ftypheic"), make([]byte, 20)), err: ErrUnknown},
		{name: "no meta", data: cat(heic, box("mdat", make([]byte, 8))), err: ErrMalformed},
		{name: "meta after truncated mdat", data: cat(heic, u32be(1<<20), []byte("mdat"), simpleHEIF(heic, "hvc1", 1, 1, hvcC(8))), err: ErrMalformed},
		{name: "no pitm", data: cat(heic, fbox("meta", 0, 0, fbox("hdlr", 0, 0, make([]byte, 20)))), err: ErrMalformed},
		{name: "primary without ispe", data: heifFile(heic, 1, []heifItem{{id: 1, typ: "hvc1", props: []int{1}}}, [][]byte{hvcC(8)}, nil), err: ErrMalformed},
		{name: "ispe on another item", data: heifFile(heic, 2, []heifItem{{id: 1, typ: "hvc1", props: []int{1}}}, [][]byte{ispe(6000, 4000)}, nil), err: ErrMalformed},
		{name: "zero ispe", data: simpleHEIF(heic, "hvc1", 0, 4000, hvcC(8)), err: ErrMalformed},
		{name: "property index past ipco", data: heifFile(heic, 1, []heifItem{{id: 1, typ: "hvc1", props: []int{5}}}, [][]byte{ispe(6000, 4000)}, nil), err: ErrMalformed},
		{name: "truncated ftyp", data: heic[:20], err: ErrMalformed},
	})
}

// TestHEIFWideIPMA covers ipma version 1 (32-bit item IDs) with 15-bit
// property indexes and pitm/iinf version 1, which the builder does not
// write.
func TestHEIFWideIPMA(t *testing.T) {
	props := [][]byte{ispe(1, 1), ispe(4000, 3000), hvcC(10)}
	meta := fbox("meta", 0, 0,
		fbox("pitm", 1, 0, u32be(70000)),
		fbox("iinf", 1, 0, u32be(1), fbox("infe", 3, 0, u32be(70000), u16be(0), []byte("hvc1\x00"))),
		box("iprp", box("ipco", cat(props...)),
			fbox("ipma", 1, 1, u32be(1), u32be(70000), []byte{2}, u16be(0x8000|2), u16be(3))))
	b := cat(ftyp("heic", "mif1"), meta)
	want := Header{Format: HEIF, Width: 4000, Height: 3000, Bands: 3, BitsPerSample: 10, WholeFrame: true, Frames: 1, Brand: "heic"}
	if h, err := Parse(b, 10); err != nil || h != want {
		t.Fatalf("%+v %v", h, err)
	}
}

func TestUnknownAndSignaturePrefixes(t *testing.T) {
	runCases(t, []parseCase{
		{name: "empty", data: nil, err: ErrUnknown},
		{name: "SVG", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), err: ErrUnknown},
		{name: "XML SVG", data: []byte(`<?xml version="1.0"?><svg/>`), err: ErrUnknown},
		{name: "PDF", data: []byte("%PDF-1.7\n"), err: ErrUnknown},
		{name: "BMP", data: cat([]byte("BM"), make([]byte, 60)), err: ErrUnknown},
		{name: "JPEG 2000", data: []byte("\x00\x00\x00\x0cjP  \r\n\x87\n"), err: ErrUnknown},
		{name: "WAV", data: cat([]byte("RIFF"), u32le(100), []byte("WAVEfmt ")), err: ErrUnknown},
		{name: "text", data: []byte("hello, world"), err: ErrUnknown},
		{name: "JPEG without third byte", data: []byte{0xFF, 0xD8, 0x00, 0x00}, err: ErrUnknown},
		{name: "short ftyp", data: []byte("\x00\x00\x00\x18ftyphe"), err: ErrUnknown},

		{name: "cut JPEG magic", data: []byte{0xFF, 0xD8}, err: ErrMalformed},
		{name: "cut PNG magic", data: []byte("\x89PN"), err: ErrMalformed},
		{name: "cut GIF magic", data: []byte("GIF8"), err: ErrMalformed},
		{name: "cut TIFF magic", data: []byte("MM\x00"), err: ErrMalformed},
		{name: "cut RIFF", data: []byte("RIFF\x10\x00"), err: ErrMalformed},
		{name: "cut WEBP", data: []byte("RIFF\x10\x00\x00\x00WE"), err: ErrMalformed},
	})
}

// TestHostileAnimations builds the shapes that stalled libvips: 50,000
// frames of animated WebP and GIF. Parse must count them (or stop at the
// cap) by walking chunk and block headers only; the time is logged, not
// asserted, since shared CI machines vary.
func TestHostileAnimations(t *testing.T) {
	const n = 50000
	files := []struct {
		name string
		data []byte
	}{
		{"webp", animatedWebP(n)},
		{"gif", gifFile(1, 1, manyGIFFrames(n)...)},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			start := time.Now()
			capped, err := Parse(f.data, 1000)
			if err != nil || capped.Frames != 1001 {
				t.Fatalf("capped: %+v %v", capped, err)
			}
			all, err := Parse(f.data, 1<<20)
			if err != nil || all.Frames != n {
				t.Fatalf("uncapped: %+v %v", all, err)
			}
			t.Logf("%d bytes, %d frames, both parses %v", len(f.data), all.Frames, time.Since(start))
		})
	}
	// Real files carry their pixel data too; the walk skips it.
	start := time.Now()
	h, err := Parse(readPhoto(t, "animated.gif"), 1<<20)
	if err != nil || h.Frames != 10 {
		t.Fatalf("animated.gif: %+v %v", h, err)
	}
	t.Logf("animated.gif %v", time.Since(start))
}

// TestNoAllocationPerFrame: walking frames, pages and chunks allocates
// nothing, so hostile counts cost no memory.
func TestNoAllocationPerFrame(t *testing.T) {
	inputs := []struct {
		name string
		data []byte
	}{
		{"webp", animatedWebP(5000)},
		{"gif", gifFile(1, 1, manyGIFFrames(5000)...)},
		{"tiff", tiffFile(binary.LittleEndian, func() [][]tiffEntry {
			p := make([][]tiffEntry, 5000)
			for i := range p {
				p[i] = rgbIFD(9, 9)
			}
			return p
		}())},
		{"jpeg", readPhoto(t, "test_exif_full.jpg")},
		{"png", readPhoto(t, "dice.png")},
	}
	for _, in := range inputs {
		allocs := testing.AllocsPerRun(5, func() {
			if _, err := Parse(in.data, 1<<20); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 0 {
			t.Errorf("%s: %v allocations per Parse", in.name, allocs)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	inputs := []struct {
		name string
		data []byte
	}{
		{"webp-50k-frames", animatedWebP(50000)},
		{"gif-50k-frames", gifFile(1, 1, manyGIFFrames(50000)...)},
		{"jpeg-12MP", readPhoto(b, "test_exif_full.jpg")},
		{"avif", readPhoto(b, "test.avif")},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				if _, err := Parse(in.data, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
