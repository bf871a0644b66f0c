package server

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

// Cache outcomes, as logged and counted; a hit in a tier is the tier's
// name ("memory" is logged as "hit").
const (
	outcomeHit     = "hit"
	outcomeMiss    = "miss"
	outcomeDerived = "derived"
	outcomeShared  = "shared"
	outcomeFailed  = "failed" // a remembered failure of this original
)

// hitOutcome is the outcome of a hit in tier t.
func hitOutcome(t cache.Tier) string {
	if t.Name() == "memory" {
		return outcomeHit
	}
	return t.Name()
}

// variant returns the encoded variant from the cheapest place that has it.
func (s *Server) variant(ctx context.Context, orig storage.Original, size variant.Size, f variant.Format) (*transform.Image, string, error) {
	key := cache.Key{Hash: orig.Hash, Size: size, Format: f}
	for i, t := range s.opts.Tiers {
		if e, ok := t.Get(key); ok {
			img := fromEntry(e)
			// Promote to the cheaper tiers in front of this one.
			for _, front := range s.opts.Tiers[:i] {
				front.Put(key, e)
			}
			return img, hitOutcome(t), nil
		}
	}
	return s.render(ctx, orig, size, f)
}

// render makes a variant no tier had: collapsed with identical requests,
// bounded by the worker limit and the request deadline. (Apart from
// variant so that a hit does not pay for the job closure's captures.)
func (s *Server) render(ctx context.Context, orig storage.Original, size variant.Size, f variant.Format) (*transform.Image, string, error) {
	key := cache.Key{Hash: orig.Hash, Size: size, Format: f}
	if e, ok := s.failures.remembered(orig); ok {
		return nil, outcomeFailed, e.err
	}
	if _, ok := ctx.Deadline(); !ok {
		// The request deadline starts here for /t/ (see Server.deadline).
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.RequestTimeout)
		defer cancel()
	}

	type result struct {
		img     *transform.Image
		outcome string
	}
	ch := s.flight.DoChan(orig.Hash+"/"+size.Name+"."+f.Ext(), func() (any, error) {
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
		src, outcome, source := s.derivable(orig.Hash, size, f), outcomeDerived, cache.SourceDerived
		if src == nil {
			source = sourceOriginal
			if src, err = s.source(jctx, orig); err != nil {
				err = slowJob(jctx, err)
				s.failures.record(orig, err)
				return nil, err
			}
			outcome = outcomeMiss
		}
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
		e := cache.Entry{Body: img.Bytes, Width: img.Width, Height: img.Height, Format: img.Format, Source: img.Source}
		for _, t := range s.opts.Tiers {
			t.Put(key, e)
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

// fromEntry rebuilds an image from a cache entry.
func fromEntry(e cache.Entry) *transform.Image {
	return &transform.Image{Bytes: e.Body, Width: e.Width, Height: e.Height, Format: e.Format, Source: e.Source}
}

// sourceOriginal marks bytes rendered from the original itself.
const sourceOriginal = ""

// sources lists the sources this server can produce, for If-None-Match.
func (s *Server) sources() []string {
	out := []string{sourceOriginal}
	if s.mem != nil && s.opts.Derive {
		out = append(out, cache.SourceDerived)
	}
	for _, t := range s.opts.Tiers {
		if src, ok := t.(interface{ Source() string }); ok {
			out = append(out, src.Source())
		}
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
func (s *Server) derivable(hash string, size variant.Size, f variant.Format) []byte {
	m := s.mem
	// Fit variants are flattened JPEGs: only JPEG outputs, which are
	// flattened anyway, may come from them (a PNG tile keeps its alpha).
	if !s.opts.Derive || m == nil || f != variant.JPEG || size.Mode == variant.Original || size.Mode == variant.Colors {
		return nil
	}
	for _, cand := range variant.Sizes {
		if cand.Mode != variant.Fit || cand.Name == size.Name {
			continue
		}
		e, ok := m.Peek(cache.Key{Hash: hash, Size: cand, Format: variant.JPEG})
		if !ok || e.Width == 0 || e.Height == 0 || e.Format != variant.JPEG {
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
func enough(w, h int, cand, target variant.Size) bool {
	switch target.Mode {
	case variant.Colors:
		return true
	case variant.Fit:
		// The variant must not have been limited by a box smaller than the
		// target's, or the fit would differ from one of the original.
		return cand.Width >= deriveFactor*target.Width && cand.Height >= deriveFactor*target.Height &&
			(w >= deriveFactor*target.Width || h >= deriveFactor*target.Height)
	default: // cover crops need the short side
		return min(w, h) >= deriveFactor*target.Width
	}
}
