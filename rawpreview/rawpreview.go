// Package rawpreview finds the largest embedded JPEG preview in a camera RAW
// file (DNG, CR2, CR3, NEF, NRW, ARW, SR2, RAF, ORF, RW2, PEF, SRW, CRW) and
// the RAW's orientation, so thumbd can serve RAW files by their previews
// without decoding sensor data.
//
// It reads through an io.ReaderAt and never loads the file: it reads IFDs,
// box headers and JPEG marker segments, each read at most maxRead bytes, and
// at most maxReads of them per file. Structures are walked with bounded
// depth and counts, loops are guarded by visited sets, every offset and
// length from the file is checked against its size, and nothing is
// allocated in proportion to a size the file declares. Damaged structures
// are skipped rather than trusted: a file whose previews all fail the checks
// gives ErrNoPreview.
//
// Only baseline, extended and progressive JPEGs count as previews (SOF0,
// SOF1, SOF2): the lossless JPEG that CR2 and DNG use for raw data (SOF3)
// and arithmetic-coded JPEG are skipped, since neither Go's image/jpeg nor
// thumbd's pipeline should be handed them as a picture.
package rawpreview

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"
)

// Extensions are the lower-case file extensions, with the dot, of the RAW
// formats Find reads.
var Extensions = []string{".arw", ".cr2", ".cr3", ".crw", ".dng", ".nef", ".nrw", ".orf", ".pef", ".raf", ".rw2", ".sr2", ".srw"}

// IsRAW reports whether name has one of Extensions (case-insensitive).
func IsRAW(name string) bool {
	return slices.Contains(Extensions, strings.ToLower(path.Ext(name)))
}

var (
	// ErrNotRAW means the bytes are not a container Find reads.
	ErrNotRAW = errors.New("rawpreview: not a RAW file")
	// ErrNoPreview means the file is a RAW container but holds no usable
	// JPEG preview (none present, or all past the end or damaged).
	ErrNoPreview = errors.New("rawpreview: no usable JPEG preview")
)

// Preview is where the largest usable JPEG preview lies in the file.
type Preview struct {
	Offset, Length int64
	// Width and Height are the JPEG's own (SOF) dimensions: as stored,
	// before Orientation is applied.
	Width, Height int
	// Orientation is the RAW's EXIF orientation (1-8) to apply to the
	// preview's pixels: from the container (TIFF IFD0, CR3's CMT1, CRW's
	// ImageInfo rotation), else from the preview's own Exif (RAF, RW2),
	// else 1.
	Orientation int
	// Container is "tiff" (every TIFF-based RAW, ORF and RW2 included),
	// "cr3", "raf" or "crw".
	Container string
	// Source says where the preview was found, for logs and tests.
	Source string
	// Taken is the RAW's EXIF DateTimeOriginal (camera local time, read
	// as UTC) for TIFF-based files; zero if absent or another container.
	Taken time.Time
	// Truncated is set when some image data the container points at (a
	// preview, a thumbnail, a strip of sensor data) lies past the end of
	// the file: the file was cut short, though this preview is whole.
	Truncated bool
}

// Pixels is Width*Height.
func (p Preview) Pixels() int64 { return int64(p.Width) * int64(p.Height) }

// Limits. None is reached by a real RAW file.
const (
	maxRead      = 64 << 10 // bytes in one read
	maxReads     = 4096     // reads per file
	maxIFDs      = 256      // IFDs visited per file
	maxEntries   = 1024     // entries read per IFD
	maxSubIFDs   = 16       // SubIFD offsets followed per IFD
	maxDepth     = 6        // IFD, CIFF heap and box nesting
	maxBoxes     = 1024     // boxes looked at per container level
	maxMarkers   = 512      // JPEG segments skipped before SOF
	maxCands     = 64       // preview candidates checked
	maxCIFFItems = 1024     // CIFF directory entries per heap
)

// FindBytes is Find on an in-memory file.
func FindBytes(b []byte) (Preview, error) {
	return Find(bytes.NewReader(b), int64(len(b)))
}

// Find returns the largest usable JPEG preview of the RAW file of the given
// size read through r. Errors wrap ErrNotRAW, ErrNoPreview, or the
// ReaderAt's own error.
func Find(r io.ReaderAt, size int64) (Preview, error) {
	rd := &reader{r: r, size: size}
	head, err := rd.read(0, 128)
	if err != nil {
		if errors.Is(err, errRange) {
			return Preview{}, ErrNotRAW
		}
		return Preview{}, err
	}
	f := &finder{rd: rd, orientation: 0}
	switch {
	case len(head) >= 16 && string(head[:16]) == "FUJIFILMCCD-RAW ":
		f.container = "raf"
		f.raf(head)
	case len(head) >= 14 && (string(head[:2]) == "II" || string(head[:2]) == "MM") && string(head[6:14]) == "HEAPCCDR":
		f.container = "crw"
		f.crw(head)
	case len(head) >= 12 && string(head[4:8]) == "ftyp" && string(head[8:12]) == "crx ":
		f.container = "cr3"
		f.cr3()
	case isTIFF(head):
		f.container = "tiff"
		t, ok := newTIFF(rd, 0)
		if !ok {
			return Preview{}, fmt.Errorf("%w: bad TIFF header", ErrNoPreview)
		}
		f.tiffFile(t)
	default:
		return Preview{}, ErrNotRAW
	}
	if f.err != nil {
		return Preview{}, f.err
	}
	return f.best()
}

// Extract reads the preview's bytes (Length of them, at Offset).
func Extract(r io.ReaderAt, p Preview) ([]byte, error) {
	if p.Offset < 0 || p.Length <= 0 || p.Length > 1<<31 {
		return nil, fmt.Errorf("%w: bad extent", ErrNoPreview)
	}
	b := make([]byte, p.Length)
	if _, err := r.ReadAt(b, p.Offset); err != nil {
		return nil, fmt.Errorf("rawpreview: read preview: %w", err)
	}
	return b, nil
}

// candidate is a possible JPEG preview.
type candidate struct {
	off, n int64
	source string
}

type finder struct {
	rd          *reader
	container   string
	orientation int // 0: not known from the container
	taken       time.Time
	truncated   bool // an extent pointed past the end of the file
	cands       []candidate
	ifds        map[int64]bool
	err         error // a read error from the ReaderAt (not a bad structure)
}

func (f *finder) add(off, n int64, source string) {
	if off <= 0 || n <= 4 {
		return
	}
	if off >= f.rd.size || n > f.rd.size-off {
		f.truncated = true
		return
	}
	if len(f.cands) < maxCands {
		f.cands = append(f.cands, candidate{off, n, source})
	}
}

// past records image data (not a preview candidate) at off, n bytes long.
func (f *finder) past(off, n int64) {
	if off > 0 && n > 0 && (off >= f.rd.size || n > f.rd.size-off) {
		f.truncated = true
	}
}

// fail records a read error that is the ReaderAt's, not the file's, so
// that it is reported rather than taken for a missing preview.
func (f *finder) fail(err error) {
	if err == nil || f.err != nil {
		return
	}
	for _, own := range []error{errRange, errBudget, errNotJPEG, errLossless, errNoSOF} {
		if errors.Is(err, own) {
			return
		}
	}
	f.err = err
}

// best checks every candidate and keeps the one with the most pixels (the
// longer on a tie).
func (f *finder) best() (Preview, error) {
	var (
		best    Preview
		found   bool
		reasons []string
	)
	for _, c := range f.cands {
		info, err := probeJPEG(f.rd, c.off, c.n)
		if err != nil {
			f.fail(err)
			if f.err != nil {
				return Preview{}, f.err
			}
			if len(reasons) < 4 {
				reasons = append(reasons, fmt.Sprintf("%s: %v", c.source, err))
			}
			continue
		}
		p := Preview{Offset: c.off, Length: c.n, Width: info.w, Height: info.h, Container: f.container, Source: c.source, Orientation: info.orientation}
		if !found || p.Pixels() > best.Pixels() || p.Pixels() == best.Pixels() && p.Length > best.Length {
			best, found = p, true
		}
	}
	if !found {
		if f.truncated {
			reasons = append(reasons, "file cut short")
		}
		if len(reasons) == 0 {
			return Preview{}, fmt.Errorf("%w in %s", ErrNoPreview, f.container)
		}
		return Preview{}, fmt.Errorf("%w in %s (%s)", ErrNoPreview, f.container, strings.Join(reasons, "; "))
	}
	best.Taken, best.Truncated = f.taken, f.truncated
	if f.orientation >= 1 && f.orientation <= 8 {
		best.Orientation = f.orientation
	} else if best.Orientation < 1 || best.Orientation > 8 {
		best.Orientation = 1
	}
	return best, nil
}

var (
	errRange  = errors.New("outside the file")
	errBudget = errors.New("read budget spent")
)

// reader does bounded reads.
type reader struct {
	r     io.ReaderAt
	size  int64
	reads int
}

// read returns up to n bytes at off, fewer only at the end of the file; an
// offset outside the file is errRange.
func (r *reader) read(off int64, n int) ([]byte, error) {
	if off < 0 || off >= r.size || n <= 0 {
		return nil, errRange
	}
	if r.reads >= maxReads {
		return nil, errBudget
	}
	r.reads++
	n = min(n, maxRead)
	if rem := r.size - off; int64(n) > rem {
		n = int(rem)
	}
	b := make([]byte, n)
	got, err := r.r.ReadAt(b, off)
	if got == n {
		return b, nil
	}
	if err == nil || err == io.EOF {
		return nil, errRange // the file is shorter than size said
	}
	return nil, err
}

// readFull is read that must return exactly n bytes.
func (r *reader) readFull(off int64, n int) ([]byte, error) {
	b, err := r.read(off, n)
	if err != nil {
		return nil, err
	}
	if len(b) < n {
		return nil, errRange
	}
	return b, nil
}
