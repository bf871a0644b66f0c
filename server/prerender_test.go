package server_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/server"
)

func diskBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// A pre-render fills the disk tier: the first request for a pre-rendered
// variant is a disk hit (no libvips job) with the ETag a render would
// have; a second pre-render renders nothing; the disk budget holds.
func TestPrerenderFillsDiskCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, n := range []string{"cops.jpg", "dice.png", "Landscape_6.jpg"} {
		if err := copyFile(filepath.Join(sharedDir, n), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	ix := openIndex(t, dir)
	signer := newSigner(t, []string{keyA}, false)
	opts := defaultOptions()
	opts.CustomMax = 2000
	disk := t.TempDir()
	opts.Tiers = []cache.Tier{cache.NewMemory(64 << 20), cache.OpenDisk(disk, 64<<20, opts.Fingerprint, discard)}
	tr := newCounting(false)
	srv, base := startServer(t, ix, signer, tr, opts)

	sizes := []string{"tile_224", "fit_720.webp", "tile_300_q60"}
	st, err := srv.Prerender(ctx, server.PrerenderOptions{Sizes: sizes, Workers: 2, Yield: true})
	if err != nil || st.Total != 9 || st.Rendered != 9 || st.Present != 0 || st.Failed != 0 || st.Full {
		t.Fatalf("prerender: %+v, %v", st, err)
	}
	if n := tr.calls.Load(); n != 9 {
		t.Fatalf("%d libvips jobs, want 9", n)
	}
	// Served from disk: no job, and the ETag of a render from the original.
	fresh := defaultOptions()
	fresh.CustomMax = 2000
	_, plain := startServer(t, ix, signer, realTransformer(), fresh)
	h := hashOf(t, "cops.jpg")
	for _, sz := range []string{"tile_224", "fit_720.webp", "tile_300_q60"} {
		name := sz
		if i := len(sz) - len(".webp"); sz[i:] == ".webp" {
			name = sz[:i]
		}
		u := thumbURL(base, h, sign(t, signer, h, name, time.Time{}), sz)
		r := get(t, u)
		if r.Status != 200 {
			t.Fatalf("%s: %d", sz, r.Status)
		}
		if want := get(t, thumbURL(plain, h, sign(t, signer, h, name, time.Time{}), sz)).Header.Get("ETag"); r.Header.Get("ETag") != want {
			t.Errorf("%s: pre-rendered ETag %s, rendered %s", sz, r.Header.Get("ETag"), want)
		}
	}
	if n := tr.calls.Load(); n != 9 {
		t.Errorf("first requests ran %d more libvips jobs; want disk hits", n-9)
	}
	if hits := opts.Tiers[1].Stats().Hits; hits != 3 {
		t.Errorf("disk hits %d, want 3", hits)
	}

	again, err := srv.Prerender(ctx, server.PrerenderOptions{Sizes: sizes, Workers: 2})
	if err != nil || again.Present != 9 || again.Rendered != 0 || tr.calls.Load() != 9 {
		t.Errorf("second prerender: %+v, %v; %d jobs", again, err, tr.calls.Load())
	}

	// A small disk budget: the pre-render stops at it rather than evict
	// its own work, and the folder stays within it.
	small := t.TempDir()
	const budget = 160 << 10
	sopts := defaultOptions()
	sopts.Tiers = []cache.Tier{cache.OpenDisk(small, budget, sopts.Fingerprint, discard)}
	ssrv, _ := startServer(t, sharedIx, signer, realTransformer(), sopts)
	full, err := ssrv.Prerender(ctx, server.PrerenderOptions{Sizes: []string{"tile_100", "tile_224"}, Workers: 1})
	if err != nil || !full.Full || full.Done >= full.Total {
		t.Errorf("prerender into %d KiB: %+v, %v; want it stopped at the budget", budget>>10, full, err)
	}
	if used := diskBytes(t, small); used > budget {
		t.Errorf("disk cache holds %d bytes, budget %d", used, budget)
	}

	// No disk tier: refused.
	noDisk, _ := startServer(t, ix, signer, realTransformer(), defaultOptions())
	if _, err := noDisk.Prerender(ctx, server.PrerenderOptions{Sizes: sizes}); err != server.ErrNoDiskCache {
		t.Errorf("without a disk tier: %v", err)
	}
}
