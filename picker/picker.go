// Package picker is the link picker page: find a photo by folder, date
// taken or name, choose sizes, a format and an expiry, and copy the URL,
// HTML or Markdown. It mints links, so it is served on the admin listener
// only (optionally behind basic auth). The snippets come from package
// links, the same code `thumbd sign --format ...` prints with.
package picker

import (
	"crypto/subtle"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
)

//go:embed templates/*.html
var files embed.FS

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{
	// has reports whether the submitted form had key=value, so the form
	// shows what was chosen.
	"has": func(q url.Values, key, value string) bool {
		for _, v := range q[key] {
			if v == value {
				return true
			}
		}
		return false
	},
}).ParseFS(files, "templates/*.html"))

// PerPage is how many photos a results page shows.
const PerPage = 48

// Source is the catalogue: a version that changes when the photos do, and
// the photos themselves.
type Source interface {
	Version() int64
	All() []storage.Original
}

// Options configure the page.
type Options struct {
	PublicURL string                 // base of minted links, e.g. https://img.example.com
	Signer    func() *signing.Signer // current keys (they rotate)
	User      string                 // basic auth; empty = none
	Password  string
	Now       func() time.Time
}

// Page serves /links/.
type Page struct {
	src  Source
	opts Options

	mu      sync.Mutex
	version int64
	view    *view
}

// view is the catalogue sorted for browsing, rebuilt when the index changes.
type view struct {
	photos  []storage.Original // newest taken first, then by path
	byHash  map[string]int
	folders []count
	months  []count
	// Per photo, what a search compares, computed once per index version
	// (a name search over 1M photos lowercased every path on every query:
	// 323 ms and 1M allocations per page).
	lower, folder, month []string
}

type count struct {
	Name string
	N    int
}

// New returns the page handler.
func New(src Source, opts Options) *Page {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Page{src: src, opts: opts, version: -1}
}

func (p *Page) current() *view {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v := p.src.Version(); v != p.version || p.view == nil {
		p.view, p.version = build(p.src.All()), v
	}
	return p.view
}

func build(all []storage.Original) *view {
	v := &view{photos: all, byHash: make(map[string]int, len(all))}
	sort.SliceStable(v.photos, func(i, j int) bool {
		a, b := v.photos[i], v.photos[j]
		if !a.Taken.Equal(b.Taken) {
			return a.Taken.After(b.Taken)
		}
		return a.Path < b.Path
	})
	folders, months := map[string]int{}, map[string]int{}
	n := len(v.photos)
	v.lower, v.folder, v.month = make([]string, n), make([]string, n), make([]string, n)
	for i, o := range v.photos {
		v.byHash[o.Hash] = i
		v.lower[i], v.folder[i] = strings.ToLower(o.Path), folderOf(o.Path)
		folders[v.folder[i]]++
		if !o.Taken.IsZero() {
			v.month[i] = o.Taken.Format("2006-01")
			months[v.month[i]]++
		}
	}
	for f, n := range folders {
		v.folders = append(v.folders, count{f, n})
	}
	sort.Slice(v.folders, func(i, j int) bool { return v.folders[i].Name < v.folders[j].Name })
	for m, n := range months {
		v.months = append(v.months, count{m, n})
	}
	sort.Slice(v.months, func(i, j int) bool { return v.months[i].Name > v.months[j].Name })
	return v
}

func folderOf(p string) string {
	if d := path.Dir(p); d != "." {
		return d
	}
	return "/"
}

func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.opts.User != "" {
		u, pw, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(p.opts.User)) != 1 || subtle.ConstantTimeCompare([]byte(pw), []byte(p.opts.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="thumbd links", charset="UTF-8"`)
			http.Error(w, "authorization required", http.StatusUnauthorized)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	// Images come from the public port; inline script and style only.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src "+p.imgSrc()+"; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'; base-uri 'none'")
	switch strings.TrimPrefix(r.URL.Path, "/links") {
	case "/", "":
		p.list(w, r)
	case "/photo":
		p.photo(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (p *Page) imgSrc() string {
	if p.opts.PublicURL == "" {
		return "'self'"
	}
	return p.opts.PublicURL
}

// Result is one page of search results.
type Result struct {
	Photos               []storage.Original
	Total, Page, Pages   int
	Query, Folder, Month string
}

// Search filters the catalogue by name (case-insensitive substring of the
// path), folder and month taken, and returns one page of it.
func (p *Page) Search(q, folder, month string, page int) Result {
	v := p.current()
	q = strings.ToLower(strings.TrimSpace(q))
	res := Result{Query: q, Folder: folder, Month: month, Page: max(page, 1)}
	start := (res.Page - 1) * PerPage
	for i := range v.photos {
		if folder != "" && v.folder[i] != folder {
			continue
		}
		if month != "" && v.month[i] != month {
			continue
		}
		if q != "" && !strings.Contains(v.lower[i], q) {
			continue
		}
		if res.Total >= start && res.Total < start+PerPage {
			res.Photos = append(res.Photos, v.photos[i])
		}
		res.Total++
	}
	res.Pages = max(1, (res.Total+PerPage-1)/PerPage)
	return res
}

type tile struct {
	storage.Original
	Thumb string
	Name  string
}

func (p *Page) minter() links.Minter {
	return links.Minter{Signer: p.opts.Signer(), Base: p.opts.PublicURL}
}

func (p *Page) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	res := p.Search(q.Get("q"), q.Get("folder"), q.Get("month"), page)
	m := p.minter()
	tiles := make([]tile, 0, len(res.Photos))
	for _, o := range res.Photos {
		ls, err := m.Mint(links.Photo{Hash: o.Hash}, []string{"tile_224"})
		if err != nil {
			http.Error(w, "cannot sign links: "+err.Error(), http.StatusInternalServerError)
			return
		}
		tiles = append(tiles, tile{o, ls[0].URL, path.Base(o.Path)})
	}
	v := p.current()
	data := map[string]any{
		"R": res, "Tiles": tiles, "Folders": v.folders, "Months": v.months,
		"Prev": res.Page - 1, "Next": res.Page + 1,
	}
	if res.Folder != "" && res.Total > 0 {
		if al, err := albumLinks(m, res.Folder); err == nil {
			data["Album"] = al
		}
	}
	render(w, "list.html", data)
}

// sizeChoices are offered as checkboxes; custom sizes go in a text field.
// original.jpg is the full photo as a JPEG, for browsers that cannot show
// the original's own format (HEIC).
var sizeChoices = []string{"tile_224", "tile_500", "fit_720", "fit_1280", "fit_1920", "fit_2560", "original", "original.jpg"}

func (p *Page) photo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := p.current()
	i, ok := v.byHash[q.Get("h")]
	if !ok {
		http.Error(w, "no such photo", http.StatusNotFound)
		return
	}
	o := v.photos[i]
	photo := links.Photo{Path: o.Path, Hash: o.Hash, Width: o.Width, Height: o.Height, Taken: links.TakenString(o.Taken), Placeholder: o.Placeholder}
	data := map[string]any{"P": photo, "Name": path.Base(o.Path), "Choices": sizeChoices, "Q": q}
	m := p.minter()
	if prev, err := m.Mint(photo, []string{"fit_720"}); err == nil {
		data["Preview"] = prev[0].URL
	}
	sizes := append(q["size"], strings.Fields(strings.ReplaceAll(q.Get("custom"), ",", " "))...)
	if len(sizes) > 0 {
		format := q.Get("format")
		var ext string
		switch format {
		case "jpg", "png", "webp", "avif":
			ext = "." + format
		}
		var named []string
		for _, s := range sizes {
			if _, _, _, err := thumburl.ParseSizeSegment(s); err != nil {
				data["Error"] = "unknown size " + strconv.Quote(s)
				render(w, "photo.html", data)
				return
			}
			if s == "original" || strings.Contains(s, ".") {
				named = append(named, s) // already says its format
			} else {
				named = append(named, s+ext)
			}
		}
		exp, err := expiry(q.Get("expiry"), q.Get("date"), p.opts.Now())
		if err != nil {
			data["Error"] = err.Error()
			render(w, "photo.html", data)
			return
		}
		m.Expires = exp
		ls, err := m.Mint(photo, named)
		if err != nil {
			data["Error"] = err.Error()
			render(w, "photo.html", data)
			return
		}
		alt := q.Get("alt")
		if alt == "" {
			alt = links.Alt(photo)
		}
		urls := make([]string, len(ls))
		for i, l := range ls {
			urls[i] = l.URL
		}
		// The .jpg link: the first size with an explicit .jpg extension.
		first, _, _ := strings.Cut(named[0], ".")
		jpg, _ := m.Mint(photo, []string{first + ".jpg"})
		// The HTML is what sign --format html prints: a <picture> in AVIF,
		// WebP and JPEG over the sizes that can be one (original cannot);
		// with none of those, the plain <img>.
		var lossy []string
		for _, s := range named {
			if !strings.HasPrefix(s, "original") {
				lossy = append(lossy, s)
			}
		}
		markup := links.HTML(photo, ls, alt)
		if len(lossy) > 0 {
			if pic, err := m.PictureHTML(photo, lossy, alt); err == nil {
				markup = pic
			}
		}
		data["Snippets"] = []snippet{
			{"url", "URL", strings.Join(urls, "\n")},
			{"html", "HTML", markup},
			{"markdown", "Markdown", links.Markdown(ls, alt)},
			{"jpg", ".jpg URL", jpg[0].URL},
		}
		// The share page (title and caption signed into it), with the
		// same expiry: what chat apps and blogs unfurl.
		text := thumburl.Text{Title: q.Get("title"), Caption: q.Get("caption")}.Clean()
		page, err := m.MintPage(photo, text)
		if err != nil {
			data["Error"] = "share page: " + err.Error()
			render(w, "photo.html", data)
			return
		}
		data["Snippets"] = append(data["Snippets"].([]snippet), snippet{"page", "share page", page.URL})
		data["Expires"] = exp
	}
	render(w, "photo.html", data)
}

type snippet struct{ ID, Label, Text string }

// albumLinks mints a folder's album links, flat and with subfolders
// (folderOf calls the top "/").
func albumLinks(m links.Minter, folder string) (map[string]links.Album, error) {
	if folder == "/" {
		folder = ""
	}
	flat, err := m.MintAlbum(folder, false)
	if err != nil {
		return nil, err
	}
	deep, err := m.MintAlbum(folder, true)
	if err != nil {
		return nil, err
	}
	return map[string]links.Album{"Flat": flat, "Deep": deep}, nil
}

// expiry maps the form's choice to a time: none, 1d, 30d, or a date.
func expiry(choice, date string, now time.Time) (time.Time, error) {
	switch choice {
	case "", "none":
		return time.Time{}, nil
	case "1d":
		return now.Add(24 * time.Hour).Truncate(time.Second), nil
	case "30d":
		return now.Add(30 * 24 * time.Hour).Truncate(time.Second), nil
	case "date":
		t, err := time.Parse("2006-01-02", date)
		if err != nil || !t.After(now) {
			return time.Time{}, errBadDate
		}
		return t, nil
	}
	return time.Time{}, errBadDate
}

var errBadDate = &formError{"expiry: choose none, 1 day, 30 days, or a date in the future"}

type formError struct{ s string }

func (e *formError) Error() string { return e.s }

func render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := tmpl.ExecuteTemplate(w, name, data); err != nil {
		http.Error(w, "template: "+err.Error(), http.StatusInternalServerError)
	}
}
