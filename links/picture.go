package links

import (
	"errors"
	"fmt"
	"html"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/thumbd/thumbd/placeholder"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/variant"
	"github.com/thumbd/thumbd/video"
)

// Sources are one photo's links by output format, each list in the
// caller's order (the first JPEG is the <img>'s src and size).
type Sources struct {
	AVIF []Link `json:"avif,omitempty"`
	WebP []Link `json:"webp,omitempty"`
	JPEG []Link `json:"jpg,omitempty"`
}

// MintSources signs every size three times, as .avif, .webp and .jpg (an
// extension already on a size is replaced). Video formats have no place in
// a <picture> and are refused.
func (m Minter) MintSources(p Photo, sizes []string) (Sources, error) {
	var s Sources
	for _, f := range []struct {
		ext string
		out *[]Link
	}{{".avif", &s.AVIF}, {".webp", &s.WebP}, {".jpg", &s.JPEG}} {
		names := make([]string, len(sizes))
		for i, sz := range sizes {
			names[i] = strings.TrimSuffix(sz, path.Ext(sz)) + f.ext
		}
		ls, err := m.Mint(p, names)
		if err != nil {
			return Sources{}, err
		}
		*f.out = ls
	}
	return s, nil
}

// PictureHTML mints p's links for sizes in AVIF, WebP and JPEG and renders
// them as a <picture> with p's placeholder (what sign, links and the picker
// print for --format html). Sizes are JPEG-fallback order: the first is
// the <img>'s src and slot width. original and colors have no place in
// it (neither is a lossy photo in three formats).
func (m Minter) PictureHTML(p Photo, sizes []string, alt string) (string, error) {
	for _, sz := range sizes {
		if video.IsFormat(sz) {
			return "", fmt.Errorf("size %q: a video has no place in a <picture>", sz)
		}
		s, _, _, err := thumburl.ParseSizeSegment(sz)
		if err != nil {
			return "", fmt.Errorf("size %q: %w", sz, err)
		}
		if s.Mode == variant.Original || s.Mode == variant.Colors {
			return "", fmt.Errorf("size %q has no place in a <picture> (use a fit_ or tile_ size)", sz)
		}
	}
	src, err := m.MintSources(p, sizes)
	if err != nil {
		return "", err
	}
	return PictureHTML(Picture{Photo: p, Alt: alt, Placeholder: p.Placeholder, Sources: src})
}

// Picture is what PictureHTML renders: a photo, its links by format and
// its placeholder.
type Picture struct {
	Photo       Photo
	Alt         string // used as given; "" marks the photo decorative
	Placeholder placeholder.Placeholder
	Sources
	// Sizes is the sizes attribute; "" gives "(max-width: Wpx) 100vw, Wpx"
	// with W the width of the first JPEG.
	Sizes string
	// ThumbHashImage paints the ThumbHash, rendered to a PNG data: URL,
	// over the colour while the photo loads: a blurred preview for about
	// 1.5-2 KB more markup per photo. Off, the colour alone is painted.
	ThumbHashImage bool
}

// ErrNoJPEG: a <picture> needs its <img> fallback, which every browser
// can show.
var ErrNoJPEG = errors.New("links: picture has no JPEG link")

// PictureHTML renders a <picture>: an AVIF and a WebP <source>, each with
// its srcset, then a JPEG <img> with src, srcset, sizes, width and height
// (so the page does not jump), lazy loading, async decoding and the
// placeholder painted as its background. A photo with transparency gets no
// background: it would show through the photo once loaded. Every value is
// HTML-escaped; the colour must be #rrggbb, since it goes into CSS.
func PictureHTML(p Picture) (string, error) {
	if len(p.JPEG) == 0 {
		return "", ErrNoJPEG
	}
	bg, err := background(p.Placeholder, p.ThumbHashImage)
	if err != nil {
		return "", err
	}
	first := p.JPEG[0]
	w, h := first.Width, first.Height
	if w > 0 && h <= 0 && p.Photo.Width > 0 && p.Photo.Height > 0 {
		h = (w*p.Photo.Height + p.Photo.Width/2) / p.Photo.Width
	}
	sizes := p.Sizes
	if sizes == "" && w > 0 {
		sizes = fmt.Sprintf("(max-width: %dpx) 100vw, %dpx", w, w)
	}

	var b strings.Builder
	b.WriteString("<picture>")
	for _, s := range []struct {
		typ string
		ls  []Link
	}{{"image/avif", p.AVIF}, {"image/webp", p.WebP}} {
		set, _, widths := srcset(s.ls)
		if set == "" {
			continue
		}
		fmt.Fprintf(&b, `<source type="%s" srcset="%s"`, s.typ, html.EscapeString(set))
		if widths && sizes != "" {
			fmt.Fprintf(&b, ` sizes="%s"`, html.EscapeString(sizes))
		}
		b.WriteString(">")
	}
	fmt.Fprintf(&b, `<img src="%s"`, html.EscapeString(first.URL))
	// One candidate says nothing src does not.
	if set, n, widths := srcset(p.JPEG); widths && n > 1 {
		fmt.Fprintf(&b, ` srcset="%s"`, html.EscapeString(set))
		if sizes != "" {
			fmt.Fprintf(&b, ` sizes="%s"`, html.EscapeString(sizes))
		}
	}
	if w > 0 && h > 0 {
		fmt.Fprintf(&b, ` width="%d" height="%d"`, w, h)
	}
	fmt.Fprintf(&b, ` alt="%s" loading="lazy" decoding="async"`, html.EscapeString(p.Alt))
	if bg != "" {
		fmt.Fprintf(&b, ` style="%s"`, html.EscapeString(bg))
	}
	b.WriteString("></picture>")
	return b.String(), nil
}

// srcset lists the links with a known width, narrowest first, each width
// once (a small original gives several sizes the same width; the first
// such link in the caller's order stays). With no width known it is the
// first URL alone. n counts the candidates; widths reports whether w
// descriptors were written.
func srcset(ls []Link) (set string, n int, widths bool) {
	var known []Link
	for _, l := range ls {
		if l.Width > 0 {
			known = append(known, l)
		}
	}
	if len(known) == 0 {
		if len(ls) == 0 {
			return "", 0, false
		}
		return srcsetURL(ls[0].URL), 1, false
	}
	sort.SliceStable(known, func(i, j int) bool { return known[i].Width < known[j].Width })
	parts := make([]string, 0, len(known))
	last := 0
	for _, l := range known {
		if l.Width == last {
			continue
		}
		last = l.Width
		parts = append(parts, srcsetURL(l.URL)+" "+strconv.Itoa(l.Width)+"w")
	}
	return strings.Join(parts, ", "), len(parts), true
}

// srcsetURL percent-encodes what would end a URL early in a srcset:
// whitespace, and commas (which the parser strips at a URL's ends).
var srcsetURL = strings.NewReplacer(" ", "%20", "\t", "%09", "\n", "%0A", "\r", "%0D", "\f", "%0C", ",", "%2C").Replace

// background is the CSS the <img> is painted with while it loads.
func background(ph placeholder.Placeholder, withImage bool) (string, error) {
	var hash []byte
	if ph.ThumbHash != "" {
		var err error
		if hash, err = placeholder.ParseThumbHash(ph.ThumbHash); err != nil {
			return "", fmt.Errorf("links: thumbhash: %w", err)
		}
		if placeholder.ThumbHashHasAlpha(hash) {
			return "", nil
		}
	}
	if ph.Color != "" && !placeholder.ValidColor(ph.Color) {
		return "", fmt.Errorf("links: colour %q is not #rrggbb", ph.Color)
	}
	var parts []string
	if ph.Color != "" {
		parts = append(parts, ph.Color)
	}
	if withImage && hash != nil {
		u, err := placeholder.ThumbHashDataURL(ph.ThumbHash)
		if err != nil {
			return "", fmt.Errorf("links: thumbhash: %w", err)
		}
		// A data: URL of base64 needs no quotes in url().
		parts = append(parts, "url("+u+") center/cover no-repeat")
	}
	if len(parts) == 0 {
		return "", nil
	}
	return "background:" + strings.Join(parts, " "), nil
}
