package transform

import (
	"github.com/thumbd/thumbd/imagehdr"
	"github.com/thumbd/thumbd/variant"
)

// Decode memory estimates, from the header alone. They are deliberately
// simple and on the safe side: the budget they feed exists to keep a few
// hostile or huge files from taking the process down, not to account
// every byte.

const (
	minReserve = 1 << 20 // bookkeeping, codec state, the encoded output
	// Streaming decoders (baseline JPEG, non-interlaced PNG, TIFF strips)
	// hold a window of rows; libvips' sequential access keeps a few
	// hundred lines of the source in flight.
	windowRows = 256
)

// DecodeEstimate is the memory variant s of an image with header h is
// expected to need while decoding and resizing.
func DecodeEstimate(h imagehdr.Header, s variant.Size) int64 {
	w, ht := int64(max(h.Width, 1)), int64(max(h.Height, 1))
	bands := int64(max(h.Bands, 1))
	bps := int64(1)
	if h.BitsPerSample > 8 {
		bps = 2
	}
	pixel := bands * bps
	whole := w * ht * pixel

	var need int64
	if s.Mode == variant.Original {
		switch {
		case h.Format == imagehdr.JPEG && h.Progressive:
			return w*ht*bands*2 + minReserve
		case h.Format == imagehdr.JPEG:
			// Verified at 1/8 scale, then passed through.
			return (w/8+1)*(ht/8+1)*bands + int64(len8(w, ht)) + minReserve
		case h.Format == imagehdr.HEIF || h.Format == imagehdr.AVIF:
			// Decoded whole to verify it (as for thumbnails, 3x the frame),
			// then passed through or re-encoded.
			return 3*whole + minReserve
		}
		return whole + whole/4 + minReserve
	}
	switch {
	case h.Format == imagehdr.JPEG && h.Progressive:
		// libjpeg keeps every DCT coefficient (16 bits per sample) of a
		// progressive file until the last scan, whatever the scale.
		need = w * ht * bands * 2
	case h.Format == imagehdr.JPEG:
		// Shrink-on-load: only the scaled image is ever whole.
		shrink := int64(jpegShrink(h.Width, h.Height, 1, s))
		need = (w/shrink + 1) * (ht/shrink + 1) * bands
	case h.Format == imagehdr.HEIF || h.Format == imagehdr.AVIF:
		// libheif decodes the whole picture to YUV planes, converts them
		// to RGB, and libvips copies that: measured 2.4-2.9x the frame
		// (make soak, 24 MP HEIC), so 3x.
		need = 3 * whole
	case h.WholeFrame:
		// Interlaced PNG and GIF (libvips decodes GIF frames whole).
		need = whole + whole/4
	default:
		need = w * pixel * windowRows
	}
	// The output side: the resized image and its encoder's buffers.
	ow, oh := variant.OutputSize(s, h.Width, h.Height)
	need += int64(ow) * int64(oh) * 4
	return need + minReserve
}

// len8 is room for the stripped copy of a passed-through original (about
// its pixel count / 8 for a typical JPEG, bounded below).
func len8(w, h int64) int64 { return max(w*h/8, 1<<16) }
