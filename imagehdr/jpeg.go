package imagehdr

// parseJPEG walks the marker segments from SOI to the first SOS. The frame
// header (SOFn) gives the dimensions; the first scan header tells whether a
// sequential image is split into several scans, which makes libjpeg buffer
// the whole image's coefficients just as progressive mode does.
func parseJPEG(b []byte) (Header, error) {
	h := Header{Format: JPEG, Frames: 1}
	sawSOF := false
	pos := 2 // after SOI; b[2] is 0xFF (checked by the signature)
	for {
		// libjpeg skips stray bytes before a marker (with a warning), so a
		// scan for the next 0xFF matches what the decoder accepts. Every
		// step advances pos, so the walk is linear in len(b).
		for pos < len(b) && b[pos] != 0xFF {
			pos++
		}
		for pos < len(b) && b[pos] == 0xFF { // fill bytes
			pos++
		}
		if pos >= len(b) {
			return Header{}, malformed("jpeg", "no scan before end of data")
		}
		m := b[pos]
		pos++
		switch {
		case m == 0x00:
			continue // stuffed zero: not a marker
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			continue // TEM and RSTn stand alone, without a length
		case m == 0xD8:
			return Header{}, malformed("jpeg", "second SOI")
		case m == 0xD9:
			return Header{}, malformed("jpeg", "EOI before the first scan")
		}
		if pos+2 > len(b) {
			return Header{}, malformed("jpeg", "truncated segment length")
		}
		n := be16(b[pos:])
		if n < 2 {
			return Header{}, malformed("jpeg", "bad segment length")
		}
		seg, ok := span(b, pos+2, n-2)
		switch {
		case isSOF(m):
			if sawSOF {
				return Header{}, malformed("jpeg", "second SOF")
			}
			if !ok || len(seg) < 6 {
				return Header{}, malformed("jpeg", "truncated SOF")
			}
			h.BitsPerSample = int(seg[0])
			h.Height = be16(seg[1:])
			h.Width = be16(seg[3:])
			h.Bands = int(seg[5])
			if h.Height == 0 {
				// Height comes later in a DNL marker; libvips cannot size
				// the image up front, and such files are rare enough to
				// refuse.
				return Header{}, malformed("jpeg", "height 0 (DNL)")
			}
			if h.Width == 0 || h.Bands == 0 || len(seg) < 6+3*h.Bands {
				return Header{}, malformed("jpeg", "bad SOF")
			}
			// SOF2, SOF6, SOF10 and SOF14 are the progressive processes.
			h.Progressive = m&3 == 2
			h.WholeFrame = h.Progressive
			sawSOF = true
		case m == 0xDA: // SOS
			if !sawSOF {
				return Header{}, malformed("jpeg", "scan before SOF")
			}
			if !ok || len(seg) < 1 {
				return Header{}, malformed("jpeg", "truncated SOS")
			}
			if int(seg[0]) < h.Bands {
				h.WholeFrame = true
			}
			return h, nil
		}
		if !ok {
			return Header{}, malformed("jpeg", "truncated segment")
		}
		pos += n
	}
}

// isSOF reports whether m is a start-of-frame marker: C0–CF except DHT (C4),
// JPG (C8) and DAC (CC), which share the range.
func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}
