package metastrip

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrUnsupportedLayout: a HEIF/AVIF file HEIF cannot strip in place (an
// image sequence, items stored in another file, a legacy item table, an
// iloc it cannot rewrite). The caller re-encodes instead.
var ErrUnsupportedLayout = errors.New("HEIF layout not stripped in place")

// HEIF returns a HEIF or AVIF file without its metadata items, without
// re-encoding and without moving a byte of image data:
//
//   - every item that is not an image (Exif, mime/XMP, uri, unknown types)
//     is removed from iinf, iloc and iref;
//   - the bytes those items pointed at (in mdat or idat) are zeroed;
//   - the meta box shrinks by what was removed and a top-level free box of
//     the same size follows it, so every file offset in iloc stays valid.
//
// Orientation lives in irot/imir properties, colour in colr, so the image
// decodes to the same pixels. Image items, properties and the rest of the
// file are copied byte for byte; Check remains the judge of the result
// (a file with other private boxes still fails it).
func HEIF(b []byte) ([]byte, error) {
	var meta *box
	first := true
	err := boxWalk(b, 0, func(bx box) error {
		if first && bx.typ != "ftyp" {
			return malformed("heif", "ftyp is not first", 0)
		}
		first = false
		switch bx.typ {
		case "meta":
			if meta != nil {
				return malformed("heif", "two meta boxes", bx.off)
			}
			m := bx
			meta = &m
		case "moov", "moof":
			return fmt.Errorf("%w: image sequence", ErrUnsupportedLayout)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if meta == nil || len(meta.data) < 4 {
		return nil, malformed("heif", "no meta box", 0)
	}
	metaEnd := meta.pos + len(meta.data)
	if meta.pos-meta.off != 8 {
		return nil, fmt.Errorf("%w: large meta box header", ErrUnsupportedLayout)
	}

	type child struct {
		box
		out []byte // replacement payload; nil keeps it
	}
	var kids []child
	if err := boxWalk(meta.data[4:], meta.pos+4, func(bx box) error {
		if bx.typ == "uuid" {
			return fmt.Errorf("%w: uuid box in meta", ErrUnsupportedLayout)
		}
		kids = append(kids, child{box: bx})
		return nil
	}); err != nil {
		return nil, err
	}
	find := func(typ string) *child {
		for i := range kids {
			if kids[i].typ == typ {
				return &kids[i]
			}
		}
		return nil
	}
	iinf, iloc := find("iinf"), find("iloc")
	if iinf == nil || iloc == nil {
		return nil, malformed("heif", "no iinf or iloc", meta.off)
	}
	drop, newIinf, err := stripIinf(iinf.data, iinf.pos)
	if err != nil {
		return nil, err
	}
	iinf.out = newIinf
	newIloc, fileRanges, idatRanges, keptRanges, err := stripIloc(iloc.data, iloc.pos, drop)
	if err != nil {
		return nil, err
	}
	for _, r := range keptRanges {
		// An image item whose data is not in the file (a file cut short
		// after its primary image) is not passed on as a container.
		if r[1] > int64(len(b)) {
			return nil, malformed("heif", "item data past the end of the file", iloc.off)
		}
	}
	if len(drop) == 0 {
		return b[:len(b):len(b)], nil
	}
	iloc.out = newIloc
	if ir := find("iref"); ir != nil {
		if ir.out, err = stripIref(ir.data, ir.pos, drop); err != nil {
			return nil, err
		}
	}

	// The new meta box, then the free box that keeps the offsets.
	body := append([]byte(nil), meta.data[:4]...)
	idatPos := -1 // offset of idat's payload in the output
	for _, k := range kids {
		p := k.data
		if k.out != nil {
			p = k.out
		}
		if k.typ == "idat" {
			idatPos = meta.off + 8 + len(body) + 8
		}
		body = binary.BigEndian.AppendUint32(body, uint32(8+len(p)))
		body = append(body, k.typ...)
		body = append(body, p...)
	}
	freed := metaEnd - meta.off - (8 + len(body))
	if freed < 8 {
		// Cannot happen: a removed infe is at least 12 bytes.
		return nil, malformed("heif", "nothing freed", meta.off)
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:meta.off]...)
	out = binary.BigEndian.AppendUint32(out, uint32(8+len(body)))
	out = append(out, "meta"...)
	out = append(out, body...)
	out = binary.BigEndian.AppendUint32(out, uint32(freed))
	out = append(out, "free"...)
	out = append(out, make([]byte, freed-8)...)
	out = append(out, b[metaEnd:]...)
	if len(out) != len(b) {
		return nil, malformed("heif", "size changed", meta.off)
	}
	for _, r := range fileRanges {
		if r[0] < 0 || r[1] > int64(len(out)) || r[0] > r[1] {
			continue // outside the file: nothing to zero
		}
		clear(out[r[0]:r[1]])
	}
	if idatPos >= 0 {
		idat := find("idat")
		for _, r := range idatRanges {
			if r[0] < 0 || r[1] > int64(len(idat.data)) || r[0] > r[1] {
				continue
			}
			clear(out[idatPos+int(r[0]) : idatPos+int(r[1])])
		}
	}
	return out, nil
}

// stripIinf returns the IDs of the items that are not images and the iinf
// payload (d, at file offset pos) without them.
func stripIinf(d []byte, pos int) (map[uint32]bool, []byte, error) {
	off := pos
	if len(d) < 6 {
		return nil, nil, malformed("heif", "iinf", off)
	}
	skip := 4 + 2
	if d[0] != 0 {
		skip = 4 + 4
	}
	if len(d) < skip {
		return nil, nil, malformed("heif", "iinf", off)
	}
	drop := map[uint32]bool{}
	kept := append([]byte(nil), d[:skip]...)
	n := 0
	err := boxWalk(d[skip:], pos+skip, func(bx box) error {
		if bx.typ != "infe" || len(bx.data) < 4 || bx.data[0] < 2 || bx.data[0] > 3 {
			return fmt.Errorf("%w: item entry %q", ErrUnsupportedLayout, bx.typ)
		}
		p := bx.data[4:]
		idLen := 2
		if bx.data[0] == 3 {
			idLen = 4
		}
		if len(p) < idLen+6 {
			return malformed("heif", "infe", bx.off)
		}
		var id uint32
		if idLen == 2 {
			id = uint32(binary.BigEndian.Uint16(p))
		} else {
			id = binary.BigEndian.Uint32(p)
		}
		if !isoImageItems[string(p[idLen+2:idLen+6])] {
			drop[id] = true
			return nil
		}
		size := bx.pos - bx.off + len(bx.data)
		kept = append(kept, d[bx.off-pos:bx.off-pos+size]...)
		n++
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if skip == 6 {
		binary.BigEndian.PutUint16(kept[4:], uint16(n))
	} else {
		binary.BigEndian.PutUint32(kept[4:], uint32(n))
	}
	return drop, kept, nil
}

// stripIloc returns the iloc payload without the dropped items, and the
// byte ranges those items occupied: in the file (construction method 0)
// and in idat (method 1). d is the payload, at file offset off.
func stripIloc(d []byte, off int, drop map[uint32]bool) (out []byte, file, idat, keptFile [][2]int64, err error) {
	bad := func() ([]byte, [][2]int64, [][2]int64, [][2]int64, error) {
		return nil, nil, nil, nil, malformed("heif", "iloc", off)
	}
	if len(d) < 8 {
		return bad()
	}
	v := d[0]
	if v > 2 {
		return nil, nil, nil, nil, fmt.Errorf("%w: iloc version %d", ErrUnsupportedLayout, v)
	}
	offSize, lenSize, baseSize := int(d[4]>>4), int(d[4]&15), int(d[5]>>4)
	idxSize := 0
	if v >= 1 {
		idxSize = int(d[5] & 15)
	}
	for _, s := range []int{offSize, lenSize, baseSize, idxSize} {
		if s != 0 && s != 4 && s != 8 {
			return bad()
		}
	}
	pos := 6
	var count int
	if v < 2 {
		if len(d) < pos+2 {
			return bad()
		}
		count, pos = int(binary.BigEndian.Uint16(d[pos:])), pos+2
	} else {
		if len(d) < pos+4 {
			return bad()
		}
		count, pos = int(binary.BigEndian.Uint32(d[pos:])), pos+4
	}
	readN := func(n int) (uint64, bool) {
		if n == 0 {
			return 0, true
		}
		if len(d) < pos+n {
			return 0, false
		}
		var x uint64
		if n == 4 {
			x = uint64(binary.BigEndian.Uint32(d[pos:]))
		} else {
			x = binary.BigEndian.Uint64(d[pos:])
		}
		pos += n
		return x, true
	}
	out = append([]byte(nil), d[:pos]...)
	countAt := pos - 2
	if v == 2 {
		countAt = pos - 4
	}
	kept := 0
	for i := 0; i < count; i++ {
		start := pos
		idBytes := 2
		if v == 2 {
			idBytes = 4
		}
		if len(d) < pos+idBytes {
			return bad()
		}
		var id uint64
		if idBytes == 2 {
			id = uint64(binary.BigEndian.Uint16(d[pos:]))
		} else {
			id = uint64(binary.BigEndian.Uint32(d[pos:]))
		}
		pos += idBytes
		method := uint64(0)
		if v >= 1 {
			if len(d) < pos+2 {
				return bad()
			}
			method, pos = uint64(binary.BigEndian.Uint16(d[pos:])&15), pos+2
		}
		if len(d) < pos+2 {
			return bad()
		}
		dataRef := binary.BigEndian.Uint16(d[pos:])
		pos += 2
		base, ok := readN(baseSize)
		if !ok || len(d) < pos+2 {
			return bad()
		}
		extents := int(binary.BigEndian.Uint16(d[pos:]))
		pos += 2
		var ranges [][2]int64
		for e := 0; e < extents; e++ {
			if _, ok := readN(idxSize); !ok {
				return bad()
			}
			eo, ok1 := readN(offSize)
			el, ok2 := readN(lenSize)
			if !ok1 || !ok2 || eo > 1<<40 || el > 1<<40 || base > 1<<40 {
				return bad()
			}
			ranges = append(ranges, [2]int64{int64(base + eo), int64(base + eo + el)})
		}
		if !drop[uint32(id)] {
			out = append(out, d[start:pos]...)
			kept++
			if method == 0 && dataRef == 0 {
				keptFile = append(keptFile, ranges...)
			}
			continue
		}
		switch {
		case dataRef != 0:
			return nil, nil, nil, nil, fmt.Errorf("%w: metadata item in another file", ErrUnsupportedLayout)
		case method == 0:
			file = append(file, ranges...)
		case method == 1:
			idat = append(idat, ranges...)
		default:
			return nil, nil, nil, nil, fmt.Errorf("%w: iloc construction method %d", ErrUnsupportedLayout, method)
		}
	}
	if v < 2 {
		binary.BigEndian.PutUint16(out[countAt:], uint16(kept))
	} else {
		binary.BigEndian.PutUint32(out[countAt:], uint32(kept))
	}
	return out, file, idat, keptFile, nil
}

// stripIref removes references from or to dropped items (d: the payload,
// at file offset off).
func stripIref(d []byte, off int, drop map[uint32]bool) ([]byte, error) {
	if len(d) < 4 {
		return nil, malformed("heif", "iref", off)
	}
	wide := d[0] != 0
	idLen := 2
	if wide {
		idLen = 4
	}
	id := func(p []byte) uint32 {
		if wide {
			return binary.BigEndian.Uint32(p)
		}
		return uint32(binary.BigEndian.Uint16(p))
	}
	out := append([]byte(nil), d[:4]...)
	err := boxWalk(d[4:], off+4, func(bx box) error {
		p := bx.data
		if len(p) < idLen+2 {
			return malformed("heif", "iref entry", bx.off)
		}
		from, n := id(p), int(binary.BigEndian.Uint16(p[idLen:]))
		if len(p) < idLen+2+n*idLen {
			return malformed("heif", "iref entry", bx.off)
		}
		if drop[from] {
			return nil
		}
		var to [][]byte
		for i := 0; i < n; i++ {
			t := p[idLen+2+i*idLen : idLen+2+(i+1)*idLen]
			if !drop[id(t)] {
				to = append(to, t)
			}
		}
		if len(to) == 0 {
			return nil
		}
		entry := append([]byte(nil), p[:idLen]...)
		entry = binary.BigEndian.AppendUint16(entry, uint16(len(to)))
		for _, t := range to {
			entry = append(entry, t...)
		}
		entry = append(entry, p[idLen+2+n*idLen:]...)
		out = binary.BigEndian.AppendUint32(out, uint32(8+len(entry)))
		out = append(out, bx.typ...)
		out = append(out, entry...)
		return nil
	})
	return out, err
}

// HEIFComplete checks that a HEIF/AVIF file is whole: its top-level boxes
// add up to the file, and every item's data (iloc extents in the file) lies
// inside it. A file cut short fails with ErrMalformed, whichever item the
// cut removed: the primary image, a thumbnail, a gain map or metadata.
func HEIFComplete(b []byte) error {
	var meta *box
	if err := boxWalk(b, 0, func(bx box) error {
		if bx.typ == "meta" && meta == nil {
			m := bx
			meta = &m
		}
		return nil
	}); err != nil {
		return err
	}
	if meta == nil || len(meta.data) < 4 {
		return malformed("heif", "no meta box", 0)
	}
	var iloc *box
	if err := boxWalk(meta.data[4:], meta.pos+4, func(bx box) error {
		if bx.typ == "iloc" && iloc == nil {
			l := bx
			iloc = &l
		}
		return nil
	}); err != nil {
		return err
	}
	if iloc == nil {
		return malformed("heif", "no iloc", meta.off)
	}
	_, _, _, kept, err := stripIloc(iloc.data, iloc.pos, nil)
	if err != nil {
		return err
	}
	for _, r := range kept {
		if r[1] > int64(len(b)) {
			return malformed("heif", "item data past the end of the file", iloc.off)
		}
	}
	return nil
}
