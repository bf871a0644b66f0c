package imagehdr

import (
	"slices"
)

// HEIF-family brands: any of them as major or compatible brand makes the
// file one Parse reads. heix is Sony's 10-bit HEIF.
var heifBrands = map[string]bool{
	"heic": true, "heix": true, "hevc": true, "hevx": true, "heim": true,
	"heis": true, "mif1": true, "msf1": true, "avif": true, "avis": true,
}

// Limits that keep hostile files cheap. None is reached by a real image.
const (
	maxProps    = 1<<15 - 1 // ipma indexes properties with at most 15 bits
	maxExcluded = 1 << 16   // thumbnail/auxiliary/tile item IDs remembered
	maxAuxItems = 16        // auxiliary images of the primary examined
)

// readBox parses the ISOBMFF box at pos: its type, payload and the offset
// after it. ok is false when the header or payload does not fit in b. The
// type is a slice of b (compared as string(typ), which does not allocate).
func readBox(b []byte, pos int) (typ, body []byte, next int, ok bool) {
	hdr, ok := span(b, pos, 8)
	if !ok {
		return nil, nil, len(b), false
	}
	typ = hdr[4:8]
	size, hlen := uint64(be32(hdr)), 8
	switch size {
	case 0: // extends to the end of its container
		size = uint64(len(b) - pos)
	case 1: // 64-bit size follows
		l, ok := span(b, pos+8, 8)
		if !ok {
			return typ, nil, len(b), false
		}
		size, hlen = be64(l), 16
	}
	if size < uint64(hlen) || size > uint64(len(b)-pos) {
		return typ, nil, len(b), false
	}
	return typ, b[pos+hlen : pos+int(size)], pos + int(size), true
}

// fullBox splits a FullBox payload into version, flags and the rest.
func fullBox(body []byte) (version byte, flags uint32, rest []byte, ok bool) {
	if len(body) < 4 {
		return 0, 0, nil, false
	}
	return body[0], be32(body) & 0xffffff, body[4:], true
}

// children calls fn for each complete box in body, in order, stopping when
// fn returns false or at the first box that does not fit. Each step moves
// at least 8 bytes, so the walk is linear in len(body).
func children(body []byte, fn func(typ, body []byte) bool) {
	for pos := 0; pos < len(body); {
		typ, c, next, ok := readBox(body, pos)
		if !ok || !fn(typ, c) {
			return
		}
		pos = next
	}
}

// itemID reads a 16- or 32-bit item ID at off (32-bit when wide).
func itemID(b []byte, off int, wide bool) (uint32, int, bool) {
	if wide {
		s, ok := span(b, off, 4)
		if !ok {
			return 0, off, false
		}
		return be32(s), off + 4, true
	}
	s, ok := span(b, off, 2)
	if !ok {
		return 0, off, false
	}
	return uint32(be16(s)), off + 2, true
}

// parseISOBMFF reads a HEIF or AVIF still image: ftyp for the brand, then
// the meta box for the primary item, its properties and the item list.
// Nothing is decoded and the box tree is only four levels deep, so it is
// walked with plain loops rather than recursion.
func parseISOBMFF(b []byte, maxFrames int) (Header, error) {
	// ftyp may be cut short; brand detection uses what is present.
	size := int(min(uint64(be32(b)), uint64(len(b))))
	if size < 16 && size < len(b) || len(b) < 12 {
		return Header{}, ErrUnknown
	}
	ftyp := b[8:size]
	major := string(ftyp[:4])
	known, compatAVIF := heifBrands[major], false
	for i := 8; i+4 <= len(ftyp); i += 4 {
		br := string(ftyp[i : i+4])
		known = known || heifBrands[br]
		compatAVIF = compatAVIF || br == "avif" || br == "avis"
	}
	if !known {
		return Header{}, ErrUnknown // MP4 video, JPEG 2000, CR3, ...
	}
	_, _, pos, ok := readBox(b, 0)
	if !ok {
		return Header{}, malformed("heif", "truncated ftyp")
	}

	var meta []byte
	for pos < len(b) && meta == nil {
		typ, body, next, ok := readBox(b, pos)
		if !ok {
			break
		}
		if string(typ) == "meta" {
			meta = body
		}
		pos = next
	}
	if meta == nil {
		return Header{}, malformed("heif", "no complete meta box")
	}
	_, _, metaKids, ok := fullBox(meta)
	if !ok {
		return Header{}, malformed("heif", "bad meta")
	}
	var pitm, iinf, iref, iprp []byte
	children(metaKids, func(typ, body []byte) bool {
		switch t := string(typ); {
		case t == "pitm" && pitm == nil:
			pitm = body
		case t == "iinf" && iinf == nil:
			iinf = body
		case t == "iref" && iref == nil:
			iref = body
		case t == "iprp" && iprp == nil:
			iprp = body
		}
		return true
	})

	v, _, rest, ok := fullBox(pitm)
	if !ok {
		return Header{}, malformed("heif", "no pitm")
	}
	primary, _, ok := itemID(rest, 0, v != 0)
	if !ok {
		return Header{}, malformed("heif", "bad pitm")
	}

	refs := parseIref(iref, primary)
	props := newPropIndex(iprp)
	pp := props.of(primary)
	if !pp.hasSize {
		return Header{}, malformed("heif", "primary item has no ispe")
	}
	items := countItems(iinf, primary, refs.firstTile, refs.excluded, maxFrames)

	h := Header{
		Format: HEIF, Width: clampInt(uint64(pp.width)), Height: clampInt(uint64(pp.height)),
		Bands: 3, BitsPerSample: 8, WholeFrame: true, Frames: items.topLevel,
		Rotated: pp.rotation%2 == 1, Brand: printable(major),
	}
	if major == "avif" || major == "avis" ||
		compatAVIF && (items.primaryType == "av01" || items.primaryType == "grid" && items.tileType == "av01") {
		h.Format = AVIF
	}
	switch {
	case pp.depth > 0:
		h.BitsPerSample = pp.depth
	case refs.hasTile:
		// A grid's depth is its tiles' when the grid has no pixi.
		if tp := props.of(refs.firstTile); tp.depth > 0 {
			h.BitsPerSample = tp.depth
		}
	}
	// Colour signalling: the primary's nclx, else (a grid without one) its
	// tiles'.
	cp := pp
	if cp.transfer == 0 && refs.hasTile {
		cp = props.of(refs.firstTile)
	}
	h.Primaries, h.Transfer, h.Matrix = cp.primaries, cp.transfer, cp.matrix
	for _, id := range refs.aux {
		if props.of(id).alpha {
			h.Bands = 4
			break
		}
	}
	return h, nil
}

// irefInfo is what the item references say about the primary item and
// about which items are not top-level images.
type irefInfo struct {
	aux       []uint32 // items that are auxiliary images of the primary
	firstTile uint32   // the primary's first derivation input (grid tile)
	hasTile   bool
	excluded  []uint32 // sorted: thumbnails, auxiliary images, grid tiles
}

// parseIref reads the iref box. Each reference names a from-item and its
// to-items; everything is bounded by the box's own length.
func parseIref(iref []byte, primary uint32) irefInfo {
	var r irefInfo
	v, _, rest, ok := fullBox(iref)
	if !ok {
		return r
	}
	wide := v != 0
	exclude := func(id uint32) {
		// Past the cap, items are counted as top-level: an overcount,
		// which errs on the side of refusing.
		if len(r.excluded) < maxExcluded {
			r.excluded = append(r.excluded, id)
		}
	}
	children(rest, func(typb, body []byte) bool {
		typ := string(typb)
		from, off, ok := itemID(body, 0, wide)
		if !ok {
			return true
		}
		cnt, ok := span(body, off, 2)
		if !ok {
			return true
		}
		off += 2
		n := be16(cnt)
		switch typ {
		case "thmb", "auxl":
			exclude(from)
		}
		for range n {
			var to uint32
			if to, off, ok = itemID(body, off, wide); !ok {
				break
			}
			switch typ {
			case "auxl":
				if to == primary && len(r.aux) < maxAuxItems {
					r.aux = append(r.aux, from)
				}
			case "dimg":
				exclude(to)
				if from == primary && !r.hasTile {
					r.firstTile, r.hasTile = to, true
				}
			}
		}
		return true
	})
	slices.Sort(r.excluded)
	return r
}

// itemsInfo is what the item list says.
type itemsInfo struct {
	primaryType, tileType string
	topLevel              int
}

// imageItemTypes are the item types that are images (as opposed to Exif,
// XMP, mime, ...).
var imageItemTypes = map[string]bool{
	"hvc1": true, "av01": true, "grid": true, "iden": true, "iovl": true,
	"jpeg": true, "unci": true, "vvc1": true, "j2k1": true,
}

// countItems walks the iinf item entries (the declared entry count is
// ignored: only boxes present are walked) for the primary's and tile's
// types and the number of top-level images, counted up to maxFrames+1.
func countItems(iinf []byte, primary, tile uint32, excluded []uint32, maxFrames int) itemsInfo {
	var it itemsInfo
	v, _, rest, ok := fullBox(iinf)
	if !ok {
		return it
	}
	countSize := 4
	if v == 0 {
		countSize = 2
	}
	if len(rest) < countSize {
		return it
	}
	children(rest[countSize:], func(typ, body []byte) bool {
		if string(typ) != "infe" {
			return true
		}
		v, flags, e, ok := fullBox(body)
		if !ok || v < 2 {
			return true // versions 0 and 1 carry no item type
		}
		id, off, ok := itemID(e, 0, v >= 3)
		if !ok {
			return true
		}
		t, ok := span(e, off+2, 4) // skip item_protection_index
		if !ok {
			return true
		}
		if id == primary {
			it.primaryType = string(t)
		}
		if id == tile {
			it.tileType = string(t)
		}
		_, isExcluded := slices.BinarySearch(excluded, id)
		if imageItemTypes[string(t)] && flags&1 == 0 && !isExcluded && it.topLevel <= maxFrames {
			it.topLevel++
		}
		return true
	})
	return it
}

// propIndex gives access to the ipco properties by their 1-based index and
// to the ipma associations.
type propIndex struct {
	ipco  []byte
	offs  []int // offsets of the ipco children, at most maxProps
	ipmas [][]byte
}

func newPropIndex(iprp []byte) *propIndex {
	p := &propIndex{}
	children(iprp, func(typ, body []byte) bool {
		switch t := string(typ); {
		case t == "ipco" && p.ipco == nil:
			p.ipco = body
		case t == "ipma" && len(p.ipmas) < 4:
			p.ipmas = append(p.ipmas, body)
		}
		return true
	})
	for pos := 0; pos < len(p.ipco) && len(p.offs) < maxProps; {
		_, _, next, ok := readBox(p.ipco, pos)
		if !ok {
			break
		}
		p.offs = append(p.offs, pos)
		pos = next
	}
	return p
}

// itemProps is what an item's properties say.
type itemProps struct {
	width, height uint32
	hasSize       bool
	depth         int // from pixi, else av1C/hvcC; 0 if unknown
	rotation      int // irot angle in quarter turns
	alpha         bool
	// clap: the clean aperture decoders crop to (encoders pad odd sizes
	// for 4:2:0 and record the real size here).
	cleanW, cleanH uint32
	// nclx colr: H.273 code points (0 when the item has none).
	primaries, transfer, matrix int
}

// of collects the properties associated with item id.
func (p *propIndex) of(id uint32) itemProps {
	var ip itemProps
	pixiDepth, codecDepth := 0, 0
	for _, ipma := range p.ipmas {
		v, flags, rest, ok := fullBox(ipma)
		if !ok || len(rest) < 4 {
			continue
		}
		wideIdx := flags&1 != 0
		// entry_count is ignored: entries are walked while present, and
		// each one moves off forward by at least 3 bytes.
		off := 4
	entries:
		for off < len(rest) {
			eid, o, ok := itemID(rest, off, v >= 1)
			if !ok || o >= len(rest) {
				break
			}
			n := int(rest[o])
			off = o + 1
			for range n {
				var idx int
				if wideIdx {
					s, ok := span(rest, off, 2)
					if !ok {
						break entries
					}
					idx, off = be16(s)&0x7fff, off+2
				} else {
					if off >= len(rest) {
						break entries
					}
					idx, off = int(rest[off]&0x7f), off+1
				}
				if eid == id {
					p.apply(idx, &ip, &pixiDepth, &codecDepth)
				}
			}
		}
	}
	ip.depth = codecDepth
	if pixiDepth > 0 {
		ip.depth = pixiDepth
	}
	if ip.cleanW > 0 && ip.cleanH > 0 && ip.cleanW <= ip.width && ip.cleanH <= ip.height {
		ip.width, ip.height = ip.cleanW, ip.cleanH
	}
	return ip
}

// apply reads property idx (1-based; 0 means none) into ip.
func (p *propIndex) apply(idx int, ip *itemProps, pixiDepth, codecDepth *int) {
	if idx < 1 || idx > len(p.offs) {
		return
	}
	typ, body, _, ok := readBox(p.ipco, p.offs[idx-1])
	if !ok {
		return
	}
	switch string(typ) {
	case "ispe":
		if _, _, d, ok := fullBox(body); ok && len(d) >= 8 {
			ip.width, ip.height, ip.hasSize = be32(d), be32(d[4:]), true
		}
	case "pixi":
		if _, _, d, ok := fullBox(body); ok && len(d) >= 1 {
			for _, bits := range d[1:min(len(d), 1+int(d[0]))] {
				*pixiDepth = max(*pixiDepth, int(bits))
			}
		}
	case "av1C":
		// Byte 2: seq_tier_0, high_bitdepth, twelve_bit, ...
		if len(body) >= 3 {
			switch {
			case body[2]&0x40 == 0:
				*codecDepth = max(*codecDepth, 8)
			case body[2]&0x20 != 0:
				*codecDepth = max(*codecDepth, 12)
			default:
				*codecDepth = max(*codecDepth, 10)
			}
		}
	case "hvcC":
		// Byte 17: reserved (5 bits), bitDepthLumaMinus8 (3 bits).
		if len(body) >= 19 {
			*codecDepth = max(*codecDepth, int(body[17]&7)+8, int(body[18]&7)+8)
		}
	case "clap":
		// width N/D, height N/D, then offsets: the size decoders show.
		if len(body) >= 16 {
			wn, wd, hn, hd := be32(body), be32(body[4:]), be32(body[8:]), be32(body[12:])
			if wd > 0 && hd > 0 && wn < 1<<31 && hn < 1<<31 {
				ip.cleanW, ip.cleanH = (wn+wd/2)/wd, (hn+hd/2)/hd
			}
		}
	case "irot":
		if len(body) >= 1 {
			ip.rotation = int(body[0] & 3)
		}
	case "colr":
		// colour_type, then for nclx: primaries, transfer, matrix (u16
		// each) and the full-range flag.
		if len(body) >= 11 && string(body[:4]) == "nclx" {
			ip.primaries, ip.transfer, ip.matrix = be16(body[4:]), be16(body[6:]), be16(body[8:])
		}
	case "auxC":
		if _, _, d, ok := fullBox(body); ok {
			urn := d
			for i, c := range d {
				if c == 0 {
					urn = d[:i]
					break
				}
			}
			switch string(urn) {
			case "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha", "urn:mpeg:hevc:2015:auxid:1":
				ip.alpha = true
			}
		}
	}
}
