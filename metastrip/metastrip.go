// Package metastrip removes private metadata from JPEG, PNG and WebP files
// without touching the compressed pixels: EXIF (GPS, camera serials, maker
// notes), XMP, IPTC and comments go; the colour profile stays, and for
// JPEG the orientation can be kept in a minimal EXIF block of its own.
// Check is the fail-closed verifier for what is about to be served.
package metastrip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// ErrMalformed: the file's structure cannot be walked safely.
var ErrMalformed = errors.New("malformed image structure")

// JPEG returns b without private metadata (see keepSegment) and without
// anything after its end-of-image marker. If orientation is 2..8 a minimal
// EXIF segment carrying only that tag is written after SOI. The
// entropy-coded scan data is copied byte for byte.
func JPEG(b []byte, orientation int) ([]byte, error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, ErrMalformed
	}
	out := make([]byte, 0, len(b))
	out = append(out, 0xFF, 0xD8)
	if orientation >= 2 && orientation <= 8 {
		out = append(out, exifOrientation(orientation)...)
	}
	i := 2
	for {
		// Markers may be preceded by any number of 0xFF fill bytes.
		if i >= len(b) || b[i] != 0xFF {
			return nil, ErrMalformed
		}
		for i < len(b) && b[i] == 0xFF {
			i++
		}
		if i >= len(b) {
			return nil, ErrMalformed
		}
		m := b[i]
		i++
		if m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			continue // standalone markers carry no length
		}
		if m == 0xD9 {
			// End of image. Whatever follows (an appended JPEG with its own
			// EXIF, MPF images, vendor trailers) is dropped.
			return append(out, 0xFF, 0xD9), nil
		}
		if i+2 > len(b) {
			return nil, ErrMalformed
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 || i+n > len(b) {
			return nil, ErrMalformed
		}
		if keepSegment(m, b[i+2:i+n]) {
			out = append(out, b[i-2:i+n]...)
		}
		i += n
		if m == 0xDA {
			// Entropy-coded data follows the scan header, byte for byte,
			// up to the next marker: 0xFF is either stuffed (FF 00), a
			// restart marker (FF D0-D7), fill (FF FF) or a real marker.
			start := i
			for {
				if i+1 >= len(b) {
					return nil, ErrMalformed
				}
				if b[i] == 0xFF && b[i+1] != 0x00 && !(b[i+1] >= 0xD0 && b[i+1] <= 0xD7) && b[i+1] != 0xFF {
					break
				}
				i++
			}
			out = append(out, b[start:i]...)
		}
	}
}

// keepSegment keeps what decoding needs: frame and scan headers, tables,
// JFIF (APP0), the ICC profile (APP2 "ICC_PROFILE") and Adobe (APP14, the
// colour transform of CMYK/YCCK files). EXIF and XMP (APP1), MPF and other
// APP2 payloads, IPTC (APP13), comments, other application segments and
// reserved markers go. It shares jpegSegment with Check, so whatever JPEG
// keeps, Check accepts.
func keepSegment(m byte, payload []byte) bool {
	_, keep := jpegSegment(m, payload)
	return keep
}

// exifOrientation builds an APP1 segment: "Exif\0\0" + a big-endian TIFF
// header with one IFD holding only the Orientation tag (0x0112).
func exifOrientation(o int) []byte {
	tiff := []byte{
		'M', 'M', 0, 42, 0, 0, 0, 8, // header, IFD0 at offset 8
		0, 1, // one entry
		0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, // Orientation, SHORT, count 1, value
		0, 0, 0, 0, // no next IFD
	}
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

var pngSig = []byte("\x89PNG\r\n\x1a\n")

// pngDecode are the chunks a decoder may need: the critical ones, colour
// (iCCP, sRGB, gAMA, cHRM, cICP, mDCv, cLLi, sBIT), transparency,
// background, palette histogram and suggestions, pixel size and APNG
// animation. Every other ancillary chunk is dropped: tEXt/zTXt/iTXt hold
// XMP and comments, eXIf holds EXIF, tIME the edit time, and private
// chunks (caBX C2PA manifests, vendor chunks) can hold anything.
var pngDecode = map[string]bool{
	"IHDR": true, "PLTE": true, "IDAT": true, "IEND": true,
	"tRNS": true, "cHRM": true, "gAMA": true, "iCCP": true, "sBIT": true,
	"sRGB": true, "cICP": true, "mDCv": true, "cLLi": true, "bKGD": true,
	"hIST": true, "pHYs": true, "sPLT": true,
	"acTL": true, "fcTL": true, "fdAT": true,
}

// keepPNG: the chunks above, and unknown critical chunks (upper-case first
// letter), which are left for the decoder to refuse rather than silently
// changing what the image means; Check refuses them too.
func keepPNG(typ string) bool {
	return pngDecode[typ] || (typ[0] >= 'A' && typ[0] <= 'Z')
}

// PNG returns b with only the chunks keepPNG keeps (no text, EXIF, time
// or private chunks) and nothing after IEND; chunk CRCs are checked so a
// damaged file is refused rather than passed on.
func PNG(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, pngSig) {
		return nil, ErrMalformed
	}
	out := make([]byte, 0, len(b))
	out = append(out, pngSig...)
	for i := len(pngSig); ; {
		if i+12 > len(b) {
			return nil, ErrMalformed
		}
		n := int(binary.BigEndian.Uint32(b[i:]))
		if n < 0 || n > len(b)-i-12 {
			return nil, ErrMalformed
		}
		typ := string(b[i+4 : i+8])
		chunk := b[i : i+12+n]
		if crc32.ChecksumIEEE(chunk[4:8+n]) != binary.BigEndian.Uint32(chunk[8+n:]) {
			return nil, ErrMalformed
		}
		if keepPNG(typ) {
			out = append(out, chunk...)
		}
		i += 12 + n
		if typ == "IEND" {
			return out, nil
		}
	}
}
