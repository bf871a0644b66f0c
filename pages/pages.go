// Package pages renders the HTML thumbd serves for people rather than
// image tags: a photo's share page (Open Graph and Twitter card tags,
// oEmbed discovery, srcset) and an album's gallery. The markup is small and
// static: no script, one inline stylesheet whose hash the Content Security
// Policy names, every text through html/template's escaping. It knows
// nothing about keys or files; the server fills the views.
package pages

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"strconv"
	"strings"
)

//go:embed templates/*.html templates/style.css
var files embed.FS

var (
	tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"srcset": srcset,
	}).ParseFS(files, "templates/*.html"))
	style = func() string {
		b, err := files.ReadFile("templates/style.css")
		if err != nil {
			panic(err)
		}
		return strings.TrimSpace(string(b))
	}()
	styleHash = func() string {
		sum := sha256.Sum256([]byte(style))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}()
)

// CSP is the Content-Security-Policy of every page: images from this host
// only, the one inline stylesheet by its hash, nothing else (no script,
// no forms, no plugins, no base rewriting), and any site may frame it
// (blogs and timeline tools embed pages in iframes).
func CSP() string {
	return "default-src 'none'; img-src 'self'; style-src " + styleHash +
		"; base-uri 'none'; form-action 'none'; frame-ancestors *"
}

// Image is one image URL with the size it answers.
type Image struct {
	URL           string
	Width, Height int
}

// Meta is what the head of either page says about it.
type Meta struct {
	Title       string // <title> and og:title
	Description string // og:description; "" for none
	URL         string // absolute: og:url and the canonical link
	OEmbed      string // absolute oEmbed URL for discovery; "" for none
	Image       Image  // og:image, absolute
	ImageType   string // og:image:type
	ImageAlt    string
	Noindex     bool
}

// Share is a photo's page.
type Share struct {
	Meta
	Heading string  // shown title; "" for none
	Caption string  // shown under the photo (line breaks kept)
	Taken   string  // human date taken; "" if unknown
	Src     Image   // the img's src and its width/height
	Srcset  []Image // ascending widths
	Alt     string
	// Back links to the album this page belongs to; "" for none.
	Back string
}

// Item is one photo in a gallery.
type Item struct {
	Page   string // its share page
	Thumb  Image
	Srcset []Image
	Name   string
}

// Gallery is one page of an album.
type Gallery struct {
	Meta
	Heading    string
	Count      int // photos in the album
	Items      []Item
	Page       int
	Pages      int
	Prev, Next string // "" at the ends
	JSON       string // the listing
}

type view struct {
	Style template.CSS
	V     any
}

// RenderShare writes a share page.
func RenderShare(s Share) ([]byte, error) { return render("share.html", s) }

// RenderGallery writes a gallery page.
func RenderGallery(g Gallery) ([]byte, error) { return render("gallery.html", g) }

func render(name string, v any) ([]byte, error) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, view{Style: template.CSS(style), V: v}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// srcset lists candidates as "url 720w, url 1280w" (html/template escapes
// the attribute; URLs never contain commas or spaces).
func srcset(ims []Image) string {
	parts := make([]string, len(ims))
	for i, im := range ims {
		parts[i] = im.URL + " " + strconv.Itoa(im.Width) + "w"
	}
	return strings.Join(parts, ", ")
}
