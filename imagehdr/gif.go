package imagehdr

// parseGIF reads the logical screen descriptor, then walks the block stream
// counting image descriptors. LZW data and extensions are skipped sub-block
// by sub-block using their length bytes, so the walk costs one step per
// sub-block and never decodes: 50,000 frames take well under a millisecond
// per megabyte.
func parseGIF(b []byte, maxFrames int) (Header, error) {
	lsd, ok := span(b, 6, 7)
	if !ok {
		return Header{}, malformed("gif", "truncated screen descriptor")
	}
	// libvips (libnsgif) renders every frame onto an RGBA canvas.
	h := Header{
		Format: GIF, Width: le16(lsd), Height: le16(lsd[2:]),
		Bands: 4, BitsPerSample: 8, WholeFrame: true,
	}
	pos := 13
	if lsd[4]&0x80 != 0 {
		pos += 3 << (lsd[4]&7 + 1) // global colour table
	}
	frames := 0
walk:
	for frames <= maxFrames && pos < len(b) {
		switch b[pos] {
		case 0x21: // extension: introducer, label, sub-blocks
			pos = skipSubBlocks(b, pos+2)
		case 0x2C: // image descriptor
			d, ok := span(b, pos+1, 9)
			if !ok {
				break walk
			}
			if frames == 0 {
				h.Progressive = d[8]&0x40 != 0
			}
			// A frame reaching past the screen grows the canvas in
			// libnsgif; growing here keeps the cost estimate an upper
			// bound.
			h.Width = max(h.Width, le16(d)+le16(d[4:]))
			h.Height = max(h.Height, le16(d[2:])+le16(d[6:]))
			frames++
			pos += 10
			if d[8]&0x80 != 0 {
				pos += 3 << (d[8]&7 + 1) // local colour table
			}
			pos = skipSubBlocks(b, pos+1) // +1: LZW minimum code size
		case 0x3B: // trailer
			break walk
		default:
			// Decoders stop at garbage too and show the frames so far.
			break walk
		}
	}
	if frames == 0 {
		return Header{}, malformed("gif", "no image")
	}
	h.Frames = frames
	return h, nil
}

// skipSubBlocks returns the offset after the data sub-blocks starting at
// pos (each a length byte and that many bytes, ended by a zero length), or
// len(b) when the data ends first.
func skipSubBlocks(b []byte, pos int) int {
	for pos < len(b) {
		n := int(b[pos])
		pos += 1 + n
		if n == 0 {
			return pos
		}
	}
	return len(b)
}
