package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
