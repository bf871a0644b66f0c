package server

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/variant"
)

// ErrNoDiskCache: pre-rendering fills the disk tier, so it needs one.
var ErrNoDiskCache = errors.New("pre-rendering needs a disk cache (disk_cache_dir)")

// PrerenderOptions say what to pre-render and how hard.
type PrerenderOptions struct {
	// Sizes are size segments (tile_224, fit_720.webp); no extension is JPEG.
	Sizes []string
	// Workers is how many renders run at once, on top of (not inside) the
	// request workers; 0 = 1.
	Workers int
	// Yield waits, before each render, until no request is queued and a
	// request worker is free: background work never makes a request wait.
	// Off for thumbd index --render, where nothing else runs.
	Yield bool
	// Progress, if set, is called after each variant.
	Progress func(PrerenderStats)
}

// PrerenderStats count a pre-render's variants.
type PrerenderStats struct {
	Total, Done, Rendered, Present, Failed int
	// Full: the disk budget was reached and the rest left undone.
	Full bool
}

// prerenderMetrics are the pre-render's counters, by outcome.
type prerenderMetrics struct {
	variants  *prometheus.CounterVec
	remaining atomic.Int64
}

func newPrerenderMetrics(reg *prometheus.Registry) *prerenderMetrics {
	m := &prerenderMetrics{variants: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "thumbd_prerender_variants_total",
		Help: "Variants the pre-render went through: rendered, present (on disk already), failed, or full (left undone: the disk cache budget was reached).",
	}, []string{"outcome"})}
	reg.MustRegister(m.variants, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "thumbd_prerender_remaining", Help: "Variants the running pre-render has still to go through.",
	}, func() float64 { return float64(m.remaining.Load()) }))
	return m
}

type prerenderJob struct {
	orig   storage.Original
	size   variant.Size
	format variant.Format
}

// ParsePrerenderSizes validates pre-render size segments.
func ParsePrerenderSizes(sizes []string) error {
	for _, sz := range sizes {
		s, _, _, err := thumburl.ParseSizeSegment(sz)
		if err != nil {
			return fmt.Errorf("%q: %w", sz, err)
		}
		if s.Mode == variant.Original {
			return fmt.Errorf("%q: originals are not cached", sz)
		}
	}
	return nil
}

// Prerender renders the sizes of every indexed photo (newest taken first)
// into the disk tier, skipping variants already there, so first views are
// disk hits. It keeps to its own small worker budget and, with Yield,
// steps aside whenever a request waits; it shares the decode-memory
// budget and the deadline with requests; it stops when the disk tier
// reaches its budget, so it never evicts what it made. Variants go to the
// disk tier only: the memory tier stays for what is being viewed.
func (s *Server) Prerender(ctx context.Context, o PrerenderOptions) (PrerenderStats, error) {
	var disk *cache.Disk
	for _, t := range s.opts.Tiers {
		if d, ok := t.(*cache.Disk); ok {
			disk = d
		}
	}
	if disk == nil {
		return PrerenderStats{}, ErrNoDiskCache
	}
	if err := ParsePrerenderSizes(o.Sizes); err != nil {
		return PrerenderStats{}, err
	}
	photos := s.index.All()
	sort.SliceStable(photos, func(i, j int) bool { return photos[i].Taken.After(photos[j].Taken) })
	var jobs []prerenderJob
	for _, p := range photos {
		for _, sz := range o.Sizes {
			size, f, _, _ := thumburl.ParseSizeSegment(sz)
			if size.Custom && max(size.Width, size.Height) > s.opts.CustomMax {
				continue
			}
			jobs = append(jobs, prerenderJob{p, s.opts.MaxSize.Clamp(size), f})
		}
	}
	workers := max(o.Workers, 1)
	st := PrerenderStats{Total: len(jobs)}
	var mu sync.Mutex
	s.prerender.remaining.Store(int64(len(jobs)))
	defer s.prerender.remaining.Store(0)
	count := func(outcome string, full bool) {
		mu.Lock()
		defer mu.Unlock()
		st.Done++
		switch outcome {
		case "rendered":
			st.Rendered++
		case "present":
			st.Present++
		case "failed":
			st.Failed++
		}
		st.Full = st.Full || full
		s.prerender.variants.WithLabelValues(outcome).Inc()
		s.prerender.remaining.Add(-1)
		if o.Progress != nil {
			o.Progress(st)
		}
	}

	ch := make(chan prerenderJob)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				outcome, err := s.prerenderOne(ctx, disk, j, o.Yield)
				if err != nil && ctx.Err() == nil {
					s.log.Warn("prerender: failed", "hash", j.orig.Hash, "size", j.size.Name, "err", err)
				}
				count(outcome, outcome == "full")
			}
		}()
	}
feed:
	for _, j := range jobs {
		mu.Lock()
		full := st.Full
		mu.Unlock()
		if full || disk.Full() {
			mu.Lock()
			st.Full = true
			mu.Unlock()
			break
		}
		select {
		case ch <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	return st, ctx.Err()
}

// yieldPoll is how often a yielding pre-render looks whether requests
// still need every worker.
const yieldPoll = 100 * time.Millisecond

// idle reports whether no request waits for a worker and one is free.
func (s *Server) idle() bool {
	return s.limit.waiting.Load() == 0 && s.limit.running.Load() < int64(cap(s.limit.slots))
}

func (s *Server) prerenderOne(ctx context.Context, disk *cache.Disk, j prerenderJob, yield bool) (string, error) {
	key := cache.Key{Hash: j.orig.Hash, Size: j.size, Format: j.format}
	if disk.Has(key) {
		return "present", nil
	}
	if disk.Full() {
		return "full", nil
	}
	if _, ok := s.failures.remembered(j.orig); ok {
		return "failed", nil
	}
	for yield && !s.idle() {
		select {
		case <-ctx.Done():
			return "failed", ctx.Err()
		case <-time.After(yieldPoll):
		}
	}
	jctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	src, err := s.source(jctx, j.orig)
	if err != nil {
		err = slowJob(jctx, err)
		s.failures.record(j.orig, err)
		return "failed", err
	}
	t0 := time.Now()
	img, err := s.tr.Transform(jctx, src, j.size, j.format)
	if err != nil {
		err = slowJob(jctx, err)
		s.failures.record(j.orig, err)
		return "failed", err
	}
	s.metrics.transform.WithLabelValues(sizeLabel(j.size), j.format.Ext()).Observe(time.Since(t0).Seconds())
	disk.Put(key, cache.Entry{Body: img.Bytes, Width: img.Width, Height: img.Height, Format: img.Format})
	if !disk.Has(key) {
		// Larger than an eighth of the budget, or the folder is failing.
		return "failed", fmt.Errorf("not kept by the disk cache (%d bytes; degraded: %v)", len(img.Bytes), disk.Degraded())
	}
	return "rendered", nil
}
