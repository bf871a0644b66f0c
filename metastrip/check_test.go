package metastrip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// photo is the absolute path of a file in testdata/photos.
func photo(name string) string {
	p, err := filepath.Abs(filepath.Join("..", "testdata", "photos", name))
	if err != nil {
		panic(err)
	}
	return p
}

func has(name string) (string, error) { return exec.LookPath(name) }

// need returns the path of an external program. Without it the test is
// skipped, except in CI (CI set), where it fails: there the tools are
// installed by make test.
func need(t *testing.T, name string) string {
	t.Helper()
	p, err := has(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(need(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// privateTags are the values exiftoolWrite and taggedJPEG write.
var privateTags = []string{
	"-GPSLatitude=52.3731", "-GPSLatitudeRef=N", "-GPSLongitude=4.8922", "-GPSLongitudeRef=E",
	"-SerialNumber=SN-4711", "-XMP-dc:Creator=Jane Doe",
}

// exiftoolWrite adds GPS, a camera serial number and XMP to a file.
func exiftoolWrite(t *testing.T, path string, extra ...string) {
	t.Helper()
	run(t, "exiftool", append(append([]string{"-q", "-overwrite_original"}, privateTags...), append(extra, path)...)...)
}

// taggedJPEG writes cops.jpg with GPS, serial, XMP, IPTC and a comment.
func taggedJPEG(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "tagged.jpg")
	run(t, "exiftool", append(append([]string{"-q", "-o", out}, privateTags...), "-IPTC:By-line=Jane Doe", "-Comment=taken at home", photo("cops.jpg"))...)
	return out
}

// exiftoolPrivate returns exiftool's lines for private metadata in path.
func exiftoolPrivate(t *testing.T, path string) string {
	t.Helper()
	re := regexp.MustCompile(`^\[(GPS|XMP[-\w]*|IPTC|IFD0|IFD1|ExifIFD|InteropIFD|MakerNotes|Apple|Photoshop)\]|SerialNumber|\bCreator\b|\bComment\b`)
	var found []string
	for _, l := range strings.Split(string(run(t, "exiftool", "-G1", "-s", "-a", path)), "\n") {
		if re.MatchString(l) {
			found = append(found, l)
		}
	}
	return strings.Join(found, "\n")
}

// crop decodes a photo and returns its top-left w×h pixels as RGBA.
func crop(t testing.TB, name string, w, h int) *image.RGBA {
	t.Helper()
	m, _, err := image.Decode(bytes.NewReader(read(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(out, out.Bounds(), m, m.Bounds().Min, draw.Src)
	return out
}

func goJPEG(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func goPNG(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// goGIF re-encodes the animated test GIF with image/gif, which writes the
// frames and a NETSCAPE2.0 loop extension, and nothing else.
func goGIF(t testing.TB) []byte {
	g, err := gif.DecodeAll(bytes.NewReader(read(t, "animated.gif")))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// seg is a JPEG marker segment.
func seg(m byte, payload string) []byte {
	s := []byte{0xFF, m, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
	return append(s, payload...)
}

// afterSOI inserts segments right after the start-of-image marker.
func afterSOI(b []byte, segs ...[]byte) []byte {
	return cat(b[:2], cat(segs...), b[2:])
}

// beforeEOI inserts segments before the end-of-image marker, after the
// scan (where a progressive JPEG may legally carry APPn or COM).
func beforeEOI(b []byte, segs ...[]byte) []byte {
	return cat(b[:len(b)-2], cat(segs...), b[len(b)-2:])
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// ifdEntry is one TIFF IFD entry; a SHORT value sits in the first two
// bytes of the value field, anything else fills it.
type ifdEntry struct {
	tag, typ uint16
	count    uint32
	value    uint32
}

// exifBlock builds an APP1 Exif segment whose TIFF data holds IFD0 with
// the given entries, next-IFD offset next, and extra bytes after it.
func exifBlock(o byteOrder, entries []ifdEntry, next uint32, extra string) []byte {
	t := []byte("MM\x00\x2a")
	if o == byteOrder(binary.LittleEndian) {
		t = []byte("II\x2a\x00")
	}
	t = o.AppendUint32(t, 8)
	t = o.AppendUint16(t, uint16(len(entries)))
	for _, e := range entries {
		t = o.AppendUint16(t, e.tag)
		t = o.AppendUint16(t, e.typ)
		t = o.AppendUint32(t, e.count)
		if e.typ == 3 {
			t = o.AppendUint16(o.AppendUint16(t, uint16(e.value)), 0)
		} else {
			t = o.AppendUint32(t, e.value)
		}
	}
	t = o.AppendUint32(t, next)
	return seg(0xE1, "Exif\x00\x00"+string(t)+extra)
}

var orientation6 = ifdEntry{0x0112, 3, 1, 6}

// pngInsert inserts chunks after IHDR.
func pngInsert(b []byte, chunks ...[]byte) []byte {
	return cat(b[:33], cat(chunks...), b[33:])
}

// gifInsert inserts blocks before the trailer.
func gifInsert(b []byte, blocks ...[]byte) []byte {
	return cat(b[:len(b)-1], cat(blocks...), b[len(b)-1:])
}

// gifExt is an extension block: introducer, label, the first block and
// data blocks as sub-blocks, terminator.
func gifExt(label byte, blocks ...string) []byte {
	e := []byte{0x21, label}
	for _, s := range blocks {
		e = append(append(e, byte(len(s))), s...)
	}
	return append(e, 0)
}

// bx is an ISOBMFF box.
func bx(typ string, parts ...[]byte) []byte {
	p := cat(parts...)
	return cat(binary.BigEndian.AppendUint32(nil, uint32(8+len(p))), []byte(typ), p)
}

// str is shorthand for a byte literal.
func str(v string) []byte { return []byte(v) }

var full0 = []byte{0, 0, 0, 0} // FullBox version 0, no flags

// infe is an item info entry (version 2) of type typ; extra follows the
// name (the content type of a mime item).
func infe(id uint16, typ, extra string) []byte {
	return bx("infe", []byte{2, 0, 0, 0}, binary.BigEndian.AppendUint16(nil, id), []byte{0, 0}, str(typ), str("\x00"), str(extra))
}

func hdlr(h string) []byte {
	return bx("hdlr", full0, make([]byte, 4), str(h), make([]byte, 12), str("\x00"))
}

// heif builds ftyp + meta (handler h, the given items, properties and
// extra meta children) + mdat, plus top-level extras.
func heif(h string, items [][]byte, props [][]byte, metaExtra [][]byte, top ...[]byte) []byte {
	iinf := bx("iinf", full0, binary.BigEndian.AppendUint16(nil, uint16(len(items))), cat(items...))
	ipco := bx("ipco", cat(props...))
	iprp := bx("iprp", ipco, bx("ipma", full0, str("\x00\x00\x00\x01\x00\x01\x01\x81")))
	meta := bx("meta", full0, hdlr(h), bx("pitm", full0, str("\x00\x01")), iinf, iprp, cat(metaExtra...))
	return cat(bx("ftyp", str("avif\x00\x00\x00\x00avifmif1miaf")), meta, bx("mdat", str("av1 data")), cat(top...))
}

var (
	av01Item = infe(1, "av01", "")
	ispe     = bx("ispe", full0, str("\x00\x00\x00\x10\x00\x00\x00\x10"))
)

// nest wraps b in n boxes of type typ.
func nest(typ string, n int, b []byte) []byte {
	for range n {
		b = bx(typ, b)
	}
	return b
}

func TestCheck(t *testing.T) {
	pic := crop(t, "cops.jpg", 64, 48)
	j := goJPEG(t, pic)
	p := goPNG(t, pic)
	g := goGIF(t)
	avif := read(t, "test.avif")
	strippedIPhone, err := JPEG(read(t, "test_exif_full.jpg"), 6)
	if err != nil {
		t.Fatal(err)
	}
	strippedCMYK, err := JPEG(read(t, "jpg-32bit-cmyk-icc-swop.jpg"), 0)
	if err != nil {
		t.Fatal(err)
	}
	be, le := byteOrder(binary.BigEndian), byteOrder(binary.LittleEndian)
	progressiveCOM := beforeEOI(j, seg(0xFE, "after the scan"))

	for _, tc := range []struct {
		name string
		in   []byte
		want error  // nil, ErrPrivate, ErrMalformed or ErrUnknownFormat
		kind string // in the error message
	}{
		// JPEG
		{"jpeg/Go encoder", j, nil, ""},
		{"jpeg/cops.jpg (JFIF only)", read(t, "cops.jpg"), nil, ""},
		{"jpeg/seeding (JFIF only, 16 MP)", read(t, "seeding_by_Clements_Engelhardt.jpg"), nil, ""},
		{"jpeg/iPhone original (GPS, maker notes)", read(t, "test_exif_full.jpg"), ErrPrivate, "GPS IFD"},
		{"jpeg/CMYK original (Photoshop, XMP)", read(t, "jpg-32bit-cmyk-icc-swop.jpg"), ErrPrivate, "IFD1"},
		{"jpeg/JPEG() of the iPhone photo, orientation 6", strippedIPhone, nil, ""},
		{"jpeg/JPEG() of the CMYK photo (ICC, Adobe)", strippedCMYK, nil, ""},
		{"jpeg/thumbd's orientation block", afterSOI(j, exifOrientation(6)), nil, ""},
		{"jpeg/orientation block, little-endian", afterSOI(j, exifBlock(le, []ifdEntry{orientation6}, 0, "")), nil, ""},
		{"jpeg/orientation 9", afterSOI(j, exifBlock(be, []ifdEntry{{0x0112, 3, 1, 9}}, 0, "")), ErrPrivate, "APP1 Exif"},
		{"jpeg/orientation as LONG", afterSOI(j, exifBlock(be, []ifdEntry{{0x0112, 4, 1, 6}}, 0, "")), ErrPrivate, "APP1 Exif"},
		{"jpeg/orientation + GPS pointer", afterSOI(j, exifBlock(be, []ifdEntry{orientation6, {0x8825, 4, 1, 38}}, 0, strings.Repeat("\x00", 30))), ErrPrivate, "GPS IFD"},
		{"jpeg/orientation + ExifIFD pointer", afterSOI(j, exifBlock(le, []ifdEntry{orientation6, {0x8769, 4, 1, 38}}, 0, "")), ErrPrivate, "ExifIFD"},
		{"jpeg/orientation + IFD1", afterSOI(j, exifBlock(be, []ifdEntry{orientation6}, 26, "\x00\x00\x00\x00\x00\x00")), ErrPrivate, "IFD1"},
		{"jpeg/orientation + hidden bytes", afterSOI(j, exifBlock(be, []ifdEntry{orientation6}, 0, "52.37N 4.89E")), ErrPrivate, "APP1 Exif"},
		{"jpeg/only the camera make", afterSOI(j, exifBlock(be, []ifdEntry{{0x010F, 2, 4, 0x41424300}}, 0, "")), ErrPrivate, "APP1 Exif"},
		{"jpeg/XMP", afterSOI(j, seg(0xE1, "http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>")), ErrPrivate, "APP1 XMP"},
		{"jpeg/extended XMP", afterSOI(j, seg(0xE1, "http://ns.adobe.com/xmp/extension/\x00"+strings.Repeat("0", 32)+"\x00\x00\x00\x10\x00\x00\x00\x00<x/>")), ErrPrivate, "APP1 extended XMP"},
		{"jpeg/other APP1", afterSOI(j, seg(0xE1, "QVCI\x00")), ErrPrivate, `APP1 "QVCI"`},
		{"jpeg/IPTC", afterSOI(j, seg(0xED, "Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x05\x1c\x02\x50\x00\x01J")), ErrPrivate, "APP13 Photoshop/IPTC"},
		{"jpeg/comment", afterSOI(j, seg(0xFE, "shot at home")), ErrPrivate, "COM"},
		{"jpeg/APP12 Ducky", afterSOI(j, seg(0xEC, "Ducky\x00\x01")), ErrPrivate, "APP12"},
		{"jpeg/APP10 AROT", afterSOI(j, seg(0xEA, "AROT\x00\x00")), ErrPrivate, "APP10"},
		{"jpeg/APP2 MPF", afterSOI(j, seg(0xE2, "MPF\x00MM\x00\x2a")), ErrPrivate, `APP2 "MPF"`},
		{"jpeg/APP0 that is not JFIF", afterSOI(j, seg(0xE0, "AVI1\x00")), ErrPrivate, "APP0"},
		{"jpeg/JFIF", afterSOI(j, seg(0xE0, "JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00")), nil, ""},
		{"jpeg/JFXX JPEG thumbnail", afterSOI(j, seg(0xE0, "JFXX\x00\x10\xff\xd8\xff\xe1")), ErrPrivate, "JFXX JPEG thumbnail"},
		{"jpeg/APP14 Adobe", afterSOI(j, seg(0xEE, "Adobe\x00\x64\x00\x00\x00\x00\x01")), nil, ""},
		{"jpeg/APP14 not Adobe", afterSOI(j, seg(0xEE, "Other")), ErrPrivate, "APP14"},
		{"jpeg/APP15", afterSOI(j, seg(0xEF, "x")), ErrPrivate, "APP15"},
		{"jpeg/JPGn marker", afterSOI(j, seg(0xF7, "x")), ErrPrivate, "marker 0xF7"},
		{"jpeg/comment after the scan", progressiveCOM, ErrPrivate, "COM"},
		{"jpeg/bytes after EOI", cat(j, afterSOI(j, exifBlock(be, []ifdEntry{{0x8825, 4, 1, 26}}, 0, ""))), ErrPrivate, "after EOI"},
		{"jpeg/truncated", j[:len(j)/2], ErrMalformed, ""},
		{"jpeg/SOI only", []byte{0xFF, 0xD8, 0xFF}, ErrMalformed, ""},
		{"jpeg/segment past end", afterSOI(j, []byte{0xFF, 0xE1, 0xFF, 0xFF}), ErrMalformed, ""},
		{"jpeg/two SOI", afterSOI(j, []byte{0xFF, 0xD8}), ErrMalformed, ""},

		// PNG
		{"png/Go encoder", p, nil, ""},
		{"png/dice.png", read(t, "dice.png"), nil, ""},
		{"png/tEXt", pngInsert(p, chunk("tEXt", str("Comment\x00at home"))), ErrPrivate, `tEXt "Comment"`},
		{"png/zTXt", pngInsert(p, chunk("zTXt", str("Raw profile type exif\x00\x00x\x9c"))), ErrPrivate, "zTXt"},
		{"png/iTXt XMP", pngInsert(p, chunk("iTXt", str("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta/>"))), ErrPrivate, "XML:com.adobe.xmp"},
		{"png/eXIf", pngInsert(p, chunk("eXIf", str("MM\x00\x2a\x00\x00\x00\x08"))), ErrPrivate, "eXIf"},
		{"png/tIME", pngInsert(p, chunk("tIME", str("\x07\xe4\x07\x1c\x13\x12\x31"))), ErrPrivate, "tIME"},
		{"png/C2PA caBX", pngInsert(p, chunk("caBX", str("jumb"))), ErrPrivate, "caBX"},
		{"png/unknown critical chunk", pngInsert(p, chunk("ABCD", nil)), ErrPrivate, "ABCD"},
		{"png/colour and size chunks", pngInsert(p,
			chunk("iCCP", str("sRGB\x00\x00x\x9c")), chunk("sRGB", str("\x00")), chunk("gAMA", str("\x00\x00\xb1\x8f")),
			chunk("cHRM", make([]byte, 32)), chunk("pHYs", str("\x00\x00\x0b\x13\x00\x00\x0b\x13\x01")), chunk("cICP", str("\x01\x0d\x00\x01"))), nil, ""},
		{"png/bytes after IEND", cat(p, chunk("tEXt", str("GPS\x0052,4"))), ErrPrivate, "after IEND"},
		{"png/PNG() of the above", mustPNG(t, pngInsert(p, chunk("tEXt", str("a\x00b")), chunk("iTXt", str("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x/>")), chunk("eXIf", str("MM")), chunk("caBX", str("j")))), nil, ""},
		{"png/bad CRC", func() []byte { b := bytes.Clone(p); b[40] ^= 1; return b }(), ErrMalformed, ""},
		{"png/chunk type not letters", pngInsert(p, chunk("ab1d", nil)), ErrMalformed, ""},
		{"png/truncated", p[:len(p)-5], ErrMalformed, ""},

		// GIF
		{"gif/Go encoder (NETSCAPE2.0)", g, nil, ""},
		{"gif/animated.gif (comment)", read(t, "animated.gif"), ErrPrivate, "comment extension"},
		{"gif/XMP", gifInsert(g, gifExt(0xFF, "XMP DataXMP", "<x:xmpmeta/>")), ErrPrivate, `"XMP DataXMP"`},
		{"gif/ICC", gifInsert(g, gifExt(0xFF, "ICCRGBG1012", "profile")), ErrPrivate, "ICCRGBG1012"},
		{"gif/NETSCAPE2.0 buffering", gifInsert(g, gifExt(0xFF, "NETSCAPE2.0", "\x02\x00\x10\x00\x00")), nil, ""},
		{"gif/ANIMEXTS1.0", gifInsert(g, gifExt(0xFF, "ANIMEXTS1.0", "\x01\x00\x00")), nil, ""},
		{"gif/NETSCAPE2.0 with extra data", gifInsert(g, gifExt(0xFF, "NETSCAPE2.0", "\x01\x00\x00", "lat=52.37")), ErrPrivate, "extra data"},
		{"gif/comment", gifInsert(g, gifExt(0xFE, "at home")), ErrPrivate, "comment extension"},
		{"gif/plain text", gifInsert(g, gifExt(0x01, "\x00\x00\x00\x00\x10\x00\x10\x00\x08\x08\x01\x00", "hello")), ErrPrivate, "plain text"},
		{"gif/unknown extension", gifInsert(g, gifExt(0x99, "x")), ErrPrivate, "extension 0x99"},
		{"gif/bytes after trailer", cat(g, str("XMP")), ErrPrivate, "after trailer"},
		{"gif/truncated", g[:len(g)/2], ErrMalformed, ""},
		{"gif/unknown block", gifInsert(g, str("\x42")), ErrMalformed, ""},

		// ISOBMFF
		{"avif/test.avif", avif, nil, ""},
		{"avif/image item only", heif("pict", [][]byte{av01Item}, [][]byte{ispe}, nil), nil, ""},
		{"avif/ICC colour property", heif("pict", [][]byte{av01Item}, [][]byte{ispe, bx("colr", str("prof"), str("icc data"))}, nil), nil, ""},
		{"avif/grid of images", heif("pict", [][]byte{infe(1, "grid", ""), infe(2, "av01", ""), infe(3, "av01", "")}, [][]byte{ispe}, nil), nil, ""},
		{"avif/Exif item", heif("pict", [][]byte{av01Item, infe(2, "Exif", "")}, [][]byte{ispe}, nil), ErrPrivate, "Exif item"},
		{"avif/XMP item", heif("pict", [][]byte{av01Item, infe(2, "mime", "application/rdf+xml\x00")}, [][]byte{ispe}, nil), ErrPrivate, "XMP item"},
		{"avif/other mime item", heif("pict", [][]byte{av01Item, infe(2, "mime", "text/plain\x00")}, [][]byte{ispe}, nil), ErrPrivate, "mime item"},
		{"avif/uri item", heif("pict", [][]byte{av01Item, infe(2, "uri ", "urn:x\x00")}, [][]byte{ispe}, nil), ErrPrivate, "item of type"},
		{"avif/legacy infe", heif("pict", [][]byte{av01Item, bx("infe", full0, str("\x00\x02\x00\x00name\x00text/xml\x00"))}, [][]byte{ispe}, nil), ErrPrivate, "infe version 0"},
		{"avif/uuid box", heif("pict", [][]byte{av01Item}, nil, nil, bx("uuid", make([]byte, 16), str("xmp"))), ErrPrivate, `"uuid"`},
		{"avif/udta box", heif("pict", [][]byte{av01Item}, nil, nil, bx("udta", bx("\xa9xyz", str("+52.37+004.89/")))), ErrPrivate, `"udta"`},
		{"avif/unknown top-level box", heif("pict", [][]byte{av01Item}, nil, nil, bx("abcd")), ErrPrivate, "top-level box"},
		{"avif/free box", heif("pict", [][]byte{av01Item}, nil, nil, bx("free", str("pad"))), nil, ""},
		{"avif/meta handler mdta", heif("mdta", [][]byte{av01Item}, nil, nil), ErrPrivate, "handler"},
		{"avif/XML box in meta", heif("pict", [][]byte{av01Item}, nil, [][]byte{bx("xml ", full0, str("<x/>"))}), ErrPrivate, `"xml "`},
		{"avif/unknown property", heif("pict", [][]byte{av01Item}, [][]byte{bx("udes", full0, str("en\x00Jane\x00"))}, nil), ErrPrivate, "item property"},
		{"avif/udta deep in moov", heif("pict", [][]byte{av01Item}, nil, nil, bx("moov", bx("trak", bx("udta", str("x"))))), ErrPrivate, `"udta" box in "trak"`},
		{"avif/QuickTime meta in moov", heif("pict", [][]byte{av01Item}, nil, nil, bx("moov", bx("meta", hdlr("mdir"), bx("ilst")))), ErrPrivate, "QuickTime meta"},
		{"avif/largesize box", cat(heif("pict", [][]byte{av01Item}, nil, nil), []byte{0, 0, 0, 1}, str("free"), binary.BigEndian.AppendUint64(nil, 20), str("pad!")), nil, ""},
		{"avif/size-0 last box", cat(heif("pict", [][]byte{av01Item}, nil, nil), []byte{0, 0, 0, 0}, str("mdat"), str("to the end")), nil, ""},
		{"avif/box past the end", cat(heif("pict", [][]byte{av01Item}, nil, nil), []byte{0, 0, 1, 0}, str("free")), ErrMalformed, ""},
		{"avif/largesize too small", cat(heif("pict", [][]byte{av01Item}, nil, nil), []byte{0, 0, 0, 1}, str("free"), binary.BigEndian.AppendUint64(nil, 8)), ErrMalformed, ""},
		{"avif/nested too deep", heif("pict", [][]byte{av01Item}, nil, nil, nest("moov", 50, nil)), ErrMalformed, "too deep"},
		{"avif/truncated", avif[:len(avif)/2], ErrMalformed, ""},

		// Neither
		{"tiff", read(t, "rgb.tiff"), ErrUnknownFormat, ""},
		{"empty", nil, ErrUnknownFormat, ""},
		{"text", str("GPS 52.37 4.89"), ErrUnknownFormat, ""},
		{"bmp", str("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), ErrUnknownFormat, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.in)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Check = %v, want %v", err, tc.want)
			case err != nil && !strings.Contains(err.Error(), tc.kind):
				t.Errorf("Check = %v, want it to name %q", err, tc.kind)
			}
		})
	}
}

func TestExifBlockMatchesJPEG(t *testing.T) {
	// The test builder and the package agree on the minimal block, so the
	// variants above differ from it only where they mean to.
	for o := 1; o <= 8; o++ {
		if got := exifBlock(binary.BigEndian, []ifdEntry{{0x0112, 3, 1, uint32(o)}}, 0, ""); !bytes.Equal(got, exifOrientation(o)) {
			t.Errorf("orientation %d: % x != % x", o, got, exifOrientation(o))
		}
	}
}

func TestInspectLists(t *testing.T) {
	out, err := JPEG(read(t, "test_exif_full.jpg"), 6)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Inspect(out)
	if err != nil || r.Format != "jpeg" || len(r.Private) != 0 {
		t.Fatalf("%+v, %v", r, err)
	}
	if got := strings.Join(kinds(r.Allowed), ","); got != "APP1 Exif (orientation only),APP2 ICC_PROFILE" {
		t.Errorf("allowed: %s", got)
	}
	r, err = Inspect(read(t, "jpg-32bit-cmyk-icc-swop.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(kinds(r.Private), ","); got != "APP1 Exif (7 IFD0 tags, ExifIFD, IFD1),APP13 Photoshop/IPTC,APP1 XMP" {
		t.Errorf("private: %s", got)
	}
	// A file of a million comment segments is reported in bounded space.
	many := cat(str("\xff\xd8"), bytes.Repeat(seg(0xFE, ""), 1<<20), str("\xff\xd9"))
	r, err = Inspect(many)
	if err != nil || len(r.Private) != maxReported || r.More != 1<<20-maxReported {
		t.Errorf("%d private, %d more, %v", len(r.Private), r.More, err)
	}
	if err := Check(many); err == nil || !strings.Contains(err.Error(), "and 1048575 more") {
		t.Errorf("Check: %v", err)
	}
}

func kinds(cs []Container) []string {
	var ks []string
	for _, c := range cs {
		ks = append(ks, c.Kind)
	}
	return ks
}

// TestJPEGOutputPassesCheck: whatever JPEG() emits for the real photos,
// with the orientation thumbd passes it, is what Check lets through.
func TestJPEGOutputPassesCheck(t *testing.T) {
	for _, tc := range []struct {
		file        string
		orientation int
		private     bool // the original fails Check
	}{
		{"Landscape_1.jpg", 1, true}, {"Landscape_2.jpg", 2, true}, {"Landscape_3.jpg", 3, true},
		{"Landscape_4.jpg", 4, true}, {"Landscape_5.jpg", 5, true}, {"Landscape_6.jpg", 6, true},
		{"Landscape_7.jpg", 7, true}, {"Landscape_8.jpg", 8, true},
		{"orientation/orientation_0.jpg", 0, false}, {"orientation/orientation_1.jpg", 1, true},
		{"orientation/orientation_5.jpg", 5, true}, {"orientation/orientation_8.jpg", 8, true},
		{"test_exif_full.jpg", 6, true},
		{"jpg-32bit-cmyk-icc-swop.jpg", 1, true},
		{"cops.jpg", 0, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src := read(t, tc.file)
			if err := Check(src); (err != nil) != tc.private {
				t.Errorf("Check(original) = %v, want private %v", err, tc.private)
			}
			out, err := JPEG(src, tc.orientation)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Inspect(out)
			if err != nil || len(r.Private) > 0 {
				t.Fatalf("Inspect(JPEG()): %v %v", r.Private, err)
			}
			kept := strings.Contains(strings.Join(kinds(r.Allowed), ","), "orientation only")
			if want := tc.orientation >= 2; kept != want {
				t.Errorf("orientation block present = %v, want %v", kept, want)
			}
		})
	}
}

// TestCheckToolFiles: files exiftool and libvips wrote with GPS, serial
// numbers, XMP, IPTC, comments and maker notes are refused; the same
// files stripped (by exiftool -all=, by JPEG/PNG/WebP here, or by the
// encoder's own strip) pass.
func TestCheckToolFiles(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	// exif writes photo in with exiftool, given these arguments.
	exif := func(in string, args ...string) func(t *testing.T, out string) {
		return func(t *testing.T, out string) {
			run(t, "exiftool", append(append([]string{"-q", "-o", out}, args...), photo(in))...)
		}
	}
	vips := func(args ...string) func(t *testing.T, out string) {
		return func(t *testing.T, out string) {
			a := append([]string(nil), args...)
			for i := range a {
				if strings.HasPrefix(a[i], "photo:") {
					a[i] = photo(strings.TrimPrefix(a[i], "photo:"))
				}
				a[i] = strings.ReplaceAll(a[i], "OUT", out)
			}
			run(t, "vips", a...)
		}
	}
	// heif encodes a 200 px thumbnail of test_exif_full.jpg (EXIF kept, or
	// stripped) with libheif's heif-enc: libvips 8.14 cannot save HEIF
	// with the libheif 1.19 thumbd installs, and thumbd never uses its
	// saver (AVIF goes through heifenc).
	heif := func(strip bool, extra ...string) func(t *testing.T, out string) {
		return func(t *testing.T, out string) {
			small := out + ".jpg"
			opts := "[Q=90]"
			if strip {
				opts = "[Q=90,strip]"
			}
			run(t, "vips", "thumbnail", photo("test_exif_full.jpg"), small+opts, "200")
			run(t, "heif-enc", append(append([]string{"-q", "80", "-o", out}, extra...), small)...)
		}
	}
	gps := privateTags[:4:4]
	for _, tc := range []struct {
		name  string
		file  string
		make  func(t *testing.T, out string)
		kind  string              // "" for a file that passes
		strip func([]byte) []byte // nil: no stripper for this format
	}{
		{"jpeg GPS", "gps.jpg", exif("cops.jpg", gps...), "GPS IFD", stripJPEG},
		{"jpeg serial number", "serial.jpg", exif("cops.jpg", "-SerialNumber=SN-4711"), "ExifIFD", stripJPEG},
		{"jpeg XMP", "xmp.jpg", exif("cops.jpg", "-XMP-dc:Creator=Jane Doe"), "APP1 XMP", stripJPEG},
		{"jpeg IPTC", "iptc.jpg", exif("cops.jpg", "-IPTC:By-line=Jane Doe"), "APP13", stripJPEG},
		{"jpeg comment", "com.jpg", exif("cops.jpg", "-Comment=at home"), "COM", stripJPEG},
		{"jpeg maker notes", "mn.jpg", exif("cops.jpg", "-TagsFromFile", photo("test_exif_full.jpg"), "-MakerNotes"), "ExifIFD", stripJPEG},
		{"jpeg exiftool -all=", "all.jpg", exif("test_exif_full.jpg", "-all="), "", nil},
		{"png GPS and XMP", "gps.png", exif("dice.png", privateTags...), "XML:com.adobe.xmp", stripPNG},
		{"png comment", "com.png", exif("dice.png", "-Comment=at home"), "tEXt", stripPNG},
		{"gif XMP and comment", "xmp.gif", exif("animated.gif", "-XMP-dc:Creator=Jane Doe"), "comment extension", nil},
		{"gif exiftool -all=", "all.gif", exif("animated.gif", "-all="), "", nil},
		{"avif GPS and XMP", "gps.avif", exif("test.avif", privateTags...), "Exif item", nil},
		// exiftool empties HEIF metadata items but leaves them listed;
		// Check refuses items by type, so these still fail.
		{"avif exiftool -all=", "all.avif", func(t *testing.T, out string) {
			exif("test.avif", privateTags...)(t, path("pre.avif"))
			run(t, "exiftool", "-q", "-all=", "-o", out, path("pre.avif"))
		}, "Exif item", nil},

		// libvips 8.x keeps EXIF and the ICC profile unless told to strip.
		{"vips jpegsave", "v.jpg", vips("thumbnail", "photo:test_exif_full.jpg", "OUT", "200"), "GPS IFD", stripJPEG},
		{"vips jpegsave strip", "vs.jpg", heif(true), "", nil},
		{"vips pngsave", "v.png", vips("thumbnail", "photo:test_exif_full.jpg", "OUT", "200"), "eXIf", stripPNG},
		{"vips pngsave strip", "vs.png", heif(true), "", nil},
		{"vips gifsave", "v.gif", vips("copy", "photo:animated.gif[n=-1]", "OUT"), "", nil},
		{"heif-enc AV1", "v.avif", heif(false, "-A"), "Exif item", nil},
		{"heif-enc AV1 stripped", "vs.avif", heif(true, "-A"), "", nil},
		{"heif-enc HEVC stripped", "vs.heic", heif(true), "", nil},
		// libvips 8.14's webpsave writes EXIF even with strip: WebP()
		// exists for that.
		{"vips webpsave strip, then WebP()", "vs.webp", vips("thumbnail", "photo:test_exif_full.jpg", "OUT[strip]", "200"), "", stripWebP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := path(tc.file)
			tc.make(t, out)
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if tc.strip != nil && tc.kind == "" {
				b = tc.strip(b)
			}
			err = Check(b)
			if tc.kind == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrPrivate) || !strings.Contains(err.Error(), tc.kind) {
				t.Fatalf("Check = %v, want ErrPrivate naming %q", err, tc.kind)
			}
			if tc.strip != nil {
				if err := Check(tc.strip(b)); err != nil {
					t.Errorf("Check(stripped): %v", err)
				}
			}
		})
	}
}

func stripJPEG(b []byte) []byte { return must(JPEG(b, 0)) }
func stripPNG(b []byte) []byte  { return must(PNG(b)) }
func stripWebP(b []byte) []byte { return must(WebP(b)) }

func must(b []byte, err error) []byte {
	if err != nil {
		return nil // Check(nil) fails, so the test reports it
	}
	return b
}

// TestCheckBoundedWork: inputs built to be slow (a million segments,
// chunks, blocks or boxes; megabytes of fill; deep nesting) are walked in
// linear time. The limit is generous (the race detector, a shared CPU);
// quadratic behaviour would blow it by orders of magnitude.
func TestCheckBoundedWork(t *testing.T) {
	j := goJPEG(t, crop(t, "cops.jpg", 16, 16))
	p := goPNG(t, crop(t, "cops.jpg", 16, 16))
	g := goGIF(t)
	img := wchunk("VP8L", vp8lSolid(2, 2, 255, 0, 0, 0))
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool // Check passes it
	}{
		{"jpeg fill bytes", cat(str("\xff\xd8"), bytes.Repeat(str("\xff"), 8<<20)), false},
		{"jpeg empty segments", cat(str("\xff\xd8"), bytes.Repeat(seg(0xE5, ""), 2<<20), str("\xff\xd9")), false},
		{"jpeg long scan", cat(j[:len(j)-2], bytes.Repeat(str("\x00\xff\x00"), 2<<20), j[len(j)-2:]), true},
		{"png many chunks", pngInsert(p, bytes.Repeat(chunk("tEXt", nil), 500_000)), false},
		{"gif many extensions", gifInsert(g, bytes.Repeat(gifExt(0xFE), 2<<20)), false},
		{"gif many sub-blocks", gifInsert(g, cat(str("\x21\xfe"), bytes.Repeat(str("\x01x"), 2<<20), str("\x00"))), false},
		{"webp many chunks", riff(img, bytes.Repeat(wchunk("abcd", nil), 1<<20)), false},
		{"isobmff many boxes", cat(bx("ftyp", str("avif")), bytes.Repeat(bx("udta"), 1<<20)), false},
		{"isobmff deep nesting", cat(bx("ftyp", str("avif")), deep("moov", 100_000)), false},
		{"isobmff many items", heif("pict", [][]byte{bytes.Repeat(infe(2, "Exif", ""), 200_000)}, nil, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := Check(tc.in)
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("%d bytes took %v", len(tc.in), d)
			} else {
				t.Logf("%d bytes: %v (%v)", len(tc.in), d, err)
			}
			if (err == nil) != tc.ok {
				t.Errorf("Check = %v", err)
			}
		})
	}
}

// deep is n boxes of type typ, each the only child of the one before,
// built in one pass (wrapping n times would copy n² bytes).
func deep(typ string, n int) []byte {
	b := make([]byte, 8*n)
	for k := range n {
		binary.BigEndian.PutUint32(b[8*k:], uint32(8*(n-k)))
		copy(b[8*k+4:], typ)
	}
	return b
}

// FuzzCheck: Check never panics, agrees with Inspect, returns one of its
// three sentinels, bounds its report, and accepts whatever JPEG, PNG and
// WebP make of a file it can walk.
func FuzzCheck(f *testing.F) {
	pic := crop(f, "cops.jpg", 24, 16)
	j := goJPEG(f, pic)
	p := goPNG(f, pic)
	avif := read(f, "test.avif")
	for _, b := range [][]byte{
		j,
		afterSOI(j, exifOrientation(6), seg(0xE1, "http://ns.adobe.com/xap/1.0/\x00<x/>"), seg(0xE2, "ICC_PROFILE\x00\x01\x01"), seg(0xFE, "c")),
		afterSOI(j, exifBlock(binary.LittleEndian, []ifdEntry{orientation6, {0x8825, 4, 1, 26}}, 0, "")),
		p,
		pngInsert(p, chunk("tEXt", str("a\x00b")), chunk("iCCP", str("p\x00\x00x"))),
		gifInsert(goGIF(f)[:800], gifExt(0xFF, "XMP DataXMP", "x")),
		[]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00\x21\xfe\x01x\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b"),
		riff(vp8x(vp8xEXIF, 2, 2), wchunk("VP8L", vp8lSolid(2, 2, 255, 1, 2, 3)), wchunk("EXIF", str("MM"))),
		heif("pict", [][]byte{av01Item, infe(2, "Exif", ""), infe(3, "mime", "application/rdf+xml\x00")}, [][]byte{ispe}, nil, bx("moov", bx("udta"))),
		avif[:400],
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ierr := Inspect(b)
		err := Check(b)
		if (ierr == nil && len(r.Private) == 0) != (err == nil) {
			t.Fatalf("Inspect %v/%v disagrees with Check %v", r.Private, ierr, err)
		}
		if err != nil && !errors.Is(err, ErrPrivate) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownFormat) {
			t.Fatalf("unexpected error %v", err)
		}
		if len(r.Private) > maxReported || len(r.Allowed) > maxReported {
			t.Fatal("report not bounded")
		}
		if ierr != nil {
			return
		}
		// The strippers keep only what Check allows.
		switch r.Format {
		case "jpeg":
			out, err := JPEG(b, 6)
			if err != nil {
				t.Fatalf("Check walked it, JPEG refused it: %v", err)
			}
			if err := Check(out); err != nil {
				t.Fatalf("Check(JPEG(b)): %v", err)
			}
		case "png":
			out, err := PNG(b)
			if err != nil {
				t.Fatalf("Check walked it, PNG refused it: %v", err)
			}
			// Unknown critical chunks are kept for the decoder to refuse.
			if err := Check(out); errors.Is(err, ErrMalformed) || (err != nil && !strings.Contains(err.Error(), `" chunk`)) {
				t.Fatalf("Check(PNG(b)): %v", err)
			}
		case "webp":
			out, err := WebP(b)
			if err != nil {
				t.Fatalf("Check walked it, WebP refused it: %v", err)
			}
			if err := Check(out); err != nil {
				t.Fatalf("Check(WebP(b)): %v", err)
			}
		}
	})
}
