package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The Hugo example works as written: a manifest from `thumbd links`, the
// shipped shortcode, and a page using it build with Debian's hugo into an
// <img> whose every URL the running server answers with an image.
func TestHugoExampleBuildsWorkingImages(t *testing.T) {
	hugo, err := exec.LookPath("hugo")
	if err != nil {
		t.Fatal("hugo not installed; `make test` installs it (scripts/deps.sh)")
	}
	orig := copyPhotos(t, "test_exif_full.jpg", "cops.jpg")
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	writeConfig(t, cfg, orig, []string{key1}, nil)
	p := start(t, "--config", cfg)
	base := "http://" + p.addr

	site := t.TempDir()
	for _, d := range []string{"data", "layouts/shortcodes", "layouts/_default", "content"} {
		os.MkdirAll(filepath.Join(site, d), 0o755)
	}
	manifest := run(t, "links", "--config", cfg, "--base", base, "--size", "tile_224", "--size", "fit_720", "--size", "fit_1280", "--size", "fit_1920")
	os.WriteFile(filepath.Join(site, "data", "photos.json"), []byte(manifest), 0o644)
	sc, err := os.ReadFile("../examples/hugo/layouts/shortcodes/photo.html")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(site, "layouts", "shortcodes", "photo.html"), sc, 0o644)
	os.WriteFile(filepath.Join(site, "layouts", "_default", "single.html"), []byte("<html><body>{{ .Content }}</body></html>\n"), 0o644)
	os.WriteFile(filepath.Join(site, "hugo.toml"), []byte("baseURL = 'http://example.org/'\ndisableKinds = ['taxonomy', 'term', 'RSS', 'sitemap']\n"), 0o644)
	os.WriteFile(filepath.Join(site, "content", "post.md"), []byte("---\ntitle: post\n---\n\n{{< photo \"test_exif_full.jpg\" \"A street\" >}}\n"), 0o644)

	cmd := exec.Command(hugo, "--source", site, "--destination", filepath.Join(site, "public"), "--quiet")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hugo: %v\n%s", err, out)
	}
	page, err := os.ReadFile(filepath.Join(site, "public", "post", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
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

// The Jekyll include works as written too (Debian's jekyll).
func TestJekyllExampleBuildsWorkingImages(t *testing.T) {
	jekyll, err := exec.LookPath("jekyll")
	if err != nil {
		t.Fatal("jekyll not installed; `make test` installs it (scripts/deps.sh)")
	}
	orig := copyPhotos(t, "test_exif_full.jpg", "cops.jpg")
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	writeConfig(t, cfg, orig, []string{key1}, nil)
	p := start(t, "--config", cfg)
	base := "http://" + p.addr

	site := t.TempDir()
	for _, d := range []string{"_data", "_includes"} {
		os.MkdirAll(filepath.Join(site, d), 0o755)
	}
	manifest := run(t, "links", "--config", cfg, "--base", base, "--size", "tile_224", "--size", "fit_720", "--size", "fit_1280", "--size", "fit_1920")
	os.WriteFile(filepath.Join(site, "_data", "photos.json"), []byte(manifest), 0o644)
	inc, err := os.ReadFile("../examples/jekyll/_includes/photo.html")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(site, "_includes", "photo.html"), inc, 0o644)
	os.WriteFile(filepath.Join(site, "_config.yml"), []byte("title: t\n"), 0o644)
	os.WriteFile(filepath.Join(site, "post.html"), []byte("---\nlayout: null\n---\n{% include photo.html path=\"test_exif_full.jpg\" alt=\"A street\" %}\n"), 0o644)

	cmd := exec.Command(jekyll, "build", "--quiet", "--source", site, "--destination", filepath.Join(site, "_site"))
	cmd.Dir = site
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("jekyll: %v\n%s", err, out)
	}
	page, err := os.ReadFile(filepath.Join(site, "_site", "post.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	if !strings.Contains(html, `alt="A street"`) || !strings.Contains(html, `width="540" height="720"`) {
		t.Fatalf("rendered page lacks the expected <img>:\n%s", html)
	}
	urls := regexp.MustCompile(`http://127\.0\.0\.1:\d+/t/[^" ,]+`).FindAllString(html, -1)
	if len(urls) < 4 {
		t.Fatalf("want src and srcset URLs, got %v in:\n%s", urls, html)
	}
	for _, u := range urls {
		if code, h, _ := get(t, u); code != 200 || h.Get("Content-Type") != "image/jpeg" {
			t.Errorf("%s: %d %s", u, code, h.Get("Content-Type"))
		}
	}
}
