package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/pages"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/variant"
)

// Share pages (/p/), albums (/a/) and oEmbed (/oembed): HTML for people
// and link-preview robots over the same photos, under grants a person
// minted with `thumbd sign --size page` or `--album`. A grant opens its
// page and the images the page shows, nothing else: the server signs
// each image URL under the page's own grant and expiry.

var (
	// errNotOurPage: an oEmbed url that is not one of this server's pages.
	errNotOurPage = errors.New("not one of this server's pages")
	// errOEmbedFormat: oEmbed in a format other than JSON.
	errOEmbedFormat = errors.New("oembed format not implemented")
	// errOEmbedQuery: a missing url, or a bad maxwidth/maxheight.
	errOEmbedQuery = errors.New("bad oembed parameters")
)

// The sizes a page offers: srcset over fit sizes (max_size permitting),
// src and og:image at pageMain, gallery thumbnails as squares.
var (
	pageSrcset   = []string{"fit_720", "fit_1280", "fit_1920", "fit_2560"}
	galleryThumb = []string{"tile_224", "tile_500"}
	listingSizes = []string{"tile_224", "tile_500", "fit_1280", "fit_1920"}
)

const (
	pageMain = "fit_1280"
	// PerAlbumPage is how many photos a gallery page shows.
	PerAlbumPage = 60
	// albumMaxAge bounds how long anyone may cache an album's answers: a
	// photo added to or removed from the folder shows within this time,
	// through a CDN too.
	albumMaxAge = 300
	// maxOEmbedEdge bounds maxwidth/maxheight.
	maxOEmbedEdge = 100000
)

// pageRoutes registers the page, album and oEmbed routes.
func (s *Server) pageRoutes(e *echo.Echo) {
	m := []string{http.MethodGet, http.MethodHead}
	e.Match(m, "/p/:hash/:token", s.page)
	e.Match(m, "/p/:hash/:token/:last", s.page)
	e.Match(m, "/a/:id/:token", s.album)
	e.Match(m, "/a/:id/:token/:item", s.album)
	e.Match(m, "/a/:id/:token/:item/:size", s.album)
	e.Match(m, "/oembed", s.oembed)
}

// pageRoute is the metrics route label of the page routes ("" if none).
func pageRoute(path string) string {
	switch {
	case strings.HasPrefix(path, "/p/"):
		return "page"
	case strings.HasPrefix(path, "/a/"):
		return "album"
	case path == "/oembed":
		return "oembed"
	}
	return ""
}

// pageCanonical is canonical() for the page routes: the request line is
// exactly what the parameters spell. ok is false for other routes.
func pageCanonical(c echo.Context) (canon, ok bool) {
	uri := c.Request().RequestURI
	if path := c.Path(); (strings.HasPrefix(path, "/p/") || strings.HasPrefix(path, "/a/")) && !cleanPath(uri) {
		return false, true
	}
	switch c.Path() {
	case "/p/:hash/:token":
		return uri == "/p/"+c.Param("hash")+"/"+c.Param("token"), true
	case "/p/:hash/:token/:last":
		return uri == "/p/"+c.Param("hash")+"/"+c.Param("token")+"/"+c.Param("last"), true
	case "/a/:id/:token":
		return uri == "/a/"+c.Param("id")+"/"+c.Param("token"), true
	case "/a/:id/:token/:item":
		return uri == "/a/"+c.Param("id")+"/"+c.Param("token")+"/"+c.Param("item"), true
	case "/a/:id/:token/:item/:size":
		return uri == "/a/"+c.Param("id")+"/"+c.Param("token")+"/"+c.Param("item")+"/"+c.Param("size"), true
	case "/oembed":
		// The query is the request: consumers spell it as they like, so
		// only the path must be exact.
		p, _, _ := strings.Cut(uri, "?")
		return p == "/oembed" && !strings.ContainsAny(uri, "#"), true
	}
	return false, false
}

// safePageSegment: the page vocabulary the access log may keep. Text
// segments (a title and caption) and tokens are never logged.
func safePageSegment(seg string) bool {
	switch seg {
	case "p", "a", "oembed", "page", thumburl.AlbumJSON:
		return true
	}
	// Album indexes and gallery pages; never as long as a token.
	if len(seg) <= 8 && strings.Trim(seg, "0123456789") == "" && seg != "" {
		return true
	}
	_, _, _, err := thumburl.PageImageSegment(seg)
	return err == nil
}

// base is the absolute prefix of URLs in pages (og:image, og:url):
// public_url, else this request's host.
func (s *Server) base(c echo.Context) string {
	if s.opts.PublicURL != "" {
		return strings.TrimRight(s.opts.PublicURL, "/")
	}
	return "http://" + c.Request().Host
}

var noReferrer = []string{"no-referrer"}

// pageHeaders: a page is HTML under its own policy, frameable, kept out of
// search engines unless configured otherwise.
func (s *Server) pageHeaders(c echo.Context, html bool) {
	h := c.Response().Header()
	if html {
		h.Set("Content-Security-Policy", pages.CSP())
		// A page's URL carries its token: no Referer from it, to
		// thumbd's own images or to any link a viewer follows.
		h["Referrer-Policy"] = noReferrer
	}
	if s.opts.PagesNoindex {
		h.Set("X-Robots-Tag", "noindex, nofollow, noimageindex")
	}
}

// pageGrant verifies a page token and finds the photo; revocations of the
// photo or of its pages ("<sha1>/page") apply.
func (s *Server) pageGrant(c echo.Context, hash, name, token, size string) (storage.Original, time.Time, error) {
	expires, err := s.signer.Load().VerifyGrant(hash, name, token, s.now())
	if err != nil {
		return storage.Original{}, time.Time{}, err
	}
	rv := s.revoked.Load()
	if rv.Revoked(hash, thumburl.PageName) || (size != "" && rv.Revoked(hash, size)) {
		return storage.Original{}, time.Time{}, errRevoked
	}
	orig, err := s.index.Lookup(c.Request().Context(), hash)
	if err != nil {
		return storage.Original{}, time.Time{}, err
	}
	return orig, expires, nil
}

// setCache sets Cache-Control (and Expires) for an answer valid until
// expires (zero = never), at most maxAge seconds when maxAge > 0.
func (s *Server) setCache(c echo.Context, expires time.Time, maxAge int) {
	h := c.Response().Header()
	cc := s.cacheControl(expires)
	if maxAge > 0 {
		left := maxAge
		if !expires.IsZero() {
			left = min(left, max(0, int(expires.Sub(s.now()).Seconds())))
		}
		cc = "public, max-age=" + strconv.Itoa(left)
	}
	h.Set("Cache-Control", cc)
	if !expires.IsZero() {
		h.Set("Expires", expires.UTC().Format(http.TimeFormat))
	}
}

// page serves /p/<sha1>/<token>[/<text>|/<size>].
func (s *Server) page(c echo.Context) error {
	req, err := thumburl.ParsePage(c.Param("hash"), c.Param("token"), c.Param("last"))
	if err != nil {
		return err
	}
	s.pageHeaders(c, !req.Image)
	size := ""
	if req.Image {
		size = req.Size.Name
	}
	orig, expires, err := s.pageGrant(c, req.Hash, req.SignedName(), req.Token, size)
	if err != nil {
		return err
	}
	s.setCache(c, expires, 0)
	if req.Image {
		return s.serveVariant(c, orig, req.Size, req.Format, req.Explicit)
	}
	base := s.base(c)
	textSeg, _ := req.Text.Segment()
	self := base + thumburl.PagePath(req.Hash, req.Token, textSeg)
	sg := s.signer.Load()
	img := func(size string) (string, error) {
		tok, err := sg.Sign(req.Hash, thumburl.PageImageName(size), expires)
		if err != nil {
			return "", err
		}
		return thumburl.PageImagePath(req.Hash, tok, size), nil
	}
	v, err := s.shareView(base, self, orig, req.Text, "Photo", img)
	if err != nil {
		return err
	}
	body, err := pages.RenderShare(v)
	if err != nil {
		return err
	}
	return s.writeBody(c, "text/html; charset=utf-8", body)
}

// fitSizes are names within max_size with their output dimensions, one
// per width (a small photo gives several sizes the same width; the
// smallest name wins). With unknown dimensions it is the first allowed
// name alone, width 0.
func (s *Server) fitSizes(o storage.Original, names []string) []sizedName {
	var out []sizedName
	for _, n := range names {
		sz, err := variant.ParseSize(n)
		if err != nil || !s.opts.MaxSize.Allows(sz) {
			continue
		}
		w, h := variant.OutputSize(sz, o.Width, o.Height)
		if w == 0 || h == 0 {
			return []sizedName{{n, 0, 0}}
		}
		if len(out) > 0 && out[len(out)-1].w == w {
			continue
		}
		out = append(out, sizedName{n, w, h})
	}
	return out
}

type sizedName struct {
	name string
	w, h int
}

// mainSize is what src and og:image show: the largest of sizes (in
// ascending order) whose box is no wider than pageMain's.
func mainSize(sizes []sizedName) sizedName {
	limit, _ := variant.ParseSize(pageMain)
	main := sizes[0]
	for _, sz := range sizes {
		if v, err := variant.ParseSize(sz.name); err == nil && v.Width <= limit.Width {
			main = sz
		}
	}
	return main
}

// shareView fills a share page. img mints the path of one size of the
// photo under the page's grant.
func (s *Server) shareView(base, self string, o storage.Original, t thumburl.Text, fallback string, img func(size string) (string, error)) (pages.Share, error) {
	title := t.Title
	if title == "" {
		title = fallback
	}
	v := pages.Share{
		Meta: pages.Meta{
			Title: title, Description: t.Caption, URL: self,
			OEmbed:    base + "/oembed?url=" + url.QueryEscape(self) + "&format=json",
			ImageType: "image/jpeg", ImageAlt: title, Noindex: s.opts.PagesNoindex,
		},
		Heading: t.Title, Caption: t.Caption, Alt: title,
	}
	sizes := s.fitSizes(o, pageSrcset)
	if len(sizes) == 0 {
		return pages.Share{}, errors.New("max_size allows none of the page sizes")
	}
	main := mainSize(sizes)
	for _, sz := range sizes {
		p, err := img(sz.name)
		if err != nil {
			return pages.Share{}, err
		}
		v.Srcset = append(v.Srcset, pages.Image{URL: p, Width: sz.w, Height: sz.h})
		if sz.name == main.name {
			v.Src = pages.Image{URL: p, Width: sz.w, Height: sz.h}
		}
	}
	if len(v.Srcset) < 2 {
		v.Srcset = nil
	}
	// og:image: absolute, and JPEG whatever negotiation would pick, as
	// og:image:type says.
	v.Image = pages.Image{URL: base + v.Src.URL + ".jpg", Width: main.w, Height: main.h}
	return v, nil
}

// writeBody answers with a page, listing or oEmbed body: a strong ETag of
// the bytes (304 on a match), HEAD without the body.
func (s *Server) writeBody(c echo.Context, ctype string, body []byte) error {
	sum := sha256.Sum256(body)
	tag := `"p` + hex.EncodeToString(sum[:15]) + `"`
	h := c.Response().Header()
	h.Set("ETag", tag)
	if etagMatches(c.Request().Header.Get("If-None-Match"), tag) {
		setOutcome(c, "revalidated")
		return c.NoContent(http.StatusNotModified)
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Response().WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err := c.Response().Write(body)
	return err
}

// serveVariant answers an image of a page or album as /t/ answers the
// same variant (same bytes, same ETags), after the grant was checked and
// the caching headers set.
func (s *Server) serveVariant(c echo.Context, orig storage.Original, reqSize variant.Size, f variant.Format, explicit bool) error {
	size := s.opts.MaxSize.Clamp(reqSize)
	h := c.Response().Header()
	if s.opts.Negotiate && !explicit && size.Mode != variant.Colors {
		f = negotiate(c.Request().Header.Get("Accept"))
		h.Set("Vary", "Accept")
	}
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" {
		for _, src := range s.sources() {
			if tag := s.etag(orig.Hash, size, f, src); etagMatches(inm, tag) {
				h.Set("ETag", tag)
				setOutcome(c, "revalidated")
				return c.NoContent(http.StatusNotModified)
			}
		}
	}
	img, outcome, err := s.variant(c.Request().Context(), orig, size, f)
	if outcome != "" {
		setOutcome(c, outcome)
	}
	if err != nil {
		return err
	}
	h.Set("ETag", s.etag(orig.Hash, size, f, img.Source))
	h.Set("Content-Type", img.Format.ContentType())
	h.Set("Content-Length", strconv.Itoa(len(img.Bytes)))
	c.Response().WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err = c.Response().Write(img.Bytes)
	return err
}

// photoName is what a gallery calls a photo: its file name without the
// extension, separators as spaces (the folder is never shown).
func photoName(o storage.Original) string {
	return links.Alt(links.Photo{Path: o.Path})
}

// oembedAnswer is the JSON an oEmbed consumer reads (type photo).
type oembedAnswer struct {
	Version      string `json:"version"`
	Type         string `json:"type"`
	Title        string `json:"title,omitempty"`
	ProviderName string `json:"provider_name"`
	ProviderURL  string `json:"provider_url"`
	URL          string `json:"url"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	CacheAge     int    `json:"cache_age,omitempty"`
}

// oembed serves /oembed?url=<page URL>&maxwidth=&maxheight=&format=json.
func (s *Server) oembed(c echo.Context) error {
	q := c.Request().URL.Query()
	if f := q.Get("format"); f != "" && f != "json" {
		return errOEmbedFormat
	}
	raw := q.Get("url")
	if raw == "" {
		return errOEmbedQuery
	}
	bound := func(key string) (int, error) {
		v := q.Get(key)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxOEmbedEdge {
			return 0, errOEmbedQuery
		}
		return n, nil
	}
	maxW, err := bound("maxwidth")
	if err != nil {
		return err
	}
	maxH, err := bound("maxheight")
	if err != nil {
		return err
	}
	base := s.base(c)
	rest, ok := strings.CutPrefix(raw, base+"/")
	if !ok || strings.ContainsAny(rest, "?#%") {
		return errNotOurPage
	}
	s.pageHeaders(c, false)
	segs := strings.Split(rest, "/")
	// What the page shows, and how to mint an image of it.
	var (
		orig    storage.Original
		expires time.Time
		title   string
		maxAge  int
		img     func(size string) (string, error)
	)
	switch {
	case segs[0] == "p" && (len(segs) == 3 || len(segs) == 4):
		last := ""
		if len(segs) == 4 {
			last = segs[3]
		}
		req, err := thumburl.ParsePage(segs[1], segs[2], last)
		if err != nil || req.Image {
			return errNotOurPage
		}
		if orig, expires, err = s.pageGrant(c, req.Hash, req.SignedName(), req.Token, ""); err != nil {
			return err
		}
		title = req.Text.Title
		if title == "" {
			title = "Photo"
		}
		sg := s.signer.Load()
		img = func(size string) (string, error) {
			tok, err := sg.Sign(req.Hash, thumburl.PageImageName(size), expires)
			return thumburl.PageImagePath(req.Hash, tok, size), err
		}
	case segs[0] == "a" && len(segs) >= 3 && len(segs) <= 5:
		segs = append(segs, "", "")
		req, err := thumburl.ParseAlbum(segs[1], segs[2], segs[3], segs[4])
		if err != nil || (req.Kind != thumburl.AlbumGallery && req.Kind != thumburl.AlbumItem) {
			return errNotOurPage
		}
		al, err := s.albumGrant(c, req)
		if err != nil {
			return err
		}
		expires, maxAge = al.expires, albumMaxAge
		if req.Kind == thumburl.AlbumGallery {
			if len(al.list) == 0 {
				return storage.ErrNotFound
			}
			orig, title = al.list[0], albumTitle(len(al.list))
		} else {
			if orig, err = al.item(req); err != nil {
				return err
			}
			if s.revoked.Load().Revoked(orig.Hash, thumburl.PageName) {
				return errRevoked
			}
			title = photoName(orig)
		}
		img = func(size string) (string, error) {
			return thumburl.AlbumItemPath(req.ID, req.Token, orig.Hash, size), nil
		}
	default:
		return errNotOurPage
	}
	s.setCache(c, expires, maxAge)
	sz := s.oembedSize(orig, maxW, maxH)
	p, err := img(sz.name)
	if err != nil {
		return err
	}
	a := oembedAnswer{
		Version: "1.0", Type: "photo", Title: title, ProviderName: "thumbd", ProviderURL: base + "/",
		URL: base + p + ".jpg", Width: sz.w, Height: sz.h,
	}
	if !expires.IsZero() {
		a.CacheAge = max(0, int(expires.Sub(s.now()).Seconds()))
	}
	if maxAge > 0 && (a.CacheAge == 0 || a.CacheAge > maxAge) {
		a.CacheAge = maxAge
	}
	body, err := jsonBody(a)
	if err != nil {
		return err
	}
	return s.writeBody(c, "application/json", body)
}

// oembedSize is the largest named fit size within max_size whose output
// fits maxW x maxH (0 = unbounded); below the smallest named fit size, the
// largest of the small page boxes that fits (the smallest if none does).
func (s *Server) oembedSize(o storage.Original, maxW, maxH int) sizedName {
	fits := func(w, h int) bool { return (maxW == 0 || w <= maxW) && (maxH == 0 || h <= maxH) }
	var best sizedName
	for _, sz := range variant.Sizes {
		if sz.Mode != variant.Fit || !s.opts.MaxSize.Allows(sz) {
			continue
		}
		// A larger box with the same output is the same pixels: keep the
		// smaller name.
		if w, h := variant.OutputSize(sz, o.Width, o.Height); fits(w, h) && (best.name == "" || w > best.w) {
			best = sizedName{sz.Name, w, h}
		}
	}
	if best.name != "" {
		return best
	}
	for _, n := range thumburl.SmallPageSizes {
		sz, _ := variant.ParseSize(n)
		if w, h := variant.OutputSize(sz, o.Width, o.Height); fits(w, h) || best.name == "" {
			best = sizedName{n, w, h}
		}
	}
	return best
}
