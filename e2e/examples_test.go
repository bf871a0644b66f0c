package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// siteExample runs one examples/ generator as written: a manifest from
// `thumbd links` and the shipped template go into a fresh site (files maps
// site path -> content, "@name" meaning examples/name), the generator
// builds it, and the page must hold the <img> whose every URL the running
// server answers with an image.
func siteExample(t *testing.T, tool, dataPath string, files map[string]string, build func(bin, site string) *exec.Cmd, page string) {
	bin, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not installed; `make test` installs it (scripts/deps.sh)", tool)
	}
	orig := copyPhotos(t, "test_exif_full.jpg", "cops.jpg")
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	writeConfig(t, cfg, orig, []string{key1}, nil)
	p := start(t, "--config", cfg)
	base := "http://" + p.addr

	site := t.TempDir()
	files[dataPath] = run(t, "links", "--config", cfg, "--base", base, "--size", "tile_224", "--size", "fit_720", "--size", "fit_1280", "--size", "fit_1920")
	for rel, content := range files {
		if name, ok := strings.CutPrefix(content, "@"); ok {
			b, err := os.ReadFile(filepath.Join("..", "examples", name))
			if err != nil {
				t.Fatal(err)
			}
			content = string(b)
		}
		path := filepath.Join(site, rel)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := build(bin, site)
	cmd.Dir = site
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	b, err := os.ReadFile(filepath.Join(site, page))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	if !strings.Contains(html, `alt="A street"`) || !strings.Contains(html, `width="540" height="720"`) {
		t.Fatalf("rendered page lacks the expected <img>:\n%s", html)
	}
	urls := regexp.MustCompile(`http://127\.0\.0\.1:\d+/t/[^" ,]+`).FindAllString(html, -1)
	if len(urls) < 4 { // src + 3 srcset candidates
		t.Fatalf("want src and srcset URLs, got %v in:\n%s", urls, html)
	}
	for _, u := range urls {
		if code, h, _ := get(t, u); code != 200 || h.Get("Content-Type") != "image/jpeg" {
			t.Errorf("%s: %d %s", u, code, h.Get("Content-Type"))
		}
	}
}

// The Hugo shortcode works as written, with Debian's hugo.
func TestHugoExampleBuildsWorkingImages(t *testing.T) {
	siteExample(t, "hugo", "data/photos.json", map[string]string{
		"layouts/shortcodes/photo.html": "@hugo/layouts/shortcodes/photo.html",
		"layouts/_default/single.html":  "<html><body>{{ .Content }}</body></html>\n",
		"hugo.toml":                     "baseURL = 'http://example.org/'\ndisableKinds = ['taxonomy', 'term', 'RSS', 'sitemap']\n",
		"content/post.md":               "---\ntitle: post\n---\n\n{{< photo \"test_exif_full.jpg\" \"A street\" >}}\n",
	}, func(bin, site string) *exec.Cmd {
		return exec.Command(bin, "--source", site, "--destination", filepath.Join(site, "public"), "--quiet")
	}, "public/post/index.html")
}

// The Jekyll include works as written too, with Debian's jekyll.
func TestJekyllExampleBuildsWorkingImages(t *testing.T) {
	siteExample(t, "jekyll", "_data/photos.json", map[string]string{
		"_includes/photo.html": "@jekyll/_includes/photo.html",
		"_config.yml":          "title: t\n",
		"post.html":            "---\nlayout: null\n---\n{% include photo.html path=\"test_exif_full.jpg\" alt=\"A street\" %}\n",
	}, func(bin, site string) *exec.Cmd {
		return exec.Command(bin, "build", "--quiet", "--source", site, "--destination", filepath.Join(site, "_site"))
	}, "_site/post.html")
}

// serveStatic serves root with nginx, as a static host would.
func serveStatic(t *testing.T, root string) string {
	bin := nginxBinary(t)
	dir := t.TempDir()
	addr := freePort(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  types { text/html html; image/jpeg jpg; image/png png; image/webp webp; image/avif avif; }
  server { listen %[3]s; root %[4]s; }
}
`, user, dir, addr, root)
	p := filepath.Join(dir, "nginx.conf")
	os.WriteFile(p, []byte(conf), 0o644)
	cmd := exec.Command(bin, "-c", p, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !waitFor(10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Fatalf("nginx did not start: %s", b)
	}
	return "http://" + addr
}

// exportedSiteExample is the "exported" mode: `thumbd export` writes the
// images into the site's static folder and the manifest into its data
// folder, no thumbd runs at all, the generator builds the site with the
// same shipped template, every file the page references exists in the
// built site, and served by nginx, Chromium shows every image (the AVIF
// source, as it supports it).
func exportedSiteExample(t *testing.T, tool, dataPath, staticDir, outDir string, files map[string]string, build func(bin, site string) *exec.Cmd, page string) {
	genBin, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not installed; `make test` installs it (scripts/deps.sh)", tool)
	}
	orig := copyPhotos(t, "test_exif_full.jpg", "cops.jpg")
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("originals: %q\n", orig)), 0o600)
	site := t.TempDir()
	args := []string{"export", "--config", cfg, "--out", filepath.Join(site, staticDir, "photos"), "--base-url", "/photos/"}
	for _, s := range []string{"tile_224", "fit_720", "fit_1280", "fit_720.webp", "fit_1280.webp", "fit_720.avif", "fit_1280.avif"} {
		args = append(args, "--size", s)
	}
	files[dataPath] = run(t, args...)
	for rel, content := range files {
		if name, ok := strings.CutPrefix(content, "@"); ok {
			b, err := os.ReadFile(filepath.Join("..", "examples", name))
			if err != nil {
				t.Fatal(err)
			}
			content = string(b)
		}
		p := filepath.Join(site, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := build(genBin, site)
	cmd.Dir = site
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	b, err := os.ReadFile(filepath.Join(site, page))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	if !strings.Contains(html, "<picture>") || !strings.Contains(html, `alt="A street"`) || !strings.Contains(html, `width="540" height="720"`) ||
		!regexp.MustCompile(`style="background:#[0-9a-f]{6}"`).MatchString(html) || !strings.Contains(html, `type="image/avif"`) {
		t.Fatalf("rendered page lacks the expected <picture>:\n%s", html)
	}
	urls := regexp.MustCompile(`/photos/[0-9a-f]{2}/[^" ,]+`).FindAllString(html, -1)
	if len(urls) < 14 { // per photo: src, 2 JPEG, 2 WebP and 2 AVIF candidates
		t.Fatalf("want src and srcset URLs, got %v in:\n%s", urls, html)
	}
	built := filepath.Join(site, outDir)
	for _, u := range urls {
		if fi, err := os.Stat(filepath.Join(built, filepath.FromSlash(u))); err != nil || fi.Size() == 0 {
			t.Errorf("%s: not in the built site: %v", u, err)
		}
	}

	// Served as plain static files, thumbd nowhere: every image shows.
	base := serveStatic(t, built)
	ctx := browser(t)
	pageURL := base + "/" + strings.TrimPrefix(filepath.ToSlash(page), filepath.ToSlash(outDir)+"/")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(800, 600), chromedp.Navigate(pageURL)); err != nil {
		t.Fatal(err)
	}
	type imgState struct {
		Complete bool   `json:"complete"`
		W        int    `json:"w"`
		Src      string `json:"src"`
	}
	// Lazy images load once in view: scroll each into view, then wait.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelectorAll("img").forEach(i => { i.loading = "eager"; i.scrollIntoView(); }); true`)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`Array.from(document.images).every(i => i.complete)`, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		t.Fatal(err)
	}
	imgs, err := chromedp.Run(ctx, chromedp.Evaluate[[]imgState](`Array.from(document.images).map(i => ({complete: i.complete, w: i.naturalWidth, src: i.currentSrc}))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 {
		t.Fatalf("%d images on the page, want 2", len(imgs))
	}
	for _, im := range imgs {
		if !im.Complete || im.W == 0 || !strings.HasPrefix(im.Src, base+"/photos/") || !strings.HasSuffix(im.Src, ".avif") {
			t.Errorf("image not shown from the exported AVIF: %+v", im)
		}
	}
}

// Hugo, exported mode: images in static/photos, manifest in data/.
func TestHugoExportedExampleShowsImagesWithoutThumbd(t *testing.T) {
	exportedSiteExample(t, "hugo", "data/photos.json", "static", "public", map[string]string{
		"layouts/shortcodes/photo.html": "@hugo/layouts/shortcodes/photo.html",
		"layouts/_default/single.html":  "<html><body>{{ .Content }}</body></html>\n",
		"hugo.toml":                     "baseURL = 'http://example.org/'\ndisableKinds = ['taxonomy', 'term', 'RSS', 'sitemap']\n",
		"content/post.md":               "---\ntitle: post\n---\n\n{{< photo \"test_exif_full.jpg\" \"A street\" >}}\n\n{{< photo \"cops.jpg\" \"Cops\" >}}\n",
	}, func(bin, site string) *exec.Cmd {
		return exec.Command(bin, "--source", site, "--destination", filepath.Join(site, "public"), "--quiet")
	}, "public/post/index.html")
}

// Jekyll, exported mode: images in photos/ (copied as is), manifest in _data/.
func TestJekyllExportedExampleShowsImagesWithoutThumbd(t *testing.T) {
	exportedSiteExample(t, "jekyll", "_data/photos.json", ".", "_site", map[string]string{
		"_includes/photo.html": "@jekyll/_includes/photo.html",
		"_config.yml":          "title: t\n",
		"post.html":            "---\nlayout: null\n---\n<html><body>{% include photo.html path=\"test_exif_full.jpg\" alt=\"A street\" %}{% include photo.html path=\"cops.jpg\" alt=\"Cops\" %}</body></html>\n",
	}, func(bin, site string) *exec.Cmd {
		return exec.Command(bin, "build", "--quiet", "--source", site, "--destination", filepath.Join(site, "_site"))
	}, "_site/post.html")
}
