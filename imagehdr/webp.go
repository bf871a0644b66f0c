package imagehdr

// parseWebP reads the first chunk (VP8, VP8L or VP8X) for dimensions and,
// for extended files, walks the chunk list counting ANMF frames and looking
// for alpha. Chunk headers are 8 bytes and the walk jumps over payloads, so
// it costs one step per chunk whatever the frames contain.
func parseWebP(b []byte, maxFrames int) (Header, error) {
	// The RIFF size bounds the chunk walk; a file cut short is walked as
	// far as it goes.
	end := len(b)
	if riff := uint64(le32(b[4:])) + 8; riff < uint64(end) {
		end = int(riff)
	}
	b = b[:end]
	// libvips decodes each WebP frame into a full-size memory buffer.
	h := Header{Format: WebP, Bands: 3, BitsPerSample: 8, WholeFrame: true, Frames: 1}

	// The first chunk may be cut short: its leading bytes are all that is
	// needed.
	fourcc, data, pos, _ := riffChunk(b, 12)
	if fourcc == nil {
		return Header{}, malformed("webp", "truncated first chunk")
	}
	switch string(fourcc) {
	case "VP8 ", "VP8L":
		w, hgt, alpha, err := webpBitstream(fourcc, data)
		if err != nil {
			return Header{}, err
		}
		h.Width, h.Height = w, hgt
		if alpha {
			h.Bands = 4
		}
		return h, nil
	case "VP8X":
	default:
		return Header{}, malformed("webp", "unknown first chunk "+quote4(string(fourcc)))
	}

	if len(data) < 10 {
		return Header{}, malformed("webp", "truncated VP8X")
	}
	flags := data[0]
	h.Width, h.Height = le24(data[4:])+1, le24(data[7:])+1
	alpha := flags&0x10 != 0
	animated := flags&0x02 != 0
	frames := 0
	sawImage := false
	for pos < len(b) && frames <= maxFrames {
		fourcc, data, next, ok := riffChunk(b, pos)
		if !ok {
			break // truncated tail: count what was seen
		}
		switch string(fourcc) {
		case "ANMF":
			frames++
		case "ALPH":
			alpha = true
		case "VP8 ", "VP8L":
			// A still image's bitstream; its own alpha hint counts too.
			if _, _, a, err := webpBitstream(fourcc, data); err == nil {
				sawImage = true
				alpha = alpha || a
			}
		}
		pos = next
	}
	if alpha {
		h.Bands = 4
	}
	if animated {
		if frames == 0 {
			return Header{}, malformed("webp", "animation without frames")
		}
		h.Frames = frames
	} else if !sawImage {
		return Header{}, malformed("webp", "no image data")
	}
	return h, nil
}

// riffChunk returns the chunk at pos: its fourcc, the part of its payload
// that is present (a payload cut short by the end of data is returned as
// far as it goes, so a header can still be read from it), the offset of the
// next chunk, and whether the chunk was complete.
//
// The fourcc is returned as a slice of b, not a string, so that walking
// 50,000 chunks allocates nothing.
func riffChunk(b []byte, pos int) (fourcc, data []byte, next int, ok bool) {
	hdr, ok := span(b, pos, 8)
	if !ok {
		return nil, nil, len(b), false
	}
	n := uint64(le32(hdr[4:]))
	n += n & 1 // payloads are padded to even length
	start := pos + 8
	avail := uint64(len(b) - start)
	if n > avail {
		return hdr[:4], b[start:], len(b), false
	}
	return hdr[:4], b[start : start+int(n)], start + int(n), true
}

// webpBitstream reads width, height and the alpha hint from the start of a
// VP8 (lossy) or VP8L (lossless) bitstream.
func webpBitstream(fourcc []byte, d []byte) (w, h int, alpha bool, err error) {
	if string(fourcc) == "VP8 " {
		// 3-byte frame tag, start code 9d 01 2a, then 14-bit sizes (the
		// top two bits are upscaling hints).
		if len(d) < 10 {
			return 0, 0, false, malformed("webp", "truncated VP8 header")
		}
		if d[0]&1 != 0 || d[3] != 0x9d || d[4] != 0x01 || d[5] != 0x2a {
			return 0, 0, false, malformed("webp", "bad VP8 key frame")
		}
		return le16(d[6:]) & 0x3fff, le16(d[8:]) & 0x3fff, false, nil
	}
	// VP8L: signature 0x2f, then width-1 (14 bits), height-1 (14 bits),
	// alpha_is_used (1), version (3, must be 0).
	if len(d) < 5 || d[0] != 0x2f {
		return 0, 0, false, malformed("webp", "bad VP8L header")
	}
	v := le32(d[1:])
	if v>>29 != 0 {
		return 0, 0, false, malformed("webp", "bad VP8L version")
	}
	return int(v&0x3fff) + 1, int(v>>14&0x3fff) + 1, v>>28&1 != 0, nil
}

// quote4 renders an untrusted fourcc printable for error messages.
func quote4(s string) string {
	return "\"" + printable(s) + "\""
}

// printable replaces bytes outside printable ASCII with '?'.
func printable(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c < 0x20 || c > 0x7e {
			out[i] = '?'
		}
	}
	return string(out)
}
