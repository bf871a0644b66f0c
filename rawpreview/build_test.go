package rawpreview

import (
	"encoding/binary"
	"errors"
	"testing"
)

// Builders for the containers no real sample in testdata covers (CR3, RAF,
// ORF, RW2, DNG-style strip previews, rotated CRW), laid out as the formats
// are documented, around real JPEG photographs from testdata/photos.

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func be32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func be16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }

// bmff is an ISOBMFF box.
func bmff(typ string, payload ...[]byte) []byte {
	p := cat(payload...)
	return cat(be32(8+len(p)), []byte(typ), p)
}

// ifdEntry is a little-endian TIFF entry; data, if set, is stored out of
// line and the value field points at it.
type ifdEntry struct {
	tag, typ uint16
	count    uint32
	value    uint32
	data     []byte
}

// layout lays out a little-endian TIFF with the given magic and IFDs, each
// followed by its out-of-line data, and returns it with each IFD's offset.
// With chain the IFDs are linked by their next pointers; otherwise each
// ends the chain (SubIFDs and Exif IFDs are reached through tags). Offsets
// depend only on sizes, so callers lay out once to learn them, set the
// values that point at them, and lay out again.
func layout(magic string, chain bool, ifds ...[]ifdEntry) ([]byte, []int) {
	b := cat([]byte(magic), binary.LittleEndian.AppendUint32(nil, 8))
	var offs []int
	for i, ifd := range ifds {
		start := len(b)
		offs = append(offs, start)
		dataAt := start + 2 + 12*len(ifd) + 4
		var data []byte
		b = binary.LittleEndian.AppendUint16(b, uint16(len(ifd)))
		for _, e := range ifd {
			v := e.value
			if e.data != nil {
				v = uint32(dataAt + len(data))
				data = append(data, e.data...)
				if len(data)%2 == 1 {
					data = append(data, 0)
				}
			}
			b = binary.LittleEndian.AppendUint16(b, e.tag)
			b = binary.LittleEndian.AppendUint16(b, e.typ)
			b = binary.LittleEndian.AppendUint32(b, e.count)
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		next := 0
		if chain && i+1 < len(ifds) {
			next = dataAt + len(data)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(next))
		b = append(b, data...)
	}
	return b, offs
}

// tiffLE is a chained layout.
func tiffLE(magic string, ifds ...[]ifdEntry) []byte {
	b, _ := layout(magic, true, ifds...)
	return b
}

func short(tag uint16, v int) ifdEntry { return ifdEntry{tag: tag, typ: 3, count: 1, value: uint32(v)} }
func long(tag uint16, v int) ifdEntry  { return ifdEntry{tag: tag, typ: 4, count: 1, value: uint32(v)} }

func TestBuiltContainers(t *testing.T) {
	big := readFile(t, "photos", "cops.jpg")                        // 640x426
	small := readFile(t, "photos", "orientation/orientation_1.jpg") // 50x70
	exifRotated := readFile(t, "photos", "Landscape_6.jpg")         // 1200x1600, Exif orientation 6

	// RAF: header pointer at 84/88 to the JPEG at 160.
	raf := cat([]byte("FUJIFILMCCD-RAW 0201FF383501"), make([]byte, 84-28), be32(160), be32(len(exifRotated)), make([]byte, 160-92), exifRotated, make([]byte, 64))

	// CR3: THMB (small) and CMT1 (orientation 8) in moov's Canon uuid, a
	// CRAW/JPEG track whose sample is the big JPEG in mdat, and PRVW.
	cmt1 := tiffLE("II*\x00", []ifdEntry{short(tagOrientation, 8)})
	thmb := bmff("THMB", be32(0), be16(50), be16(70), be32(len(small)), be32(0x10000), small)
	craw := bmff("CRAW", make([]byte, 82), bmff("JPEG", be32(0)), bmff("free", be16(0)))
	stsd := bmff("stsd", be32(0), be32(1), craw)
	cr3 := func(jpegAt int) []byte {
		stbl := bmff("stbl", stsd, bmff("stsz", be32(0), be32(len(big)), be32(1)), bmff("co64", be32(0), be32(1), be32(0), be32(jpegAt)))
		moov := bmff("moov", bmff("uuid", []byte(uuidCanon), bmff("CMT1", cmt1), thmb), bmff("trak", bmff("tkhd", make([]byte, 84)), bmff("mdia", bmff("minf", stbl))))
		prvw := bmff("uuid", []byte(uuidPreview), make([]byte, 8), bmff("PRVW", be32(0), be16(1), be16(50), be16(70), be16(1), be32(len(small)), small))
		return cat(bmff("ftyp", []byte("crx "), be32(1), []byte("crx isom")), moov, prvw, bmff("mdat", big))
	}
	probe := cr3(0)
	cr3File := cr3(len(probe) - len(big)) // mdat's payload: sizes do not change

	// ORF: IIRO TIFF, Exif IFD with an Olympus maker note whose
	// CameraSettings IFD points (from the maker note) at the big JPEG.
	orf := func() []byte {
		// Maker note (offsets from its start): header, IFD {0x2020 ->
		// CameraSettings IFD}, CameraSettings {0x0101 start, 0x0102
		// length}, the JPEG.
		le16 := func(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
		le32 := func(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
		mnIFD := 12
		cs := mnIFD + 2 + 12 + 4
		jpegAt := cs + 2 + 24 + 4
		mn := cat([]byte("OLYMPUS\x00II\x03\x00"),
			le16(1), le16(0x2020), le16(13), le32(1), le32(cs), le32(0),
			le16(2), le16(0x0101), le16(4), le32(1), le32(jpegAt), le16(0x0102), le16(4), le32(1), le32(len(big)), le32(0),
			big)
		ifd0 := []ifdEntry{short(tagOrientation, 6), long(tagExifIFD, 0)}
		exif := []ifdEntry{{tag: tagMakerNote, typ: 7, count: uint32(len(mn)), data: mn}}
		_, offs := layout("IIRO", false, ifd0, exif)
		ifd0[1].value = uint32(offs[1])
		b, _ := layout("IIRO", false, ifd0, exif)
		return b
	}()

	// RW2: IIU TIFF with the JPEG as UNDEFINED tag 0x002e in IFD0.
	rw2 := tiffLE("IIU\x00", []ifdEntry{short(tagOrientation, 3), {tag: tagRW2JPEG, typ: 7, count: uint32(len(big)), data: big}})

	// DNG-style: IFD0 small JPEG thumbnail strip; a SubIFD with the big
	// JPEG as a single strip (Compression 7); a SubIFD holding "raw data"
	// as lossless JPEG (SOF3), which must not be taken even though larger.
	lossless := cat([]byte{0xff, 0xd8, 0xff, 0xc3, 0, 11, 16, 0x0f, 0xa0, 0x17, 0x70, 1, 1, 0x11, 0}, make([]byte, 200000))
	dng := func() []byte {
		ifd0 := []ifdEntry{short(tagCompression, 7), short(tagOrientation, 5), long(tagStripOffsets, 0), long(tagStripByteCount, len(small)),
			{tag: tagSubIFDs, typ: 4, count: 2, data: make([]byte, 8)}}
		sub1 := []ifdEntry{short(tagCompression, 7), long(tagStripOffsets, 0), long(tagStripByteCount, len(big))}
		sub2 := []ifdEntry{short(tagCompression, 7), long(tagStripOffsets, 0), long(tagStripByteCount, len(lossless))}
		b, offs := layout("II*\x00", false, ifd0, sub1, sub2)
		smallAt, bigAt, llAt := len(b), len(b)+len(small), len(b)+len(small)+len(big)
		ifd0[2].value = uint32(smallAt)
		ifd0[4].data = cat(binary.LittleEndian.AppendUint32(nil, uint32(offs[1])), binary.LittleEndian.AppendUint32(nil, uint32(offs[2])))
		sub1[1].value = uint32(bigAt)
		sub2[1].value = uint32(llAt)
		b, _ = layout("II*\x00", false, ifd0, sub1, sub2)
		return cat(b, small, big, lossless)
	}()

	// CRW: CIFF root heap holding JpgFromRaw, and a sub-heap with
	// ImageInfo whose rotation is 90.
	crw := func() []byte {
		heapStart := 26
		le16 := func(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
		le32 := func(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
		info := cat(le32(640), le32(426), le32(0x3f800000), le32(90))
		// Sub-heap: info, then its directory (1 entry), then the offset.
		sub := cat(info, le16(1), le16(0x1810), le32(len(info)), le32(0), le32(len(info)))
		// Root heap: JPEG, sub-heap, directory (2 entries), offset.
		dirAt := len(big) + len(sub)
		root := cat(big, sub, le16(2),
			le16(0x2007), le32(len(big)), le32(0),
			le16(0x300a), le32(len(sub)), le32(len(big)),
			le32(dirAt))
		return cat([]byte("II"), le32(heapStart), []byte("HEAPCCDR"), le32(0x10002), make([]byte, heapStart-18), root)
	}()

	tests := []struct {
		name         string
		b            []byte
		w, h, orient int
		container    string
		source       string
	}{
		{"raf orientation from the JPEG's Exif", raf, 1200, 1600, 6, "raf", "raf header"},
		{"cr3 track JPEG over PRVW and THMB", cr3File, 640, 426, 8, "cr3", "cr3 track JPEG"},
		{"orf olympus maker note", orf, 640, 426, 6, "tiff", "olympus makernote preview"},
		{"rw2 JpgFromRaw", rw2, 640, 426, 3, "tiff", "rw2 JpgFromRaw"},
		{"dng strip preview, lossless raw skipped", dng, 640, 426, 5, "tiff", "ifd0.sub0 strip"},
		{"crw rotated 90", crw, 640, 426, 6, "crw", "crw JpgFromRaw"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := FindBytes(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if p.Width != tc.w || p.Height != tc.h || p.Orientation != tc.orient || p.Container != tc.container || p.Source != tc.source {
				t.Fatalf("got %+v, want %dx%d orientation %d %s %q", p, tc.w, tc.h, tc.orient, tc.container, tc.source)
			}
			checkPreview(t, tc.b, p)
		})
	}

	// Without its track and PRVW, a CR3 falls back to THMB.
	noTrack := cat(bmff("ftyp", []byte("crx "), be32(1)), bmff("moov", bmff("uuid", []byte(uuidCanon), thmb)))
	if p, err := FindBytes(noTrack); err != nil || p.Source != "cr3 THMB" || p.Width != 50 {
		t.Errorf("cr3 with THMB only: %+v, %v", p, err)
	}
	// Only the lossless JPEG: no preview.
	onlyRaw := tiffLE("II*\x00", []ifdEntry{short(tagCompression, 7), long(tagStripOffsets, 64), long(tagStripByteCount, len(lossless))})
	onlyRaw = cat(onlyRaw, make([]byte, 64-len(onlyRaw)), lossless)
	if _, err := FindBytes(onlyRaw); !errors.Is(err, ErrNoPreview) {
		t.Errorf("lossless only: %v, want ErrNoPreview", err)
	}
}

// TestHostile feeds structures that loop, nest or lie about sizes.
func TestHostile(t *testing.T) {
	// IFD0 whose next pointer is itself, and whose SubIFD is itself.
	loop := tiffLE("II*\x00", []ifdEntry{long(tagSubIFDs, 8)})
	binary.LittleEndian.PutUint32(loop[len(loop)-4:], 8)
	// A count of 65535 entries in a 30-byte file.
	manyEntries := cat([]byte("II*\x00"), binary.LittleEndian.AppendUint32(nil, 8), []byte{0xff, 0xff}, make([]byte, 20))
	// JPEG offset and length near 2^32.
	hugeJPEG := tiffLE("II*\x00", []ifdEntry{long(tagJPEGOffset, 0xfffffff0), long(tagJPEGLength, 0xffffffff)})
	// CIFF heap whose directory points at the heap itself (recursion).
	ciffLoop := func() []byte {
		le16 := func(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
		le32 := func(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
		root := cat(le16(1), le16(0x300a), le32(16), le32(0), le32(0))
		return cat([]byte("II"), le32(26), []byte("HEAPCCDR"), make([]byte, 12), root)
	}()
	// ISOBMFF boxes with size 1 and a 64-bit size past the end, size 0.
	bmffLies := cat(bmff("ftyp", []byte("crx "), be32(1)), be32(1), []byte("moov"), binary.BigEndian.AppendUint64(nil, 1<<62), be32(0), []byte("uuid"))
	// A JPEG preview candidate with endless fill bytes and APP segments.
	endless := cat([]byte{0xff, 0xd8}, make([]byte, 0))
	for range 2000 {
		endless = append(endless, 0xff, 0xe0, 0, 2)
	}
	endlessTIFF := tiffLE("II*\x00", []ifdEntry{long(tagJPEGOffset, 64), long(tagJPEGLength, len(endless))})
	endlessTIFF = cat(endlessTIFF, make([]byte, 64-len(endlessTIFF)), endless)
	// Deep SubIFD nesting: IFD n's SubIFD is IFD n+1.
	var deep []byte
	{
		const n = 50
		b := cat([]byte("II*\x00"), binary.LittleEndian.AppendUint32(nil, 8))
		for i := range n {
			b = binary.LittleEndian.AppendUint16(b, 1)
			b = binary.LittleEndian.AppendUint16(b, tagSubIFDs)
			b = binary.LittleEndian.AppendUint16(b, 4)
			b = binary.LittleEndian.AppendUint32(b, 1)
			b = binary.LittleEndian.AppendUint32(b, uint32(8+(i+1)*18))
			b = binary.LittleEndian.AppendUint32(b, 0)
		}
		deep = b
	}
	for name, b := range map[string][]byte{"ifd loop": loop, "many entries": manyEntries, "huge jpeg extent": hugeJPEG,
		"ciff loop": ciffLoop, "box sizes": bmffLies, "endless markers": endlessTIFF, "deep subifds": deep} {
		t.Run(name, func(t *testing.T) {
			if _, err := FindBytes(b); !errors.Is(err, ErrNoPreview) && !errors.Is(err, ErrNotRAW) {
				t.Fatalf("err %v", err)
			}
		})
	}
}
