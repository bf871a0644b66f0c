package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
	"golang.org/x/net/html"
)

// Share pages, albums and oEmbed through the built binary, as a new user
// meets them: `thumbd sign --size page` and `--album`, the pages fetched
// and parsed, every image they name fetched, oEmbed answered, real
// link-preview clients (open-graph-scraper, unfurl.js) reading them, then
// revocation and expiry.

// xmpTitle is the XMP dc:title of xmp/testdata/cops_xmp.jpg (hostile on
// purpose).
const xmpTitle = `Traffic stop <script>alert(1)</script> & "friends"`

// pageLibrary copies photos into an originals folder with albums:
// trip/{Landscape_1,cops,tagged}.jpg, trip/sub/dice.png, other/Landscape_2.jpg.
func pageLibrary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for dst, src := range map[string]string{
		"trip/Landscape_1.jpg":  "../testdata/photos/Landscape_1.jpg",
		"trip/cops.jpg":         "../testdata/photos/cops.jpg",
		"trip/tagged.jpg":       "../xmp/testdata/cops_xmp.jpg",
		"trip/sub/dice.png":     "../testdata/photos/dice.png",
		"other/Landscape_2.jpg": "../testdata/photos/Landscape_2.jpg",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, dst)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// pageConfig writes a config with public_url set to the server's address.
func pageConfig(t *testing.T, path, originals, addr string, revoked ...string) {
	t.Helper()
	q := make([]string, len(revoked))
	for i, r := range revoked {
		q[i] = strconv.Quote(r)
	}
	cfg := fmt.Sprintf("originals: %q\nkeys: [%q]\nrevoked: [%s]\npublic_url: %q\nlog_level: debug\n",
		originals, key1, strings.Join(q, ", "), "http://"+addr)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// startPages serves lib with public_url pointing at the server itself.
func startPages(t *testing.T, lib string) (p *proc, cfg string) {
	t.Helper()
	cfg = filepath.Join(t.TempDir(), "thumbd.yaml")
	addr := freePort(t)
	pageConfig(t, cfg, lib, addr)
	// start picks a port of its own first; the flag given last wins.
	p = start(t, "--config", cfg, "--listen", addr)
	p.addr = addr
	return p, cfg
}

type parsedPage struct {
	meta   map[string]string
	links  map[string]string
	imgs   []map[string]string
	danger int // script-capable elements and handlers
}

func parseHTML(t *testing.T, body []byte) parsedPage {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	pp := parsedPage{meta: map[string]string{}, links: map[string]string{}}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			a := map[string]string{}
			for _, at := range n.Attr {
				a[at.Key] = at.Val
				if strings.HasPrefix(at.Key, "on") {
					pp.danger++
				}
			}
			switch n.Data {
			case "meta":
				pp.meta[a["property"]+a["name"]] = a["content"]
			case "link":
				pp.links[a["rel"]+" "+a["type"]] = a["href"]
			case "img":
				pp.imgs = append(pp.imgs, a)
			case "script", "iframe", "object", "embed", "svg", "form":
				pp.danger++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return pp
}

// pageImages is every image URL a page names: og:image and each srcset
// candidate (made absolute against base).
func pageImages(t *testing.T, base string, pp parsedPage) []string {
	t.Helper()
	out := []string{pp.meta["og:image"]}
	for _, im := range pp.imgs {
		out = append(out, base+im["src"])
		for _, c := range strings.Split(im["srcset"], ",") {
			if u, _, ok := strings.Cut(strings.TrimSpace(c), " "); ok {
				out = append(out, base+u)
			}
		}
	}
	return out
}

// checkImage: 200, an image type, decodable, never a cookie.
func checkImage(t *testing.T, u string) (int, int) {
	t.Helper()
	code, h, body := get(t, u)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "image/") || len(h.Values("Set-Cookie")) > 0 {
		t.Errorf("%s: %d %s %v", u, code, h.Get("Content-Type"), h.Values("Set-Cookie"))
		return 0, 0
	}
	img, err := vips.NewImageFromBuffer(body)
	if err != nil {
		t.Errorf("%s: %v", u, err)
		return 0, 0
	}
	defer img.Close()
	return img.Width(), img.Height()
}

func checkPage(t *testing.T, what, u string) parsedPage {
	t.Helper()
	code, h, body := get(t, u)
	if code != 200 {
		t.Fatalf("%s %s: %d %s", what, u, code, body)
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "img-src 'self'", "style-src 'sha256-", "frame-ancestors *"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") {
		t.Errorf("%s: CSP %q", what, csp)
	}
	if h.Get("X-Robots-Tag") == "" || h.Get("X-Frame-Options") != "" || len(h.Values("Set-Cookie")) > 0 {
		t.Errorf("%s: X-Robots-Tag %q, X-Frame-Options %q, Set-Cookie %v", what, h.Get("X-Robots-Tag"), h.Get("X-Frame-Options"), h.Values("Set-Cookie"))
	}
	pp := parseHTML(t, body)
	if pp.danger != 0 {
		t.Errorf("%s: %d script-capable elements or handlers", what, pp.danger)
	}
	if pp.meta["robots"] == "" || pp.meta["twitter:card"] != "summary_large_image" || pp.meta["og:url"] != u {
		t.Errorf("%s: meta %v", what, pp.meta)
	}
	// HEAD = GET.
	req, _ := http.NewRequest(http.MethodHead, u, nil)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 || r.Header.Get("ETag") != h.Get("ETag") || r.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("%s: HEAD differs from GET: %v %v", what, r, err)
	} else {
		r.Body.Close()
	}
	return pp
}

type oembedJSON struct {
	Type, Title, URL string
	Width, Height    int
	ProviderName     string `json:"provider_name"`
}

func discoverOEmbed(t *testing.T, pp parsedPage) oembedJSON {
	t.Helper()
	href := pp.links["alternate application/json+oembed"]
	if href == "" {
		t.Fatalf("no oEmbed link: %v", pp.links)
	}
	code, h, body := get(t, href)
	var o oembedJSON
	if code != 200 || h.Get("Content-Type") != "application/json" || json.Unmarshal(body, &o) != nil {
		t.Fatalf("oEmbed %s: %d %s", href, code, body)
	}
	return o
}

// The whole flow through the binary and curl-like clients.
func TestSharePagesAndAlbums(t *testing.T) {
	lib := pageLibrary(t)
	p, cfg := startPages(t, lib)
	base := "http://" + p.addr
	sign := func(args ...string) string {
		return strings.TrimSpace(run(t, append([]string{"sign", "--config", cfg, "--base", base}, args...)...))
	}
	caption := "First line\n</p><script>alert(2)</script>"
	page := sign("--size", "page", "--title", "Dunes <b>&</b>", "--caption", caption, "trip/Landscape_1.jpg")
	meta := sign("--size", "page", "--title-from-metadata", "trip/tagged.jpg")
	flat := sign("--album", "trip")
	deep := sign("--album", filepath.Join(lib, "trip"), "--recursive") // absolute, inside the originals

	// The share page.
	pp := checkPage(t, "page", page)
	if pp.meta["og:title"] != "Dunes <b>&</b>" || pp.meta["og:description"] != caption || pp.meta["og:image:width"] != "1280" || pp.meta["og:image:height"] != "960" {
		t.Errorf("page meta %v", pp.meta)
	}
	if !strings.HasPrefix(pp.meta["og:image"], base+"/p/") {
		t.Errorf("og:image %q not absolute under public_url", pp.meta["og:image"])
	}
	for _, u := range pageImages(t, base, pp) {
		checkImage(t, u)
	}
	if w, h := checkImage(t, pp.meta["og:image"]); w != 1280 || h != 960 {
		t.Errorf("og:image is %dx%d", w, h)
	}
	o := discoverOEmbed(t, pp)
	if o.Type != "photo" || o.Title != "Dunes <b>&</b>" || o.ProviderName != "thumbd" {
		t.Errorf("oEmbed %+v", o)
	}
	if w, h := checkImage(t, o.URL); w != o.Width || h != o.Height {
		t.Errorf("oEmbed photo %dx%d, says %dx%d", w, h, o.Width, o.Height)
	}
	code, _, body := get(t, base+"/oembed?format=xml&url="+url.QueryEscape(page))
	if code != 501 {
		t.Errorf("format=xml: %d %s", code, body)
	}

	// Title and caption from the photo's own XMP, nothing else of it.
	mp := checkPage(t, "metadata page", meta)
	_, _, mbody := get(t, meta)
	if mp.meta["og:title"] != xmpTitle || mp.meta["og:description"] != "Two officers at a car.\nSecond line." {
		t.Errorf("--title-from-metadata: %v", mp.meta)
	}
	for _, secret := range []string{"Secret", "SN-123456", "51.5", "<script>"} {
		if bytes.Contains(mbody, []byte(secret)) {
			t.Errorf("metadata page contains %q", secret)
		}
	}
	for _, u := range pageImages(t, base, mp) {
		_, _, b := get(t, u)
		if bytes.Contains(b, []byte("Secret")) || bytes.Contains(b, []byte("http://ns.adobe.com/xap")) {
			t.Errorf("%s carries metadata", u)
		}
	}

	// Albums: the flat one shows trip's three photos, the recursive one four.
	gp := checkPage(t, "album", flat)
	if len(gp.imgs) != 3 || gp.meta["og:title"] != "Album · 3 photos" {
		t.Errorf("flat album: %d tiles, %v", len(gp.imgs), gp.meta)
	}
	for _, u := range pageImages(t, base, gp) {
		checkImage(t, u)
	}
	dp := checkPage(t, "recursive album", deep)
	if len(dp.imgs) != 4 {
		t.Errorf("recursive album: %d tiles", len(dp.imgs))
	}
	item := checkPage(t, "album item", flat+"/0")
	for _, u := range pageImages(t, base, item) {
		checkImage(t, u)
	}
	if w, h := checkImage(t, flat+"/1/tile_500"); w != 500 || h != 500 {
		t.Errorf("/1/tile_500: %dx%d", w, h)
	}
	if code, _, _ := get(t, flat+"/3/tile_500"); code != 404 {
		t.Errorf("index past the end: %d", code)
	}
	ao := discoverOEmbed(t, gp)
	if ao.Type != "photo" || !strings.HasPrefix(ao.URL, flat+"/") {
		t.Errorf("album oEmbed %+v", ao)
	}
	var listing struct {
		Count  int
		Photos []struct{ Name, Page string }
	}
	_, _, lb := get(t, flat+"/album.json")
	if json.Unmarshal(lb, &listing) != nil || listing.Count != 3 || len(listing.Photos) != 3 {
		t.Errorf("album.json: %s", lb)
	}
	if _, errOut, code := runCode(t, "sign", "--config", cfg, "--album", "trip/../other"); code == 0 || !strings.Contains(errOut, `".." is not allowed`) {
		t.Errorf("--album trip/../other: code %d, %s", code, errOut)
	}
	if _, errOut, code := runCode(t, "sign", "--config", cfg, "--album", "../"); code == 0 || !strings.Contains(errOut, "..") {
		t.Errorf("--album ../: code %d, %s", code, errOut)
	}

	// Snippets: json, html and markdown of a page; links --size page.
	var entries []struct {
		Hash  string
		Links []struct{ Size, URL string }
	}
	js := sign("--size", "page", "--size", "fit_720", "--format", "json", "trip/cops.jpg")
	if json.Unmarshal([]byte(js), &entries) != nil || len(entries) != 1 || len(entries[0].Links) != 2 || entries[0].Links[1].Size != "page" {
		t.Errorf("sign --format json: %s", js)
	} else if code, _, _ := get(t, entries[0].Links[1].URL); code != 200 {
		t.Errorf("json page link: %d", code)
	}
	snippet := sign("--size", "page", "--format", "html", "--title", "Cops", "trip/Landscape_1.jpg")
	sp := parseHTML(t, []byte(snippet))
	if len(sp.imgs) != 1 || !strings.Contains(snippet, `<a href="`+base+`/p/`) || sp.imgs[0]["alt"] != "Cops" {
		t.Errorf("sign --format html page: %s", snippet)
	}
	for _, u := range pageImages(t, "", sp)[1:] {
		checkImage(t, u)
	}
	md := sign("--size", "page", "--format", "markdown", "trip/cops.jpg")
	if !strings.HasPrefix(md, "[![cops]("+base+"/p/") || !strings.HasSuffix(md, ")") {
		t.Errorf("markdown %s", md)
	}
	manifest := run(t, "links", "--config", cfg, "--base", base, "--size", "page", "--size", "tile_224", "--format", "csv", "trip")
	// Placeholder columns may follow the url_ columns.
	if !strings.HasPrefix(manifest, "path,hash,width,height,taken,url_page,url_tile_224") || strings.Count(manifest, base+"/p/") != 4 {
		t.Errorf("links --size page:\n%s", manifest)
	}

	// Real clients.
	clients := unfurlClients(t, page, flat, flat+"/1")
	for _, c := range clients {
		if len(c.OGS.OGImage) == 0 || c.OGS.OGTitle == "" || c.OGS.OGImage[0].Width == "" || c.OGS.OGImage[0].Height == "" {
			t.Errorf("open-graph-scraper on %s saw %+v", c.URL, c.OGS)
			continue
		}
		w, h := checkImage(t, c.OGS.OGImage[0].URL)
		if strconv.Itoa(w) != c.OGS.OGImage[0].Width || strconv.Itoa(h) != c.OGS.OGImage[0].Height {
			t.Errorf("%s: og:image is %dx%d, the tags say %sx%s", c.URL, w, h, c.OGS.OGImage[0].Width, c.OGS.OGImage[0].Height)
		}
		e := c.Unfurl.OEmbed
		if e.Type != "photo" || e.URL == "" || e.Width == 0 {
			t.Errorf("unfurl.js on %s found no oEmbed photo: %+v", c.URL, c.Unfurl)
			continue
		}
		if w, h := checkImage(t, e.URL); w != e.Width || h != e.Height {
			t.Errorf("%s: oEmbed photo %dx%d, says %dx%d", c.URL, w, h, e.Width, e.Height)
		}
		t.Logf("%s: open-graph-scraper saw title %q, og:image %sx%s; unfurl.js found oEmbed %s %dx%d %q", c.URL, c.OGS.OGTitle, c.OGS.OGImage[0].Width, c.OGS.OGImage[0].Height, e.Type, e.Width, e.Height, e.Title)
	}
	if len(clients) > 0 && clients[0].OGS.OGTitle != "Dunes <b>&</b>" {
		t.Errorf("open-graph-scraper title %q", clients[0].OGS.OGTitle)
	}

	// Revocation, by reloading the config: the page, its images and its
	// oEmbed, then the album and its images.
	pageImg := pp.meta["og:image"]
	albumImg := flat + "/0/tile_224"
	hash := strings.Split(page, "/")[4]
	albumID := strings.Split(flat, "/")[4]
	pageConfig(t, cfg, lib, p.addr, hash+"/page", "album:"+albumID)
	waitStatus(t, page, 410)
	for _, u := range []string{pageImg, base + "/oembed?url=" + url.QueryEscape(page), flat, albumImg, flat + "/album.json", base + "/oembed?url=" + url.QueryEscape(flat)} {
		if code, _, _ := get(t, u); code != 410 {
			t.Errorf("revoked: %s answered %d", u, code)
		}
	}
	if code, _, _ := get(t, deep); code != 410 {
		t.Errorf("recursive grant of the revoked album: %d", code)
	}
	if code, _, _ := get(t, meta); code != 200 {
		t.Errorf("another photo's page after revoking one: %d", code)
	}

	// Expiry: a page that expires in seconds, its images with it. On a
	// loaded machine the link can expire between signing and the first
	// request; a longer one is signed then (each under waitStatus's 5 s).
	var short, simg string
	for _, ttl := range []string{"1s", "2s", "4s"} {
		short = sign("--size", "page", "--expires", ttl, "trip/cops.jpg")
		if code, _, sb := get(t, short); code == 200 {
			simg = parseHTML(t, sb).meta["og:image"]
			break
		}
	}
	if simg == "" {
		t.Fatalf("no short-lived page answered 200 with an og:image before it expired: %s", short)
	}
	waitStatus(t, short, 403)
	if code, _, _ := get(t, simg); code != 403 {
		t.Errorf("expired page's image: %d", code)
	}
}

// unfurled is what the node clients report (the fields the test reads).
type unfurled struct {
	URL string `json:"url"`
	OGS struct {
		OGTitle string `json:"ogTitle"`
		OGImage []struct {
			URL, Width, Height, Type string
		} `json:"ogImage"`
		Error string `json:"error"`
	} `json:"ogs"`
	Unfurl struct {
		OEmbed struct {
			Type, Title, URL string
			Width, Height    int
		} `json:"oEmbed"`
		Error string `json:"error"`
	} `json:"unfurl"`
}

const unfurlDir = "testdata/unfurl"

var (
	npmOnce sync.Once
	npmErr  error
)

// unfurlClients runs open-graph-scraper and unfurl.js (pinned in
// testdata/unfurl/package-lock.json) on urls. Without node/npm the test
// skips locally and fails under CI.
func unfurlClients(t *testing.T, urls ...string) []unfurled {
	t.Helper()
	need := func(format string, a ...any) {
		if os.Getenv("CI") != "" {
			t.Fatalf(format, a...)
		}
		t.Skipf(format, a...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		need("node not on PATH (make test installs nodejs): %v", err)
	}
	npmOnce.Do(func() {
		npm, err := exec.LookPath("npm")
		if err != nil {
			npmErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--prefer-offline")
		cmd.Dir = unfurlDir
		if out, err := cmd.CombinedOutput(); err != nil {
			npmErr = fmt.Errorf("npm ci: %w\n%s", err, out)
		}
	})
	if npmErr != nil {
		need("link-preview clients not installed: %v", npmErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"clients.mjs"}, urls...)...)
	cmd.Dir = unfurlDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node clients.mjs: %v\n%s", err, stderr.String())
	}
	var res []unfurled
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(urls) {
		t.Fatalf("clients answered %d of %d: %v\n%s", len(res), len(urls), err, out)
	}
	return res
}

// Behind the shipped nginx config: pages, their images, albums and oEmbed
// are cached (a second request is a HIT), non-canonical spellings pass
// uncached, and album answers carry their five-minute lifetime.
func TestCDNCachesPagesAndAlbums(t *testing.T) {
	lib := pageLibrary(t)
	p, cfg := startPages(t, lib)
	proxy, _ := startNginx(t, p.addr)
	base := "http://" + proxy
	sign := func(args ...string) string {
		return strings.TrimSpace(run(t, append([]string{"sign", "--config", cfg, "--base", base}, args...)...))
	}
	page := sign("--size", "page", "--title", "Cached", "trip/cops.jpg")
	album := sign("--album", "trip")
	_, _, body := get(t, strings.Replace(page, base, "http://"+p.addr, 1)) // past the cache
	var img string
	for _, im := range parseHTML(t, body).imgs {
		img = base + im["src"]
	}
	// The page's own URL is under public_url (thumbd's address here).
	oe := base + "/oembed?maxwidth=800&url=" + url.QueryEscape(strings.Replace(page, base, "http://"+p.addr, 1))
	for _, u := range []string{page, img, album, album + "/album.json", album + "/0/tile_224", oe} {
		if code, cache := viaProxy(t, u); code != 200 || cache != "MISS" {
			t.Errorf("%s: first %d %s, want 200 MISS", u, code, cache)
		}
		if code, cache := viaProxy(t, u); code != 200 || cache != "HIT" {
			t.Errorf("%s: second %d %s, want 200 HIT", u, code, cache)
		}
	}
	for _, u := range []string{page + "?x=1", page + "/", album + "/page/1", strings.Replace(album, "/a/", "/a//", 1)} {
		if _, cache := viaProxy(t, u); cache != "BYPASS" {
			t.Errorf("%s: %s, want BYPASS", u, cache)
		}
	}
	if code, _, _ := get(t, album); code != 200 {
		t.Fatal(code)
	}
	r, err := http.Get(album)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" || r.Header.Get("X-Robots-Tag") == "" {
		t.Errorf("album through nginx: Cache-Control %q, X-Robots-Tag %q", cc, r.Header.Get("X-Robots-Tag"))
	}
}
