package cache

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// Complete reports whether b is a whole image of the type its extension
// names, by structure alone: a JPEG ends with EOI, a PNG with its IEND
// chunk, a WebP's RIFF size matches, an AVIF's top-level boxes add up.
// It catches truncation and foreign bytes without decoding pixels.
func Complete(ext string, b []byte) bool {
	switch strings.ToLower(strings.TrimPrefix(ext, ".")) {
	case "jpg", "jpeg":
		return len(b) > 4 && b[0] == 0xFF && b[1] == 0xD8 && b[len(b)-2] == 0xFF && b[len(b)-1] == 0xD9
	case "png":
		iend := []byte{0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82}
		return len(b) > 8+len(iend) && bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) && bytes.HasSuffix(b, iend)
	case "webp":
		return len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP" &&
			int(binary.LittleEndian.Uint32(b[4:8])) == len(b)-8
	case "avif":
		if len(b) < 12 || string(b[4:8]) != "ftyp" {
			return false
		}
		for off := 0; off < len(b); {
			if len(b)-off < 8 {
				return false
			}
			n := int(binary.BigEndian.Uint32(b[off:]))
			if n == 1 { // 64-bit size
				if len(b)-off < 16 {
					return false
				}
				n = int(binary.BigEndian.Uint64(b[off+8:]))
			}
			if n < 8 || n > len(b)-off {
				return false
			}
			off += n
		}
		return true
	}
	return false
}
