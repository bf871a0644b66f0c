package metastrip

import "bytes"

// inspectGIF walks a GIF's blocks to the trailer. Graphic control
// extensions and the NETSCAPE2.0/ANIMEXTS1.0 looping extension are
// allowed; comments, plain-text extensions, every other application
// extension (XMP "XMP DataXMP", ICC, vendor data) and anything after the
// trailer are reported.
func inspectGIF(b []byte, r *Report) error {
	const f = "gif"
	if len(b) < 13 {
		return malformed(f, "truncated header", 0)
	}
	i := 13
	if fl := b[10]; fl&0x80 != 0 {
		i += 3 << (fl&7 + 1) // global colour table
	}
	for {
		if i >= len(b) {
			return malformed(f, "no trailer", i)
		}
		at := i
		switch b[i] {
		case 0x3B:
			if i+1 < len(b) {
				r.private(i+1, "%d bytes after trailer", len(b)-i-1)
			}
			return nil
		case 0x2C:
			if i+10 > len(b) {
				return malformed(f, "truncated image descriptor", i)
			}
			fl := b[i+9]
			i += 10
			if fl&0x80 != 0 {
				i += 3 << (fl&7 + 1) // local colour table
			}
			i++ // LZW minimum code size
			end, err := gifSubBlocks(b, i)
			if err != nil {
				return err
			}
			i = end
		case 0x21:
			if i+2 > len(b) {
				return malformed(f, "truncated extension", i)
			}
			label := b[i+1]
			i += 2
			end, err := gifSubBlocks(b, i)
			if err != nil {
				return err
			}
			switch label {
			case 0xF9: // graphic control
			case 0xFE:
				r.private(at, "comment extension")
			case 0x01:
				r.private(at, "plain text extension")
			case 0xFF:
				if kind, ok := gifApplication(b[i:end]); !ok {
					r.private(at, "%s", kind)
				}
			default:
				r.private(at, "extension 0x%02X", label)
			}
			i = end
		default:
			return malformed(f, "unknown block", i)
		}
	}
}

// gifSubBlocks returns the offset after the sub-block sequence at i
// (length-prefixed blocks ending with a zero length).
func gifSubBlocks(b []byte, i int) (int, error) {
	for {
		if i >= len(b) {
			return 0, malformed("gif", "truncated sub-blocks", i)
		}
		n := int(b[i])
		i++
		if n == 0 {
			return i, nil
		}
		i += n
	}
}

// gifApplication accepts only the looping extensions, and only with the
// sub-blocks they define (loop count, buffer size); extra blocks could
// carry anything.
func gifApplication(p []byte) (string, bool) {
	if len(p) < 12 || p[0] != 11 {
		return "application extension", false
	}
	id := p[1:12]
	kind := "application extension " + quoted(id).String()
	if !bytes.Equal(id, []byte("NETSCAPE2.0")) && !bytes.Equal(id, []byte("ANIMEXTS1.0")) {
		return kind, false
	}
	for s := p[12:]; len(s) > 1; s = s[1+int(s[0]):] {
		n := int(s[0])
		if !(n == 3 && s[1] == 1) && !(n == 5 && s[1] == 2) {
			return kind + " with extra data", false
		}
	}
	return kind, true
}
