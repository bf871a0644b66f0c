package cache

import (
	"fmt"
	"io"
	"os"
	"path"
	"sync/atomic"
	"syscall"

	"github.com/thumbd/thumbd/metastrip"
	"github.com/thumbd/thumbd/variant"
)

// PhotoPrism is a read-only tier over an existing PhotoPrism thumbnail
// cache (<h0>/<h1>/<h2>/<sha1>_<W>x<H>_<method>.<jpg|png>), so people moving
// from PhotoPrism serve its already-rendered thumbnails at once. Files are
// read through an os.Root and never written; whatever metadata PhotoPrism
// left in them is stripped before serving.
type PhotoPrism struct {
	root         *os.Root
	hits, misses atomic.Uint64
}

// OpenPhotoPrism opens the thumbnail folder read-only.
func OpenPhotoPrism(dir string) (*PhotoPrism, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &PhotoPrism{root: root}, nil
}

// maxThumb bounds what is read from the tier: thumbnails, not originals.
const maxThumb = 64 << 20

// Name is the tier's label in logs and metrics.
func (p *PhotoPrism) Name() string { return "photoprism" }

// Source marks the bytes as PhotoPrism's rendering (its own ETag).
func (p *PhotoPrism) Source() string { return SourcePhotoPrism }

// Get returns PhotoPrism's rendering of the variant, if it has one.
func (p *PhotoPrism) Get(k Key) (Entry, bool) {
	w, h, method, ext, ok := photoPrismName(k.Size, k.Format)
	if !ok {
		return Entry{}, false
	}
	b, ok := p.get(k.Hash, w, h, method, ext)
	if !ok {
		return Entry{}, false
	}
	return Entry{Body: b, Format: k.Format, Source: SourcePhotoPrism}, true
}

// Put keeps nothing: PhotoPrism's folder is never written.
func (p *PhotoPrism) Put(Key, Entry) {}

// Delete removes nothing from PhotoPrism's folder; the server refuses
// revoked photos before any tier is asked.
func (p *PhotoPrism) Delete(hash, size string) {}

// Stats reports hits and misses.
func (p *PhotoPrism) Stats() Stats {
	return Stats{Hits: p.hits.Load(), Misses: p.misses.Load(), Items: -1}
}

// photoPrismName maps a size to PhotoPrism's file name parts
// (<sha1>_<W>x<H>_<method>.<ext>); ok is false for variants PhotoPrism
// never renders, or not in the format asked for.
func photoPrismName(size variant.Size, f variant.Format) (w, h int, method, ext string, ok bool) {
	switch size.Mode {
	case variant.Colors:
		return size.Width, size.Height, "resize", "png", f == variant.PNG
	case variant.Tile:
		method = "center"
	case variant.Left:
		method = "left"
	case variant.Right:
		method = "right"
	case variant.Fit:
		method = "fit"
	default: // originals, custom and screen sizes
		return 0, 0, "", "", false
	}
	if size.Custom {
		return 0, 0, "", "", false
	}
	return size.Width, size.Height, method, "jpg", f == variant.JPEG
}

// get returns PhotoPrism's rendering of (hash, box, method) in ext
// ("jpg" or "png"), stripped of metadata, if it exists and is complete.
func (p *PhotoPrism) get(hash string, w, h int, method, ext string) ([]byte, bool) {
	if len(hash) < 3 {
		return nil, false
	}
	name := path.Join(hash[0:1], hash[1:2], hash[2:3], fmt.Sprintf("%s_%dx%d_%s.%s", hash, w, h, method, ext))
	b, ok := p.read(name)
	if ok && Complete(ext, b) {
		var err error
		if ext == "png" {
			b, err = metastrip.PNG(b)
		} else {
			// PhotoPrism renders thumbnails upright; no orientation to keep.
			b, err = metastrip.JPEG(b, 0)
		}
		if err == nil {
			p.hits.Add(1)
			return b, true
		}
	}
	p.misses.Add(1)
	return nil, false
}

func (p *PhotoPrism) read(name string) ([]byte, bool) {
	// O_NONBLOCK: a FIFO planted in the folder must not hang the request.
	f, err := p.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxThumb {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(f, maxThumb))
	return b, err == nil
}

// Close releases the folder handle.
func (p *PhotoPrism) Close() error { return p.root.Close() }
