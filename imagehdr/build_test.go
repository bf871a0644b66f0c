package imagehdr

// Builders for synthetic files. They write only the structures Parse reads
// (plus what a decoder needs where a test checks the file decodes), so each
// test states its case in a line or two.

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u16be(v int) []byte    { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func u32be(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u16le(v int) []byte    { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
func u32le(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u24le(v int) []byte    { return []byte{byte(v), byte(v >> 8), byte(v >> 16)} }

// --- JPEG ---

// jseg is a JPEG marker segment with its length.
func jseg(marker byte, payload ...byte) []byte {
	return cat([]byte{0xFF, marker}, u16be(len(payload)+2), payload)
}

// jsof is a frame header with nf components.
func jsof(marker byte, precision byte, height, width, nf int) []byte {
	p := cat([]byte{precision}, u16be(height), u16be(width), []byte{byte(nf)})
	for i := range nf {
		p = append(p, byte(i+1), 0x11, 0)
	}
	return jseg(marker, p...)
}

// jsos is a scan header over the first ns components.
func jsos(ns int) []byte {
	p := []byte{byte(ns)}
	for i := range ns {
		p = append(p, byte(i+1), 0)
	}
	return jseg(0xDA, append(p, 0, 63, 0)...)
}

// jpegFile is SOI followed by the parts and a little entropy data and EOI.
func jpegFile(parts ...[]byte) []byte {
	return cat([]byte{0xFF, 0xD8}, cat(parts...), []byte{0x12, 0x34, 0xFF, 0xD9})
}

var jfif = jseg(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")...)

// --- PNG ---

func pngChunk(typ string, data []byte) []byte {
	c := cat([]byte(typ), data)
	return cat(u32be(uint32(len(data))), c, u32be(crc32.ChecksumIEEE(c)))
}

func ihdr(w, h uint32, depth, colour, interlace byte) []byte {
	return pngChunk("IHDR", cat(u32be(w), u32be(h), []byte{depth, colour, 0, 0, interlace}))
}

// pngFile is the signature, the chunks, a token IDAT and IEND.
func pngFile(chunks ...[]byte) []byte {
	return cat([]byte(sigPNG), cat(chunks...), pngChunk("IDAT", []byte{0x78, 0x9c}), pngChunk("IEND", nil))
}

// setPNGInterlace rewrites an encoded PNG's IHDR interlace byte and CRC.
func setPNGInterlace(b []byte, interlace byte) []byte {
	b = bytes.Clone(b)
	b[8+8+12] = interlace
	binary.BigEndian.PutUint32(b[8+8+13:], crc32.ChecksumIEEE(b[12:8+8+13]))
	return b
}

// --- GIF ---

// gifFrame describes one image descriptor.
type gifFrame struct {
	left, top, w, h int
	interlaced      bool
	localTable      bool
}

// gifFile builds a GIF89a with a 2-colour global table and the frames, each
// a graphic control extension plus a descriptor whose LZW data encodes
// pixel index 0 (valid for 1x1 frames; larger frames decode short).
func gifFile(w, h int, frames ...gifFrame) []byte {
	b := cat([]byte(sigGIF89), u16le(w), u16le(h), []byte{0x80, 0, 0}, []byte{0, 0, 0, 255, 255, 255})
	for _, f := range frames {
		b = append(b, 0x21, 0xF9, 4, 0, 10, 0, 0, 0)
		packed := byte(0)
		if f.interlaced {
			packed |= 0x40
		}
		if f.localTable {
			packed |= 0x80
		}
		b = append(b, 0x2C)
		b = append(b, cat(u16le(f.left), u16le(f.top), u16le(f.w), u16le(f.h))...)
		b = append(b, packed)
		if f.localTable {
			b = append(b, 0, 0, 0, 255, 255, 255)
		}
		b = append(b, 2, 2, 0x44, 0x01, 0)
	}
	return append(b, 0x3B)
}

// manyGIFFrames returns n 1x1 frames.
func manyGIFFrames(n int) []gifFrame {
	fs := make([]gifFrame, n)
	for i := range fs {
		fs[i] = gifFrame{w: 1, h: 1}
	}
	return fs
}

// --- WebP ---

func riff(typ string, data []byte) []byte {
	c := cat([]byte(typ), u32le(uint32(len(data))), data)
	if len(data)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

func webpFile(chunks ...[]byte) []byte {
	body := cat([]byte("WEBP"), cat(chunks...))
	return cat([]byte("RIFF"), u32le(uint32(len(body))), body)
}

func vp8x(flags byte, w, h int) []byte {
	return riff("VP8X", cat([]byte{flags, 0, 0, 0}, u24le(w-1), u24le(h-1)))
}

// vp8l is a lossless bitstream header (no image data follows).
func vp8l(w, h int, alpha bool) []byte {
	v := uint32(w-1) | uint32(h-1)<<14
	if alpha {
		v |= 1 << 28
	}
	return riff("VP8L", cat([]byte{0x2f}, u32le(v)))
}

// vp8 is a lossy key-frame header.
func vp8(w, h int) []byte {
	return riff("VP8 ", cat([]byte{0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a}, u16le(w), u16le(h)))
}

func anmf(w, h int, frame []byte) []byte {
	return riff("ANMF", cat(u24le(0), u24le(0), u24le(w-1), u24le(h-1), u24le(100), []byte{0}, frame))
}

// animatedWebP is a VP8X animation of n 1x1 lossless frames.
func animatedWebP(n int) []byte {
	frame := anmf(1, 1, vp8l(1, 1, false))
	chunks := [][]byte{vp8x(0x02, 1, 1), riff("ANIM", make([]byte, 6))}
	for range n {
		chunks = append(chunks, frame)
	}
	return webpFile(chunks...)
}

// --- TIFF ---

// tiffEntry is one IFD entry; values longer than 4 bytes go out of line.
type tiffEntry struct {
	tag, typ uint16
	values   []uint32
}

func short(tag uint16, vs ...uint32) tiffEntry { return tiffEntry{tag, 3, vs} }
func long(tag uint16, vs ...uint32) tiffEntry  { return tiffEntry{tag, 4, vs} }

// rgbIFD describes a w x h 8-bit RGB image.
func rgbIFD(w, h uint32, extra ...tiffEntry) []tiffEntry {
	return append([]tiffEntry{
		long(tagImageWidth, w), long(tagImageLength, h),
		short(tagBitsPerSample, 8, 8, 8), short(tagSamplesPerPixel, 3),
		short(tagPhotometric, 2),
	}, extra...)
}

// tiffEnd and tiffOutside are next-IFD links: end of chain, or an offset
// past the end of the file.
const (
	tiffEnd     = -1
	tiffOutside = -2
)

// tiffFile builds a classic TIFF whose IFD i links to IFD links[i] (or
// tiffEnd/tiffOutside). Without links, IFDs form a simple chain.
func tiffFile(order binary.AppendByteOrder, ifds [][]tiffEntry, links ...int) []byte {
	if links == nil {
		for i := range ifds {
			links = append(links, i+1)
		}
		links[len(links)-1] = tiffEnd
	}
	// Lay out IFDs after the header, then the out-of-line values.
	offs := make([]uint32, len(ifds))
	pos := uint32(8)
	for i, ifd := range ifds {
		offs[i] = pos
		pos += 2 + 12*uint32(len(ifd)) + 4
	}
	var data []byte
	b := []byte{'I', 'I', 42, 0}
	if order == binary.AppendByteOrder(binary.BigEndian) {
		b = []byte{'M', 'M', 0, 42}
	}
	b = order.AppendUint32(b, offs[0])
	for i, ifd := range ifds {
		b = order.AppendUint16(b, uint16(len(ifd)))
		for _, e := range ifd {
			b = order.AppendUint16(b, e.tag)
			b = order.AppendUint16(b, e.typ)
			b = order.AppendUint32(b, uint32(len(e.values)))
			var vals []byte
			for _, v := range e.values {
				if e.typ == 3 {
					vals = order.AppendUint16(vals, uint16(v))
				} else {
					vals = order.AppendUint32(vals, v)
				}
			}
			if len(vals) <= 4 {
				b = append(b, append(vals, make([]byte, 4-len(vals))...)...)
			} else {
				b = order.AppendUint32(b, pos+uint32(len(data)))
				data = append(data, vals...)
			}
		}
		var next uint32
		switch l := links[i]; l {
		case tiffEnd:
		case tiffOutside:
			next = 1 << 30
		default:
			next = offs[l]
		}
		b = order.AppendUint32(b, next)
	}
	return append(b, data...)
}

// bigTIFF builds a little-endian BigTIFF with one IFD of LONG8/SHORT values.
func bigTIFF(w, h uint64, spp uint16) []byte {
	b := cat([]byte{'I', 'I', 43, 0, 8, 0, 0, 0}, binary.LittleEndian.AppendUint64(nil, 16))
	entries := []struct {
		tag, typ uint16
		v        uint64
	}{{tagImageWidth, 16, w}, {tagImageLength, 16, h}, {tagSamplesPerPixel, 3, uint64(spp)}, {tagBitsPerSample, 3, 16}}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(entries)))
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.typ)
		b = binary.LittleEndian.AppendUint64(b, 1)
		b = binary.LittleEndian.AppendUint64(b, e.v)
	}
	return binary.LittleEndian.AppendUint64(b, 0)
}

// --- HEIF / AVIF ---

func box(typ string, parts ...[]byte) []byte {
	body := cat(parts...)
	return cat(u32be(uint32(8+len(body))), []byte(typ), body)
}

func fbox(typ string, version byte, flags uint32, parts ...[]byte) []byte {
	return box(typ, cat([]byte{version, byte(flags >> 16), byte(flags >> 8), byte(flags)}, cat(parts...)))
}

func ftyp(major string, compat ...string) []byte {
	b := cat([]byte(major), u32be(0))
	for _, c := range compat {
		b = append(b, c...)
	}
	return box("ftyp", b)
}

// heifItem is an infe entry.
type heifItem struct {
	id     int
	typ    string
	hidden bool
	props  []int // 1-based ipco indexes
}

type heifRef struct {
	typ  string
	from int
	to   []int
}

func ispe(w, h uint32) []byte { return fbox("ispe", 0, 0, u32be(w), u32be(h)) }
func pixi(bits ...byte) []byte {
	return fbox("pixi", 0, 0, []byte{byte(len(bits))}, bits)
}
func irot(quarterTurns byte) []byte { return box("irot", []byte{quarterTurns}) }
func auxC(urn string) []byte        { return fbox("auxC", 0, 0, []byte(urn+"\x00")) }

func hvcC(depth byte) []byte {
	b := make([]byte, 23)
	b[0] = 1
	b[16] = 0xFC | 1
	b[17] = 0xF8 | (depth - 8)
	b[18] = 0xF8 | (depth - 8)
	return box("hvcC", b)
}

func av1C(depth byte) []byte {
	var flags byte
	switch depth {
	case 10:
		flags = 0x40
	case 12:
		flags = 0x60
	}
	return box("av1C", []byte{0x81, 0x00, flags | 0x0C, 0x00})
}

const alphaURN = "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha"

// heifFile assembles ftyp, a meta box (hdlr, pitm, iinf, iref, iprp) and a
// token mdat.
func heifFile(ftypBox []byte, primary int, items []heifItem, props [][]byte, refs []heifRef) []byte {
	var infes, assoc [][]byte
	for _, it := range items {
		flags := uint32(0)
		if it.hidden {
			flags = 1
		}
		infes = append(infes, fbox("infe", 2, flags, u16be(it.id), u16be(0), []byte(it.typ), []byte("\x00")))
		if len(it.props) > 0 {
			a := cat(u16be(it.id), []byte{byte(len(it.props))})
			for _, p := range it.props {
				a = append(a, byte(p)|0x80)
			}
			assoc = append(assoc, a)
		}
	}
	var refBoxes [][]byte
	for _, r := range refs {
		b := cat(u16be(r.from), u16be(len(r.to)))
		for _, t := range r.to {
			b = append(b, u16be(t)...)
		}
		refBoxes = append(refBoxes, box(r.typ, b))
	}
	meta := fbox("meta", 0, 0,
		fbox("hdlr", 0, 0, u32be(0), []byte("pict"), make([]byte, 13)),
		fbox("pitm", 0, 0, u16be(primary)),
		fbox("iinf", 0, 0, u16be(len(items)), cat(infes...)),
		fbox("iref", 0, 0, cat(refBoxes...)),
		box("iprp", box("ipco", cat(props...)), fbox("ipma", 0, 0, u32be(uint32(len(assoc))), cat(assoc...))),
	)
	return cat(ftypBox, meta, box("mdat", make([]byte, 16)))
}

// simpleHEIF is one coded item of the given type with ispe, a codec
// configuration and any extra properties.
func simpleHEIF(ftypBox []byte, itemType string, w, h uint32, config []byte, extra ...[]byte) []byte {
	props := append([][]byte{ispe(w, h), config}, extra...)
	idx := make([]int, len(props))
	for i := range idx {
		idx[i] = i + 1
	}
	return heifFile(ftypBox, 1, []heifItem{{id: 1, typ: itemType, props: idx}}, props, nil)
}
