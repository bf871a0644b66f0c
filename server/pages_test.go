package server_test

// Share pages, albums and oEmbed against the real server on loopback, over
// real photographs: markup parsed with x/net/html, every image URL a page
// shows fetched and decoded, grants tampered with, expired and revoked.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/thumbd/thumbd/app"
	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/pages"
	"github.com/thumbd/thumbd/server"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
)

const publicBase = "https://img.example.test"

// hostileName is a file name that is markup if anything forgets to escape.
const hostileName = `x"><svg onload=alert(1)>&amp;.jpg`

// pageLibrary is an originals folder with albums:
//
//	trip/a-dated.jpg      (Landscape_2, dated 2019 by exiftool)
//	trip/b-dated.jpg      (test_exif_full, dated 2020, 3024x4032 upright)
//	trip/Landscape_1.jpg  (undated, 1600x1200)
//	trip/cops.jpg         (undated, 640x426)
//	trip/sub/dice.png     (only in the recursive album)
//	other/<hostileName>   (cops.jpg with a trailer: another hash)
//	Landscape_3.jpg       (top level)
type pageLibrary struct {
	dir string
	ix  *storage.Index
}

func newPageLibrary(t *testing.T) *pageLibrary {
	t.Helper()
	dir := t.TempDir()
	src := func(n string) string { return filepath.Join("..", "testdata", "photos", n) }
	for dst, from := range map[string]string{
		"trip/a-dated.jpg":     "Landscape_2.jpg",
		"trip/b-dated.jpg":     "test_exif_full.jpg",
		"trip/Landscape_1.jpg": "Landscape_1.jpg",
		"trip/cops.jpg":        "cops.jpg",
		"trip/sub/dice.png":    "dice.png",
		"Landscape_3.jpg":      "Landscape_3.jpg",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, dst)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(src(from), filepath.Join(dir, dst)); err != nil {
			t.Fatal(err)
		}
	}
	exiftool(t, "-DateTimeOriginal=2019:05:01 10:00:00", filepath.Join(dir, "trip/a-dated.jpg"))
	b, err := os.ReadFile(src("cops.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "other"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "other", hostileName), append(b, "trailer"...), 0o644); err != nil {
		t.Fatal(err)
	}
	return &pageLibrary{dir: dir, ix: probedIndex(t, dir)}
}

// probedIndex indexes with the production probe (dimensions, date taken).
func probedIndex(t *testing.T, dir string) *storage.Index {
	t.Helper()
	ix, err := storage.Open(dir, storage.Options{MaxFileSize: maxFileBytes, Probe: app.Probe(1000), Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if _, err := ix.Scan(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	return ix
}

func exiftool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("exiftool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("exiftool missing under CI (make test installs libimage-exiftool-perl)")
		}
		t.Skip("exiftool not installed (apt-get install libimage-exiftool-perl)")
	}
	out, err := exec.Command(bin, append([]string{"-q", "-overwrite_original"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("exiftool %v: %v\n%s", args, err, out)
	}
}

func (l *pageLibrary) hash(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return sha1Hex(b)
}

func pageOptions() server.Options {
	o := defaultOptions()
	o.PublicURL = publicBase
	o.PagesNoindex = true
	return o
}

// local turns an absolute URL under publicBase into one on the test server.
func local(base, u string) string {
	if rest, ok := strings.CutPrefix(u, publicBase); ok {
		return base + rest
	}
	if strings.HasPrefix(u, "/") {
		return base + u
	}
	return u
}

// doc is a parsed page: its meta tags, links and images.
type doc struct {
	meta    map[string]string // property or name -> content
	links   map[string]string // rel(+type) -> href
	imgs    []map[string]string
	anchors []string
	scripts int
	text    string
	style   []string
}

func parse(t *testing.T, body []byte) doc {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	d := doc{meta: map[string]string{}, links: map[string]string{}}
	var text strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode && (n.Parent == nil || n.Parent.Data != "style") {
			text.WriteString(n.Data)
		}
		if n.Type == html.ElementNode {
			a := map[string]string{}
			for _, at := range n.Attr {
				a[at.Key] = at.Val
			}
			switch n.Data {
			case "meta":
				if k := a["property"] + a["name"]; k != "" {
					d.meta[k] = a["content"]
				}
			case "link":
				d.links[a["rel"]+" "+a["type"]] = a["href"]
			case "img":
				d.imgs = append(d.imgs, a)
			case "a":
				d.anchors = append(d.anchors, a["href"])
			case "script", "iframe", "object", "embed", "svg", "form":
				d.scripts++
			case "style":
				if n.FirstChild != nil {
					d.style = append(d.style, n.FirstChild.Data)
				}
			}
			for _, at := range n.Attr {
				if strings.HasPrefix(at.Key, "on") {
					d.scripts++
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	d.text = text.String()
	return d
}

// srcset splits a srcset attribute into URL -> width descriptor.
func srcset(t *testing.T, v string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, c := range strings.Split(v, ",") {
		u, w, ok := strings.Cut(strings.TrimSpace(c), " ")
		n, err := strconv.Atoi(strings.TrimSuffix(w, "w"))
		if !ok || err != nil {
			t.Fatalf("srcset candidate %q", c)
		}
		out[u] = n
	}
	return out
}

// image fetches u and decodes it: 200, an image type, the given size.
func fetchImage(t *testing.T, u string, w, h int) http.Header {
	t.Helper()
	r := get(t, u)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "image/") {
		t.Fatalf("GET %s: %d %s %q", u, r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	if w > 0 && (cfg.Width != w || cfg.Height != h) {
		t.Errorf("GET %s: %dx%d, want %dx%d", u, cfg.Width, cfg.Height, w, h)
	}
	return r.Header
}

func checkPageHeaders(t *testing.T, what string, r result, noindex bool) {
	t.Helper()
	h := r.Header
	if got := h.Get("Content-Security-Policy"); got != pages.CSP() {
		t.Errorf("%s: CSP %q, want %q", what, got, pages.CSP())
	}
	for _, want := range []string{"default-src 'none'", "img-src 'self'", "frame-ancestors *"} {
		if !strings.Contains(h.Get("Content-Security-Policy"), want) {
			t.Errorf("%s: CSP lacks %q", what, want)
		}
	}
	if strings.Contains(h.Get("Content-Security-Policy"), "script-src") || strings.Contains(h.Get("Content-Security-Policy"), "unsafe") {
		t.Errorf("%s: CSP allows script or unsafe sources: %s", what, h.Get("Content-Security-Policy"))
	}
	if h.Get("X-Frame-Options") != "" {
		t.Errorf("%s: X-Frame-Options %q: pages are frameable", what, h.Get("X-Frame-Options"))
	}
	if got := h.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy %q: a page's URL (and its token) must not leak as Referer", what, got)
	}
	if got := h.Get("X-Robots-Tag"); noindex != strings.Contains(got, "noindex") {
		t.Errorf("%s: X-Robots-Tag %q (noindex %v)", what, got, noindex)
	}
	if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
}

// The share page: Open Graph and Twitter tags with absolute URLs under
// public_url, a srcset whose every candidate fetches at the width it
// claims, hostile text escaped, strict headers, HEAD = GET, 304.
func TestSharePage(t *testing.T) {
	lib := newPageLibrary(t)
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, lib.ix, sg, realTransformer(), pageOptions())
	hash := lib.hash(t, "trip/Landscape_1.jpg")
	text := thumburl.Text{Title: `Low <tide> & "sun" </title><script>alert(1)</script>`, Caption: "Line one\n<img src=x onerror=alert(2)>"}
	m := links.Minter{Signer: sg, Base: publicBase}
	page, err := m.MintPage(links.Photo{Hash: hash}, text)
	if err != nil {
		t.Fatal(err)
	}
	r := get(t, local(base, page.URL))
	if r.Status != 200 {
		t.Fatalf("page: %d %s", r.Status, r.Body)
	}
	checkPageHeaders(t, "page", r, true)
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control %q", cc)
	}
	if bytes.Contains(r.Body, []byte("<script>")) || bytes.Contains(r.Body, []byte("<img src=x")) {
		t.Errorf("hostile text reached the markup unescaped:\n%s", r.Body)
	}
	d := parse(t, r.Body)
	if d.scripts != 0 {
		t.Errorf("%d script-capable elements or handlers in the page", d.scripts)
	}
	want := map[string]string{
		"og:title": text.Title, "og:description": text.Caption, "og:type": "website", "og:url": page.URL,
		"og:image:width": "1280", "og:image:height": "960", "og:image:type": "image/jpeg", "og:image:alt": text.Title,
		"twitter:card": "summary_large_image", "robots": "noindex, nofollow, noimageindex",
	}
	for k, v := range want {
		if d.meta[k] != v {
			t.Errorf("meta %s = %q, want %q", k, d.meta[k], v)
		}
	}
	if !strings.Contains(d.text, text.Title) || !strings.Contains(d.text, "<img src=x onerror=alert(2)>") {
		t.Errorf("title/caption not shown as text: %q", d.text)
	}
	og := d.meta["og:image"]
	if !strings.HasPrefix(og, publicBase+"/p/"+hash+"/") || !strings.HasSuffix(og, "/fit_1280.jpg") {
		t.Errorf("og:image %q: want an absolute fit_1280.jpg page image under public_url", og)
	}
	fetchImage(t, local(base, og), 1280, 960)
	if d.meta["twitter:image"] != og {
		t.Errorf("twitter:image %q != og:image", d.meta["twitter:image"])
	}
	// The style the CSP allows by hash is exactly the one inline.
	if len(d.style) != 1 || !strings.Contains(pages.CSP(), "'sha256-") {
		t.Errorf("want one inline stylesheet named by hash; got %d", len(d.style))
	}

	if len(d.imgs) != 1 {
		t.Fatalf("%d images on the page", len(d.imgs))
	}
	img := d.imgs[0]
	if img["width"] != "1280" || img["height"] != "960" || img["alt"] != text.Title {
		t.Errorf("img attributes %v", img)
	}
	set := srcset(t, img["srcset"])
	wantW := map[string][2]int{"fit_720": {720, 540}, "fit_1280": {1280, 960}, "fit_1920": {1600, 1200}}
	if len(set) != len(wantW) {
		t.Errorf("srcset %v: want %d candidates (fit_2560 adds nothing to a 1600 px photo)", set, len(wantW))
	}
	for u, w := range set {
		size := u[strings.LastIndex(u, "/")+1:]
		if !strings.HasPrefix(u, "/p/"+hash+"/") || wantW[size][0] != w {
			t.Errorf("srcset candidate %s %dw", u, w)
			continue
		}
		fetchImage(t, base+u, wantW[size][0], wantW[size][1])
		// The image is the page's, under the page's grant: its token is
		// not the page's and opens no /t/ URL.
		tok := strings.Split(u, "/")[3]
		if tr := get(t, base+thumburl.Path(hash, tok, size)); tr.Status != 403 {
			t.Errorf("page image token on /t/: %d", tr.Status)
		}
	}
	if _, ok := set[img["src"]]; !ok {
		t.Errorf("src %s not among the srcset", img["src"])
	}
	// oEmbed discovery.
	oe := d.links["alternate application/json+oembed"]
	if u, err := url.Parse(oe); err != nil || u.Query().Get("url") != page.URL || !strings.HasPrefix(oe, publicBase+"/oembed?") {
		t.Errorf("oEmbed link %q", oe)
	}

	// HEAD is GET without the body; a revalidation is a 304.
	hr := do(t, http.MethodHead, local(base, page.URL), nil)
	if hr.Status != 200 || len(hr.Body) != 0 || hr.Header.Get("ETag") != r.Header.Get("ETag") || hr.Header.Get("Content-Length") != strconv.Itoa(len(r.Body)) {
		t.Errorf("HEAD: %d, %d bytes, ETag %q vs %q, length %q", hr.Status, len(hr.Body), hr.Header.Get("ETag"), r.Header.Get("ETag"), hr.Header.Get("Content-Length"))
	}
	if nr := do(t, http.MethodGet, local(base, page.URL), http.Header{"If-None-Match": {r.Header.Get("ETag")}}); nr.Status != 304 {
		t.Errorf("If-None-Match: %d", nr.Status)
	}
}

// Every way to open a page without its grant, or to use a page grant for
// something else, is refused; hostile or non-canonical spellings are 400.
func TestSharePageGrants(t *testing.T) {
	lib := newPageLibrary(t)
	sg := newSigner(t, []string{keyA}, true) // public mode on: it must not open pages
	_, base := startServer(t, lib.ix, sg, realTransformer(), pageOptions())
	hash := lib.hash(t, "trip/cops.jpg")
	other := lib.hash(t, "trip/Landscape_1.jpg")
	m := links.Minter{Signer: sg}
	titled, _ := m.MintPage(links.Photo{Hash: hash}, thumburl.Text{Title: "Real title"})
	plain, _ := m.MintPage(links.Photo{Hash: hash}, thumburl.Text{})
	tok := strings.Split(plain.URL, "/")[3]
	ttok := strings.Split(titled.URL, "/")[3]
	forged, _ := thumburl.Text{Title: "Forged title"}.Segment()
	imgTok := sign(t, sg, hash, thumburl.PageImageName("fit_720"), time.Time{})
	sizeTok := sign(t, sg, hash, "fit_720", time.Time{})
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"plain page", plain.URL, 200},
		{"titled page", titled.URL, 200},
		{"title swapped, same token", thumburl.PagePath(hash, ttok, forged), 403},
		{"title added to an untitled grant", thumburl.PagePath(hash, tok, forged), 403},
		{"title dropped", thumburl.PagePath(hash, ttok, ""), 403},
		{"another photo", thumburl.PagePath(other, tok, ""), 403},
		{"public token", thumburl.PagePath(hash, signing.PublicToken, ""), 403},
		{"public token on a page image", thumburl.PageImagePath(hash, signing.PublicToken, "fit_720"), 403},
		{"size token as page", thumburl.PagePath(hash, sizeTok, ""), 403},
		{"size token as page image", thumburl.PageImagePath(hash, sizeTok, "fit_720"), 403},
		{"page token as page image", thumburl.PageImagePath(hash, tok, "fit_720"), 403},
		{"page token on /t/", thumburl.Path(hash, tok, "fit_720"), 403},
		{"page image token, its size", thumburl.PageImagePath(hash, imgTok, "fit_720"), 200},
		{"page image token, with extension", thumburl.PageImagePath(hash, imgTok, "fit_720.webp"), 200},
		{"page image token, other size", thumburl.PageImagePath(hash, imgTok, "fit_1280"), 403},
		{"page image token on /t/", thumburl.Path(hash, imgTok, "fit_720"), 403},
		{"page image token as page", thumburl.PagePath(hash, imgTok, ""), 403},
		{"original through a page", thumburl.PageImagePath(hash, imgTok, "original"), 400},
		{"custom size through a page", thumburl.PageImagePath(hash, imgTok, "fit_100x100"), 400},
		{"padded text", thumburl.PagePath(hash, ttok, strings.TrimSuffix(titled.URL[strings.LastIndex(titled.URL, "/")+1:], "")+"="), 400},
		{"text with a slash", "/p/" + hash + "/" + ttok + "/~a/b", 400},
		{"uppercase hash", thumburl.PagePath(strings.ToUpper(hash), tok, ""), 400},
		{"unknown photo", thumburl.PagePath("0123456789abcdef0123456789abcdef01234567", sign(t, sg, "0123456789abcdef0123456789abcdef01234567", "page", time.Time{}), ""), 404},
	} {
		r := get(t, base+tc.path)
		if r.Status != tc.status {
			t.Errorf("%s: GET %s = %d %q, want %d", tc.name, tc.path, r.Status, r.Body, tc.status)
		}
	}
}

// Expiry: the page and every image it shows expire together; caching
// stops at the expiry; after it, 403.
func TestSharePageExpiry(t *testing.T) {
	lib := newPageLibrary(t)
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, lib.ix, sg, realTransformer(), pageOptions())
	hash := lib.hash(t, "trip/Landscape_1.jpg")
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	page, _ := links.Minter{Signer: sg, Expires: exp}.MintPage(links.Photo{Hash: hash}, thumburl.Text{})
	r := get(t, local(base, page.URL))
	if r.Status != 200 {
		t.Fatalf("%d", r.Status)
	}
	age, err := strconv.Atoi(strings.TrimPrefix(r.Header.Get("Cache-Control"), "public, max-age="))
	if err != nil || age > 3600 || age < 3000 {
		t.Errorf("Cache-Control %q for a link expiring in an hour", r.Header.Get("Cache-Control"))
	}
	suffix := "." + strconv.FormatInt(exp.Unix(), 36)
	d := parse(t, r.Body)
	for u := range srcset(t, d.imgs[0]["srcset"]) {
		if tok := strings.Split(u, "/")[3]; !strings.HasSuffix(tok, suffix) {
			t.Errorf("page image %s does not expire with the page (%s)", u, suffix)
		}
	}
	old, _ := links.Minter{Signer: sg, Expires: time.Now().Add(-time.Minute)}.MintPage(links.Photo{Hash: hash}, thumburl.Text{})
	if r := get(t, base+old.URL); r.Status != 403 || !strings.Contains(string(r.Body), "expired") {
		t.Errorf("expired page: %d %q", r.Status, r.Body)
	}
	oldImg := thumburl.PageImagePath(hash, sign(t, sg, hash, thumburl.PageImageName("fit_720"), time.Now().Add(-time.Minute)), "fit_720")
	if r := get(t, base+oldImg); r.Status != 403 {
		t.Errorf("expired page image: %d", r.Status)
	}
	if r := get(t, base+"/oembed?url="+url.QueryEscape(publicBase+old.URL)); r.Status != 403 {
		t.Errorf("oEmbed of an expired page: %d", r.Status)
	}

	// Albums: an expiring grant caches for the shorter of five minutes and
	// its time left; an expired one opens nothing of the album.
	soon := albumURL(t, sg, "trip", false, time.Now().Add(90*time.Second).Truncate(time.Second))
	r = get(t, base+soon.URL)
	age, err = strconv.Atoi(strings.TrimPrefix(r.Header.Get("Cache-Control"), "public, max-age="))
	if r.Status != 200 || err != nil || age > 90 || age < 30 || r.Header.Get("Expires") == "" {
		t.Errorf("album expiring in 90s: %d, Cache-Control %q, Expires %q", r.Status, r.Header.Get("Cache-Control"), r.Header.Get("Expires"))
	}
	gone := albumURL(t, sg, "trip", true, time.Now().Add(-time.Second))
	for _, u := range []string{gone.URL, gone.Listing, gone.URL + "/0", gone.URL + "/0/tile_224", "/oembed?url=" + url.QueryEscape(publicBase+gone.URL)} {
		if r := get(t, base+u); r.Status != 403 || !strings.Contains(string(r.Body), "expired") {
			t.Errorf("expired album %s: %d %q", u, r.Status, r.Body)
		}
	}
}

// albumURL mints an album of folder.
func albumURL(t *testing.T, sg *signing.Signer, folder string, recursive bool, exp time.Time) links.Album {
	t.Helper()
	a, err := links.Minter{Signer: sg, Expires: exp}.MintAlbum(folder, recursive)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type listingJSON struct {
	Album     string `json:"album"`
	Recursive bool   `json:"recursive"`
	Count     int    `json:"count"`
	Photos    []struct {
		Index  int               `json:"index"`
		Hash   string            `json:"hash"`
		Name   string            `json:"name"`
		Width  int               `json:"width"`
		Height int               `json:"height"`
		Page   string            `json:"page"`
		Images map[string]string `json:"images"`
	} `json:"photos"`
}

func listingOf(t *testing.T, base string, a links.Album) listingJSON {
	t.Helper()
	r := get(t, local(base, a.Listing))
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("listing: %d %s %q", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	var l listingJSON
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// Albums: the folder's photos in date-then-name order, subfolders only
// when the grant says so, each item a share page and its images; nothing
// outside the folder, whatever the URL names.
func TestAlbum(t *testing.T) {
	lib := newPageLibrary(t)
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, lib.ix, sg, realTransformer(), pageOptions())
	flat := albumURL(t, sg, "trip", false, time.Time{})
	deep := albumURL(t, sg, "trip", true, time.Time{})
	if flat.ID != deep.ID || flat.URL == deep.URL || strings.Contains(flat.URL, "trip") {
		t.Fatalf("album ids: %+v %+v", flat, deep)
	}
	order := []string{"trip/a-dated.jpg", "trip/b-dated.jpg", "trip/Landscape_1.jpg", "trip/cops.jpg"}
	l := listingOf(t, base, flat)
	if l.Count != 4 || len(l.Photos) != 4 || l.Recursive {
		t.Fatalf("flat listing: %+v", l)
	}
	for i, rel := range order {
		if p := l.Photos[i]; p.Index != i || p.Hash != lib.hash(t, rel) || p.Name != filepath.Base(rel) {
			t.Errorf("photo %d = %s %s, want %s (date taken, then name)", i, p.Name, p.Hash, rel)
		}
	}
	if l.Photos[1].Width != 3024 || l.Photos[1].Height != 4032 {
		t.Errorf("dimensions %dx%d (upright)", l.Photos[1].Width, l.Photos[1].Height)
	}
	dl := listingOf(t, base, deep)
	if dl.Count != 5 || !dl.Recursive || dl.Photos[4].Hash != lib.hash(t, "trip/sub/dice.png") {
		t.Errorf("recursive listing: %+v", dl)
	}

	// The gallery: one tile per photo linking to its share page.
	r := get(t, local(base, flat.URL))
	if r.Status != 200 {
		t.Fatalf("gallery %d", r.Status)
	}
	checkPageHeaders(t, "gallery", r, true)
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("gallery Cache-Control %q", cc)
	}
	d := parse(t, r.Body)
	if len(d.imgs) != 4 || d.scripts != 0 {
		t.Fatalf("gallery: %d images, %d scripts", len(d.imgs), d.scripts)
	}
	if d.meta["og:title"] != "Album · 4 photos" || !strings.HasPrefix(d.meta["og:image"], publicBase+"/a/"+flat.ID+"/") {
		t.Errorf("gallery meta %v", d.meta)
	}
	fetchImage(t, local(base, d.meta["og:image"]), 1280, 960) // the cover: a-dated (Landscape_2, 1600x1200) at fit_1280
	for i, im := range d.imgs {
		for u, w := range srcset(t, im["srcset"]) {
			fetchImage(t, base+u, w, w)
		}
		if d.anchors[i] != thumburl.AlbumItemPath(flat.ID, strings.Split(flat.URL, "/")[3], l.Photos[i].Hash, "") {
			t.Errorf("tile %d links to %s", i, d.anchors[i])
		}
	}

	// An item's share page, by hash and by index.
	tok := strings.Split(flat.URL, "/")[3]
	for _, item := range []string{l.Photos[2].Hash, "2"} {
		r := get(t, base+thumburl.AlbumItemPath(flat.ID, tok, item, ""))
		if r.Status != 200 {
			t.Fatalf("item %s: %d", item, r.Status)
		}
		checkPageHeaders(t, "album item", r, true)
		d := parse(t, r.Body)
		if d.meta["og:title"] != "Landscape 1" || d.meta["og:image:width"] != "1280" {
			t.Errorf("item %s meta %v", item, d.meta)
		}
		for u, w := range srcset(t, d.imgs[0]["srcset"]) {
			if !strings.HasPrefix(u, "/a/"+flat.ID+"/"+tok+"/"+l.Photos[2].Hash+"/") {
				t.Errorf("item image %s is not under the album grant", u)
			}
			fetchImage(t, base+u, w, w*3/4)
		}
		if len(d.anchors) != 1 || d.anchors[0] != thumburl.AlbumPath(flat.ID, tok) {
			t.Errorf("back link %v", d.anchors)
		}
	}
	fetchImage(t, base+thumburl.AlbumItemPath(flat.ID, tok, "3", "tile_224"), 224, 224)

	// Confinement.
	dtok := strings.Split(deep.URL, "/")[3]
	top := lib.hash(t, "Landscape_3.jpg")
	dice := lib.hash(t, "trip/sub/dice.png")
	otherAlbum := albumURL(t, sg, "other", false, time.Time{})
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"index out of range", thumburl.AlbumItemPath(flat.ID, tok, "4", ""), 404},
		{"image out of range", thumburl.AlbumItemPath(flat.ID, tok, "4", "tile_224"), 404},
		{"far out of range", thumburl.AlbumItemPath(flat.ID, tok, "99999999", "tile_224"), 404},
		{"photo outside the folder", thumburl.AlbumItemPath(flat.ID, tok, top, "tile_224"), 404},
		{"subfolder photo, flat grant", thumburl.AlbumItemPath(flat.ID, tok, dice, "tile_224"), 404},
		{"subfolder photo, recursive grant", thumburl.AlbumItemPath(deep.ID, dtok, dice, "tile_224"), 200},
		{"parent folder photo, recursive grant", thumburl.AlbumItemPath(deep.ID, dtok, top, "tile_224"), 404},
		{"token of another album", thumburl.AlbumPath(otherAlbum.ID, tok), 403},
		{"this token, another album id", thumburl.AlbumItemPath(otherAlbum.ID, tok, "0", "tile_224"), 403},
		{"original through an album", thumburl.AlbumItemPath(flat.ID, tok, "0", "original"), 400},
		{"custom size through an album", thumburl.AlbumItemPath(flat.ID, tok, "0", "tile_77"), 400},
		{"dot dot", "/a/" + flat.ID + "/" + tok + "/../0", 400},
		{"page 1 spelled out", thumburl.AlbumItemPath(flat.ID, tok, "page", "1"), 400},
		{"page past the end", thumburl.AlbumItemPath(flat.ID, tok, "page", "2"), 404},
		{"public token", thumburl.AlbumPath(flat.ID, signing.PublicToken), 403},
		{"a page token as album token", thumburl.AlbumPath(flat.ID, sign(t, sg, flat.ID, "page", time.Time{})), 403},
		{"unknown folder id", thumburl.AlbumPath("00112233445566778899aabb", sign(t, sg, "00112233445566778899aabb", "album", time.Time{})), 404},
	} {
		if r := get(t, base+tc.path); r.Status != tc.status {
			t.Errorf("%s: GET %s = %d %q, want %d", tc.name, tc.path, r.Status, r.Body, tc.status)
		}
	}

	// A hostile file name is text everywhere it is shown.
	r = get(t, local(base, otherAlbum.URL))
	if r.Status != 200 || bytes.Contains(r.Body, []byte("<svg")) {
		t.Errorf("hostile name gallery: %d\n%s", r.Status, r.Body)
	}
	if d := parse(t, r.Body); len(d.imgs) != 1 || d.imgs[0]["alt"] != `x"><svg onload=alert(1)>&amp;` || d.scripts != 0 {
		t.Errorf("hostile name alt %q, %d scripts", d.imgs[0]["alt"], d.scripts)
	}
	lr := get(t, local(base, otherAlbum.Listing))
	if bytes.Contains(lr.Body, []byte("<svg")) || !bytes.Contains(lr.Body, []byte(`\u003csvg`)) {
		t.Errorf("listing does not escape the name: %s", lr.Body)
	}
	if l := listingOf(t, base, otherAlbum); l.Photos[0].Name != hostileName {
		t.Errorf("listing name %q", l.Photos[0].Name)
	}
	ir := get(t, local(base, otherAlbum.URL)+"/0")
	if ir.Status != 200 || bytes.Contains(ir.Body, []byte("<svg")) {
		t.Errorf("hostile item page: %d", ir.Status)
	}
}

// Photos added to the folder appear, removed ones disappear; a folder
// emptied of photos is gone (404); the gallery pages.
func TestAlbumFollowsTheFolder(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "many"), 0o755)
	b, err := os.ReadFile(filepath.Join("..", "testdata", "photos", "cops.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	// One more than a gallery page: distinct files (a trailer each), one photo.
	for i := 0; i <= server.PerAlbumPage; i++ {
		name := filepath.Join(dir, "many", fmt.Sprintf("p%03d.jpg", i))
		if err := os.WriteFile(name, append(append([]byte{}, b...), fmt.Sprint(i)...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ix := probedIndex(t, dir)
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, ix, sg, realTransformer(), pageOptions())
	a := albumURL(t, sg, "many", false, time.Time{})
	tok := strings.Split(a.URL, "/")[3]
	count := func() int { return listingOf(t, base, a).Count }
	if n := count(); n != server.PerAlbumPage+1 {
		t.Fatalf("count %d", n)
	}
	d := parse(t, get(t, base+a.URL).Body)
	if len(d.imgs) != server.PerAlbumPage || !contains(d.anchors, thumburl.AlbumGalleryPath(a.ID, tok, 2)) {
		t.Errorf("page 1: %d tiles, links %v", len(d.imgs), d.anchors)
	}
	d2 := parse(t, get(t, base+thumburl.AlbumGalleryPath(a.ID, tok, 2)).Body)
	if len(d2.imgs) != 1 || !contains(d2.anchors, a.URL) || d2.meta["og:url"] != publicBase+thumburl.AlbumGalleryPath(a.ID, tok, 2) {
		t.Errorf("page 2: %d tiles, links %v", len(d2.imgs), d2.anchors)
	}
	// The last photo's page links back to page 2.
	last := parse(t, get(t, base+thumburl.AlbumItemPath(a.ID, tok, strconv.Itoa(server.PerAlbumPage), "")).Body)
	if !contains(last.anchors, thumburl.AlbumGalleryPath(a.ID, tok, 2)) {
		t.Errorf("last item back link %v", last.anchors)
	}

	extra := filepath.Join(dir, "many", "zz-new.jpg")
	os.WriteFile(extra, append(append([]byte{}, b...), "new"...), 0o644)
	if _, err := ix.Scan(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != server.PerAlbumPage+2 {
		t.Errorf("after adding: %d", n)
	}
	for i := 0; i <= server.PerAlbumPage; i++ {
		os.Remove(filepath.Join(dir, "many", fmt.Sprintf("p%03d.jpg", i)))
	}
	ix.Scan(context.Background(), 0)
	if n := count(); n != 1 {
		t.Errorf("after removing: %d", n)
	}
	os.Remove(extra)
	ix.Scan(context.Background(), 0)
	if r := get(t, base+a.URL); r.Status != 404 {
		t.Errorf("emptied folder: %d", r.Status)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// oEmbed: the largest named fit size within the bounds, for pages and
// albums; 404 for what is not our page, 403 for a bad token, 501 for XML.
func TestOEmbed(t *testing.T) {
	lib := newPageLibrary(t)
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, lib.ix, sg, realTransformer(), pageOptions())
	hash := lib.hash(t, "trip/Landscape_1.jpg")
	m := links.Minter{Signer: sg, Base: publicBase}
	page, _ := m.MintPage(links.Photo{Hash: hash}, thumburl.Text{Title: "Dunes <&>"})
	al, _ := m.MintAlbum("trip", false)
	oembed := func(q url.Values) result {
		return get(t, base+"/oembed?"+q.Encode())
	}
	type answer struct {
		Version, Type, Title, URL   string
		ProviderName                string `json:"provider_name"`
		Width, Height, CacheAgeSecs int
	}
	for _, tc := range []struct {
		u            string
		maxw, maxh   string
		w, h         int
		title, photo string
	}{
		{page.URL, "", "", 1600, 1200, "Dunes <&>", hash},
		{page.URL, "1000", "", 720, 540, "Dunes <&>", hash},
		{page.URL, "1300", "1000", 1280, 960, "Dunes <&>", hash},
		{page.URL, "1600", "900", 1200, 900, "Dunes <&>", hash},
		{page.URL, "600", "", 480, 360, "Dunes <&>", hash},    // below fit_720: the small boxes
		{page.URL, "330", "300", 320, 240, "Dunes <&>", hash}, // (fit_320x320)
		{page.URL, "100", "100", 160, 120, "Dunes <&>", hash}, // nothing fits: the smallest
		{al.URL, "800", "", 720, 540, "Album · 4 photos", lib.hash(t, "trip/a-dated.jpg")},
		{al.URL + "/1", "", "", 3024, 4032, "b dated", lib.hash(t, "trip/b-dated.jpg")},
	} {
		q := url.Values{"url": {tc.u}, "format": {"json"}}
		if tc.maxw != "" {
			q.Set("maxwidth", tc.maxw)
		}
		if tc.maxh != "" {
			q.Set("maxheight", tc.maxh)
		}
		r := oembed(q)
		if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("oembed %v: %d %q", q, r.Status, r.Body)
		}
		var a answer
		if err := json.Unmarshal(r.Body, &a); err != nil {
			t.Fatal(err)
		}
		if a.Version != "1.0" || a.Type != "photo" || a.ProviderName != "thumbd" || a.Title != tc.title || a.Width != tc.w || a.Height != tc.h {
			t.Errorf("oembed %v = %+v", q, a)
		}
		if !strings.HasPrefix(a.URL, publicBase+"/") || !strings.Contains(a.URL, tc.photo) {
			t.Errorf("oembed url %q", a.URL)
		}
		fetchImage(t, local(base, a.URL), tc.w, tc.h)
		if r.Header.Get("X-Robots-Tag") == "" {
			t.Error("oembed without X-Robots-Tag")
		}
	}
	if r := oembed(url.Values{"url": {page.URL}}); r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("page oEmbed Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	if r := oembed(url.Values{"url": {al.URL}}); r.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("album oEmbed Cache-Control %q", r.Header.Get("Cache-Control"))
	}

	tok := strings.Split(page.URL, "/")[5]
	imgTok := sign(t, sg, hash, "fit_720", time.Time{})
	for _, tc := range []struct {
		name   string
		q      url.Values
		status int
	}{
		{"xml", url.Values{"url": {page.URL}, "format": {"xml"}}, 501},
		{"no url", url.Values{}, 400},
		{"bad maxwidth", url.Values{"url": {page.URL}, "maxwidth": {"-5"}}, 400},
		{"huge maxwidth", url.Values{"url": {page.URL}, "maxwidth": {"1000000"}}, 400},
		{"another host", url.Values{"url": {strings.Replace(page.URL, "img.example.test", "evil.example", 1)}}, 404},
		{"http instead of https", url.Values{"url": {strings.Replace(page.URL, "https:", "http:", 1)}}, 404},
		{"an image URL", url.Values{"url": {publicBase + thumburl.Path(hash, imgTok, "fit_720")}}, 404},
		{"a page image URL", url.Values{"url": {publicBase + thumburl.PageImagePath(hash, sign(t, sg, hash, "page:fit_720", time.Time{}), "fit_720")}}, 404},
		{"an album listing", url.Values{"url": {al.Listing}}, 404},
		{"escaped path", url.Values{"url": {strings.Replace(page.URL, "/p/", "/%70/", 1)}}, 404},
		{"page with a query", url.Values{"url": {page.URL + "?x=1"}}, 404},
		{"bad token", url.Values{"url": {strings.Replace(page.URL, tok, sign(t, sg, hash, "fit_720", time.Time{}), 1)}}, 403},
		{"untitled page with this title's token", url.Values{"url": {publicBase + thumburl.PagePath(hash, tok, "")}}, 403},
		{"album out of range", url.Values{"url": {al.URL + "/9"}}, 404},
	} {
		if r := oembed(tc.q); r.Status != tc.status {
			t.Errorf("%s: %d %q, want %d", tc.name, r.Status, r.Body, tc.status)
		}
	}
}

// Revocation: <sha1>/page revokes a photo's pages, their images and
// oEmbed, not its /t/ links; album:<id> revokes everything of the album.
func TestPageAndAlbumRevocation(t *testing.T) {
	lib := newPageLibrary(t)
	sg := newSigner(t, []string{keyA}, false)
	srv, base := startServer(t, lib.ix, sg, realTransformer(), pageOptions())
	hash := lib.hash(t, "trip/Landscape_1.jpg")
	m := links.Minter{Signer: sg, Base: publicBase}
	page, _ := m.MintPage(links.Photo{Hash: hash}, thumburl.Text{})
	al, _ := m.MintAlbum("trip", false)
	r := get(t, local(base, page.URL))
	pageImg := local(base, parse(t, r.Body).meta["og:image"])
	tURL := base + thumburl.Path(hash, sign(t, sg, hash, "fit_720", time.Time{}), "fit_720")
	albumImg := local(base, al.URL) + "/" + hash + "/tile_224"
	oe := func(u string) string { return base + "/oembed?url=" + url.QueryEscape(u) }
	all := []string{local(base, page.URL), pageImg, oe(page.URL), tURL, local(base, al.URL), albumImg, local(base, al.Listing), oe(al.URL)}
	expect := func(when string, want ...int) {
		t.Helper()
		for i, u := range all {
			if r := get(t, u); r.Status != want[i] {
				t.Errorf("%s: GET %s = %d, want %d", when, u, r.Status, want[i])
			}
		}
	}
	expect("before", 200, 200, 200, 200, 200, 200, 200, 200)
	set := func(entries ...string) {
		rv, err := thumburl.ParseRevocations(entries)
		if err != nil {
			t.Fatal(err)
		}
		srv.SetRevocations(rv)
	}
	set(hash + "/page")
	expect("page revoked", 410, 410, 410, 200, 200, 200, 200, 200)
	set("album:" + al.ID)
	expect("album revoked", 200, 200, 200, 200, 410, 410, 410, 410)
	set(hash)
	expect("photo revoked", 410, 410, 410, 410, 200, 410, 200, 200)
	set(hash + "/fit_1280")
	expect("one size revoked", 200, 410, 200, 200, 200, 200, 200, 200)
	set()
	expect("after", 200, 200, 200, 200, 200, 200, 200, 200)
}

// Logs keep the route and photo, never a token, a title or a caption;
// non-canonical spellings of page URLs are never stored by a cache.
func TestPagesLogAndCanonical(t *testing.T) {
	lib := newPageLibrary(t)
	sg := newSigner(t, []string{keyA}, false)
	var logs logBuffer
	_, base := startServerLog(t, lib.ix, sg, realTransformer(), pageOptions(), slog.New(slog.NewJSONHandler(&logs, nil)))
	hash := lib.hash(t, "trip/cops.jpg")
	m := links.Minter{Signer: sg}
	page, _ := m.MintPage(links.Photo{Hash: hash}, thumburl.Text{Title: "SecretTitleWord", Caption: "SecretCaption"})
	al, _ := m.MintAlbum("trip", true)
	parts := strings.Split(page.URL, "/")
	ptok, textSeg := parts[3], parts[4]
	atok := strings.Split(al.URL, "/")[3]
	urls := []string{page.URL, al.URL, al.URL + "/0", al.URL + "/0/tile_224", al.Listing, al.URL + "/page/9",
		"/oembed?url=" + url.QueryEscape(publicBase+page.URL)}
	for _, u := range urls {
		get(t, base+u)
	}
	for _, u := range []string{page.URL + "/", "/p//" + hash + "/" + ptok, page.URL + "?utm=1", "/a/" + al.ID + "/" + atok + "/./0", al.URL + "/%30", "/oembed/?url=x"} {
		r := get(t, base+u)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("non-canonical %s: %d Cache-Control %q", u, r.Status, r.Header.Get("Cache-Control"))
		}
	}
	if r := get(t, base+page.URL); r.Header.Get("Cache-Control") == "no-store" {
		t.Error("the canonical page is no-store")
	}
	waitUntil(t, func() bool { return strings.Count(logs.String(), `"msg":"request"`) >= len(urls)+7 })
	out := logs.String()
	for _, secret := range []string{ptok, atok, textSeg, "SecretTitleWord", "SecretCaption", url.QueryEscape(ptok)} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`"path":"/p/` + hash + `/…/…"`, `"path":"/a/` + al.ID + `/…/0/tile_224"`, `"path":"/a/` + al.ID + `/…/album.json"`, `"path":"/oembed"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
