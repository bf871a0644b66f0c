// Package links turns (photo, sizes) into signed URLs and the snippets
// people paste: a URL per line, an <img> with srcset, Markdown, JSON, and a
// manifest (JSON or CSV) for static-site generators and spreadsheets. The
// sign and links commands (and anything else that mints links) use this one
// code path.
package links

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/thumbd/thumbd/placeholder"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/variant"
	"github.com/thumbd/thumbd/video"
)

// Photo is one original as the link tools see it.
type Photo struct {
	Path   string `json:"path,omitempty"` // relative to the originals folder
	Hash   string `json:"hash"`
	Width  int    `json:"width,omitempty"` // upright; 0 if unknown
	Height int    `json:"height,omitempty"`
	// Taken is EXIF DateTimeOriginal as written by the camera: local time,
	// no zone (ISO 8601, "2006-01-02T15:04:05"); "" if unknown.
	Taken string `json:"taken,omitempty"`
	// The placeholder a page paints while the photo loads: thumbhash
	// (standard base64), blurhash and color (#rrggbb), computed at index
	// time; empty when unknown (a HASH signed as given, a video).
	placeholder.Placeholder
}

// TakenString formats an EXIF time for Photo.Taken.
func TakenString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02T15:04:05")
}

// Link is one signed URL and the size of the image it returns.
type Link struct {
	Size    string    `json:"size"`
	URL     string    `json:"url"`
	Width   int       `json:"width,omitempty"`
	Height  int       `json:"height,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

// Minter signs links with a base URL and an optional expiry.
type Minter struct {
	Signer  *signing.Signer
	Base    string // e.g. https://img.example.com; "" for paths only
	Expires time.Time
}

// Mint signs one link per size for p. A size may carry an extension
// (tile_500.jpg); the token covers the size name alone.
func (m Minter) Mint(p Photo, sizes []string) ([]Link, error) {
	base := strings.TrimRight(m.Base, "/")
	out := make([]Link, 0, len(sizes))
	for _, sz := range sizes {
		if sz == thumburl.PageName {
			// The photo's share page (pages.go).
			l, err := m.MintPage(p, thumburl.Text{})
			if err != nil {
				return nil, err
			}
			out = append(out, l)
			continue
		}
		if video.IsFormat(sz) {
			// The video itself, streamed as is: /v/<sha1>/<token>/<format>.
			tok, err := m.Signer.Sign(p.Hash, sz, m.Expires)
			if err != nil {
				return nil, err
			}
			out = append(out, Link{Size: sz, URL: base + thumburl.VideoPath(p.Hash, tok, sz), Width: p.Width, Height: p.Height, Expires: m.Expires})
			continue
		}
		s, _, _, err := thumburl.ParseSizeSegment(sz)
		if err != nil {
			return nil, fmt.Errorf("size %q: %w", sz, err)
		}
		name := s.Name // the token covers the size, not the extension
		tok, err := m.Signer.Sign(p.Hash, name, m.Expires)
		if err != nil {
			return nil, err
		}
		w, h := variant.OutputSize(s, p.Width, p.Height)
		out = append(out, Link{Size: sz, URL: base + thumburl.Path(p.Hash, tok, sz), Width: w, Height: h, Expires: m.Expires})
	}
	return out, nil
}

// Alt is the default alt text: the file name without extension, with
// separators as spaces. People should write a real one.
func Alt(p Photo) string {
	if p.Path == "" {
		return "photo"
	}
	name := strings.TrimSuffix(path.Base(p.Path), path.Ext(p.Path))
	return strings.Join(strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' || r == '.' }), " ")
}

// HTML renders an <img>: src is the first link, srcset lists every link
// whose width is known (widest last), sizes lets the browser pick, and
// width/height reserve the space so the page does not jump.
func HTML(p Photo, ls []Link, alt string) string {
	if len(ls) == 0 {
		return ""
	}
	first := ls[0]
	var b strings.Builder
	fmt.Fprintf(&b, `<img src="%s"`, html.EscapeString(first.URL))
	var set []Link
	for _, l := range ls {
		if l.Width > 0 {
			set = append(set, l)
		}
	}
	sort.SliceStable(set, func(i, j int) bool { return set[i].Width < set[j].Width })
	// A small original gives several sizes the same width; list each once.
	dedup := set[:0]
	for _, l := range set {
		if len(dedup) == 0 || dedup[len(dedup)-1].Width != l.Width {
			dedup = append(dedup, l)
		}
	}
	set = dedup
	if len(set) > 1 {
		parts := make([]string, len(set))
		for i, l := range set {
			parts[i] = html.EscapeString(l.URL) + " " + strconv.Itoa(l.Width) + "w"
		}
		fmt.Fprintf(&b, ` srcset="%s"`, strings.Join(parts, ", "))
		if first.Width > 0 {
			fmt.Fprintf(&b, ` sizes="(max-width: %dpx) 100vw, %dpx"`, first.Width, first.Width)
		}
	}
	if first.Width > 0 && first.Height > 0 {
		fmt.Fprintf(&b, ` width="%d" height="%d"`, first.Width, first.Height)
	}
	fmt.Fprintf(&b, ` alt="%s" loading="lazy" decoding="async">`, html.EscapeString(alt))
	return b.String()
}

// Markdown renders ![alt](url) with the first link.
func Markdown(ls []Link, alt string) string {
	if len(ls) == 0 {
		return ""
	}
	r := strings.NewReplacer(`[`, `\[`, `]`, `\]`)
	return "![" + r.Replace(alt) + "](" + strings.ReplaceAll(ls[0].URL, ")", "%29") + ")"
}

// Entry is one photo of a manifest with its links by size.
type Entry struct {
	Photo
	Links []Link `json:"links"`
}

// WriteJSON writes entries as an indented JSON array (a Hugo or Jekyll
// data file).
func WriteJSON(w io.Writer, es []Entry) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if es == nil {
		es = []Entry{}
	}
	return enc.Encode(es)
}

// WriteCSV writes one row per photo: path, hash, width, height, taken, then
// one url_<size> column per size (what a timeline sheet takes), then the
// placeholder: color, thumbhash, blurhash (last, so sheets that read the
// first columns by position keep working).
func WriteCSV(w io.Writer, sizes []string, es []Entry) error {
	cw := csv.NewWriter(w)
	head := []string{"path", "hash", "width", "height", "taken"}
	for _, s := range sizes {
		head = append(head, "url_"+s)
	}
	head = append(head, "color", "thumbhash", "blurhash")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, e := range es {
		row := []string{e.Path, e.Hash, itoa(e.Width), itoa(e.Height), e.Taken}
		for _, l := range e.Links {
			row = append(row, l.URL)
		}
		row = append(row, e.Color, e.ThumbHash, e.BlurHash)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
