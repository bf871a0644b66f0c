package server

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/transform"
)

// Caches are the optional result tiers, checked in this order. A nil tier
// is off.
type Caches struct {
	Memory     *cache.Memory
	Disk       *cache.Disk
	PhotoPrism *cache.PhotoPrism
	// Derive makes small variants from a cached larger fit_* variant of the
	// same photo instead of decoding the original (see derivable).
	Derive bool
}

// Cache outcomes, as logged and counted.
const (
	outcomeHit        = "hit"
	outcomeDisk       = "disk"
	outcomePhotoPrism = "photoprism"
	outcomeMiss       = "miss"
	outcomeDerived    = "derived"
	outcomeShared     = "shared"
	outcomeFailed     = "failed" // a remembered failure of this original
)

// variantKey names a variant in the memory tier: <hash>_<size>.<ext>,
// where ext is the requested format.
func variantKey(hash string, size transform.Size, f transform.Format) string {
	return hash + "_" + size.Name + "." + f.Ext()
}

// diskKey names a variant on disk. The settings fingerprint is part of it,
// so a quality or pipeline change never serves old bytes under a new ETag.
func (s *Server) diskKey(hash string, size transform.Size, f transform.Format) string {
	return hash + "_" + size.Name + "_" + s.fp8 + "." + f.Ext()
}

// fromEntry rebuilds an image from a memory entry, with its real format.
func fromEntry(e cache.Entry, requested transform.Format) *transform.Image {
	f, ok := transform.FormatFromExt(e.Ext)
	if !ok {
		f = requested
	}
	return &transform.Image{Bytes: e.Body, Width: e.Width, Height: e.Height, Format: f, Source: e.Source}
}

// variant returns the encoded variant from the cheapest place that has it.
func (s *Server) variant(ctx context.Context, orig storage.Original, size transform.Size, f transform.Format) (*transform.Image, string, error) {
	key := variantKey(orig.Hash, size, f)
	c := s.opts.Caches
	if c.Memory != nil {
		if e, ok := c.Memory.Get(key); ok {
			return fromEntry(e, f), outcomeHit, nil
		}
	}
	// The disk and PhotoPrism tiers hold files whose format is their
	// extension; originals (format known only from the file) skip them.
	onDisk := size.Mode != transform.Original
	if c.Disk != nil && onDisk {
		if b, ok := c.Disk.Get(s.diskKey(orig.Hash, size, f)); ok {
			img := &transform.Image{Bytes: b, Format: f}
			s.remember(key, img)
			return img, outcomeDisk, nil
		}
	}
	if c.PhotoPrism != nil {
		if w, h, method, ext, ok := photoPrismName(size, f); ok {
			if b, ok := c.PhotoPrism.Get(orig.Hash, w, h, method, ext); ok {
				img := &transform.Image{Bytes: b, Format: f, Source: SourcePhotoPrism}
				s.remember(key, img)
				return img, outcomePhotoPrism, nil
			}
		}
	}

	if e, ok := s.failures.remembered(orig); ok {
		return nil, outcomeFailed, e.err
	}

	type result struct {
		img     *transform.Image
		outcome string
	}
	ch := s.flight.DoChan(key, func() (any, error) {
		// Detached from any one caller so a client hanging up does not fail
		// the others; bounded by the request timeout all the same.
		// Same deadline as the request that started it, so a render that
		// runs out of time is reported to that request as too slow.
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(s.opts.RequestTimeout)
		}
		jctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		release, err := s.limit.acquire(jctx)
		if err != nil {
			return nil, err
		}
		defer release()
		src, outcome, source := s.derivable(orig.Hash, size, f), outcomeDerived, SourceDerived
		if src == nil {
			source = SourceOriginal
			if src, err = s.source(jctx, orig); err != nil {
				err = slowJob(jctx, err)
				s.failures.record(orig, err)
				return nil, err
			}
			outcome = outcomeMiss
		}
		s.Started.Add(1)
		t0 := time.Now()
		img, err := s.tr.Transform(jctx, src, size, f)
		if err != nil {
			// A deadline that expired while libvips ran means the file is
			// too slow to render; remembered, so retries are cheap.
			err = slowJob(jctx, err)
			s.failures.record(orig, err)
			return nil, err
		}
		s.metrics.transform.WithLabelValues(sizeLabel(size), f.Ext()).Observe(time.Since(t0).Seconds())
		img.Source = source
		s.remember(key, img)
		if c.Disk != nil && onDisk && source == SourceOriginal && img.Format == f {
			// Only renders from the original go to disk: the disk tier keeps
			// no record of the source, and the ETag must match the bytes.
			c.Disk.Put(s.diskKey(orig.Hash, size, f), img.Bytes)
		}
		return result{img, outcome}, nil
	})
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	var r singleflight.Result
	select {
	case r = <-ch:
	case <-ctx.Done():
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, "", ctx.Err() // the client left
		}
		// The job shares the deadline and libvips is being stopped; wait
		// briefly for its verdict (too slow, or still queued).
		select {
		case r = <-ch:
		case <-time.After(stopGrace):
			return nil, "", ctx.Err()
		}
	}
	if r.Err != nil {
		return nil, "", r.Err
	}
	res := r.Val.(result)
	if r.Shared {
		return res.img, outcomeShared, nil
	}
	return res.img, res.outcome, nil
}

// stopGrace bounds how long a request past its deadline waits for its
// job to report that it was stopped.
const stopGrace = 2 * time.Second

// remember keeps a variant in the memory tier.
func (s *Server) remember(key string, img *transform.Image) {
	if m := s.opts.Caches.Memory; m != nil {
		m.Put(key, cache.Entry{Body: img.Bytes, Width: img.Width, Height: img.Height, Source: img.Source, Ext: img.Format.Ext()})
	}
}

// Sources of a variant's bytes; each has its own ETag.
const (
	SourceOriginal   = ""
	SourceDerived    = "derived"
	SourcePhotoPrism = "photoprism"
)

// sources lists the sources this server can produce, for If-None-Match.
func (s *Server) sources() []string {
	out := []string{SourceOriginal}
	if s.opts.Caches.Derive && s.opts.Caches.Memory != nil {
		out = append(out, SourceDerived)
	}
	if s.opts.Caches.PhotoPrism != nil {
		out = append(out, SourcePhotoPrism)
	}
	return out
}

// deriveFactor: a cached variant is used as the source only if it has at
// least this many times the pixels the output needs along each axis, so its
// JPEG artefacts are shrunk away and the result matches one made from the
// original (BenchmarkDerive and TestDeriveQuality measure both).
const deriveFactor = 2

// derivable returns the bytes of a cached fit_* JPEG of the same photo that
// can stand in for the original, or nil. Fit variants hold the whole frame,
// upright and in sRGB, so the pipeline treats them like any original; a
// variant smaller than needed is never used, so nothing is upscaled past
// the original's real pixels.
func (s *Server) derivable(hash string, size transform.Size, f transform.Format) []byte {
	c := s.opts.Caches
	// Fit variants are flattened JPEGs: only JPEG outputs, which are
	// flattened anyway, may come from them (a PNG tile keeps its alpha).
	if !c.Derive || c.Memory == nil || f != transform.JPEG || size.Mode == transform.Original || size.Mode == transform.Colors {
		return nil
	}
	for _, cand := range transform.Sizes {
		if cand.Mode != transform.Fit || cand.Name == size.Name {
			continue
		}
		e, ok := c.Memory.Peek(variantKey(hash, cand, transform.JPEG))
		if !ok || e.Width == 0 || e.Height == 0 || e.Ext != "jpg" {
			continue
		}
		if enough(e.Width, e.Height, cand, size) {
			return e.Body
		}
	}
	return nil
}

// enough reports whether a fit variant of w x h (made for box cand) has
// deriveFactor times the pixels target needs.
func enough(w, h int, cand, target transform.Size) bool {
	switch target.Mode {
	case transform.Colors:
		return true
	case transform.Fit:
		// The variant must not have been limited by a box smaller than the
		// target's, or the fit would differ from one of the original.
		return cand.Width >= deriveFactor*target.Width && cand.Height >= deriveFactor*target.Height &&
			(w >= deriveFactor*target.Width || h >= deriveFactor*target.Height)
	default: // cover crops need the short side
		return min(w, h) >= deriveFactor*target.Width
	}
}

// photoPrismName maps a size to PhotoPrism's file name parts.
func photoPrismName(size transform.Size, f transform.Format) (w, h int, method, ext string, ok bool) {
	switch size.Mode {
	case transform.Colors:
		return size.Width, size.Height, "resize", "png", f == transform.PNG
	case transform.Tile:
		method = "center"
	case transform.Left:
		method = "left"
	case transform.Right:
		method = "right"
	case transform.Fit:
		method = "fit"
	default: // originals are never in PhotoPrism's thumbnail cache
		return 0, 0, "", "", false
	}
	return size.Width, size.Height, method, "jpg", f == transform.JPEG
}
