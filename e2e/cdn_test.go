package e2e

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nginxBinary finds Debian's nginx; like the browser, it skips locally only.
func nginxBinary(t *testing.T) string {
	for _, p := range []string{"/usr/sbin/nginx", "/usr/bin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("nginx not installed (apt-get install -y nginx, or run `make test`); skipping CDN test")
	}
	t.Fatal("nginx not installed but CI is set: make test installs it")
	return ""
}

// startNginx runs the shipped deploy/nginx/thumbd.conf, with only its
// paths, upstream and port changed, in front of thumbd.
func startNginx(t *testing.T, upstream string) (addr, cacheDir string) {
	addr, dir := startNginxWith(t, map[string]string{"server 127.0.0.1:8080;": "server " + upstream + ";"})
	return addr, filepath.Join(dir, "cache")
}

// startNginxWith runs the shipped config with its paths and port changed
// and the given replacements made; it returns nginx's address and its
// folder (error.log, cache/).
func startNginxWith(t *testing.T, replace map[string]string) (addr, dir string) {
	bin := nginxBinary(t)
	dir = t.TempDir()
	cacheDir := filepath.Join(dir, "cache")
	addr = freePort(t)
	shipped, err := os.ReadFile("../deploy/nginx/thumbd.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(shipped)
	replace["/var/cache/nginx/thumbd"] = cacheDir
	replace["listen 80;"] = "listen " + addr + ";"
	for old, repl := range replace {
		if !strings.Contains(conf, old) {
			t.Fatalf("deploy/nginx/thumbd.conf no longer contains %q", old)
		}
		conf = strings.ReplaceAll(conf, old, repl)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers need the temp dirs; tests run as root in CI
	}
	main := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
%[3]s
}
`, user, dir, conf)
	confPath := filepath.Join(dir, "nginx.conf")
	os.WriteFile(confPath, []byte(main), 0o644)
	cmd := exec.Command(bin, "-c", confPath, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	out, _ := os.Create(filepath.Join(dir, "stderr"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, dir
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Fatalf("nginx did not start: %s", b)
	return "", ""
}

// requestCount is how many requests thumbd has answered on its public
// port for one route ("thumb", "video", "other"...), or for all if route
// is empty.
func requestCount(t *testing.T, admin, route string) int {
	t.Helper()
	r, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	n := 0
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "thumbd_http_request_duration_seconds_count{") && (route == "" || strings.Contains(l, `route="`+route+`"`)) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += int(v)
		}
	}
	return n
}

// waitRequestCount waits until thumbd has counted want requests for route
// (it counts each one after the response has gone out) and fails if the
// count stops short of want or passes it. Failing does not stop the test.
func waitRequestCount(t *testing.T, admin, route string, want int) {
	t.Helper()
	n := requestCount(t, admin, route)
	for deadline := time.Now().Add(5 * time.Second); n < want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		n = requestCount(t, admin, route)
	}
	if n != want {
		t.Errorf("thumbd counted %d requests (route %q), want %d", n, route, want)
	}
}

func viaProxy(t *testing.T, url string) (int, string) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r.StatusCode, r.Header.Get("X-Cache-Status")
}

// purge removes a cached URL exactly as deploy/nginx/thumbd.conf documents:
// the key is the request URI exactly as sent, and the file is md5(key)
// under levels=1:2. The file's header names the key on a "KEY: " line,
// which the documented grep recipe relies on.
func purge(t *testing.T, cacheDir, uri string) {
	t.Helper()
	sum := md5.Sum([]byte(uri))
	f := hex.EncodeToString(sum[:])
	p := filepath.Join(cacheDir, f[len(f)-1:], f[len(f)-3:len(f)-1], f)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("documented purge path does not exist: %v", err)
	}
	if !bytes.Contains(b, []byte("\nKEY: "+uri+"\n")) {
		t.Fatalf("%s has no \"KEY: %s\" line for the documented grep recipe", p, uri)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

// purgePhoto runs deploy/nginx/thumbd.conf's whole-photo purge recipe (its
// "#   grep" line) as written, with only the cache directory and the hash
// filled in.
func purgePhoto(t *testing.T, cacheDir, hash string) {
	t.Helper()
	conf, err := os.ReadFile("../deploy/nginx/thumbd.conf")
	if err != nil {
		t.Fatal(err)
	}
	var recipe string
	for _, l := range strings.Split(string(conf), "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(l), "#   grep "); ok {
			recipe = "grep " + c
		}
	}
	if recipe == "" {
		t.Fatal(`deploy/nginx/thumbd.conf no longer documents a "#   grep ..." purge recipe`)
	}
	recipe = strings.NewReplacer("/var/cache/nginx/thumbd", cacheDir, "<sha1>", hash).Replace(recipe)
	if out, err := exec.Command("bash", "-c", "set -euo pipefail\n"+recipe).CombinedOutput(); err != nil {
		t.Fatalf("documented purge recipe failed: %v\n%s\n%s", err, recipe, out)
	}
}

// nginx configured as the docs recommend caches thumbd's answers: a second
// request is a HIT that never reaches thumbd, an expiring link's copy
// expires with it, and after a revocation plus the documented purge the
// photo is gone.
func TestCDNCachesAsDocumented(t *testing.T) {
	orig := copyPhotos(t, "cops.jpg", "Landscape_1.jpg")
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	writeConfig(t, cfg, orig, []string{key1}, nil)
	p := start(t, "--config", cfg)
	proxy, cacheDir := startNginx(t, p.addr)
	base := "http://" + proxy
	mint := func(args ...string) string {
		return strings.TrimSpace(run(t, append([]string{"sign", "--config", cfg, "--base", base}, args...)...))
	}

	t.Run("hit never reaches thumbd", func(t *testing.T) {
		u := mint("--size", "tile_224", "cops.jpg")
		if code, cache := viaProxy(t, u); code != 200 || cache != "MISS" {
			t.Fatalf("first: %d %s, want 200 MISS", code, cache)
		}
		// thumbd records a request after the response has gone out; wait
		// until the miss is counted before taking the baseline.
		waitRequestCount(t, p.admin, "thumb", 1)
		for i := 0; i < 3; i++ {
			if code, cache := viaProxy(t, u); code != 200 || cache != "HIT" {
				t.Fatalf("repeat: %d %s, want 200 HIT", code, cache)
			}
		}
		// A barrier: one request past the cache (a query string makes the
		// URL non-canonical), answered after every hit. Once thumbd has
		// counted it, exactly one more request than the miss has reached
		// it, or a hit went upstream.
		if code, cache := viaProxy(t, u+"?barrier"); code != 200 || cache != "BYPASS" {
			t.Fatalf("barrier: %d %s, want 200 BYPASS", code, cache)
		}
		waitRequestCount(t, p.admin, "thumb", 2)
	})

	t.Run("expiring link expires in the cache too", func(t *testing.T) {
		// A whole second, 3 to 4 s ahead, so the test knows the exact
		// instant the link expires.
		expiry := time.Now().Add(4 * time.Second).Truncate(time.Second)
		u := mint("--size", "fit_720", "--expires", expiry.Format(time.RFC3339), "cops.jpg")
		if code, cache := viaProxy(t, u); code != 200 || cache != "MISS" {
			t.Fatalf("first: %d %s", code, cache)
		}
		if code, cache := viaProxy(t, u); code != 200 || cache != "HIT" {
			t.Fatalf("second: %d %s", code, cache)
		}
		// The condition is the clock itself: wait for the expiry instant,
		// no margin. thumbd's max-age (whole seconds left) ends the cached
		// copy by then.
		time.Sleep(time.Until(expiry))
		if code, cache := viaProxy(t, u); code != 403 || cache == "HIT" {
			t.Errorf("after expiry: %d %s, want 403 from thumbd, not a cached 200", code, cache)
		}
	})

	t.Run("revoked and purged photo is gone", func(t *testing.T) {
		u := mint("--size", "tile_500", "Landscape_1.jpg")
		other := mint("--size", "tile_224.webp", "Landscape_1.jpg")
		for _, v := range []string{u, other} {
			viaProxy(t, v)
			if code, cache := viaProxy(t, v); code != 200 || cache != "HIT" {
				t.Fatalf("cached: %d %s", code, cache)
			}
		}
		hash := strings.Split(u, "/")[4]
		writeConfig(t, cfg, orig, []string{key1}, []string{hash})
		direct := strings.Replace(u, proxy, p.addr, 1)
		waitStatus(t, direct, 410)
		// The CDN still holds the immutable copy: revocation needs a purge.
		if code, cache := viaProxy(t, u); code != 200 || cache != "HIT" {
			t.Fatalf("before purge: %d %s (expected the cached copy)", code, cache)
		}
		purge(t, cacheDir, strings.TrimPrefix(u, base))
		if code, _ := viaProxy(t, u); code != 410 {
			t.Errorf("after revocation and purge: %d, want 410", code)
		}
		// The documented whole-photo recipe removes the other sizes too.
		if code, cache := viaProxy(t, other); code != 200 || cache != "HIT" {
			t.Fatalf("other size before purge: %d %s (expected the cached copy)", code, cache)
		}
		purgePhoto(t, cacheDir, hash)
		if code, _ := viaProxy(t, other); code != 410 {
			t.Errorf("other size after the whole-photo purge: %d, want 410", code)
		}
	})
	out, _ := exec.Command(nginxBinary(t), "-v").CombinedOutput()
	t.Logf("proxy: %s", strings.TrimSpace(string(out)))
}

// rawGet sends target byte for byte as the request line's target (Go's
// client would clean or re-escape some spellings) and reads the answer.
func rawGet(t *testing.T, addr, target string, header ...string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: img.example.com\r\nConnection: close\r\n"
	for _, h := range header {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("GET %q: body: %v", target, err)
	}
	return r, b
}

// Through the shipped nginx config, the cache key is the request exactly
// as it goes upstream, and only the canonical spelling of a URL is
// cached: a hostile spelling of a real photo's URL (doubled slashes, dot
// segments, percent escapes, a query, upper-case hex, ;params, a
// fragment...) reaches thumbd every time and can never plant its answer
// under the real URL, before or after the real URL is cached. Videos
// stream through with Range requests intact and uncached; nothing else is
// proxied.
func TestCDNUpstreamPaths(t *testing.T) {
	orig := copyPhotos(t, "cops.jpg")
	ffmpeg, ffErr := exec.LookPath("ffmpeg")
	if ffErr == nil {
		out, err := exec.Command(ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10",
			"-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", filepath.Join(orig, "clip.mp4")).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
	}
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	writeConfig(t, cfg, orig, []string{key1}, nil)
	p := start(t, "--config", cfg)
	proxy, _ := startNginx(t, p.addr)
	mint := func(args ...string) string { // the path alone: /t/... or /v/...
		return strings.TrimSpace(run(t, append([]string{"sign", "--config", cfg}, args...)...))
	}

	t.Run("non-canonical spellings never poison the real URL", func(t *testing.T) {
		real := mint("--size", "tile_500.jpg", "cops.jpg")
		seg := strings.Split(real, "/") // "", "t", hash, token, size
		if len(seg) != 5 || seg[1] != "t" {
			t.Fatalf("sign printed %q", real)
		}
		h, k, s := seg[2], seg[3], seg[4]
		pct := func(c byte) string { return fmt.Sprintf("%%%02X", c) }
		// upstream: nginx passes the request to thumbd, past the cache
		// (BYPASS); otherwise nginx refuses it itself, with a 4xx.
		hostile := []struct {
			target   string
			upstream bool
		}{
			{"/t/" + h + "/" + k + "//" + s, true},
			{"/t//" + h + "/" + k + "/" + s, true},
			{"//t/" + h + "/" + k + "/" + s, false},
			{"/t/./" + h + "/" + k + "/" + s, true},
			{"/t/" + h + "/" + k + "/./" + s, true},
			{"/t/" + h + "/" + k + "/x/../" + s, true},
			{"/t/" + h + "/" + k + "/" + s + "/x/..", true},
			{"/x/../t/" + h + "/" + k + "/" + s, true},
			{"/../t/" + h + "/" + k + "/" + s, false},
			{"/t/" + h + "/" + k + "/%74ile_500.jpg", true},
			{"/t/" + h + "/" + k + "/ti%6Ce_500.jpg", true},
			{"/t/" + h + "/" + k + "/ti%6ce_500.jpg", true},
			{"/t/" + pct(h[0]) + h[1:] + "/" + k + "/" + s, true},
			{"/t/" + h + "/" + pct(k[0]) + k[1:] + "/" + s, true},
			{"/t/" + h + "/" + k + "%2F" + s, true},
			{"/t/" + h + "/" + k + "%2f" + s, true},
			{"/t/" + h + "/" + k + "/" + s + "/", true},
			{"/t/" + h + "/" + k + "/" + s + "?x=1", true},
			{"/t/" + h + "/" + k + "/" + s + "?", true},
			{"/t/" + strings.ToUpper(h) + "/" + k + "/" + s, true},
			{"/t/" + h + "/" + k + "/" + s + ";x=1", true},
			{"/t/" + h + ";v=1/" + k + "/" + s, true},
			{"/t/" + h + "/" + k + "/" + s + "#x", true},
			{"/t/" + h + "/" + k + "/" + s + "%20", true},
			{"/t/" + h + "/" + k + "/" + s + "x", true},
			{"/t/" + h + "/" + k + "/tile_500.JPG", true},
			{"/T/" + h + "/" + k + "/" + s, false},
			{"http://img.example.com/t/" + h + "/" + k + "/x/../" + s, true},
		}
		// Each spelling, several times: every answer comes from thumbd
		// (a fresh request id each time, and thumbd counts them all), none
		// from the cache.
		sendHostile := func(t *testing.T, times int) {
			t.Helper()
			before, upstream := requestCount(t, p.admin, ""), 0
			for _, v := range hostile {
				ids := map[string]bool{}
				for i := 0; i < times; i++ {
					r, _ := rawGet(t, proxy, v.target)
					cache, id := r.Header.Get("X-Cache-Status"), r.Header.Get("X-Request-Id")
					switch {
					case v.upstream && (cache != "BYPASS" || id == "" || ids[id]):
						t.Errorf("%q (#%d): %d, X-Cache-Status %q, X-Request-Id %q (seen: %v): want a fresh answer from thumbd past the cache",
							v.target, i+1, r.StatusCode, cache, id, ids[id])
					case !v.upstream && (r.StatusCode < 400 || r.StatusCode >= 500 || cache != "" || id != ""):
						t.Errorf("%q (#%d): %d, X-Cache-Status %q, X-Request-Id %q: want nginx's own 4xx", v.target, i+1, r.StatusCode, cache, id)
					}
					if i == 0 {
						t.Logf("%s: %d %s", v.target, r.StatusCode, cache)
					}
					ids[id] = true
					if v.upstream {
						upstream++
					}
				}
			}
			waitRequestCount(t, p.admin, "", before+upstream)
		}
		// The request that fills the cache carries its own X-Request-Id,
		// which thumbd echoes: it must not be stored for everyone.
		const planted = "planted-by-a-client"
		getReal := func(t *testing.T, wantCache string) []byte {
			t.Helper()
			r, body := rawGet(t, proxy, real, "X-Request-Id: "+planted)
			if id := r.Header.Get("X-Request-Id"); id == planted {
				t.Errorf("real URL (%s): the client's X-Request-Id came back", wantCache)
			}
			if r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/jpeg" || !bytes.HasPrefix(body, []byte{0xff, 0xd8, 0xff}) {
				t.Fatalf("real URL after hostile spellings: %d %s, %d bytes %.40q", r.StatusCode, r.Header.Get("Content-Type"), len(body), body)
			}
			if c := r.Header.Get("X-Cache-Status"); c != wantCache {
				t.Fatalf("real URL: X-Cache-Status %q, want %q", c, wantCache)
			}
			return body
		}

		sendHostile(t, 3)
		// Nothing was stored under the real URL's key: its first request
		// is a MISS, answered by thumbd with the image.
		first := getReal(t, "MISS")
		if code, hd, direct := get(t, "http://"+p.addr+real); code != 200 || hd.Get("Content-Type") != "image/jpeg" || !bytes.Equal(direct, first) {
			t.Fatalf("thumbd itself: %d %s, same bytes as via nginx: %v", code, hd.Get("Content-Type"), bytes.Equal(direct, first))
		}
		if again := getReal(t, "HIT"); !bytes.Equal(again, first) {
			t.Fatal("cached copy differs from thumbd's answer")
		}
		// Once it is cached, hostile spellings neither get the cached copy
		// nor replace it.
		sendHostile(t, 2)
		if again := getReal(t, "HIT"); !bytes.Equal(again, first) {
			t.Fatal("cached copy changed after hostile spellings")
		}
		// The key is the path alone: an absolute-form request line with any
		// host names the same entry, as the purge recipe assumes.
		if r, body := rawGet(t, proxy, "http://other.example"+real); r.StatusCode != 200 || r.Header.Get("X-Cache-Status") != "HIT" || !bytes.Equal(body, first) {
			t.Errorf("absolute-form request for the real URL: %d %s, same bytes: %v", r.StatusCode, r.Header.Get("X-Cache-Status"), bytes.Equal(body, first))
		}
	})

	t.Run("videos stream with ranges, uncached", func(t *testing.T) {
		if ffErr != nil {
			if os.Getenv("CI") == "" {
				t.Skip("ffmpeg not installed (apt-get install -y ffmpeg, or run `make test`); skipping the video proxy test")
			}
			t.Fatal("ffmpeg not installed but CI is set: make test installs it")
		}
		u := mint("--size", "avc", "clip.mp4")
		if !strings.HasPrefix(u, "/v/") {
			t.Fatalf("sign --size avc printed %q", u)
		}
		file, err := os.ReadFile(filepath.Join(orig, "clip.mp4"))
		if err != nil {
			t.Fatal(err)
		}
		// thumbd blanks metadata in place: same length, its bytes are the
		// reference.
		code, hd, want := get(t, "http://"+p.addr+u)
		if code != 200 || hd.Get("Content-Type") != "video/mp4" || len(want) != len(file) || len(want) < 1200 {
			t.Fatalf("thumbd itself: %d %s, %d bytes for a %d-byte file", code, hd.Get("Content-Type"), len(want), len(file))
		}
		n := strconv.Itoa(len(want))
		before := requestCount(t, p.admin, "video")
		for i := 0; i < 2; i++ {
			r, body := rawGet(t, proxy, u, "Range: bytes=100-1099")
			if r.StatusCode != 206 || r.Header.Get("Content-Range") != "bytes 100-1099/"+n || !bytes.Equal(body, want[100:1100]) {
				t.Fatalf("range #%d: %d, Content-Range %q, %d bytes (right bytes: %v)", i+1, r.StatusCode, r.Header.Get("Content-Range"), len(body), bytes.Equal(body, want[100:1100]))
			}
			if c := r.Header.Get("X-Cache-Status"); c != "" {
				t.Errorf("range #%d: X-Cache-Status %q: videos are not cached", i+1, c)
			}
		}
		r, body := rawGet(t, proxy, u, "Range: bytes=-200")
		if cr := fmt.Sprintf("bytes %d-%d/%s", len(want)-200, len(want)-1, n); r.StatusCode != 206 || r.Header.Get("Content-Range") != cr || !bytes.Equal(body, want[len(want)-200:]) {
			t.Fatalf("suffix range: %d, Content-Range %q (want %q), %d bytes", r.StatusCode, r.Header.Get("Content-Range"), cr, len(body))
		}
		r, body = rawGet(t, proxy, u)
		if r.StatusCode != 200 || r.ContentLength != int64(len(file)) || !bytes.Equal(body, want) || r.Header.Get("Content-Type") != hd.Get("Content-Type") {
			t.Fatalf("full GET: %d, Content-Length %d, %s, %d bytes (want %d, same bytes: %v)", r.StatusCode, r.ContentLength, r.Header.Get("Content-Type"), len(body), len(file), bytes.Equal(body, want))
		}
		// Every one of them was answered by thumbd.
		waitRequestCount(t, p.admin, "video", before+4)
	})

	t.Run("nothing else is proxied", func(t *testing.T) {
		for _, target := range []string{"/", "/healthz", "/metrics", "/favicon.ico", "/links/", "/T/x"} {
			r, _ := rawGet(t, proxy, target)
			if r.StatusCode != 404 || r.Header.Get("X-Request-Id") != "" || r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: %d, X-Request-Id %q, Cache-Control %q: want nginx's own uncacheable 404", target, r.StatusCode, r.Header.Get("X-Request-Id"), r.Header.Get("Cache-Control"))
			}
		}
	})
}
