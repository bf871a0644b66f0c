package metastrip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

var (
	// ErrPrivate: the image holds a metadata container that may carry
	// private data (EXIF beyond orientation, XMP, IPTC, comments, maker
	// notes, unknown application data). Check wraps it with what it found.
	ErrPrivate = errors.New("private metadata")
	// ErrUnknownFormat: Check cannot tell what the bytes are, so it cannot
	// vouch for them.
	ErrUnknownFormat = errors.New("unknown image format")
)

// Container is one segment, chunk, block or box that Inspect reports.
type Container struct {
	Offset int    // byte offset of its marker or header in the file
	Kind   string // e.g. "APP1 XMP", "tEXt Comment", "EXIF chunk", "Exif item"
}

func (c Container) String() string { return fmt.Sprintf("%s at %d", c.Kind, c.Offset) }

// maxReported bounds each list in a Report, so a file made of a million
// tiny segments costs a walk, not a million strings.
const maxReported = 64

// Report is what Inspect found in one image.
type Report struct {
	Format string // "jpeg", "png", "webp", "gif" or "isobmff"
	// Private lists the containers that make Check fail (the first
	// maxReported of them; More counts the rest).
	Private []Container
	More    int
	// Allowed lists notable containers that were accepted: colour
	// profiles, JFIF/Adobe segments and thumbd's orientation-only EXIF.
	Allowed []Container
}

func (r *Report) private(off int, format string, a ...any) {
	if len(r.Private) >= maxReported {
		r.More++
		return
	}
	r.Private = append(r.Private, Container{off, fmt.Sprintf(format, a...)})
}

func (r *Report) allowed(off int, kind string) {
	if len(r.Allowed) < maxReported {
		r.Allowed = append(r.Allowed, Container{off, kind})
	}
}

// Check is the last gate before an encoded image is served. It returns nil
// only if b is a JPEG, PNG, WebP, GIF or ISOBMFF (AVIF/HEIF) file whose
// structure walks cleanly to its end and holds no container that may
// carry private metadata. It fails closed: any non-nil error (ErrPrivate,
// ErrMalformed or ErrUnknownFormat, wrapped) means "do not serve".
//
// Check looks at containers, not at pixels or compressed payloads: data
// hidden inside an AVIF mdat without an item pointing at it, for example,
// is not found.
func Check(b []byte) error {
	r, err := Inspect(b)
	if err != nil {
		return err
	}
	if len(r.Private) > 0 {
		more := ""
		if n := len(r.Private) - 1 + r.More; n > 0 {
			more = fmt.Sprintf(" (and %d more)", n)
		}
		return fmt.Errorf("%w: %s: %s%s", ErrPrivate, r.Format, r.Private[0], more)
	}
	return nil
}

// Inspect identifies b's format by its signature and walks its structure
// (bounded: linear in len(b), fixed nesting depth), listing what it finds.
// The error is for unknown formats and structures that cannot be walked;
// private metadata is reported in Report.Private.
func Inspect(b []byte) (Report, error) {
	var r Report
	var err error
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		r.Format = "jpeg"
		err = inspectJPEG(b, &r)
	case bytes.HasPrefix(b, pngSig):
		r.Format = "png"
		err = inspectPNG(b, &r)
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		r.Format = "webp"
		err = inspectWebP(b, &r)
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		r.Format = "gif"
		err = inspectGIF(b, &r)
	case len(b) >= 8 && string(b[4:8]) == "ftyp":
		r.Format = "isobmff"
		err = inspectISOBMFF(b, &r)
	default:
		return r, ErrUnknownFormat
	}
	return r, err
}

// malformed wraps ErrMalformed with the format and what was wrong.
func malformed(format, msg string, off int) error {
	return fmt.Errorf("%w: %s: %s at %d", ErrMalformed, format, msg, off)
}

// quoted renders an identifier from the file in a message: short and
// quoted, so a hostile file cannot write arbitrary text into logs. It is
// a type, not a string, so that nothing is formatted for containers
// beyond maxReported.
type quoted []byte

func (q quoted) String() string {
	if len(q) > 32 {
		q = q[:32]
	}
	return fmt.Sprintf("%q", []byte(q))
}

// cstring returns p up to its first NUL (all of p if there is none) and
// what follows the NUL.
func cstring(p []byte) ([]byte, []byte) {
	if i := bytes.IndexByte(p, 0); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, nil
}

// jpegSegment names a marker segment and says whether it may be kept: it
// is needed to decode, or it is JFIF, the ICC profile or Adobe's colour
// transform. APP1 is never kept here (JPEG writes its own orientation
// block; Check accepts exactly that block, see minimalExif).
func jpegSegment(m byte, p []byte) (string, bool) {
	switch {
	case m >= 0xC0 && m <= 0xCF && m != 0xC8, // SOFn, DHT, DAC
		m == 0xDA, m == 0xDB, m == 0xDC, m == 0xDD, m == 0xDE, m == 0xDF: // SOS, DQT, DNL, DRI, DHP, EXP
		return "", true
	case m == 0xE0:
		switch {
		case bytes.HasPrefix(p, []byte("JFIF\x00")):
			return "APP0 JFIF", true
		case bytes.HasPrefix(p, []byte("JFXX\x00")) && len(p) > 5 && p[5] != 0x10:
			return "APP0 JFXX", true
		case bytes.HasPrefix(p, []byte("JFXX\x00")):
			// A JPEG-coded thumbnail is a whole JPEG stream, with room
			// for its own EXIF, and may show the picture before a crop.
			return "APP0 JFXX JPEG thumbnail", false
		}
	case m == 0xE1:
		switch {
		case bytes.HasPrefix(p, []byte("Exif\x00")):
			return "APP1 Exif", false
		case bytes.HasPrefix(p, []byte("http://ns.adobe.com/xap/1.0/\x00")):
			return "APP1 XMP", false
		case bytes.HasPrefix(p, []byte("http://ns.adobe.com/xmp/extension/\x00")):
			return "APP1 extended XMP", false
		}
	case m == 0xE2:
		if bytes.HasPrefix(p, []byte("ICC_PROFILE\x00")) {
			return "APP2 ICC_PROFILE", true
		}
	case m == 0xED:
		if bytes.HasPrefix(p, []byte("Photoshop 3.0\x00")) {
			return "APP13 Photoshop/IPTC", false
		}
	case m == 0xEE:
		if bytes.HasPrefix(p, []byte("Adobe")) {
			return "APP14 Adobe", true
		}
	case m == 0xFE:
		return "COM", false
	}
	// Other APPn payloads, and JPG (C8), JPGn (F0-FD) and reserved
	// markers, which libjpeg refuses and nothing here knows the content
	// of. The name is left to the caller, which formats it only if it
	// reports it.
	return "", false
}

// minimalExif reports whether an APP1 payload is exactly the block
// exifOrientation writes: "Exif\0\0", a TIFF header (either byte order)
// with IFD0 at offset 8 holding one entry, Orientation (0x0112) as one
// SHORT in 1..8, and no next IFD. No sub-IFD (ExifIFD, GPS), no IFD1
// thumbnail, and no spare bytes where unreferenced data could hide.
func minimalExif(p []byte) bool {
	const n = 6 + 8 + 2 + 12 + 4
	if len(p) != n || !bytes.HasPrefix(p, []byte("Exif\x00\x00")) {
		return false
	}
	t := p[6:]
	var o binary.ByteOrder
	switch string(t[:4]) {
	case "MM\x00\x2a":
		o = binary.BigEndian
	case "II\x2a\x00":
		o = binary.LittleEndian
	default:
		return false
	}
	e := t[10:22]
	v := o.Uint16(e[8:])
	return o.Uint32(t[4:]) == 8 && o.Uint16(t[8:]) == 1 &&
		o.Uint16(e[0:]) == 0x0112 && o.Uint16(e[2:]) == 3 && o.Uint32(e[4:]) == 1 &&
		v >= 1 && v <= 8 && o.Uint16(e[10:]) == 0 &&
		o.Uint32(t[22:]) == 0
}

// describeExif says what a refused EXIF block points to, for the report;
// best effort, it never decides anything.
func describeExif(p []byte) string {
	t := p[min(6, len(p)):]
	if len(t) < 8 {
		return "APP1 Exif"
	}
	var o binary.ByteOrder = binary.BigEndian
	if t[0] == 'I' {
		o = binary.LittleEndian
	}
	off := int(o.Uint32(t[4:]))
	if off < 8 || off > len(t)-2 {
		return "APP1 Exif"
	}
	n := int(o.Uint16(t[off:]))
	var what []string
	for i := range min(n, (len(t)-off-2)/12) {
		switch o.Uint16(t[off+2+12*i:]) {
		case 0x8769:
			what = append(what, "ExifIFD")
		case 0x8825:
			what = append(what, "GPS IFD")
		case 0x927C:
			what = append(what, "maker notes")
		}
	}
	if end := off + 2 + 12*n; end+4 <= len(t) && o.Uint32(t[end:]) != 0 {
		what = append(what, "IFD1")
	}
	s := fmt.Sprintf("APP1 Exif (%d IFD0 tags", n)
	if len(what) > 0 {
		s += ", " + strings.Join(what, ", ")
	}
	return s + ")"
}

// inspectJPEG walks every marker segment to EOI, including those between
// and after the scans (a progressive JPEG may carry APPn or COM there),
// and reports anything after EOI.
func inspectJPEG(b []byte, r *Report) error {
	const f = "jpeg"
	i := 2
	for {
		at := i
		if i >= len(b) || b[i] != 0xFF {
			return malformed(f, "no marker", i)
		}
		for i < len(b) && b[i] == 0xFF {
			i++
		}
		if i >= len(b) {
			return malformed(f, "truncated", i)
		}
		m := b[i]
		i++
		switch {
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			continue
		case m == 0xD9:
			if i < len(b) {
				r.private(i, "%d bytes after EOI", len(b)-i)
			}
			return nil
		case m == 0xD8 || m == 0x00:
			return malformed(f, fmt.Sprintf("marker 0x%02X", m), at)
		}
		if i+2 > len(b) {
			return malformed(f, "truncated", i)
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 || i+n > len(b) {
			return malformed(f, "segment length", i)
		}
		p := b[i+2 : i+n]
		name, ok := jpegSegment(m, p)
		switch {
		case m == 0xE1 && minimalExif(p):
			r.allowed(at, "APP1 Exif (orientation only)")
		case m == 0xE1 && name == "APP1 Exif":
			r.private(at, "%s", describeExif(p))
		case !ok && name != "":
			r.private(at, "%s", name)
		case !ok && m >= 0xE0 && m <= 0xEF:
			id, _ := cstring(p)
			r.private(at, "APP%d %v", m-0xE0, quoted(id))
		case !ok:
			r.private(at, "marker 0x%02X", m)
		case name != "":
			r.allowed(at, name)
		}
		i += n
		if m == 0xDA {
			// Skip entropy-coded data: FF 00 is a stuffed byte, FF D0-D7 a
			// restart marker, FF FF fill; any other FF xx is a marker.
			for {
				k := bytes.IndexByte(b[i:], 0xFF)
				if k < 0 || i+k+1 >= len(b) {
					return malformed(f, "scan not terminated", i)
				}
				i += k
				if c := b[i+1]; c == 0x00 || (c >= 0xD0 && c <= 0xD7) {
					i += 2
					continue
				} else if c == 0xFF {
					i++
					continue
				}
				break
			}
		}
	}
}

// inspectPNG walks the chunks to IEND, checking CRCs so the walk sees what
// a decoder sees.
func inspectPNG(b []byte, r *Report) error {
	const f = "png"
	for i := len(pngSig); ; {
		if i+12 > len(b) {
			return malformed(f, "truncated", i)
		}
		n := int(binary.BigEndian.Uint32(b[i:]))
		if n < 0 || n > len(b)-i-12 {
			return malformed(f, "chunk length", i)
		}
		t := b[i+4 : i+8]
		for _, c := range t {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return malformed(f, fmt.Sprintf("chunk type %v", quoted(t)), i)
			}
		}
		if crc32.ChecksumIEEE(b[i+4:i+8+n]) != binary.BigEndian.Uint32(b[i+8+n:]) {
			return malformed(f, "CRC", i)
		}
		typ, data := string(t), b[i+8:i+8+n]
		switch {
		case typ == "tEXt" || typ == "zTXt" || typ == "iTXt":
			kw, _ := cstring(data)
			r.private(i, "%s %v", typ, quoted(kw))
		case typ == "iCCP":
			r.allowed(i, typ)
		case !pngDecode[typ]:
			r.private(i, "%v chunk", quoted(t))
		}
		i += 12 + n
		if typ == "IEND" {
			if i < len(b) {
				r.private(i, "%d bytes after IEND", len(b)-i)
			}
			return nil
		}
	}
}
