package metastrip

import "encoding/binary"

// VP8X feature flags (first payload byte) that announce metadata chunks.
const (
	vp8xEXIF = 0x08
	vp8xXMP  = 0x04
)

// webpKeep are the top-level chunks a decoder needs (bitstreams, alpha,
// extended header, animation, colour profile). EXIF, "XMP " and any other
// chunk are dropped by WebP and refused by Check.
var webpKeep = map[string]bool{
	"VP8 ": true, "VP8L": true, "VP8X": true, "ALPH": true,
	"ANIM": true, "ANMF": true, "ICCP": true,
}

// frameKeep are the chunks allowed in an ANMF frame after its 16-byte
// header.
var frameKeep = map[string]bool{"ALPH": true, "VP8 ": true, "VP8L": true}

// riffChunk is one chunk; off is the offset of its header in the file.
type riffChunk struct {
	off  int
	typ  string
	data []byte
}

// riffWalk calls fn for each chunk of b (which starts at file offset
// base); the chunks must fill b exactly, each padded to an even length.
func riffWalk(b []byte, base int, fn func(riffChunk) error) error {
	for i := 0; i < len(b); {
		if len(b)-i < 8 {
			return malformed("webp", "truncated chunk header", base+i)
		}
		n := uint64(binary.LittleEndian.Uint32(b[i+4:]))
		if n+n&1 > uint64(len(b)-i-8) {
			return malformed("webp", "chunk size", base+i)
		}
		if err := fn(riffChunk{base + i, string(b[i : i+4]), b[i+8 : i+8+int(n)]}); err != nil {
			return err
		}
		i += 8 + int(n+n&1)
	}
	return nil
}

// frameWalk walks the chunks of an ANMF frame after its 16-byte header.
func frameWalk(c riffChunk, fn func(riffChunk) error) error {
	return riffWalk(c.data[16:], c.off+8+16, fn)
}

// parseWebP checks what WebP and Check both rely on: a RIFF size that is
// even and inside the file, chunks that fill it, a first chunk that is a
// bitstream or VP8X (and the only VP8X), some image data, and well-formed
// ANMF frames. It returns the RIFF payload's chunks area (b[12:end]).
func parseWebP(b []byte) ([]byte, error) {
	const f = "webp"
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, malformed(f, "no RIFF/WEBP header", 0)
	}
	size := int64(binary.LittleEndian.Uint32(b[4:]))
	if size < 4 || size&1 != 0 || size > int64(len(b)-8) {
		return nil, malformed(f, "RIFF size", 4)
	}
	body := b[12 : 8+size]
	first, image := true, false
	err := riffWalk(body, 12, func(c riffChunk) error {
		if first && c.typ != "VP8 " && c.typ != "VP8L" && c.typ != "VP8X" {
			return malformed(f, "first chunk is not VP8, VP8L or VP8X", c.off)
		}
		isFirst := first
		first = false
		switch c.typ {
		case "VP8X":
			if !isFirst || len(c.data) < 10 {
				return malformed(f, "VP8X", c.off)
			}
		case "VP8 ", "VP8L":
			image = true
		case "ANMF":
			if len(c.data) < 16 {
				return malformed(f, "ANMF", c.off)
			}
			image = true
			return frameWalk(c, func(riffChunk) error { return nil })
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !image {
		return nil, malformed(f, "no image data", 12)
	}
	return body, nil
}

// WebP returns b with only the chunks a decoder needs (see webpKeep; ANMF
// frames keep only ALPH and bitstream chunks), the EXIF and XMP flags of
// VP8X cleared, the RIFF size recomputed, and nothing after the RIFF.
// Compressed data is copied byte for byte. A file whose chunk structure
// does not add up is refused with ErrMalformed.
func WebP(b []byte) ([]byte, error) {
	body, err := parseWebP(b)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 12, len(b))
	copy(out, "RIFF\x00\x00\x00\x00WEBP")
	// parseWebP has walked everything, so these walks cannot fail.
	_ = riffWalk(body, 12, func(c riffChunk) error {
		switch {
		case !webpKeep[c.typ]:
		case c.typ == "VP8X":
			start := len(out)
			out = appendChunk(out, c.typ, c.data)
			out[start+8] &^= vp8xEXIF | vp8xXMP
		case c.typ == "ANMF":
			// Header now, size once the frame's chunks are in.
			start := len(out)
			out = append(out, "ANMF\x00\x00\x00\x00"...)
			out = append(out, c.data[:16]...)
			_ = frameWalk(c, func(s riffChunk) error {
				if frameKeep[s.typ] {
					out = appendChunk(out, s.typ, s.data)
				}
				return nil
			})
			binary.LittleEndian.PutUint32(out[start+4:], uint32(len(out)-start-8))
		default:
			out = appendChunk(out, c.typ, c.data)
		}
		return nil
	})
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out, nil
}

// appendChunk writes a chunk header, the payload and its pad byte.
func appendChunk(out []byte, typ string, data []byte) []byte {
	out = append(out, typ...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
	out = append(out, data...)
	if len(data)&1 == 1 {
		out = append(out, 0)
	}
	return out
}

func inspectWebP(b []byte, r *Report) error {
	body, err := parseWebP(b)
	if err != nil {
		return err
	}
	_ = riffWalk(body, 12, func(c riffChunk) error {
		switch {
		case c.typ == "VP8X":
			if c.data[0]&vp8xEXIF != 0 {
				r.private(c.off, "VP8X EXIF flag")
			}
			if c.data[0]&vp8xXMP != 0 {
				r.private(c.off, "VP8X XMP flag")
			}
		case c.typ == "ICCP":
			r.allowed(c.off, "ICCP")
		case c.typ == "EXIF":
			r.private(c.off, "EXIF chunk")
		case c.typ == "XMP ":
			r.private(c.off, "XMP chunk")
		case c.typ == "ANMF":
			_ = frameWalk(c, func(s riffChunk) error {
				if !frameKeep[s.typ] {
					r.private(s.off, "%q chunk in ANMF", s.typ)
				}
				return nil
			})
		case !webpKeep[c.typ]:
			r.private(c.off, "%q chunk", c.typ)
		}
		return nil
	})
	if end := 12 + len(body); end < len(b) {
		r.private(end, "%d bytes after RIFF", len(b)-end)
	}
	return nil
}
