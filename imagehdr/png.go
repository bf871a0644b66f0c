package imagehdr

// parsePNG reads IHDR, then walks the chunks before the first IDAT for acTL
// (APNG frame count) and tRNS (which makes libvips add an alpha band). Both
// must precede IDAT, so the walk never enters the image data; a file that
// ends before IDAT has no image and is malformed.
func parsePNG(b []byte, maxFrames int) (Header, error) {
	// Signature (8), then IHDR: length (4), type (4), 13 bytes, CRC (4).
	ihdr, ok := span(b, 8, 8+13)
	if !ok || be32(ihdr) != 13 || string(ihdr[4:8]) != "IHDR" {
		return Header{}, malformed("png", "no IHDR")
	}
	d := ihdr[8:]
	w, hgt := be32(d), be32(d[4:])
	depth, colour, interlace := d[8], d[9], d[12]
	if w == 0 || hgt == 0 || w > 1<<31-1 || hgt > 1<<31-1 {
		return Header{}, malformed("png", "bad dimensions")
	}
	h := Header{Format: PNG, Width: int(w), Height: int(hgt), BitsPerSample: 8, Frames: 1}
	switch {
	case colour == 0 && (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16):
		h.Bands = 1
	case colour == 2 && (depth == 8 || depth == 16):
		h.Bands = 3
	case colour == 3 && (depth == 1 || depth == 2 || depth == 4 || depth == 8):
		h.Bands = 3 // palette expands to RGB
	case colour == 4 && (depth == 8 || depth == 16):
		h.Bands = 2
	case colour == 6 && (depth == 8 || depth == 16):
		h.Bands = 4
	default:
		return Header{}, malformed("png", "bad colour type or bit depth")
	}
	if depth == 16 {
		h.BitsPerSample = 16
	}
	switch interlace {
	case 0:
	case 1:
		// Adam7 passes cover the whole image, so the decoder keeps it all.
		h.Progressive, h.WholeFrame = true, true
	default:
		return Header{}, malformed("png", "bad interlace method")
	}

	sawTRNS := false
	pos := 8 + 8 + 13 + 4
	for {
		c, ok := span(b, pos, 8)
		if !ok {
			return Header{}, malformed("png", "no IDAT")
		}
		n := be32(c)
		typ := string(c[4:8])
		if n > 1<<31-1 {
			return Header{}, malformed("png", "bad chunk length")
		}
		if typ == "IDAT" {
			return h, nil
		}
		if typ == "IEND" {
			return Header{}, malformed("png", "IEND before IDAT")
		}
		data, ok := span(b, pos+8, int(n))
		if !ok {
			return Header{}, malformed("png", "truncated chunk")
		}
		switch typ {
		case "acTL":
			if len(data) >= 8 {
				// The declared count is only a number: reading it costs
				// nothing, so it is reported (capped) without walking fcTL.
				h.Frames = int(min(uint64(be32(data)), uint64(maxFrames)+1))
			}
		case "tRNS":
			if !sawTRNS && colour != 4 && colour != 6 {
				h.Bands++
			}
			sawTRNS = true
		}
		pos += 8 + int(n) + 4
	}
}
