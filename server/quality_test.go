package server_test

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/transform"
)

// A custom size may name its encoder quality (_q<N>): the bytes follow it
// in every lossy format, the ETag and the cache entries differ by it, the
// token covers it, and the public token never opens it.
func TestPerLinkQuality(t *testing.T) {
	signer := newSigner(t, []string{keyA}, true)
	diskDir := t.TempDir()
	opts := defaultOptions()
	opts.CustomMax = 2000
	opts.Tiers = []cache.Tier{cache.NewMemory(64 << 20), cache.OpenDisk(diskDir, 64<<20, opts.Fingerprint, discard)}
	_, base := startServer(t, sharedIx, signer, realTransformer(), opts)
	h := hashOf(t, "Landscape_1.jpg")

	type got struct {
		etag string
		n    int
	}
	fetchSize := func(size string) got {
		t.Helper()
		name, _, _ := strings.Cut(size, ".")
		r := get(t, thumbURL(base, h, sign(t, signer, h, name, time.Time{}), size))
		if r.Status != 200 {
			t.Fatalf("%s: %d %q", size, r.Status, r.Body)
		}
		if info, err := transform.Probe(r.Body, 1); err != nil || info.Width != 800 || info.Height != 600 {
			t.Errorf("%s: %+v %v, want 800x600", size, info, err)
		}
		return got{r.Header.Get("ETag"), len(r.Body)}
	}
	for _, ext := range []string{"", ".webp", ".avif"} {
		plain, low, high := fetchSize("fit_800x600"+ext), fetchSize("fit_800x600_q20"+ext), fetchSize("fit_800x600_q95"+ext)
		if plain.etag == low.etag || low.etag == high.etag || plain.etag == high.etag {
			t.Errorf("%s: ETags do not follow the quality: %s %s %s", ext, plain.etag, low.etag, high.etag)
		}
		if !(low.n < plain.n && plain.n < high.n) {
			t.Errorf("%s: bytes q20 %d, default %d, q95 %d: want growing with quality", ext, low.n, plain.n, high.n)
		}
		// Served again (a memory hit): the same tag.
		if again := fetchSize("fit_800x600_q20" + ext); again.etag != low.etag {
			t.Errorf("%s: q20 ETag changed on a hit: %s then %s", ext, low.etag, again.etag)
		}
	}
	// Each quality is its own disk cache file.
	var names []string
	filepath.WalkDir(diskDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			names = append(names, d.Name())
		}
		return nil
	})
	for _, want := range []string{"_fit_800x600_q20_", "_fit_800x600_q95_", "_fit_800x600_"} {
		found := false
		for _, n := range names {
			found = found || strings.Contains(n, want)
		}
		if !found {
			t.Errorf("no disk cache file named *%s*: %v", want, names)
		}
	}

	// The token covers the quality: a link for one quality does not open another.
	tok := sign(t, signer, h, "fit_800x600", time.Time{})
	if r := get(t, thumbURL(base, h, tok, "fit_800x600_q95")); r.Status != 403 {
		t.Errorf("token for fit_800x600 on fit_800x600_q95: %d, want 403", r.Status)
	}
	// Never with the public token, even in public mode.
	if r := get(t, thumbURL(base, h, signing.PublicToken, "tile_300_q60")); r.Status != 403 {
		t.Errorf("public token on tile_300_q60: %d, want 403", r.Status)
	}
	if r := get(t, thumbURL(base, h, sign(t, signer, h, "tile_300_q60", time.Time{}), "tile_300_q60")); r.Status != 200 {
		t.Errorf("signed tile_300_q60: %d, want 200", r.Status)
	}
	// Not canonical, or out of range: 400.
	for _, bad := range []string{"tile_300_q060", "tile_300_q0", "tile_300_q101", "fit_720_q70"} {
		if r := get(t, thumbURL(base, h, sign(t, signer, h, "tile_300", time.Time{}), bad)); r.Status != 400 {
			t.Errorf("%s: %d, want 400", bad, r.Status)
		}
	}
}
