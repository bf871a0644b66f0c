package rawpreview

import (
	"encoding/binary"
	"errors"
)

type jpegInfo struct {
	w, h        int
	orientation int // from the JPEG's own Exif APP1; 0 if none
}

var (
	errNotJPEG  = errors.New("not a JPEG")
	errLossless = errors.New("lossless or arithmetic JPEG (raw data, not a preview)")
	errNoSOF    = errors.New("no frame header")
)

// probeJPEG checks that [off, off+n) starts a JPEG a baseline decoder
// reads, and returns its frame size. It walks marker segments from SOI to
// the first SOF, reading only their headers (and an Exif APP1's first IFD).
func probeJPEG(rd *reader, off, n int64) (jpegInfo, error) {
	var info jpegInfo
	end := off + n
	soi, err := rd.readFull(off, 4)
	if err != nil {
		return info, err
	}
	if soi[0] != 0xff || soi[1] != 0xd8 || soi[2] != 0xff {
		return info, errNotJPEG
	}
	pos := off + 2
	for range maxMarkers {
		if pos+4 > end {
			return info, errNoSOF
		}
		h, err := rd.readFull(pos, 4)
		if err != nil {
			return info, err
		}
		if h[0] != 0xff {
			return info, errNotJPEG
		}
		m := h[1]
		switch {
		case m == 0xff: // fill byte
			pos++
			continue
		case m == 0x01 || m >= 0xd0 && m <= 0xd7: // standalone markers
			pos += 2
			continue
		case m == 0xd8 || m == 0xd9 || m == 0xda:
			return info, errNoSOF // SOI again, EOI or scan data before a frame header
		}
		segLen := int64(binary.BigEndian.Uint16(h[2:]))
		if segLen < 2 || pos+2+segLen > end {
			return info, errNoSOF
		}
		switch {
		case m == 0xc0 || m == 0xc1 || m == 0xc2:
			sof, err := rd.readFull(pos+4, 6)
			if err != nil {
				return info, err
			}
			info.h = int(binary.BigEndian.Uint16(sof[1:]))
			info.w = int(binary.BigEndian.Uint16(sof[3:]))
			comps := int(sof[5])
			if sof[0] != 8 || info.w == 0 || info.h == 0 || comps != 1 && comps != 3 {
				// 12-bit, DNL-sized or CMYK previews are not for a browser.
				return info, errNotJPEG
			}
			return info, nil
		case m >= 0xc3 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc:
			return info, errLossless
		case m == 0xe1 && info.orientation == 0 && segLen >= 16:
			// IFD0 and its orientation entry sit near the start of Exif.
			if b, err := rd.read(pos+4, int(min(segLen-2, 4096))); err == nil {
				info.orientation = exifOrientation(b)
			}
		}
		pos += 2 + segLen
	}
	return info, errNoSOF
}

// exifOrientation reads tag 0x0112 from IFD0 of an APP1 "Exif\0\0" payload
// held in memory; 0 when absent.
func exifOrientation(b []byte) int {
	if len(b) < 14 || string(b[:6]) != "Exif\x00\x00" {
		return 0
	}
	t := b[6:]
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	ifd := int64(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return 0
	}
	n := int64(bo.Uint16(t[ifd:]))
	for i := range min(n, maxEntries) {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 && bo.Uint16(t[e+2:]) == 3 {
			if o := int(bo.Uint16(t[e+8:])); o >= 1 && o <= 8 {
				return o
			}
			return 0
		}
	}
	return 0
}
