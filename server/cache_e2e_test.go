package server_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/server"
)

// 100 concurrent requests for one uncached variant run exactly one libvips
// job. The job is held at a gate until the server counts all 100 waiting,
// so the assertion does not depend on timing.
func TestE2ECollapse100(t *testing.T) {
	tr := newCounting(true)
	sg := newSigner(t, []string{keyA}, false)
	opts := defaultOptions()
	opts.QueueLength = 200
	srv, base := startServer(t, sharedIx, sg, tr, opts)
	var once sync.Once
	release := func() { once.Do(func() { close(tr.gate) }) }
	t.Cleanup(release)

	hash := hashOf(t, "test_exif_full.jpg")
	u := thumbURL(base, hash, sign(t, sg, hash, "tile_500", time.Time{}), "tile_500")
	const n = 100
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func() {
			r, err := fetch(context.Background(), "GET", u, nil)
			if err != nil {
				r.Status = -1
			}
			results <- r
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for srv.Waiting() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if w := srv.Waiting(); w != n {
		t.Fatalf("%d requests waiting, want %d", w, n)
	}
	release()
	first := ""
	for i := 0; i < n; i++ {
		r := <-results
		if r.Status != 200 {
			t.Fatalf("status %d", r.Status)
		}
		if first == "" {
			first = sha1Hex(r.Body)
		} else if sha1Hex(r.Body) != first {
			t.Fatal("collapsed requests got different bytes")
		}
	}
	if c := tr.calls.Load(); c != 1 {
		t.Errorf("%d concurrent requests ran %d transforms, want 1", n, c)
	}
}

// A disk cache that cannot be written (missing parent, full, gone at run
// time) never turns into an error for the client.
func TestE2EDiskCacheDegradesToNoCache(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	cops := hashOf(t, "cops.jpg")
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, []byte("x"), 0o644)
	vanishing := filepath.Join(t.TempDir(), "cache")
	for name, disk := range map[string]func() *cache.Disk{
		"unwritable": func() *cache.Disk {
			return cache.OpenDisk(filepath.Join(file, "cache"), 64<<20, defaultOptions().Fingerprint, discard)
		},
		"full": func() *cache.Disk { return cache.OpenDisk(t.TempDir(), 1, defaultOptions().Fingerprint, discard) },
		"vanished": func() *cache.Disk {
			d := cache.OpenDisk(vanishing, 64<<20, defaultOptions().Fingerprint, discard)
			os.RemoveAll(vanishing)
			os.WriteFile(vanishing, []byte("now a file"), 0o644)
			return d
		},
	} {
		t.Run(name, func(t *testing.T) {
			opts := defaultOptions()
			opts.Tiers = []cache.Tier{disk()}
			tr := newCounting(false)
			_, base := startServer(t, sharedIx, sg, tr, opts)
			for _, size := range []string{"tile_224", "tile_224", "fit_720"} {
				r := get(t, thumbURL(base, cops, sign(t, sg, cops, size, time.Time{}), size))
				if r.Status != 200 || len(r.Body) == 0 {
					t.Fatalf("%s: status %d", size, r.Status)
				}
				if err := checkInvariants("GET", r); err != nil {
					t.Error(err)
				}
			}
			if c := tr.calls.Load(); c != 3 {
				t.Errorf("%d transforms for 3 requests without a usable cache, want 3", c)
			}
		})
	}
}

// A truncated file planted in the disk cache is detected, removed and
// regenerated: the client gets the complete image, and the file on disk is
// whole again.
func TestE2EDiskCacheTruncatedEntryRegenerated(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	dir := t.TempDir()
	cops := hashOf(t, "cops.jpg")
	u := func(base string) string {
		return thumbURL(base, cops, sign(t, sg, cops, "tile_500", time.Time{}), "tile_500")
	}
	start := func(tr server.Transformer) string {
		opts := defaultOptions()
		opts.Tiers = []cache.Tier{cache.OpenDisk(dir, 64<<20, defaultOptions().Fingerprint, discard)}
		_, base := startServer(t, sharedIx, sg, tr, opts)
		return base
	}
	first := get(t, u(start(newCounting(false))))
	if first.Status != 200 {
		t.Fatalf("status %d", first.Status)
	}
	files, _ := filepath.Glob(filepath.Join(dir, cops[0:2], cops[2:4], cops+"_tile_500_*.jpg"))
	if len(files) != 1 {
		t.Fatalf("disk cache files: %v", files)
	}
	if err := os.WriteFile(files[0], first.Body[:len(first.Body)/2], 0o644); err != nil {
		t.Fatal(err)
	}

	tr := newCounting(false)
	r := get(t, u(start(tr)))
	if r.Status != 200 || sha1Hex(r.Body) != sha1Hex(first.Body) {
		t.Fatalf("after truncation: status %d, complete %v", r.Status, sha1Hex(r.Body) == sha1Hex(first.Body))
	}
	if c := tr.calls.Load(); c != 1 {
		t.Errorf("%d transforms, want 1 (regenerated)", c)
	}
	b, err := os.ReadFile(files[0])
	if err != nil || sha1Hex(b) != sha1Hex(first.Body) {
		t.Errorf("disk entry not rewritten whole: err %v", err)
	}
}
