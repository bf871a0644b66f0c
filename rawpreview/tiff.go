package rawpreview

import (
	"encoding/binary"
	"strconv"
	"time"
)

// TIFF tags used here.
const (
	tagCompression    = 0x0103
	tagStripOffsets   = 0x0111
	tagOrientation    = 0x0112
	tagStripByteCount = 0x0117
	tagSubIFDs        = 0x014a
	tagJPEGOffset     = 0x0201 // JPEGInterchangeFormat
	tagJPEGLength     = 0x0202 // JPEGInterchangeFormatLength
	tagExifIFD        = 0x8769
	tagDateTimeOrig   = 0x9003
	tagMakerNote      = 0x927c
	tagRW2JPEG        = 0x002e // Panasonic RW2 JpgFromRaw, in IFD0
)

// isTIFF reports a TIFF header, including the variants with their own
// magic number: Olympus ORF (IIRO, IIRS, MMOR) and Panasonic RW2 (IIU).
func isTIFF(h []byte) bool {
	if len(h) < 8 {
		return false
	}
	switch string(h[:4]) {
	case "II*\x00", "MM\x00*", "IIRO", "IIRS", "MMOR", "IIU\x00":
		return true
	}
	return false
}

// tiff is one TIFF structure: its byte order and the file offset its
// offsets count from.
type tiff struct {
	rd   *reader
	bo   binary.ByteOrder
	base int64
	ifd0 int64 // file offset of the first IFD
}

// newTIFF reads a TIFF header at file offset base.
func newTIFF(rd *reader, base int64) (*tiff, bool) {
	h, err := rd.readFull(base, 8)
	if err != nil || !isTIFF(h) {
		return nil, false
	}
	t := &tiff{rd: rd, base: base, bo: binary.LittleEndian}
	if h[0] == 'M' {
		t.bo = binary.BigEndian
	}
	t.ifd0 = base + int64(t.bo.Uint32(h[4:]))
	return t, true
}

// entry is one IFD entry; val is its 4-byte value field.
type entry struct {
	tag, typ uint16
	count    uint32
	val      [4]byte
}

var typeSize = map[uint16]int64{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}

// readIFD reads the IFD at file offset off: its entries (at most
// maxEntries) and the file offset of the next IFD (0 if none).
func (t *tiff) readIFD(off int64) ([]entry, int64, error) {
	h, err := t.rd.readFull(off, 2)
	if err != nil {
		return nil, 0, err
	}
	n := min(int(t.bo.Uint16(h)), maxEntries)
	b, err := t.rd.read(off+2, n*12+4)
	if err != nil {
		return nil, 0, err
	}
	n = min(n, len(b)/12)
	es := make([]entry, 0, n)
	for i := range n {
		e := b[i*12:]
		var en entry
		en.tag, en.typ, en.count = t.bo.Uint16(e), t.bo.Uint16(e[2:]), t.bo.Uint32(e[4:])
		copy(en.val[:], e[8:12])
		es = append(es, en)
	}
	var next int64
	if len(b) >= n*12+4 {
		if v := int64(t.bo.Uint32(b[n*12:])); v != 0 {
			next = t.base + v
		}
	}
	return es, next, nil
}

// ints returns up to limit SHORT or LONG values of e (reading them from the
// file when they do not fit in the entry).
func (t *tiff) ints(e entry, limit int) []int64 {
	size, ok := typeSize[e.typ]
	if !ok || e.typ != 3 && e.typ != 4 && e.typ != 13 || e.count == 0 {
		return nil
	}
	n := int(min(int64(e.count), int64(limit)))
	var b []byte
	if int64(e.count)*size <= 4 {
		b = e.val[:]
	} else {
		var err error
		if b, err = t.rd.read(t.base+int64(t.bo.Uint32(e.val[:])), n*int(size)); err != nil {
			return nil
		}
	}
	out := make([]int64, 0, n)
	for i := range n {
		if int64(i+1)*size > int64(len(b)) {
			break
		}
		if size == 2 {
			out = append(out, int64(t.bo.Uint16(b[i*2:])))
		} else {
			out = append(out, int64(t.bo.Uint32(b[i*4:])))
		}
	}
	return out
}

// one returns the first SHORT or LONG value of e.
func (t *tiff) one(e entry) (int64, bool) {
	v := t.ints(e, 1)
	if len(v) == 0 {
		return 0, false
	}
	return v[0], true
}

// date reads an EXIF date ("2006:01:02 15:04:05", ASCII, 20 bytes with
// its NUL); zero if it is not one.
func (t *tiff) date(e entry) time.Time {
	if e.typ != 2 || e.count < 19 || e.count > 64 {
		return time.Time{}
	}
	b, err := t.rd.readFull(t.base+int64(t.bo.Uint32(e.val[:])), 19)
	if err != nil {
		return time.Time{}
	}
	d, err := time.Parse("2006:01:02 15:04:05", string(b))
	if err != nil {
		return time.Time{}
	}
	return d
}

// tiffFile walks a TIFF-based RAW: the IFD0 chain, SubIFDs, the Exif IFD
// and the maker notes that hold previews (Olympus, Pentax).
func (f *finder) tiffFile(t *tiff) {
	f.ifds = map[int64]bool{}
	off := t.ifd0
	for i := 0; off != 0 && i < maxIFDs; i++ {
		next, ok := f.walkIFD(t, off, 0, i == 0, "ifd"+strconv.Itoa(i))
		if !ok {
			return
		}
		off = next
	}
}

// walkIFD reads one IFD, records its preview candidates and follows its
// SubIFDs and Exif IFD. It returns the next IFD in the chain.
func (f *finder) walkIFD(t *tiff, off int64, depth int, isIFD0 bool, name string) (int64, bool) {
	if depth > maxDepth || f.ifds[off] || len(f.ifds) >= maxIFDs {
		return 0, false
	}
	f.ifds[off] = true
	es, next, err := t.readIFD(off)
	if err != nil {
		f.fail(err)
		return 0, false
	}
	var (
		compression          int64
		jpegOff, jpegLen     int64
		stripOffs, stripLens []int64
		subIFDs              []int64
		exif                 int64
		makerNote            *entry
	)
	for i := range es {
		e := es[i]
		switch e.tag {
		case tagCompression:
			compression, _ = t.one(e)
		case tagOrientation:
			if o, ok := t.one(e); ok && isIFD0 && f.orientation == 0 && o >= 1 && o <= 8 {
				f.orientation = int(o)
			}
		case tagJPEGOffset:
			jpegOff, _ = t.one(e)
		case tagJPEGLength:
			jpegLen, _ = t.one(e)
		case tagStripOffsets:
			stripOffs = t.ints(e, 2)
		case tagStripByteCount:
			stripLens = t.ints(e, 2)
		case tagSubIFDs:
			subIFDs = t.ints(e, maxSubIFDs)
		case tagExifIFD:
			exif, _ = t.one(e)
		case tagMakerNote:
			makerNote = &es[i]
		case tagDateTimeOrig:
			if name == "ifd0.exif" && f.taken.IsZero() {
				f.taken = t.date(e)
			}
		case tagRW2JPEG:
			// UNDEFINED bytes: the value field is the JPEG's offset.
			if isIFD0 && e.typ == 7 && e.count > 4 {
				f.add(t.base+int64(t.bo.Uint32(e.val[:])), int64(e.count), "rw2 JpgFromRaw")
			}
		}
	}
	if jpegOff > 0 && jpegLen > 0 {
		f.add(t.base+jpegOff, jpegLen, name+" JPEGInterchangeFormat")
	}
	// A JPEG stored as a single strip (CR2's IFD0, DNG previews).
	if (compression == 6 || compression == 7) && len(stripOffs) == 1 && len(stripLens) == 1 {
		f.add(t.base+stripOffs[0], stripLens[0], name+" strip")
	}
	// Other strips (sensor data, uncompressed thumbnails): only whether
	// they are all in the file.
	for i := range min(len(stripOffs), len(stripLens)) {
		f.past(t.base+stripOffs[i], stripLens[i])
	}
	for i, s := range subIFDs {
		f.walkIFD(t, t.base+s, depth+1, false, name+".sub"+strconv.Itoa(i))
	}
	if exif > 0 {
		f.walkIFD(t, t.base+exif, depth+1, false, name+".exif")
	}
	if makerNote != nil && makerNote.typ == 7 && makerNote.count >= 16 {
		f.makerNote(t, t.base+int64(t.bo.Uint32(makerNote.val[:])), depth+1)
	}
	return next, true
}

// makerNote looks for previews in the maker notes that keep them there:
// Olympus (ORF; CameraSettings 0x2020, tags 0x0101/0x0102) and Pentax
// (PEF; tags 0x0003 length, 0x0004 start).
func (f *finder) makerNote(t *tiff, off int64, depth int) {
	h, err := f.rd.readFull(off, 16)
	if err != nil {
		f.fail(err)
		return
	}
	sub := func(bo binary.ByteOrder, base, ifd int64) *tiff {
		return &tiff{rd: f.rd, bo: bo, base: base, ifd0: ifd}
	}
	order := func(b []byte) binary.ByteOrder {
		switch string(b) {
		case "II":
			return binary.LittleEndian
		case "MM":
			return binary.BigEndian
		}
		return t.bo
	}
	switch {
	case string(h[:8]) == "OLYMPUS\x00":
		// New style: own byte order, offsets from the maker note.
		mn := sub(order(h[8:10]), off, off+12)
		f.olympus(mn, depth)
	case string(h[:6]) == "OLYMP\x00":
		// Old style: the file's byte order and offsets.
		f.olympus(sub(t.bo, t.base, off+8), depth)
	case string(h[:4]) == "AOC\x00":
		f.pentax(sub(order(h[4:6]), t.base, off+6), depth)
	case string(h[:8]) == "PENTAX \x00":
		f.pentax(sub(order(h[8:10]), off, off+10), depth)
	}
}

func (f *finder) olympus(mn *tiff, depth int) {
	if depth > maxDepth || f.ifds[mn.ifd0] {
		return
	}
	f.ifds[mn.ifd0] = true
	es, _, err := mn.readIFD(mn.ifd0)
	if err != nil {
		f.fail(err)
		return
	}
	for _, e := range es {
		if e.tag != 0x2020 {
			continue
		}
		// CameraSettings: a sub-IFD, typed IFD, LONG or UNDEFINED; the
		// value field is its offset in every case.
		cs := mn.base + int64(mn.bo.Uint32(e.val[:]))
		if depth+1 > maxDepth || f.ifds[cs] {
			return
		}
		f.ifds[cs] = true
		ses, _, err := mn.readIFD(cs)
		if err != nil {
			f.fail(err)
			return
		}
		var start, length int64
		for _, se := range ses {
			switch se.tag {
			case 0x0101:
				start, _ = mn.one(se)
			case 0x0102:
				length, _ = mn.one(se)
			}
		}
		if start > 0 && length > 0 {
			f.add(mn.base+start, length, "olympus makernote preview")
		}
		return
	}
}

func (f *finder) pentax(mn *tiff, depth int) {
	if depth > maxDepth || f.ifds[mn.ifd0] {
		return
	}
	f.ifds[mn.ifd0] = true
	es, _, err := mn.readIFD(mn.ifd0)
	if err != nil {
		f.fail(err)
		return
	}
	var start, length int64
	for _, e := range es {
		switch e.tag {
		case 0x0003:
			length, _ = mn.one(e)
		case 0x0004:
			start, _ = mn.one(e)
		}
	}
	if start > 0 && length > 0 {
		f.add(mn.base+start, length, "pentax makernote preview")
	}
}
