package links

import (
	"encoding/json"
	"html"
	"io"
	"strings"
	"time"

	"github.com/thumbd/thumbd/thumburl"
)

// Share pages and albums: the links `thumbd sign --size page` and
// `--album` print, and the picker's copy buttons.

// PageSizes are the page images html and markdown snippets use (the same
// srcset the page itself shows).
var PageSizes = []string{"fit_720", "fit_1280", "fit_1920"}

// MintPage signs a share page of p carrying t (title and caption, both
// optional; the token covers them).
func (m Minter) MintPage(p Photo, t thumburl.Text) (Link, error) {
	seg, err := t.Segment()
	if err != nil {
		return Link{}, err
	}
	tok, err := m.Signer.Sign(p.Hash, thumburl.PageSignedName(t), m.Expires)
	if err != nil {
		return Link{}, err
	}
	return Link{Size: thumburl.PageName, URL: strings.TrimRight(m.Base, "/") + thumburl.PagePath(p.Hash, tok, seg),
		Width: p.Width, Height: p.Height, Expires: m.Expires}, nil
}

// MintPageImages signs images under a page's grant (revoking the page
// revokes them): what an html or markdown snippet of a page shows.
func (m Minter) MintPageImages(p Photo, sizes []string) ([]Link, error) {
	ls, err := m.Mint(p, sizes) // dimensions and validation as for /t/
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(m.Base, "/")
	for i, l := range ls {
		s, _, _, err := thumburl.PageImageSegment(l.Size)
		if err != nil {
			return nil, err
		}
		tok, err := m.Signer.Sign(p.Hash, thumburl.PageImageName(s.Name), m.Expires)
		if err != nil {
			return nil, err
		}
		ls[i].URL = base + thumburl.PageImagePath(p.Hash, tok, l.Size)
	}
	return ls, nil
}

// PageHTML is a page link as HTML: the photo (srcset under the page's
// grant) inside a link to its page.
func PageHTML(page Link, p Photo, images []Link, alt string) string {
	return `<a href="` + html.EscapeString(page.URL) + `">` + HTML(p, images, alt) + `</a>`
}

// PageMarkdown is [![alt](image)](page).
func PageMarkdown(page Link, images []Link, alt string) string {
	return "[" + Markdown(images, alt) + "](" + strings.ReplaceAll(page.URL, ")", "%29") + ")"
}

// Album is a signed album link.
type Album struct {
	Folder    string    `json:"folder"` // relative to the originals; "" = all of them
	ID        string    `json:"id"`
	Recursive bool      `json:"recursive"`
	URL       string    `json:"url"`
	Listing   string    `json:"listing"`
	Expires   time.Time `json:"expires,omitzero"`
}

// MintAlbum signs the album of folder (slash-separated, relative to the
// originals; "" for the whole folder); recursive takes in subfolders.
func (m Minter) MintAlbum(folder string, recursive bool) (Album, error) {
	id, err := m.Signer.AlbumID(folder)
	if err != nil {
		return Album{}, err
	}
	name := thumburl.AlbumName
	if recursive {
		name = thumburl.AlbumNameRecurse
	}
	tok, err := m.Signer.Sign(id, name, m.Expires)
	if err != nil {
		return Album{}, err
	}
	base := strings.TrimRight(m.Base, "/")
	return Album{Folder: folder, ID: id, Recursive: recursive, Expires: m.Expires,
		URL:     base + thumburl.AlbumPath(id, tok),
		Listing: base + thumburl.AlbumItemPath(id, tok, thumburl.AlbumJSON, "")}, nil
}

// AlbumHTML is a plain link to the gallery.
func AlbumHTML(a Album, text string) string {
	return `<a href="` + html.EscapeString(a.URL) + `">` + html.EscapeString(text) + `</a>`
}

// AlbumMarkdown is [text](url).
func AlbumMarkdown(a Album, text string) string {
	r := strings.NewReplacer(`[`, `\[`, `]`, `\]`)
	return "[" + r.Replace(text) + "](" + strings.ReplaceAll(a.URL, ")", "%29") + ")"
}

// WriteAlbumsJSON writes albums as an indented JSON array.
func WriteAlbumsJSON(w io.Writer, as []Album) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if as == nil {
		as = []Album{}
	}
	return enc.Encode(as)
}
