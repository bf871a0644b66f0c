package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/davidbyttow/govips/v2/vips"
)

// In Chromium: open the link picker on the admin port, search for a file,
// open it, choose fit_1280 and a one-day expiry, click "Copy HTML", read the
// snippet, and check every URL in it serves the expected image from the
// public port. The page itself is not on the public port.
func TestLinkPickerInBrowser(t *testing.T) {
	ctx := browser(t)
	orig := copyPhotos(t, "test_exif_full.jpg", "cops.jpg", "Landscape_1.jpg", "dice.png")
	os.MkdirAll(filepath.Join(orig, "2020", "street"), 0o755)
	os.Rename(filepath.Join(orig, "test_exif_full.jpg"), filepath.Join(orig, "2020", "street", "corner.jpg"))
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	writeConfig(t, cfg, orig, []string{key1}, nil)
	p := start(t, "--config", cfg)
	admin := "http://" + p.admin

	if r, err := http.Get("http://" + p.addr + "/links/"); err != nil || r.StatusCode != 404 {
		t.Fatalf("picker on the public port: %v %v", r.StatusCode, err)
	}

	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1100, 900),
		chromedp.Navigate(admin+"/links/"),
		chromedp.SendKeys(chromedp.ID("q"), "corner\n"),
	); err != nil {
		t.Fatal(err)
	}
	// The search is a form submit: until the results page has replaced the
	// first one (which lists corner.jpg too), a node found there vanishes
	// under the click.
	waitLoaded(t, ctx, "q=corner")
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`#results a[data-path="2020/street/corner.jpg"]`)),
		chromedp.Click(chromedp.CSS(`#results a[data-path="2020/street/corner.jpg"]`)),
		chromedp.WaitVisible(chromedp.ID("form")),
		chromedp.Click(chromedp.CSS(`input[name=size][value=fit_1280]`)),
		chromedp.Click(chromedp.CSS(`input[name=expiry][value="1d"]`)),
		chromedp.Click(chromedp.ID("make")),
		chromedp.WaitVisible(chromedp.ID("copy-html")),
		chromedp.Click(chromedp.ID("copy-html")),
		chromedp.WaitVisible(chromedp.CSS(`#copy-html[data-copied="yes"]`)),
	); err != nil {
		t.Fatal(err)
	}
	snippet, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("s-html").value`))
	if err != nil {
		t.Fatal(err)
	}
	// What sign --format html prints: a <picture> in AVIF, WebP and JPEG.
	if !strings.HasPrefix(snippet, "<picture><source type=\"image/avif\"") || !strings.Contains(snippet, `width="768" height="1024"`) ||
		!regexp.MustCompile(`style="background:#[0-9a-f]{6}"`).MatchString(snippet) {
		t.Fatalf("HTML snippet: %s", snippet)
	}
	urls := regexp.MustCompile(`http://127\.0\.0\.1:\d+/t/[^" ,]+`).FindAllString(snippet, -1)
	if len(urls) == 0 {
		t.Fatalf("no URLs in %s", snippet)
	}
	for _, u := range urls {
		if !strings.Contains(u, "/fit_1280") || !strings.Contains(strings.Split(u, "/")[5], ".") {
			t.Errorf("%s: want a fit_1280 link with an expiry in its token", u)
		}
		code, h, body := get(t, u)
		want := map[string]string{".jpg": "image/jpeg", ".webp": "image/webp", ".avif": "image/avif"}[filepath.Ext(u)]
		if code != 200 || h.Get("Content-Type") != want || strings.Contains(h.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: %d %s %s", u, code, h.Get("Content-Type"), h.Get("Cache-Control"))
			continue
		}
		img, err := vips.NewImageFromBuffer(body)
		if err != nil {
			t.Fatal(err)
		}
		if img.Width() != 768 || img.Height() != 1024 {
			t.Errorf("%s: %dx%d, want 768x1024", u, img.Width(), img.Height())
		}
		img.Close()
	}

	// A small screenshot of the page for the README (THUMBD_DOCS_SCREENSHOT=path).
	if out := os.Getenv("THUMBD_DOCS_SCREENSHOT"); out != "" {
		shot, err := chromedp.Run(ctx, chromedp.ScreenshotScale(chromedp.CSS("body"), 0.6))
		if err == nil {
			os.WriteFile(out, shot, 0o644)
		}
	}
}

// waitLoaded waits until the page's URL contains want and the document has
// loaded. It polls from Go: a navigation destroys the page's JavaScript
// context, which an in-page poll would report as an error.
func waitLoaded(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState === "complete" ? location.href : ""`))
		if err == nil && strings.Contains(href, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("page never loaded a URL containing %q (last %q, %v)", want, href, err)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
