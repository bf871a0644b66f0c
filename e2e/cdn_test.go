package e2e

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"fmt"
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
	bin := nginxBinary(t)
	dir := t.TempDir()
	cacheDir = filepath.Join(dir, "cache")
	addr = freePort(t)
	shipped, err := os.ReadFile("../deploy/nginx/thumbd.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(shipped)
	for old, repl := range map[string]string{
		"/var/cache/nginx/thumbd": cacheDir,
		"server 127.0.0.1:8080;":  "server " + upstream + ";",
		"listen 80;":              "listen " + addr + ";",
	} {
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
			return addr, cacheDir
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Fatalf("nginx did not start: %s", b)
	return "", ""
}

// thumbRequests is how many thumbnail requests thumbd has answered.
func thumbRequests(t *testing.T, admin string) int {
	r, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	n := 0
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "thumbd_http_request_duration_seconds_count{") && strings.Contains(l, `route="thumb"`) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += int(v)
		}
	}
	return n
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
// the file is md5(uri) under levels=1:2.
func purge(t *testing.T, cacheDir, uri string) {
	t.Helper()
	sum := md5.Sum([]byte(uri))
	f := hex.EncodeToString(sum[:])
	p := filepath.Join(cacheDir, f[len(f)-1:], f[len(f)-3:len(f)-1], f)
	if err := os.Remove(p); err != nil {
		t.Fatalf("documented purge path does not exist: %v", err)
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
		before := thumbRequests(t, p.admin)
		for deadline := time.Now().Add(5 * time.Second); before < 1 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			before = thumbRequests(t, p.admin)
		}
		for i := 0; i < 3; i++ {
			if code, cache := viaProxy(t, u); code != 200 || cache != "HIT" {
				t.Fatalf("repeat: %d %s, want 200 HIT", code, cache)
			}
		}
		time.Sleep(200 * time.Millisecond) // a request reaching thumbd would be counted by now
		if after := thumbRequests(t, p.admin); after != before {
			t.Errorf("thumbd answered %d more requests behind a cache hit", after-before)
		}
	})

	t.Run("expiring link expires in the cache too", func(t *testing.T) {
		u := mint("--size", "fit_720", "--expires", "3s", "cops.jpg")
		if code, cache := viaProxy(t, u); code != 200 || cache != "MISS" {
			t.Fatalf("first: %d %s", code, cache)
		}
		if code, cache := viaProxy(t, u); code != 200 || cache != "HIT" {
			t.Fatalf("second: %d %s", code, cache)
		}
		time.Sleep(4500 * time.Millisecond)
		if code, cache := viaProxy(t, u); code != 403 || cache == "HIT" {
			t.Errorf("after expiry: %d %s, want 403 from thumbd, not a cached 200", code, cache)
		}
	})

	t.Run("revoked and purged photo is gone", func(t *testing.T) {
		u := mint("--size", "tile_500", "Landscape_1.jpg")
		viaProxy(t, u)
		if code, cache := viaProxy(t, u); code != 200 || cache != "HIT" {
			t.Fatalf("cached: %d %s", code, cache)
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
	})
	out, _ := exec.Command(nginxBinary(t), "-v").CombinedOutput()
	t.Logf("proxy: %s", strings.TrimSpace(string(out)))
}
