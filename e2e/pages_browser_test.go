package e2e

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// In Chromium: a share page, an album gallery and an album photo render
// every image (naturalWidth > 0) under the pages' own CSP without a single
// violation; a blog on another site frames the share page and shows the
// oEmbed photo as WordPress does for type "photo", no cookie either way.
// With THUMBD_DOCS_PAGES=<dir>, the screenshots for the README are written
// there (share-page.jpg, album.jpg, oembed-blog.jpg).
func TestBrowserSharePageAndAlbum(t *testing.T) {
	ctx := browser(t)
	lib := pageLibrary(t)
	p, cfg := startPages(t, lib)
	base := "http://" + p.addr
	sign := func(args ...string) string {
		return strings.TrimSpace(run(t, append([]string{"sign", "--config", cfg, "--base", base}, args...)...))
	}
	share := sign("--size", "page", "--title", "Evening over the city", "--caption", "From the roof, just before sunset.\nThe river is behind the towers.", "trip/Landscape_1.jpg")
	album := sign("--album", "trip", "--recursive")

	var (
		mu        sync.Mutex
		problems  []string
		status    = map[string]int64{}
		cookies   []string
		requestID = map[network.RequestID]string{}
	)
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			// CSP violations, blocked frames and failed loads are logged
			// here (source "security", "network" or "rendering").
			txt := e.Entry.Text
			if e.Entry.Level == log.EntryLevelError || strings.Contains(txt, "Content Security Policy") || strings.Contains(txt, "Refused") {
				if !strings.Contains(e.Entry.URL, "/favicon.ico") {
					problems = append(problems, fmt.Sprintf("%s: %s (%s)", e.Entry.Source, txt, e.Entry.URL))
				}
			}
		case *network.EventRequestWillBeSent:
			requestID[e.RequestID] = e.Request.URL
		case *network.EventResponseReceived:
			status[e.Response.URL] = e.Response.Status
		case *network.EventResponseReceivedExtraInfo:
			for k := range e.Headers {
				if strings.EqualFold(k, "Set-Cookie") {
					cookies = append(cookies, requestID[e.RequestID])
				}
			}
		case *network.EventRequestWillBeSentExtraInfo:
			for k := range e.Headers {
				if strings.EqualFold(k, "Cookie") {
					cookies = append(cookies, requestID[e.RequestID])
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}

	type imgState struct {
		Src      string `json:"src"`
		Complete bool   `json:"complete"`
		W        int    `json:"w"`
		H        int    `json:"h"`
	}
	load := func(u string, want int) []imgState {
		t.Helper()
		if u != "" {
			if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`Array.from(document.images).every(i => i.complete)`, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			t.Fatal(err)
		}
		ims, err := chromedp.Run(ctx, chromedp.Evaluate[[]imgState](`Array.from(document.images).map(i => ({src: i.currentSrc, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight}))`))
		if err != nil {
			t.Fatal(err)
		}
		if len(ims) != want {
			t.Errorf("%s: %d images, want %d", u, len(ims), want)
		}
		for _, im := range ims {
			if !im.Complete || im.W == 0 || im.H == 0 {
				t.Errorf("%s: image %s did not render (%dx%d)", u, im.Src, im.W, im.H)
			}
		}
		return ims
	}
	shot := func(name string) {
		t.Helper()
		dir := os.Getenv("THUMBD_DOCS_PAGES")
		if dir == "" {
			return
		}
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(82))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1000, 820)); err != nil {
		t.Fatal(err)
	}
	ims := load(share, 1)
	// 1000 CSS px at DPR 1: the 1280 px slot shrinks to the viewport, so the
	// browser picks the 1280w candidate (or the 720w one if it prefers).
	if len(ims) == 1 && !strings.Contains(ims[0].Src, "/p/") {
		t.Errorf("share page image %s is not a page image", ims[0].Src)
	}
	title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("h1").textContent + "|" + document.title`))
	if err != nil || title != "Evening over the city|Evening over the city" {
		t.Errorf("rendered title %q, %v", title, err)
	}
	shot("share-page.jpg")

	load(album, 4)
	shot("album.jpg")
	// Click the third tile (dice.png, from the subfolder): its share page in the album.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.gallery li:nth-child(3) a`)), chromedp.WaitVisible(chromedp.CSS(`.share img`))); err != nil {
		t.Fatal(err)
	}
	load("", 1)
	back, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("nav a").href`))
	if err != nil || back != album {
		t.Errorf("album photo links back to %q, want %q", back, album)
	}

	// A blog on another site: the page in an iframe, and the oEmbed photo
	// the way WordPress renders type "photo" (a link around an img).
	_, _, ob := get(t, base+"/oembed?maxwidth=600&url="+url.QueryEscape(share))
	var o oembedJSON
	if err := json.Unmarshal(ob, &o); err != nil {
		t.Fatal(err)
	}
	blog := fmt.Sprintf(`<!doctype html><html><head><meta charset="utf-8"><title>A blog</title>
<style>body{font:16px system-ui,sans-serif;margin:24px;max-width:900px;background:#fafafa} iframe{border:0;width:100%%;height:560px}</style></head><body>
<script>document.cookie = "blog=1; path=/";</script>
<h1>Holiday notes</h1><p>The link on its own line became this embed (oEmbed type photo):</p>
<p><a href="%s"><img id="oembed" src="%s" width="%d" height="%d" alt="%s"></a></p>
<p>And the share page, framed:</p>
<iframe id="frame" src="%s"></iframe>
</body></html>`, html.EscapeString(share), html.EscapeString(o.URL), o.Width, o.Height, html.EscapeString(o.Title), html.EscapeString(share))
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(blog))
	}))
	defer site.Close()
	siteURL := strings.Replace(site.URL, "127.0.0.1", "localhost", 1) // another site, not only another port
	ims = load(siteURL, 1)
	if len(ims) == 1 && (ims[0].W != o.Width || o.Width > 600) {
		t.Errorf("oEmbed photo rendered %dx%d; oEmbed said %dx%d within maxwidth 600", ims[0].W, ims[0].H, o.Width, o.Height)
	}
	// The framed page is another site's document (an out-of-process frame
	// under site isolation): attach to its target and look at its image.
	var frame *target.Info
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && frame == nil; time.Sleep(100 * time.Millisecond) {
		ts, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range ts {
			if ti.Type == "iframe" && ti.URL == share {
				frame = ti
			}
		}
	}
	if frame == nil {
		t.Fatal("no frame target for the framed share page (refused by the browser?)")
	}
	fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(frame.TargetID))
	defer cancel()
	if _, err := chromedp.Run(fctx, chromedp.Poll[bool](`document.images.length == 1 && document.images[0].complete && document.images[0].naturalWidth > 0`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Errorf("the framed share page did not render its image: %v", err)
	}
	if h, err := chromedp.Run(fctx, chromedp.Evaluate[string](`document.querySelector("h1").textContent`)); err != nil || h != "Evening over the city" {
		t.Errorf("framed page heading %q, %v", h, err)
	}
	shot("oembed-blog.jpg")

	mu.Lock()
	defer mu.Unlock()
	for _, pr := range problems {
		t.Errorf("browser reported: %s", pr)
	}
	for _, u := range cookies {
		if strings.HasPrefix(u, base) {
			t.Errorf("a cookie went to or came from %s", u)
		}
	}
	for u, st := range status {
		if strings.HasPrefix(u, base) && st != 200 && !strings.HasSuffix(u, "/favicon.ico") {
			t.Errorf("%s answered %d", u, st)
		}
	}
	t.Logf("%s; %d responses", chromiumVersion(), len(status))
}
