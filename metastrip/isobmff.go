package metastrip

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// maxBoxDepth bounds recursion into nested boxes (moov/trak/mdia/minf/
// stbl is five deep; meta/iprp/ipco three).
const maxBoxDepth = 8

// box is one ISOBMFF box: off is the file offset of its header, data its
// payload (after the 16-byte user type of a uuid box), at file offset pos.
type box struct {
	off, pos int
	typ      string
	data     []byte
}

// boxWalk calls fn for each box of b (at file offset base); the boxes
// must fill b exactly. Size 1 means a 64-bit size follows, size 0 "to
// the end".
func boxWalk(b []byte, base int, fn func(box) error) error {
	for i := 0; i < len(b); {
		if len(b)-i < 8 {
			return malformed("isobmff", "truncated box header", base+i)
		}
		size := uint64(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		hdr := uint64(8)
		switch size {
		case 0:
			size = uint64(len(b) - i)
		case 1:
			if len(b)-i < 16 {
				return malformed("isobmff", "truncated largesize", base+i)
			}
			size, hdr = binary.BigEndian.Uint64(b[i+8:]), 16
		}
		if typ == "uuid" {
			hdr += 16
		}
		if size < hdr || size > uint64(len(b)-i) {
			return malformed("isobmff", fmt.Sprintf("size of box %q", typ), base+i)
		}
		if err := fn(box{base + i, base + i + int(hdr), typ, b[i+int(hdr) : i+int(size)]}); err != nil {
			return err
		}
		i += int(size)
	}
	return nil
}

// Top-level boxes other than meta and moov/moof that carry no metadata.
var isoTopLeaf = map[string]bool{
	"ftyp": true, "mdat": true, "free": true, "skip": true, "wide": true,
	"styp": true, "sidx": true, "ssix": true, "prft": true, "mfra": true, "pdin": true,
}

// Boxes whose purpose is metadata, wherever they appear: user data (in
// MP4 it holds ©xyz GPS and camera model), XML metadata, iTunes-style
// lists and ID3.
var isoMetaBoxes = map[string]bool{
	"udta": true, "uuid": true, "xml ": true, "bxml": true, "ilst": true, "keys": true, "ID32": true,
}

// Containers walked inside moov/moof (sequences: AVIF "avis", HEIF "msf1").
var isoContainers = map[string]bool{
	"moov": true, "trak": true, "mdia": true, "minf": true, "stbl": true, "edts": true,
	"dinf": true, "mvex": true, "moof": true, "traf": true, "tref": true,
}

// The image item types (coded images and derivations) an iinf may list;
// Exif, mime (XMP) and uri items and anything unknown are reported.
var isoImageItems = map[string]bool{
	"av01": true, "hvc1": true, "hev1": true, "avc1": true, "vvc1": true, "evc1": true,
	"jpeg": true, "j2k1": true, "unci": true, "hvt1": true, "lhv1": true,
	"grid": true, "iovl": true, "iden": true, "tmap": true, "mski": true,
}

// The item properties an ipco may hold: coding configuration, geometry,
// colour (an ICC profile is allowed), pixel layout, HDR and layering.
var isoProperties = map[string]bool{
	"colr": true, "ispe": true, "pixi": true, "av1C": true, "hvcC": true, "avcC": true,
	"vvcC": true, "jpgC": true, "j2kH": true, "uncC": true, "cmpd": true, "irot": true,
	"imir": true, "clap": true, "auxC": true, "clli": true, "mdcv": true, "cclv": true,
	"amve": true, "pasp": true, "lsel": true, "a1op": true, "a1lx": true, "rloc": true,
	"rref": true, "lhvC": true, "oinf": true, "tols": true,
}

// Boxes a HEIF meta box may hold besides iinf and iprp.
var isoMetaChildren = map[string]bool{
	"hdlr": true, "pitm": true, "iloc": true, "iref": true, "idat": true, "dinf": true, "grpl": true,
}

// inspectISOBMFF: ftyp first, then an allowlist of top-level boxes, with
// every meta box (top level or inside a track) checked item by item.
func inspectISOBMFF(b []byte, r *Report) error {
	first := true
	return boxWalk(b, 0, func(bx box) error {
		if first && bx.typ != "ftyp" {
			return malformed("isobmff", "ftyp is not first", 0)
		}
		first = false
		switch {
		case bx.typ == "meta":
			return inspectMeta(bx, r, 1)
		case bx.typ == "moov" || bx.typ == "moof":
			return inspectContainer(bx, r, 1)
		case isoMetaBoxes[bx.typ]:
			r.private(bx.off, "%q box", bx.typ)
		case !isoTopLeaf[bx.typ]:
			r.private(bx.off, "top-level box %q", bx.typ)
		}
		return nil
	})
}

// inspectContainer walks a movie or fragment box tree.
func inspectContainer(c box, r *Report, depth int) error {
	if depth > maxBoxDepth {
		return malformed("isobmff", "boxes nested too deep", c.off)
	}
	return boxWalk(c.data, c.pos, func(bx box) error {
		switch {
		case bx.typ == "meta":
			return inspectMeta(bx, r, depth+1)
		case isoMetaBoxes[bx.typ]:
			r.private(bx.off, "%q box in %q", bx.typ, c.typ)
		case isoContainers[bx.typ]:
			return inspectContainer(bx, r, depth+1)
		}
		return nil
	})
}

// inspectMeta checks a meta box: handler "pict" (an image, not an iTunes
// or mdta metadata list), only known child boxes, and only image items
// and known properties.
func inspectMeta(m box, r *Report, depth int) error {
	if depth > maxBoxDepth {
		return malformed("isobmff", "boxes nested too deep", m.off)
	}
	// ISO meta is a FullBox (4 bytes of version and flags before the
	// children); QuickTime's is not, and starts with its hdlr at once.
	data, base := m.data, m.pos
	if len(data) >= 8 && string(data[4:8]) == "hdlr" {
		r.private(m.off, "QuickTime meta box")
		return nil
	}
	if len(data) < 4 {
		return malformed("isobmff", "meta", m.off)
	}
	handler := false
	err := boxWalk(data[4:], base+4, func(bx box) error {
		switch bx.typ {
		case "hdlr":
			if len(bx.data) < 12 {
				return malformed("isobmff", "hdlr", bx.off)
			}
			if h := bx.data[8:12]; string(h) != "pict" {
				r.private(bx.off, "meta with handler %v", quoted(h))
			}
			handler = true
		case "iinf":
			return inspectIinf(bx, r)
		case "iprp":
			return inspectIprp(bx, r)
		default:
			if !isoMetaChildren[bx.typ] {
				r.private(bx.off, "%q box in meta", bx.typ)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !handler {
		r.private(m.off, "meta without hdlr")
	}
	return nil
}

// inspectIinf reports every item that is not an image: Exif, mime (XMP is
// application/rdf+xml), uri, legacy (version 0/1) entries and unknown
// types.
func inspectIinf(ii box, r *Report) error {
	const f = "isobmff"
	if len(ii.data) < 4 {
		return malformed(f, "iinf", ii.off)
	}
	skip := 4 + 2 // FullBox header, 16-bit entry count
	if ii.data[0] != 0 {
		skip = 4 + 4
	}
	if len(ii.data) < skip {
		return malformed(f, "iinf", ii.off)
	}
	return boxWalk(ii.data[skip:], ii.pos+skip, func(bx box) error {
		if bx.typ != "infe" {
			r.private(bx.off, "%q box in iinf", bx.typ)
			return nil
		}
		if len(bx.data) < 4 {
			return malformed(f, "infe", bx.off)
		}
		v, p := bx.data[0], bx.data[4:]
		if v < 2 {
			// item_ID, protection index, then name and content type.
			if len(p) < 4 {
				return malformed(f, "infe", bx.off)
			}
			_, rest := cstring(p[4:])
			ct, _ := cstring(rest)
			r.private(bx.off, "item (infe version %d, content type %v)", v, quoted(ct))
			return nil
		}
		idLen := 2
		if v == 3 {
			idLen = 4
		} else if v > 3 {
			return malformed(f, fmt.Sprintf("infe version %d", v), bx.off)
		}
		if len(p) < idLen+2+4 {
			return malformed(f, "infe", bx.off)
		}
		typ := p[idLen+2 : idLen+6]
		switch {
		case isoImageItems[string(typ)]:
		case string(typ) == "Exif":
			r.private(bx.off, "Exif item")
		case string(typ) == "mime":
			_, rest := cstring(p[idLen+6:])
			ct, _ := cstring(rest)
			kind := "mime item"
			if bytes.Contains(ct, []byte("rdf+xml")) {
				kind = "XMP item"
			}
			r.private(bx.off, "%s (content type %v)", kind, quoted(ct))
		default:
			r.private(bx.off, "item of type %v", quoted(typ))
		}
		return nil
	})
}

// inspectIprp allows ipco properties from isoProperties and the ipma
// associations.
func inspectIprp(ip box, r *Report) error {
	return boxWalk(ip.data, ip.pos, func(bx box) error {
		switch bx.typ {
		case "ipma":
		case "ipco":
			return boxWalk(bx.data, bx.pos, func(p box) error {
				switch {
				case p.typ == "colr" && len(p.data) >= 4 && (string(p.data[:4]) == "prof" || string(p.data[:4]) == "rICC"):
					r.allowed(p.off, "colr ICC profile")
				case !isoProperties[p.typ]:
					r.private(p.off, "item property %q", p.typ)
				}
				return nil
			})
		default:
			r.private(bx.off, "%q box in iprp", bx.typ)
		}
		return nil
	})
}
