package imagehdr

import "math"

// TIFF tags Parse reads.
const (
	tagImageWidth      = 256
	tagImageLength     = 257
	tagBitsPerSample   = 258
	tagCompression     = 259
	tagPhotometric     = 262
	tagSamplesPerPixel = 277
	tagRowsPerStrip    = 278
	tagTileWidth       = 322
)

// tiffReader reads classic and BigTIFF structures in either byte order,
// every read bounds-checked.
type tiffReader struct {
	b   []byte
	le  bool // "II" byte order
	big bool // BigTIFF: 8-byte offsets and counts, 20-byte entries
}

func (t *tiffReader) uint(off, size int) (uint64, bool) {
	s, ok := span(t.b, off, size)
	if !ok {
		return 0, false
	}
	return t.get(s), true
}

// offSize is the size of an offset or count: 4, or 8 in BigTIFF.
func (t *tiffReader) offSize() int {
	if t.big {
		return 8
	}
	return 4
}

// ifd returns the entries of the IFD at off and the offset of the next one;
// ok is false if the IFD does not lie wholly inside the data.
func (t *tiffReader) ifd(off uint64) (entries []byte, next uint64, ok bool) {
	o, ok := offset(t.b, off)
	if !ok {
		return nil, 0, false
	}
	countSize, entrySize := 2, 12
	if t.big {
		countSize, entrySize = 8, 20
	}
	n, ok := t.uint(o, countSize)
	// Checking the count against the data before multiplying keeps a
	// hostile 2^64 count from overflowing.
	if !ok || n > uint64(len(t.b)/entrySize) {
		return nil, 0, false
	}
	entries, ok = span(t.b, o+countSize, int(n)*entrySize)
	if !ok {
		return nil, 0, false
	}
	next, ok = t.uint(o+countSize+len(entries), t.offSize())
	return entries, next, ok
}

// value returns the first value of an integer-typed entry, inline or at
// the offset the entry points to.
func (t *tiffReader) value(e []byte) (uint64, bool) {
	typ := t.get(e[2:4])
	var size int
	switch typ {
	case 1: // BYTE
		size = 1
	case 3: // SHORT
		size = 2
	case 4, 13: // LONG, IFD
		size = 4
	case 16, 18: // LONG8, IFD8
		size = 8
	default:
		return 0, false
	}
	fs := t.offSize()
	count := t.get(e[4 : 4+fs])
	field := e[4+fs : 4+2*fs]
	if count == 0 {
		return 0, false
	}
	if count <= uint64(fs/size) {
		return t.get(field[:size]), true
	}
	o, ok := offset(t.b, t.get(field))
	if !ok {
		return 0, false
	}
	return t.uint(o, size)
}

// get decodes a short byte slice already known to be in range.
func (t *tiffReader) get(s []byte) uint64 {
	var v uint64
	for i := range s {
		if t.le {
			v |= uint64(s[i]) << (8 * i)
		} else {
			v = v<<8 | uint64(s[i])
		}
	}
	return v
}

// parseTIFF reads IFD0 for the image description, then follows the
// next-IFD chain to count pages.
func parseTIFF(b []byte, maxFrames int) (Header, error) {
	t := &tiffReader{b: b, le: b[0] == 'I', big: b[2] == 43 || b[3] == 43}
	var ifd0 uint64
	if t.big {
		// Offset size 8, reserved 0, then an 8-byte offset.
		bs, ok1 := t.uint(4, 2)
		zero, ok2 := t.uint(6, 2)
		off, ok3 := t.uint(8, 8)
		if !ok1 || !ok2 || !ok3 || bs != 8 || zero != 0 {
			return Header{}, malformed("tiff", "bad BigTIFF header")
		}
		ifd0 = off
	} else {
		off, ok := t.uint(4, 4)
		if !ok {
			return Header{}, malformed("tiff", "truncated header")
		}
		ifd0 = off
	}
	if ifd0 == 0 {
		return Header{}, malformed("tiff", "no IFD")
	}
	entries, next, ok := t.ifd(ifd0)
	if !ok {
		return Header{}, malformed("tiff", "IFD0 outside the data")
	}

	h := Header{Format: TIFF, Bands: 1, BitsPerSample: 1, Frames: 1}
	var (
		width, height uint64
		compression   uint64 = 1
		rowsPerStrip  uint64 = math.MaxUint32
		photometric   uint64 = math.MaxUint64
		tiled         bool
	)
	es := 12
	if t.big {
		es = 20
	}
	for e := entries; len(e) >= es; e = e[es:] {
		tag := t.get(e[:2])
		switch tag {
		case tagImageWidth, tagImageLength, tagBitsPerSample, tagCompression,
			tagPhotometric, tagSamplesPerPixel, tagRowsPerStrip, tagTileWidth:
		default:
			continue
		}
		v, ok := t.value(e[:es])
		if !ok {
			// Falling back to a default would understate the cost (1-bit
			// samples), so a tag that matters must be readable.
			return Header{}, malformed("tiff", "unreadable tag value")
		}
		switch tag {
		case tagImageWidth:
			width = v
		case tagImageLength:
			height = v
		case tagBitsPerSample:
			h.BitsPerSample = int(min(v, 1<<16))
		case tagCompression:
			compression = v
		case tagPhotometric:
			photometric = v
		case tagSamplesPerPixel:
			h.Bands = int(min(v, 1<<16))
		case tagRowsPerStrip:
			rowsPerStrip = v
		case tagTileWidth:
			tiled = v != 0
		}
	}
	if width == 0 || height == 0 {
		return Header{}, malformed("tiff", "no dimensions")
	}
	h.Width, h.Height = clampInt(width), clampInt(height)
	if photometric == 3 {
		h.Bands += 2 // palette indices expand to RGB (plus any extra samples)
	}
	// A compressed image in a single strip is decoded in one piece, so the
	// whole image sits in memory; tiles and smaller strips stream. (libtiff
	// splits a big uncompressed strip into rows by itself.)
	h.WholeFrame = !tiled && compression != 1 && rowsPerStrip >= height

	// Count pages. Brent's cycle detection finds an IFD loop in O(1)
	// memory within a few times the loop's length; a loop is never written
	// by an encoder, so it is reported as malformed. Pages past the cap
	// are not walked.
	pages := 1
	tortoise, power, lam := ifd0, 1, 0
	for off := next; off != 0 && pages <= maxFrames; {
		if off == tortoise {
			return Header{}, malformed("tiff", "IFD loop")
		}
		_, nxt, ok := t.ifd(off)
		if !ok {
			break // an unreadable page ends the chain, as in libtiff
		}
		pages++
		if lam++; lam == power {
			tortoise, power, lam = off, power*2, 0
		}
		off = nxt
	}
	h.Frames = pages
	return h, nil
}
