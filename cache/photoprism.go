package cache

import (
	"fmt"
	"io"
	"os"
	"path"
	"sync/atomic"
	"syscall"

	"github.com/thumbd/thumbd/metastrip"
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

// Get returns PhotoPrism's rendering of (hash, box, method) in ext
// ("jpg" or "png"), stripped of metadata, if it exists and is complete.
func (p *PhotoPrism) Get(hash string, w, h int, method, ext string) ([]byte, bool) {
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

// Counts reports hits and misses.
func (p *PhotoPrism) Counts() (hits, misses uint64) { return p.hits.Load(), p.misses.Load() }

// Close releases the folder handle.
func (p *PhotoPrism) Close() error { return p.root.Close() }
