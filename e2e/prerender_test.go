package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metric reads one sample from the admin port's /metrics (-1 if absent).
func metric(t *testing.T, admin, series string) float64 {
	t.Helper()
	r, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// `thumbd index --render` fills the disk cache; a server started on it
// answers the first request for a pre-rendered size from disk. The serve
// key prerender does the same in the background after the scan, with its
// progress in the logs and metrics.
func TestPrerenderFirstRequestIsDiskHit(t *testing.T) {
	orig := copyPhotos(t, "Landscape_1.jpg", "cops.jpg", "dice.png")
	state := t.TempDir()
	disk := filepath.Join(state, "cache")
	cfg := filepath.Join(state, "thumbd.yaml")
	conf := fmt.Sprintf("originals: %q\nkeys: [%q]\ndisk_cache_dir: %q\nindex_file: %q\nlog_level: debug\n", orig, key1, disk, filepath.Join(state, "index.jsonl"))
	os.WriteFile(cfg, []byte(conf), 0o600)

	out, stderr, code := runCode(t, "index", "--config", cfg, "--render", "tile_224,fit_720.webp")
	if code != 0 || !strings.Contains(out, "rendered 6 variants (6 rendered, 0 already in the cache, 0 failed)") {
		t.Fatalf("index --render: exit %d\n%s%s", code, out, stderr)
	}
	p := start(t, "--config", cfg)
	base := "http://" + p.addr
	for _, sz := range []string{"tile_224", "fit_720.webp"} {
		u := strings.TrimSpace(run(t, "sign", "--config", cfg, "--base", base, "--size", sz, "cops.jpg"))
		if code, _, _ := get(t, u); code != 200 {
			t.Fatalf("%s: %d", u, code)
		}
	}
	if hits, jobs := metric(t, p.admin, `thumbd_cache_hits_total{tier="disk"}`), metric(t, p.admin, "thumbd_transforms_in_flight"); hits != 2 || jobs != 0 {
		t.Errorf("disk hits %v (want 2), in flight %v", hits, jobs)
	}
	if n := metric(t, p.admin, `thumbd_transform_duration_seconds_count{format="jpg",size="tile_224"}`); n > 0 {
		t.Errorf("a libvips job ran for a pre-rendered size: %v", n)
	}

	// serve with prerender: fit_1280 is made in the background.
	os.WriteFile(cfg, []byte(conf+"prerender: [\"fit_1280\"]\nprerender_workers: 1\n"), 0o600)
	q := start(t, "--config", cfg)
	if !waitFor(60*time.Second, func() bool {
		return metric(t, q.admin, `thumbd_prerender_variants_total{outcome="rendered"}`) == 3 && metric(t, q.admin, "thumbd_prerender_remaining") == 0
	}) {
		t.Fatalf("prerender did not finish; rendered %v", metric(t, q.admin, `thumbd_prerender_variants_total{outcome="rendered"}`))
	}
	u := strings.TrimSpace(run(t, "sign", "--config", cfg, "--base", "http://"+q.addr, "--size", "fit_1280", "Landscape_1.jpg"))
	if code, _, _ := get(t, u); code != 200 {
		t.Fatalf("%s: %d", u, code)
	}
	if hits := metric(t, q.admin, `thumbd_cache_hits_total{tier="disk"}`); hits != 1 {
		t.Errorf("first fit_1280 request: disk hits %v, want 1", hits)
	}
	if !waitFor(10*time.Second, func() bool { return len(logLines(q.stderr.String(), "prerender done")) == 1 }) {
		t.Errorf("no \"prerender done\" log line:\n%s", q.stderr.String())
	} else if rec := logLines(q.stderr.String(), "prerender done")[0]; rec["rendered"] != 3.0 || rec["variants"] != 3.0 {
		t.Errorf("prerender done: %v", rec)
	}
}
