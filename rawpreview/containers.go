package rawpreview

import (
	"encoding/binary"
)

// --- RAF (Fujifilm) ---

// raf reads the header's pointer to the embedded JPEG (offset 84, length
// 88, big-endian). Fujifilm keeps the orientation in that JPEG's Exif.
func (f *finder) raf(head []byte) {
	if len(head) < 92 {
		return
	}
	off := int64(binary.BigEndian.Uint32(head[84:]))
	n := int64(binary.BigEndian.Uint32(head[88:]))
	f.add(off, n, "raf header")
}

// --- CR3 (Canon, ISOBMFF) ---

var (
	uuidCanon   = "\x85\xc0\xb6\x87\x82\x0f\x11\xe0\x81\x11\xf4\xce\x46\x2b\x6a\x48"
	uuidPreview = "\xea\xf4\x2b\x5e\x1c\x98\x4b\x88\xb9\xfb\xb7\xdc\x40\x6e\x4d\x16"
)

// box is an ISOBMFF box: its type and payload extent in the file.
type box struct {
	typ        string
	start, end int64 // payload
	next       int64 // offset after the box
}

// readBox reads the box header at off, inside [off, limit).
func (f *finder) readBox(off, limit int64) (box, bool) {
	h, err := f.rd.readFull(off, 16)
	if err != nil {
		// A box of only 8 header bytes at the very end.
		if h, err = f.rd.readFull(off, 8); err != nil {
			f.fail(err)
			return box{}, false
		}
	}
	size, hlen := int64(binary.BigEndian.Uint32(h)), int64(8)
	switch size {
	case 0:
		size = limit - off
	case 1:
		if len(h) < 16 {
			return box{}, false
		}
		v := binary.BigEndian.Uint64(h[8:])
		if v > uint64(limit-off) {
			return box{}, false
		}
		size, hlen = int64(v), 16
	}
	if size < hlen || size > limit-off {
		return box{}, false
	}
	return box{typ: string(h[4:8]), start: off + hlen, end: off + size, next: off + size}, true
}

// boxes calls fn for each box in [start, end), at most maxBoxes.
func (f *finder) boxes(start, end int64, fn func(b box)) {
	for i, off := 0, start; off+8 <= end && i < maxBoxes; i++ {
		b, ok := f.readBox(off, end)
		if !ok {
			return
		}
		fn(b)
		off = b.next
	}
}

// cr3 walks the top-level boxes: moov (Canon uuid with CMT1 and THMB; the
// tracks, the first of which is a full-size JPEG in mdat) and the preview
// uuid box (PRVW).
func (f *finder) cr3() {
	f.boxes(0, f.rd.size, func(b box) {
		switch b.typ {
		case "moov":
			f.boxes(b.start, b.end, func(c box) {
				switch c.typ {
				case "uuid":
					if f.uuidIs(c, uuidCanon) {
						f.canonUUID(c)
					}
				case "trak":
					f.cr3Track(c)
				}
			})
		case "uuid":
			if f.uuidIs(b, uuidPreview) {
				// 16 bytes uuid, 8 bytes of Canon's own, then PRVW.
				f.boxes(b.start+24, b.end, func(c box) {
					if c.typ == "PRVW" {
						f.jpegBox(c, 12, "cr3 PRVW")
					}
				})
			}
		}
	})
}

func (f *finder) uuidIs(b box, id string) bool {
	u, err := f.rd.readFull(b.start, 16)
	return err == nil && string(u) == id
}

// canonUUID reads CMT1 (IFD0 as a TIFF file, for the orientation) and THMB.
func (f *finder) canonUUID(b box) {
	f.boxes(b.start+16, b.end, func(c box) {
		switch c.typ {
		case "CMT1":
			if t, ok := newTIFF(f.rd, c.start); ok && f.orientation == 0 {
				if es, _, err := t.readIFD(t.ifd0); err == nil {
					for _, e := range es {
						if o, ok := t.one(e); e.tag == tagOrientation && ok && o >= 1 && o <= 8 {
							f.orientation = int(o)
						}
					}
				} else {
					f.fail(err)
				}
			}
		case "THMB":
			f.jpegBox(c, 8, "cr3 THMB")
		}
	})
}

// jpegBox reads a THMB or PRVW payload: a big-endian JPEG length at
// payload offset lenAt (8 in THMB, 12 in PRVW) and the JPEG at payload
// offset 16 in both.
func (f *finder) jpegBox(b box, lenAt int64, source string) {
	h, err := f.rd.readFull(b.start, 16)
	if err != nil {
		f.fail(err)
		return
	}
	n := int64(binary.BigEndian.Uint32(h[lenAt:]))
	if b.start+16+n <= b.end {
		f.add(b.start+16, n, source)
	}
}

// cr3Track finds a track whose sample description is CRAW with a JPEG
// child (CR3's full-size JPEG) and takes its first sample: stsz for the
// size, co64 or stco for the offset.
func (f *finder) cr3Track(trak box) {
	stbl := trak
	for _, want := range []string{"mdia", "minf", "stbl"} {
		next, ok := box{}, false
		f.boxes(stbl.start, stbl.end, func(c box) {
			if !ok && c.typ == want {
				next, ok = c, true
			}
		})
		if !ok {
			return
		}
		stbl = next
	}
	var (
		isJPEG    bool
		size, off int64
	)
	f.boxes(stbl.start, stbl.end, func(c box) {
		switch c.typ {
		case "stsd":
			// FullBox header and entry count, then the first entry.
			if e, ok := f.readBox(c.start+8, c.end); ok && e.typ == "CRAW" {
				n := min(e.end-e.start, 512)
				if p, err := f.rd.readFull(e.start, int(n)); err == nil {
					isJPEG = containsBox(p, "JPEG")
				}
			}
		case "stsz":
			if p, err := f.rd.readFull(c.start, 16); err == nil {
				size = int64(binary.BigEndian.Uint32(p[4:]))
				if size == 0 && binary.BigEndian.Uint32(p[8:]) > 0 {
					size = int64(binary.BigEndian.Uint32(p[12:]))
				}
			}
		case "co64":
			if p, err := f.rd.readFull(c.start, 16); err == nil && binary.BigEndian.Uint32(p[4:]) > 0 {
				v := binary.BigEndian.Uint64(p[8:])
				if v < uint64(f.rd.size) {
					off = int64(v)
				}
			}
		case "stco":
			if p, err := f.rd.readFull(c.start, 12); err == nil && binary.BigEndian.Uint32(p[4:]) > 0 {
				off = int64(binary.BigEndian.Uint32(p[8:]))
			}
		}
	})
	if isJPEG {
		f.add(off, size, "cr3 track JPEG")
	}
}

// containsBox reports a small child box of type typ (a 4-byte size of 8
// to 64, then the fourcc) in a sample entry's bytes p. CRAW's fixed fields
// before its children differ between cameras, so the children are found
// by their shape rather than at a fixed offset.
func containsBox(p []byte, typ string) bool {
	for i := 4; i+4 <= len(p); i++ {
		if string(p[i:i+4]) == typ {
			if s := binary.BigEndian.Uint32(p[i-4:]); s >= 8 && s <= 64 {
				return true
			}
		}
	}
	return false
}

// --- CRW (Canon CIFF) ---

// crw walks the CIFF heaps for JpgFromRaw (0x2007), the thumbnail (0x2008)
// and ImageInfo (0x1810, whose fourth word is the rotation).
func (f *finder) crw(head []byte) {
	bo := binary.ByteOrder(binary.LittleEndian)
	if head[0] == 'M' {
		bo = binary.BigEndian
	}
	hlen := int64(bo.Uint32(head[2:]))
	if hlen < 14 || hlen >= f.rd.size {
		return
	}
	f.ciffHeap(bo, hlen, f.rd.size, 0, map[int64]bool{})
}

func (f *finder) ciffHeap(bo binary.ByteOrder, start, end int64, depth int, seen map[int64]bool) {
	if depth > maxDepth || end-start < 6 || seen[start] || len(seen) >= maxIFDs {
		return
	}
	seen[start] = true
	t, err := f.rd.readFull(end-4, 4)
	if err != nil {
		f.fail(err)
		return
	}
	dir := start + int64(bo.Uint32(t))
	if dir < start || dir+2 > end-4 {
		return
	}
	c, err := f.rd.readFull(dir, 2)
	if err != nil {
		f.fail(err)
		return
	}
	n := min(int64(bo.Uint16(c)), maxCIFFItems, (end-4-dir-2)/10)
	if n <= 0 {
		return
	}
	b, err := f.rd.readFull(dir+2, int(n*10))
	if err != nil {
		f.fail(err)
		return
	}
	for i := range n {
		e := b[i*10:]
		tag := bo.Uint16(e)
		size, off := int64(bo.Uint32(e[2:])), int64(bo.Uint32(e[6:]))
		if tag&0xc000 != 0 { // value held in the entry itself
			continue
		}
		dataStart := start + off
		if off < 0 || size <= 0 || dataStart+size > end {
			continue
		}
		id := tag & 0x3fff
		switch {
		case tag&0x3800 == 0x2800 || tag&0x3800 == 0x3000: // sub-heap
			f.ciffHeap(bo, dataStart, dataStart+size, depth+1, seen)
		case id == 0x2007:
			f.add(dataStart, size, "crw JpgFromRaw")
		case id == 0x2008:
			f.add(dataStart, size, "crw thumbnail")
		case id == 0x1810 && size >= 16 && f.orientation == 0:
			if p, err := f.rd.readFull(dataStart, 16); err == nil {
				f.orientation = rotationToOrientation(int32(bo.Uint32(p[12:])))
			}
		}
	}
}

// rotationToOrientation maps CRW's ImageInfo rotation (degrees clockwise
// to turn the image upright) to an EXIF orientation; 0 if unknown.
func rotationToOrientation(deg int32) int {
	switch deg {
	case 0:
		return 1
	case 90:
		return 6
	case 180:
		return 3
	case 270, -90:
		return 8
	}
	return 0
}
