package storage

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/thumbd/thumbd/metastrip"
	"github.com/thumbd/thumbd/rawpreview"
)

// Camera RAW files (DNG, CR2, CR3, NEF, NRW, ARW, SR2, RAF, ORF, RW2, PEF,
// SRW, CRW) are indexed like any image, hashed over all their bytes, but
// served by their largest embedded JPEG preview: Read returns that JPEG,
// never the sensor data, so the rest of the pipeline treats it as a JPEG.

// ErrNoPreview: a RAW file without a usable embedded JPEG preview (only
// uncompressed thumbnails, previews past a truncation, damaged ones).
var ErrNoPreview = errors.New("RAW file without a usable embedded preview")

// IsRAWName reports whether a file name has a camera RAW extension.
func IsRAWName(name string) bool { return rawpreview.IsRAW(name) }

// rawProbe reads where a RAW's preview is (a few KB of IFDs, boxes and
// JPEG headers, not the preview itself) for the index: its size upright
// and the date taken.
func rawProbe(f io.ReaderAt, size int64) (w, h int, p rawpreview.Preview, err error) {
	p, err = rawpreview.Find(f, size)
	if err != nil {
		return 0, 0, p, err
	}
	w, h = p.Width, p.Height
	if p.Orientation >= 5 {
		w, h = h, w
	}
	return w, h, p, nil
}

// readRAW is Read for a RAW file: the bytes of its largest JPEG preview,
// with the preview's own metadata removed (metastrip.JPEG: the scan data
// is copied byte for byte) and the RAW's orientation written in a minimal
// EXIF block, so the JPEG path turns it upright. max_file_mb bounds the
// preview, which is all that is read when the file is unchanged; a file
// whose size, mtime or inode changed is hashed again first, as every
// original is.
func (ix *Index) readRAW(o Original, f *os.File, fi fs.FileInfo) ([]byte, error) {
	if !o.matches(fi) {
		h := sha1.New()
		if n, err := io.Copy(h, f); err != nil {
			return nil, fmt.Errorf("read original: %w", err)
		} else if n != fi.Size() {
			ix.forget(o)
			return nil, fmt.Errorf("%w: %w", ErrNotFound, errChangedWhileReading)
		}
		if err := ix.recheck(o, fi, hex.EncodeToString(h.Sum(nil))); err != nil {
			return nil, err
		}
	}
	p, err := rawpreview.Find(f, fi.Size())
	if errors.Is(err, rawpreview.ErrNoPreview) || errors.Is(err, rawpreview.ErrNotRAW) {
		return nil, fmt.Errorf("%w: %w", ErrNoPreview, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read original: %w", err)
	}
	if ix.maxFileSize > 0 && p.Length > ix.maxFileSize {
		return nil, fmt.Errorf("%w: RAW preview of %d bytes", ErrTooLarge, p.Length)
	}
	jpg, err := rawpreview.Extract(f, p)
	if err != nil {
		return nil, fmt.Errorf("read original: %w", err)
	}
	out, err := metastrip.JPEG(jpg, p.Orientation)
	if err != nil {
		// A damaged preview (metastrip.ErrMalformed): refused like a
		// damaged JPEG.
		return nil, fmt.Errorf("RAW preview: %w", err)
	}
	return out, nil
}
