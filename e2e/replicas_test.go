package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/thumbd/thumbd/cache"
)

// reloadWithin is how soon a change to the --config file is in force, as
// the README documents it (thumbd waits 200 ms for writes to settle, then
// swaps keys and revocations in place).
const reloadWithin = 2 * time.Second

// replica is one thumbd process slot behind the load balancer: its ports
// stay the same across restarts, as a pod's address does for a Service.
type replica struct {
	addr, admin string
	p           *proc
	// metrics of processes already stopped, summed
	evictions, diskHits, writeErrors, corrupt, skips int
}

// startReplica starts thumbd on fixed ports and waits until /readyz answers 200.
func startReplica(t *testing.T, addr, admin string, args ...string) *proc {
	t.Helper()
	p := &proc{addr: addr, admin: admin, stderr: &syncBuffer{}, stdout: &syncBuffer{}}
	p.cmd = exec.Command(bin, append([]string{"serve", "--listen", addr, "--admin-listen", admin}, args...)...)
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, p.stdout
	p.cmd.Env = append(os.Environ(), "THUMBD_KEYS=", "THUMBD_CONFIG=")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r, err := client.Get("http://" + admin + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return p
			}
		}
	}
	t.Fatalf("thumbd on %s not ready; stderr:\n%s", addr, p.stderr.String())
	return nil
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("thumbd on %s exited with %v after SIGTERM; stderr:\n%s", p.addr, err, tail(p.stderr.String(), 20))
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("thumbd on %s did not exit within 30 s of SIGTERM", p.addr)
	}
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// replicaMetric sums the samples of one metric whose labels contain match.
func replicaMetric(t *testing.T, admin, name, match string) int {
	t.Helper()
	r, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	n := 0.0
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? ([0-9.e+-]+)$`)
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		if strings.Contains(m[1], match) {
			var v float64
			fmt.Sscan(m[2], &v)
			n += v
		}
	}
	return int(n)
}

// collect adds the disk-tier counters of the replica's running process.
func (r *replica) collect(t *testing.T) {
	r.evictions += replicaMetric(t, r.admin, "thumbd_cache_evictions_total", `tier="disk"`)
	r.diskHits += replicaMetric(t, r.admin, "thumbd_cache_hits_total", `tier="disk"`)
	r.writeErrors += replicaMetric(t, r.admin, "thumbd_disk_cache_write_errors_total", "")
	r.corrupt += replicaMetric(t, r.admin, "thumbd_disk_cache_corrupt_total", "")
	r.skips += replicaMetric(t, r.admin, "thumbd_disk_cache_full_skips_total", "")
}

// sample is one answer the load generator got through the balancer.
type sample struct {
	url      string
	start    time.Time
	took     time.Duration
	status   int
	err      error
	etag     string
	sum      [32]byte
	complete bool
	upstream string // nginx's $upstream_addr: "a, b" when it retried
}

// diskFolderBytes adds up the disk cache's entries under the folder's own
// lock (cache.UsageFile), a snapshot no replica changes halfway.
func diskFolderBytes(t *testing.T, dir string) int64 {
	f, err := os.OpenFile(filepath.Join(dir, cache.UsageFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Error(err)
		return 0
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	var total int64
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			if fi, err := e.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// Three thumbd processes behind nginx share the read-only originals, one
// disk cache folder and one config file. Under steady load on loopback
// each is restarted in turn (SIGTERM, then a new process on the same
// ports): no request fails, every replica answers a variant with the same
// bytes and ETag, the shared disk cache never serves a partial file and
// stays within its budget, and a key rotation and a revocation written to
// the config file are in force on all three within reloadWithin.
// REPLICAS_REPORT=<file> (make replicas) writes the figures into that
// Markdown file's "Replicas" section.
func TestReplicasRollingRestart(t *testing.T) {
	nginxBinary(t)
	photos := []string{"cops.jpg", "Landscape_1.jpg", "Landscape_2.jpg", "Landscape_3.jpg", "Landscape_4.jpg",
		"Landscape_5.jpg", "Landscape_6.jpg", "Landscape_7.jpg", "Landscape_8.jpg", "dice.png"}
	orig := copyPhotos(t, photos...)
	if err := os.Chmod(orig, 0o555); err != nil { // read-only, as a ReadOnlyMany volume
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(orig, 0o755) })
	work := t.TempDir()
	diskDir := filepath.Join(work, "disk-cache")
	cfgFile := filepath.Join(work, "thumbd.yaml")
	const diskMB = 1
	const budget = diskMB << 20
	// A small memory cache (entries above 128 KiB are not kept) so that
	// most answers come from the shared disk cache or a render, and the
	// disk budget is passed over and over.
	extra := fmt.Sprintf("disk_cache_dir: %q\ndisk_cache_mb: %d\ncache_mb: 1\nlog_level: info\nshutdown_timeout: 20s\n", diskDir, diskMB)
	writeShared := func(keys, revoked []string) {
		t.Helper()
		writeConfig(t, cfgFile+".base", orig, keys, revoked)
		b, err := os.ReadFile(cfgFile + ".base")
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Replace(b, []byte("log_level: debug\n"), []byte(extra), 1)
		if err := os.WriteFile(cfgFile+".tmp", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(cfgFile+".tmp", cfgFile); err != nil { // atomic, as a ConfigMap update
			t.Fatal(err)
		}
	}
	writeShared([]string{key1}, nil)

	reps := make([]*replica, 3)
	var servers []string
	for i := range reps {
		reps[i] = &replica{addr: freePort(t), admin: freePort(t)}
		servers = append(servers, reps[i].addr+" max_fails=1 fail_timeout=1s")
	}
	for _, r := range reps {
		r.p = startReplica(t, r.addr, r.admin, "--config", cfgFile)
	}
	// The shipped nginx config as a plain load balancer: the three
	// replicas as its upstream, no proxy cache (a CDN in front would hold
	// the hits; here every request reaches a replica), and the replica that
	// answered in a header. proxy_next_upstream is nginx's default: error
	// timeout, for idempotent requests.
	lb, lbDir := startNginxWith(t, map[string]string{
		"server 127.0.0.1:8080;": "server " + strings.Join(servers, ";\n    server ") + ";",
		"proxy_cache thumbd;":    "proxy_cache off;\n        add_header X-Upstream $upstream_addr always;",
	})

	// The load: every photo at sizes that are never derived (tile_500,
	// fit_720, fit_1280, WebP) and one that may be (tile_224 JPEG, from a
	// cached fit_*: those bytes have their own ETag).
	sizes := []string{"tile_500", "fit_720", "fit_1280", "tile_300.webp", "tile_224"}
	derivable := map[string]bool{"tile_224": true}
	var urls []string
	sizeOf := map[string]string{}
	for _, ph := range photos {
		args := []string{"sign", "--config", cfgFile, "--base", "http://" + lb}
		for _, s := range sizes {
			args = append(args, "--size", s)
		}
		for i, u := range strings.Fields(run(t, append(args, ph)...)) {
			urls = append(urls, u)
			sizeOf[u] = sizes[i]
		}
	}
	// Not in the load: the photo the test revokes, and a link signed with
	// the key it rotates to.
	revokedURL := strings.TrimSpace(run(t, "sign", "--config", cfgFile, "--size", "tile_500", "--base", "http://"+lb, "dice.png"))
	revokedHash := strings.Split(revokedURL, "/")[4]
	keep := urls[:0]
	for _, u := range urls {
		if !strings.Contains(u, revokedHash) {
			keep = append(keep, u)
		}
	}
	urls = keep
	newKeyCfg := filepath.Join(work, "new-key.yaml")
	writeConfig(t, newKeyCfg, orig, []string{key2}, nil)
	newKeyPath := strings.TrimSpace(run(t, "sign", "--config", newKeyCfg, "--size", "tile_500", "cops.jpg"))
	oldKeyPath := strings.TrimPrefix(urls[0], "http://"+lb)

	// Disk budget: sampled under the folder's lock throughout.
	var peak int64
	var samples int
	sampleStop, sampleDone := make(chan struct{}), make(chan struct{})
	var stopOnce sync.Once
	stopSampler := func() { stopOnce.Do(func() { close(sampleStop) }); <-sampleDone }
	defer stopSampler() // also when the test stops early
	go func() {
		defer close(sampleDone)
		for {
			select {
			case <-sampleStop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			peak = max(peak, diskFolderBytes(t, diskDir))
			samples++
		}
	}()

	// Steady, bounded load: 4 clients, each one request at a time, until
	// told to stop, 3 minutes, or 100000 requests in all.
	const clients = 4
	ctx, stopLoad := context.WithTimeout(context.Background(), 3*time.Minute)
	defer stopLoad()
	var mu sync.Mutex
	var got []sample
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 18))
			for ctx.Err() == nil {
				s := sample{url: urls[rng.IntN(len(urls))], start: time.Now()}
				r, err := client.Get(s.url)
				if err == nil {
					var body []byte
					body, err = io.ReadAll(r.Body)
					r.Body.Close()
					s.status, s.etag, s.upstream = r.StatusCode, r.Header.Get("ETag"), r.Header.Get("X-Upstream")
					s.sum = sha256.Sum256(body)
					s.complete = cache.Complete(extOf(r.Header.Get("Content-Type")), body)
				}
				s.took, s.err = time.Since(s.start), err
				mu.Lock()
				got = append(got, s)
				full := len(got) >= 100000
				mu.Unlock()
				if full {
					return
				}
			}
		}(uint64(c))
	}
	loadStopped := false
	finishLoad := func() {
		if !loadStopped {
			loadStopped = true
			stopLoad()
			wg.Wait()
		}
	}
	defer finishLoad()

	time.Sleep(3 * time.Second) // warm: every replica has served, the disk cache is full
	for _, r := range reps {
		if n := requestCount(t, r.admin, "thumb"); n == 0 {
			t.Fatalf("replica %s got no traffic from nginx before the roll", r.addr)
		}
	}

	// The roll: each replica in turn gets SIGTERM (it turns not-ready,
	// stops accepting and drains), then a new process on the same ports,
	// which opens its public port once its index is ready. The next one
	// goes only when nginx sends the new one traffic again.
	rollStart := time.Now()
	var restarts []time.Duration
	for i, r := range reps {
		t0 := time.Now()
		r.collect(t)
		r.p.stop(t)
		r.p = startReplica(t, r.addr, r.admin, "--config", cfgFile)
		deadline := time.Now().Add(20 * time.Second)
		for requestCount(t, r.admin, "thumb") == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("restarted replica %d (%s) got no traffic within 20 s", i, r.addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
		restarts = append(restarts, time.Since(t0))
	}
	rollEnd := time.Now()
	time.Sleep(2 * time.Second) // and some load after it

	// Every replica, asked directly, answers each URL as the balancer's
	// answers did: the same bytes for an ETag, one ETag for sizes that are
	// never derived, and 304 for an ETag another replica gave.
	mu.Lock()
	ref := map[string]map[string][32]byte{} // url -> etag -> body
	for _, s := range got {
		if s.err == nil && s.status == 200 {
			if ref[s.url] == nil {
				ref[s.url] = map[string][32]byte{}
			}
			if prev, ok := ref[s.url][s.etag]; !ok {
				ref[s.url][s.etag] = s.sum
			} else if prev != s.sum {
				t.Errorf("%s: two different bodies under ETag %s", s.url, s.etag)
			}
		}
	}
	mu.Unlock()
	for _, u := range urls {
		for _, r := range reps {
			code, h, body := get(t, strings.Replace(u, lb, r.addr, 1))
			etag, sum := h.Get("ETag"), sha256.Sum256(body)
			want, seen := ref[u][etag]
			switch {
			case code != 200:
				t.Errorf("replica %s, %s: %d", r.addr, u, code)
			case seen && want != sum:
				t.Errorf("replica %s, %s: ETag %s with other bytes than the balancer's answers had", r.addr, u, etag)
			case !seen && !derivable[sizeOf[u]]:
				t.Errorf("replica %s, %s: ETag %s, none of the balancer's answers had it", r.addr, u, etag)
			case !seen:
				ref[u][etag] = sum // derived here, rendered from the original there
			}
		}
	}
	twoTags, derivableURLs := 0, 0
	for _, u := range urls {
		if derivable[sizeOf[u]] {
			derivableURLs++
			if len(ref[u]) == 2 {
				twoTags++
			}
		}
		if n := len(ref[u]); n == 0 || (n > 1 && !derivable[sizeOf[u]]) || n > 2 {
			t.Errorf("%s: %d ETags across replicas (%v)", u, n, ref[u])
		}
		for _, r := range reps {
			for etag := range ref[u] {
				req, _ := http.NewRequest("GET", strings.Replace(u, lb, r.addr, 1), nil)
				req.Header.Set("If-None-Match", etag)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 304 {
					t.Errorf("replica %s, %s, If-None-Match %s: %d, want 304", r.addr, sizeOf[u], etag, resp.StatusCode)
				}
			}
		}
	}

	// The shared config file, with the load still on. Step 1 of a key
	// rotation (the new key first, the old one kept) and a revocation:
	// in force on all three when the new key's link answers 200 and the
	// revoked photo 410 on each of them, old links still working.
	inForce := func(what string, check func(r *replica) bool) time.Duration {
		t.Helper()
		t0 := time.Now()
		var worst time.Duration
		for _, r := range reps {
			for !check(r) {
				if time.Since(t0) > reloadWithin {
					t.Errorf("%s: not in force on %s within %v", what, r.addr, reloadWithin)
					return time.Since(t0)
				}
				time.Sleep(5 * time.Millisecond)
			}
			worst = max(worst, time.Since(t0))
		}
		return worst
	}
	direct := &http.Client{Timeout: 5 * time.Second}
	status := func(r *replica, path string) int {
		resp, err := direct.Get("http://" + r.addr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	revokedPath := strings.TrimPrefix(revokedURL, "http://"+lb)
	for _, r := range reps {
		if a, b, c := status(r, newKeyPath), status(r, revokedPath), status(r, oldKeyPath); a != 403 || b != 200 || c != 200 {
			t.Fatalf("%s before the change: new key %d, to-be-revoked %d, old key %d", r.addr, a, b, c)
		}
	}
	writeShared([]string{key2, key1}, []string{revokedHash})
	rotate := inForce("new key and revocation", func(r *replica) bool {
		return status(r, newKeyPath) == 200 && status(r, revokedPath) == 410
	})
	for _, r := range reps {
		if c := status(r, oldKeyPath); c != 200 {
			t.Errorf("%s: link signed with the old key answers %d while both keys are configured", r.addr, c)
		}
	}
	// Step 3: the old key removed (the load's links are signed with it).
	finishLoad()
	writeShared([]string{key2}, []string{revokedHash})
	retire := inForce("old key removed", func(r *replica) bool {
		return status(r, oldKeyPath) == 403 && status(r, newKeyPath) == 200
	})
	stopSampler()
	peak = max(peak, diskFolderBytes(t, diskDir))

	// The figures.
	var failed, retried, during, rollFailed int
	var lat, rollLat []time.Duration
	statuses := map[string]int{}
	for _, s := range got {
		inRoll := !s.start.Before(rollStart) && s.start.Before(rollEnd)
		bad := s.err != nil || s.status != 200 || !s.complete
		if s.err != nil {
			statuses["error"]++
		} else {
			statuses[fmt.Sprint(s.status)]++
		}
		if bad {
			failed++
			if failed <= 10 {
				t.Errorf("request %s at +%v: status %d, err %v, complete %v, upstream %q", s.url, s.start.Sub(rollStart).Round(time.Millisecond), s.status, s.err, s.complete, s.upstream)
			}
		}
		if strings.Contains(s.upstream, ",") {
			retried++
		}
		lat = append(lat, s.took)
		if inRoll {
			during++
			rollLat = append(rollLat, s.took)
			if bad {
				rollFailed++
			}
		}
	}
	var evictions, diskHits, writeErrors, corrupt, skips int
	for _, r := range reps {
		r.collect(t)
		evictions += r.evictions
		diskHits += r.diskHits
		writeErrors += r.writeErrors
		corrupt += r.corrupt
		skips += r.skips
	}
	if writeErrors != 0 || corrupt != 0 {
		t.Errorf("disk cache: %d write errors, %d incomplete entries found (want 0 and 0)", writeErrors, corrupt)
	}
	if evictions == 0 || diskHits == 0 {
		t.Errorf("disk cache: %d evictions, %d hits: the shared folder and its budget were not exercised", evictions, diskHits)
	}
	if peak > budget {
		t.Errorf("shared disk cache reached %d bytes, budget %d", peak, budget)
	}
	if len(got) < 100 || during < 20 {
		t.Errorf("only %d requests (%d during the roll): too little load to show anything", len(got), during)
	}
	refused := strings.Count(readFile(t, filepath.Join(lbDir, "error.log")), "Connection refused")
	var rs []string
	for _, d := range restarts {
		rs = append(rs, fmt.Sprintf("%.1f", d.Seconds()))
	}
	report := fmt.Sprintf("Latest `make replicas` (%s, %d CPUs, loopback): nginx (the shipped\n"+
		"deploy/nginx/thumbd.conf with its upstream set to three replicas and its proxy cache off) in front\n"+
		"of three thumbd processes sharing the read-only originals (%d photos), one disk cache folder\n"+
		"(`disk_cache_mb: %d`; memory cache 1 MiB, so most answers come from that folder or a render) and one\n"+
		"config file. %d clients sent one request at a time each over %d URLs (%s of\n"+
		"every photo). After 3 s each replica in turn got SIGTERM and was replaced by a new process on the\n"+
		"same ports; the next one went when nginx sent the new one traffic (%s s per replica).\n\n"+
		"| requests | **failed** | during the roll | failed during the roll | p50 ms | p99 ms | p99 ms during the roll | retried by nginx |\n"+
		"|---|---|---|---|---|---|---|---|\n"+
		"| %d | **%d** | %d | %d | %s | %s | %s | %d (%d refused connections logged) |\n\n"+
		"Every URL had one ETag and one body on all replicas for the whole run (asked directly afterwards,\n"+
		"each replica gave the same), except %d of the %d `tile_224` URLs: a replica holding a `fit_*` in\n"+
		"memory derived the tile from it, a second strong ETag with its own bytes; every replica answers\n"+
		"304 to either. Disk cache: peak %d of %d bytes (%d samples taken under the folder's lock), %d\n"+
		"evictions, %d disk hits, %d writes skipped at the budget, no incomplete file found, no write error.\n\n"+
		"The shared config file, timed from its rename until the change answered on all three replicas\n"+
		"(asked directly every 5 ms): a new key added first plus a revocation, **%s ms**; the old key\n"+
		"removed, **%s ms** (documented: within %v).\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), len(photos), diskMB, clients, len(urls), strings.Join(sizes, ", "), strings.Join(rs, " / "),
		len(got), failed, during, rollFailed, ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), ms(percentile(rollLat, 0.99)), retried, refused,
		twoTags, derivableURLs, peak, budget, samples, evictions, diskHits, skips, ms(rotate), ms(retire), reloadWithin)
	t.Logf("statuses %v\n%s", statuses, report)
	if out := os.Getenv("REPLICAS_REPORT"); out != "" && !t.Failed() {
		if err := replaceSection(out, "## Replicas and rolling restarts", report); err != nil {
			t.Fatal(err)
		}
	}
}

// extOf maps a Content-Type to the extension cache.Complete expects.
func extOf(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	case "image/avif":
		return ".avif"
	}
	return ""
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Error(err)
	}
	return string(b)
}

// replaceSection puts body under heading in a Markdown file, replacing
// that section (up to the next "## " heading) or appending it.
func replaceSection(file, heading, body string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	s := string(b)
	section := heading + "\n\n" + strings.TrimRight(body, "\n") + "\n"
	start := strings.Index(s, "\n"+heading+"\n")
	if start < 0 {
		return os.WriteFile(file, []byte(strings.TrimRight(s, "\n")+"\n\n"+section), 0o644)
	}
	start++ // at the heading
	end := len(s)
	if j := strings.Index(s[start+len(heading):], "\n## "); j >= 0 {
		end = start + len(heading) + j + 1 // at the next heading
	}
	if end < len(s) {
		section += "\n"
	}
	return os.WriteFile(file, []byte(s[:start]+section+s[end:]), 0o644)
}

func TestReplaceSection(t *testing.T) {
	f := filepath.Join(t.TempDir(), "R.md")
	os.WriteFile(f, []byte("# R\n\nsoak\n\n## Decode memory\n\nmem\n"), 0o644)
	for i, want := range []string{
		"# R\n\nsoak\n\n## Decode memory\n\nmem\n\n## Replicas\n\none\n",
		"# R\n\nsoak\n\n## Decode memory\n\nmem\n\n## Replicas\n\ntwo\n",
	} {
		if err := replaceSection(f, "## Replicas", []string{"one", "two"}[i]+"\n"); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(f); string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	os.WriteFile(f, []byte("# R\n\n## Replicas\n\nold\n\n## Later\n\nkept\n"), 0o644)
	replaceSection(f, "## Replicas", "new")
	if got, _ := os.ReadFile(f); string(got) != "# R\n\n## Replicas\n\nnew\n\n## Later\n\nkept\n" {
		t.Fatalf("got %q", got)
	}
}
