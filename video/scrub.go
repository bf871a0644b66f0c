package video

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
)

// Bounds of the box and element walks, so a hostile file can't make them
// slow: boxes or elements visited, and nesting.
const (
	maxBoxes = 1 << 20
	maxDepth = 8
)

// Patch overwrites Len bytes at Off: Head, then zeros.
type Patch struct {
	Off, Len int64
	Head     []byte
}

// Patches are sorted by offset and do not overlap.
type Patches []Patch

// Scrub finds the metadata of a video (location, camera make, model and
// serial, XMP, attachments) and returns the patches that neutralise it
// without moving a byte, so sample offsets, seek tables and Range requests
// stay valid:
//   - MP4/MOV: udta and meta boxes at top level and in moov, trak, mdia and
//     minf, and uuid boxes (XMP and vendor blobs) at top level and in moov,
//     become free boxes of the same size with a zeroed payload.
//   - Matroska/WebM: Tags and Attachments become Void elements of the same
//     length with a zeroed payload.
//
// An error means the file could not be walked to the end (truncated,
// malformed, too complex): serving it could leak what was not found.
func Scrub(r io.ReaderAt, size int64) (Patches, error) {
	var head [12]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return nil, ErrUnknown
	}
	var p Patches
	var err error
	switch {
	case string(head[4:8]) == "ftyp":
		w := mp4Scrub{r: r}
		err = w.walk(0, size, "", 0)
		p = w.p
	case binary.BigEndian.Uint32(head[:4]) == idEBML:
		w := mkvScrub{r: r}
		err = w.top(size)
		p = w.p
	default:
		return nil, ErrUnknown
	}
	if err != nil {
		if !errors.Is(err, ErrUnknown) {
			err = fmt.Errorf("%w: %v", ErrUnknown, err)
		}
		return nil, err
	}
	return p, nil
}

type mp4Scrub struct {
	r io.ReaderAt
	n int
	p Patches
}

// mp4Scrubbed: in which containers ("" is the top level) which boxes are
// metadata. udta and meta carry ©xyz, Apple's mdta keys (location, make,
// model) and vendor tags; uuid carries XMP (top level) and camera blobs
// such as Canon's EXIF (in moov).
var mp4Scrubbed = map[string]map[string]bool{
	"":     {"udta": true, "meta": true, "uuid": true},
	"moov": {"udta": true, "meta": true, "uuid": true},
	"trak": {"udta": true, "meta": true},
	"mdia": {"udta": true, "meta": true},
	"minf": {"udta": true, "meta": true},
}

// mp4Descend: the containers walked into, from their parent.
var mp4Descend = map[string]string{"": "moov", "moov": "trak", "trak": "mdia", "mdia": "minf"}

func (w *mp4Scrub) walk(off, end int64, parent string, depth int) error {
	for off < end {
		if w.n++; w.n > maxBoxes || depth > maxDepth {
			return fmt.Errorf("%w: too many boxes", ErrUnknown)
		}
		typ, body, next, err := box(w.r, off, end)
		if err != nil {
			// A truncated last mdat (a copy cut short) holds no metadata.
			if parent == "" && truncatedMdat(w.r, off, end) {
				return nil
			}
			return err
		}
		switch {
		case mp4Scrubbed[parent][typ]:
			// Keep size (and a 64-bit largesize) so the layout is unchanged.
			head := make([]byte, body-off)
			if _, err := w.r.ReadAt(head, off); err != nil {
				return err
			}
			copy(head[4:8], "free")
			w.p = append(w.p, Patch{Off: off, Len: next - off, Head: head})
		case mp4Descend[parent] == typ:
			if err := w.walk(body, next, typ, depth+1); err != nil {
				return err
			}
		}
		off = next
	}
	return nil
}

// truncatedMdat reports whether the box at off is an mdat that runs past
// end.
func truncatedMdat(r io.ReaderAt, off, end int64) bool {
	var h [8]byte
	if off+8 > end {
		return false
	}
	_, err := r.ReadAt(h[:], off)
	return err == nil && string(h[4:8]) == "mdat"
}

// Matroska level-1 elements (children of Segment), which end an element
// of unknown size, and the two that are scrubbed.
const (
	idSeekHead    = 0x114D9B74
	idInfo        = 0x1549A966
	idChapters    = 0x1043A770
	idCues        = 0x1C53BB6B
	idAttachments = 0x1941A469
	idTags        = 0x1254C367
	idVoid        = 0xEC
)

var mkvLevel1 = map[uint64]bool{
	idSeekHead: true, idInfo: true, idTracks: true, idChapters: true, idCluster: true,
	idCues: true, idAttachments: true, idTags: true, idEBML: true, idSegment: true,
}

type mkvScrub struct {
	r io.ReaderAt
	n int
	p Patches
}

// mkvElem is an element header: ID, the header's ID and size lengths, and
// the payload (size is -1 when unknown).
type mkvElem struct {
	id           uint64
	idLen, szLen int
	body, size   int64
}

func (w *mkvScrub) elem(off, end int64) (mkvElem, error) {
	if w.n++; w.n > maxBoxes {
		return mkvElem{}, fmt.Errorf("%w: too many elements", ErrUnknown)
	}
	id, n1, err := vint(w.r, off, true)
	if err != nil {
		return mkvElem{}, err
	}
	sz, n2, err := vint(w.r, off+int64(n1), false)
	if err != nil {
		return mkvElem{}, err
	}
	e := mkvElem{id: id, idLen: n1, szLen: n2, body: off + int64(n1+n2), size: int64(sz)}
	if n1 > 4 || e.body > end {
		return mkvElem{}, fmt.Errorf("%w: bad element at %d", ErrUnknown, off)
	}
	if sz == uint64(1)<<(7*n2)-1 {
		e.size = -1
	}
	return e, nil
}

// top walks the file: EBML headers and Segments (several when chained).
func (w *mkvScrub) top(size int64) error {
	for off := int64(0); off < size; {
		e, err := w.elem(off, size)
		if err != nil {
			return err
		}
		if e.id == idSegment {
			if off, err = w.segment(e, size); err != nil {
				return err
			}
			continue
		}
		if e.size < 0 {
			return fmt.Errorf("%w: top-level element of unknown size", ErrUnknown)
		}
		off = min(e.body+e.size, size)
	}
	return nil
}

// segment walks a Segment's children and returns where the Segment ends.
func (w *mkvScrub) segment(seg mkvElem, size int64) (int64, error) {
	end := size
	if seg.size >= 0 {
		end = min(seg.body+seg.size, size) // a truncated file: what is there
	}
	off := seg.body
	for off < end {
		e, err := w.elem(off, end)
		if err != nil {
			return 0, err
		}
		if e.id == idEBML || e.id == idSegment {
			if seg.size < 0 {
				return off, nil // the next Segment of a chained file
			}
			return 0, fmt.Errorf("%w: segment inside segment", ErrUnknown)
		}
		next := end
		if e.size >= 0 {
			next = min(e.body+e.size, end)
		} else if next, err = w.extent(e.body, end, 1); err != nil {
			return 0, err
		}
		if e.id == idTags || e.id == idAttachments {
			p, err := voidPatch(off, next, e)
			if err != nil {
				return 0, err
			}
			w.p = append(w.p, p)
		}
		off = next
	}
	return end, nil
}

// extent finds the end of an element of unknown size (a live recording's
// Cluster, say): its children run until a level-1 element or the parent's
// end.
func (w *mkvScrub) extent(off, end int64, depth int) (int64, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("%w: elements nested too deep", ErrUnknown)
	}
	for off < end {
		e, err := w.elem(off, end)
		if err != nil {
			return 0, err
		}
		if mkvLevel1[e.id] {
			return off, nil
		}
		if e.size < 0 {
			if off, err = w.extent(e.body, end, depth+1); err != nil {
				return 0, err
			}
			continue
		}
		off = min(e.body+e.size, end)
	}
	return end, nil
}

// voidPatch turns the element [off, next) into a Void of the same total
// length: the 1-byte Void ID, a size vint as long as the rest of the old
// header (at most 8 bytes; a longer header gives its excess to the
// payload), then zeros.
func voidPatch(off, next int64, e mkvElem) (Patch, error) {
	total := next - off
	n := min(e.idLen-1+e.szLen, 8)
	payload := total - 1 - int64(n)
	if n < 1 || payload < 0 || uint64(payload) >= uint64(1)<<(7*n)-1 {
		return Patch{}, fmt.Errorf("%w: element at %d can't become Void", ErrUnknown, off)
	}
	head := make([]byte, 1+n)
	head[0] = idVoid
	v := uint64(payload) | uint64(1)<<(7*n) // the length marker bit
	for i := n; i >= 1; i-- {
		head[i] = byte(v)
		v >>= 8
	}
	return Patch{Off: off, Len: total, Head: head}, nil
}

// Scrubbed reads a file with patches applied. It is an io.ReadSeeker (for
// http.ServeContent, Range requests included) and an io.ReaderAt; the file
// itself is only read.
type Scrubbed struct {
	r    io.ReaderAt
	size int64
	p    Patches
	off  int64
}

// NewScrubbed overlays p (from Scrub) on r, size bytes long.
func NewScrubbed(r io.ReaderAt, size int64, p Patches) *Scrubbed {
	return &Scrubbed{r: r, size: size, p: p}
}

// Size is the length of the stream, the file's.
func (s *Scrubbed) Size() int64 { return s.size }

// ReadAt reads the file and substitutes the patched bytes.
func (s *Scrubbed) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("video: negative offset")
	}
	if off >= s.size {
		return 0, io.EOF
	}
	want := b
	if rest := s.size - off; int64(len(b)) > rest {
		want = b[:rest]
	}
	n, err := s.r.ReadAt(want, off)
	if err == io.EOF && n == len(want) {
		err = nil
	}
	got := want[:n]
	// The first patch that ends after off, then those that start in range.
	end := off + int64(n)
	for i := sort.Search(len(s.p), func(i int) bool { return s.p[i].Off+s.p[i].Len > off }); i < len(s.p) && s.p[i].Off < end; i++ {
		overlay(got, off, s.p[i])
	}
	if err == nil && len(want) < len(b) {
		err = io.EOF
	}
	return n, err
}

// overlay writes the part of patch p that falls in b (which holds the
// bytes from off).
func overlay(b []byte, off int64, p Patch) {
	from, to := max(p.Off, off), min(p.Off+p.Len, off+int64(len(b)))
	for from < to {
		rel := from - p.Off
		dst := b[from-off : to-off]
		if rel < int64(len(p.Head)) {
			from += int64(copy(dst, p.Head[rel:]))
			continue
		}
		clear(dst)
		return
	}
}

// Read reads from the current position, patched.
func (s *Scrubbed) Read(b []byte) (int, error) {
	n, err := s.ReadAt(b, s.off)
	s.off += int64(n)
	return n, err
}

// Seek sets the position; past the end is allowed and reads io.EOF.
func (s *Scrubbed) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.off
	case io.SeekEnd:
		offset += s.size
	default:
		return 0, errors.New("video: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("video: negative position")
	}
	s.off = offset
	return offset, nil
}
