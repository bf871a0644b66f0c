// Package imagehdr reads just enough of an image file's header to tell what
// decoding it would cost: format, dimensions, samples, bit depth, whether the
// decoder needs the whole frame in memory, and how many frames or pages the
// container holds.
//
// It exists so thumbd can refuse hostile images before libvips touches them:
// libvips spends seconds or gigabytes on files whose headers give the cost
// away (50,000-frame animated WebP, 99-megapixel 16-bit interlaced PNG,
// 67-megapixel HEIC). Parse is pure Go, never decodes pixel data, and its
// work is bounded: every length read from the file is checked against the
// buffer, every loop advances through the buffer or is capped, nothing
// recurses, and nothing is allocated in proportion to a size the file
// declares.
//
// Parse expects the whole file. Structures needed for the dimensions must be
// complete or Parse reports ErrMalformed; frame counting is lenient about a
// damaged or truncated tail (it counts what it can see), as the decoders are.
package imagehdr

import (
	"errors"
	"fmt"
	"math"
)

// Format is an image container format.
type Format int

// The formats Parse recognises.
const (
	Unknown Format = iota
	JPEG
	PNG
	GIF
	WebP
	TIFF
	HEIF
	AVIF
)

var formatNames = [...]string{"unknown", "jpeg", "png", "gif", "webp", "tiff", "heif", "avif"}

// String returns the lower-case name of the format ("jpeg", "heif", ...).
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("Format(%d)", int(f))
	}
	return formatNames[f]
}

var (
	// ErrUnknown means the bytes are not one of the formats Parse reads
	// (SVG, PDF, video, text, ...), so nothing can be said about their cost.
	ErrUnknown = errors.New("imagehdr: unknown image format")
	// ErrMalformed means the bytes start like a known format but the header
	// is damaged or truncated. Parse wraps it with a short reason.
	ErrMalformed = errors.New("imagehdr: malformed image header")
)

// malformed wraps ErrMalformed with the format and reason.
func malformed(format, reason string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, format, reason)
}

// Header is what Parse learnt about an image.
type Header struct {
	Format Format
	// Width and Height are as stored: no EXIF orientation and no HEIF irot
	// applied (see Rotated). For GIF the logical screen, grown to cover any
	// frame that extends past it (libnsgif does the same); for animated WebP
	// the canvas; for HEIF/AVIF the primary item's ispe (before clap crops).
	Width, Height int
	// Bands is samples per pixel including alpha, as libvips will load it:
	// JPEG components; PNG from the colour type (+1 with tRNS); GIF 4;
	// WebP 3 or 4; TIFF SamplesPerPixel (palette images 3); HEIF/AVIF 3, or
	// 4 when an alpha auxiliary image belongs to the primary item.
	Bands int
	// BitsPerSample is the stored depth: 8 or 16 for PNG (palette and
	// sub-byte greyscale report 8, as they load as 8-bit), 8 for GIF and
	// WebP, the JPEG precision (8 or 12), TIFF BitsPerSample (1 to 64), and
	// 8, 10 or 12 for HEIF/AVIF. libvips widens anything over 8 bits to 16.
	BitsPerSample int
	// Progressive is set for progressive JPEG (SOF2/6/10/14), Adam7
	// interlaced PNG and an interlaced first GIF frame.
	Progressive bool
	// WholeFrame is set when the decoder must hold a whole frame (or its
	// coefficients) in memory rather than streaming rows, so the memory
	// cost is the frame size whatever the output size:
	//   JPEG: progressive, or sequential split into several scans;
	//   PNG: interlaced;
	//   GIF, WebP, HEIF, AVIF: always (libvips decodes them frame at a time);
	//   TIFF: an untiled, compressed image stored as a single strip (tiles
	//   and multi-strip images are read piece by piece).
	WholeFrame bool
	// Frames is the number of frames or pages in the container: GIF image
	// descriptors, WebP ANMF chunks (1 if not animated), APNG acTL
	// num_frames (1 without acTL; libvips itself loads only the default
	// image), the TIFF IFD chain length, HEIF/AVIF top-level image items
	// (not hidden, not thumbnails, auxiliary images or grid tiles; image
	// sequences in moov tracks are not counted). Counting stops past the cap
	// given to Parse, so a value of maxFrames+1 means "more than maxFrames".
	// A TIFF IFD chain that loops back on itself is ErrMalformed.
	Frames int
	// Rotated is set when a HEIF/AVIF irot property turns the image by 90
	// or 270 degrees: libheif always applies it, so the displayed image is
	// Height x Width. The pixel count, hence the cost, is the same.
	Rotated bool
	// Primaries, Transfer and Matrix are the HEIF/AVIF primary image's nclx
	// colour signalling (ITU-T H.273 code points: Transfer 16 is PQ, 18
	// HLG, 1/13 SDR; Primaries 9 is BT.2020); 0 when there is no nclx
	// (an ICC profile, or nothing) and for other formats.
	Primaries, Transfer, Matrix int
	// Brand is the ISOBMFF major brand ("heic", "heix", "avif", ...) for
	// HEIF/AVIF, with unprintable bytes replaced by '?'; empty otherwise.
	Brand string
}

// Pixels returns Width*Height of one frame, saturating at math.MaxInt64.
func (h Header) Pixels() int64 {
	return satMul(int64(h.Width), int64(h.Height))
}

// DecodedBytes estimates the memory one decoded frame takes as libvips holds
// it: Pixels × Bands × bytes per sample (1 up to 8 bits, 2 up to 16, 4 up to
// 32, else 8). It saturates at math.MaxInt64.
func (h Header) DecodedBytes() int64 {
	var bps int64
	switch {
	case h.BitsPerSample <= 8:
		bps = 1
	case h.BitsPerSample <= 16:
		bps = 2
	case h.BitsPerSample <= 32:
		bps = 4
	default:
		bps = 8
	}
	return satMul(satMul(h.Pixels(), int64(h.Bands)), bps)
}

// satMul multiplies non-negative numbers, saturating instead of wrapping so
// that hostile 2^32 x 2^32 dimensions still compare as huge.
func satMul(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// Parse reads the header of the image in b, the whole file.
//
// Frame counting stops once it passes maxFrames: a file with more frames
// gets Frames = maxFrames+1 and no error, and the caller decides. maxFrames
// below 1 is taken as 1 (Frames then only tells one from many).
//
// Errors wrap ErrUnknown (not a format Parse reads) or ErrMalformed (a known
// format with a damaged or truncated header); test with errors.Is.
func Parse(b []byte, maxFrames int) (Header, error) {
	if maxFrames < 1 {
		maxFrames = 1
	}
	if maxFrames > math.MaxInt32 {
		// Keeps maxFrames+1 from overflowing and fits 32-bit ints.
		maxFrames = math.MaxInt32
	}
	var (
		h   Header
		err error
	)
	switch {
	case hasPrefix(b, sigJPEG):
		h, err = parseJPEG(b)
	case hasPrefix(b, sigPNG):
		h, err = parsePNG(b, maxFrames)
	case hasPrefix(b, sigGIF87), hasPrefix(b, sigGIF89):
		h, err = parseGIF(b, maxFrames)
	case len(b) >= 12 && hasPrefix(b, sigRIFF) && string(b[8:12]) == "WEBP":
		h, err = parseWebP(b, maxFrames)
	case hasPrefix(b, sigTIFFLE), hasPrefix(b, sigTIFFBE), hasPrefix(b, sigBigLE), hasPrefix(b, sigBigBE):
		h, err = parseTIFF(b, maxFrames)
	case len(b) >= 8 && string(b[4:8]) == "ftyp":
		h, err = parseISOBMFF(b, maxFrames)
	case isSignaturePrefix(b):
		return Header{}, malformed("header", "truncated signature")
	default:
		return Header{}, ErrUnknown
	}
	if err != nil {
		return Header{}, err
	}
	// Shared sanity checks, so every format's result can be trusted.
	if h.Width <= 0 || h.Height <= 0 {
		return Header{}, malformed(h.Format.String(), "zero dimension")
	}
	if h.Bands <= 0 || h.BitsPerSample <= 0 {
		return Header{}, malformed(h.Format.String(), "no samples")
	}
	if h.Frames < 1 {
		h.Frames = 1
	}
	if h.Frames > maxFrames+1 {
		h.Frames = maxFrames + 1
	}
	return h, nil
}

const (
	sigJPEG   = "\xff\xd8\xff"
	sigPNG    = "\x89PNG\r\n\x1a\n"
	sigGIF87  = "GIF87a"
	sigGIF89  = "GIF89a"
	sigRIFF   = "RIFF"
	sigTIFFLE = "II*\x00"
	sigTIFFBE = "MM\x00*"
	sigBigLE  = "II+\x00"
	sigBigBE  = "MM\x00+"
)

func hasPrefix(b []byte, sig string) bool {
	return len(b) >= len(sig) && string(b[:len(sig)]) == sig
}

// isSignaturePrefix reports whether b is a non-empty proper prefix of a
// signature, so a file cut inside its magic number counts as a damaged image
// of that format rather than an unknown one.
func isSignaturePrefix(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, sig := range []string{sigJPEG, sigPNG, sigGIF87, sigGIF89, sigTIFFLE, sigTIFFBE, sigBigLE, sigBigBE} {
		if len(b) < len(sig) && sig[:len(b)] == string(b) {
			return true
		}
	}
	// RIFF????WEBP: the size bytes match anything.
	if len(b) < 12 {
		n := min(len(b), 4)
		if string(b[:n]) == sigRIFF[:n] && (len(b) <= 8 || string(b[8:]) == "WEBP"[:len(b)-8]) {
			return true
		}
	}
	return false
}

// span returns b[off:off+n] if it lies inside b. It is written so that no
// untrusted off or n can overflow.
func span(b []byte, off, n int) ([]byte, bool) {
	if off < 0 || n < 0 || off > len(b) || n > len(b)-off {
		return nil, false
	}
	return b[off : off+n], true
}

// offset converts an untrusted 64-bit file offset to an index into b.
func offset(b []byte, v uint64) (int, bool) {
	if v > uint64(len(b)) {
		return 0, false
	}
	return int(v), true
}

func be16(b []byte) int { return int(b[0])<<8 | int(b[1]) }
func le16(b []byte) int { return int(b[1])<<8 | int(b[0]) }
func le24(b []byte) int { return int(b[2])<<16 | int(b[1])<<8 | int(b[0]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
func le32(b []byte) uint32 {
	return uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
}
func be64(b []byte) uint64 { return uint64(be32(b))<<32 | uint64(be32(b[4:])) }

// clampInt converts an untrusted unsigned dimension to int without wrapping
// on 32-bit platforms.
func clampInt(v uint64) int {
	if v > math.MaxInt32 {
		// Dimensions past 2^31 are hostile anyway; keeping them huge (not
		// wrapped) is what matters.
		if math.MaxInt == math.MaxInt32 {
			return math.MaxInt32
		}
		if v > math.MaxInt64 {
			return math.MaxInt
		}
	}
	return int(v)
}
