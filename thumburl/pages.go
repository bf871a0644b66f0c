package thumburl

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/thumbd/thumbd/variant"
)

// The share-page and album grammar. Every token below is the ordinary
// signing token (HMAC over id, name, expiry); what differs is the name it
// covers, and no page or album name is a size name, so a page token never
// opens /t/ and an image token never opens a page:
//
//	/p/<sha1>/<token>                share page             name "page"
//	/p/<sha1>/<token>/<text>         page with title/caption name "page~<digest of the text>"
//	/p/<sha1>/<token>/<size>         an image of a page      name "page:<size>"
//	/a/<album>/<token>               album gallery, page 1   name "album" ("album+r" with subfolders)
//	/a/<album>/<token>/page/<n>      gallery page n >= 2
//	/a/<album>/<token>/album.json    the listing for tools
//	/a/<album>/<token>/<item>        one photo's share page  item: zero-based index or sha1
//	/a/<album>/<token>/<item>/<size> one photo at a named size
//
// Text segments start with "~" (no size name does) and are base64url
// (unpadded) of the title, then "~" and the caption when there is one.
const (
	PageName         = "page"
	AlbumName        = "album"
	AlbumNameRecurse = "album+r"
	// AlbumJSON is the listing's segment.
	AlbumJSON = "album.json"
	// AlbumIDLen is the length of an album id: 24 lowercase hex digits
	// (96 bits of a keyed hash of the folder, see signing.AlbumID).
	AlbumIDLen = 24

	// MaxTitle and MaxCaption bound the text a link may carry, in bytes.
	MaxTitle   = 200
	MaxCaption = 1000
)

var b64 = base64.RawURLEncoding.Strict()

// Text is what a page link carries besides the photo: both optional.
type Text struct {
	Title, Caption string
}

// Empty reports whether there is nothing to carry.
func (t Text) Empty() bool { return t.Title == "" && t.Caption == "" }

// Clean normalises text for a link: surrounding space trimmed, a title on
// one line, and carriage returns gone; it does not check the limits
// (Segment does).
func (t Text) Clean() Text {
	title := strings.Join(strings.Fields(t.Title), " ")
	caption := strings.TrimSpace(strings.ReplaceAll(t.Caption, "\r\n", "\n"))
	caption = strings.ReplaceAll(caption, "\r", "\n")
	return Text{Title: title, Caption: caption}
}

// validText: valid UTF-8, within its bound, no control characters (a
// caption may break lines).
func validText(s string, limit int, newlines bool) error {
	if len(s) > limit {
		return fmt.Errorf("%w: text longer than %d bytes", ErrMalformed, limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: text is not UTF-8", ErrMalformed)
	}
	for _, r := range s {
		if r == '\n' && newlines {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%w: control character in text", ErrMalformed)
		}
	}
	if s != strings.TrimSpace(s) {
		return fmt.Errorf("%w: text has surrounding space", ErrMalformed)
	}
	return nil
}

// Segment encodes t as a path segment ("" when empty). It refuses text a
// parse would refuse, so every minted link opens.
func (t Text) Segment() (string, error) {
	if t.Empty() {
		return "", nil
	}
	if err := validText(t.Title, MaxTitle, false); err != nil {
		return "", fmt.Errorf("title: %w", err)
	}
	if err := validText(t.Caption, MaxCaption, true); err != nil {
		return "", fmt.Errorf("caption: %w", err)
	}
	seg := "~" + b64.EncodeToString([]byte(t.Title))
	if t.Caption != "" {
		seg += "~" + b64.EncodeToString([]byte(t.Caption))
	}
	return seg, nil
}

// ParseText reads a text segment; only the canonical spelling Segment
// writes is accepted.
func ParseText(seg string) (Text, error) {
	rest, ok := strings.CutPrefix(seg, "~")
	if !ok {
		return Text{}, fmt.Errorf("%w: text segment", ErrMalformed)
	}
	tpart, cpart, hasCaption := strings.Cut(rest, "~")
	title, err := b64.DecodeString(tpart)
	if err != nil {
		return Text{}, fmt.Errorf("%w: title encoding", ErrMalformed)
	}
	var caption []byte
	if hasCaption {
		if caption, err = b64.DecodeString(cpart); err != nil || len(caption) == 0 {
			return Text{}, fmt.Errorf("%w: caption encoding", ErrMalformed)
		}
	}
	t := Text{Title: string(title), Caption: string(caption)}
	if t.Empty() {
		return Text{}, fmt.Errorf("%w: empty text segment", ErrMalformed)
	}
	if again, err := t.Segment(); err != nil {
		return Text{}, err
	} else if again != seg {
		return Text{}, fmt.Errorf("%w: text segment not canonical", ErrMalformed)
	}
	return t, nil
}

// PageSignedName is the name a page token covers: "page", or with text
// "page~" and a digest of it, so the token covers the words too.
func PageSignedName(t Text) string {
	if t.Empty() {
		return PageName
	}
	sum := sha256.Sum256([]byte(t.Title + "\x00" + t.Caption))
	return PageName + "~" + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// PageImageName is the name the token of a page's image covers.
func PageImageName(size string) string { return PageName + ":" + size }

// PagePath builds /p/<hash>/<token>[/<text segment>].
func PagePath(hash, token, textSeg string) string {
	p := "/p/" + hash + "/" + token
	if textSeg != "" {
		p += "/" + textSeg
	}
	return p
}

// PageImagePath builds /p/<hash>/<token>/<size>.
func PageImagePath(hash, token, size string) string {
	return "/p/" + hash + "/" + token + "/" + size
}

// PageRequest is a parsed /p/ URL: a page (Size zero) or one of its images.
type PageRequest struct {
	Hash, Token string
	Text        Text
	// Image is set for /p/<sha1>/<token>/<size>.
	Image    bool
	Size     variant.Size
	Format   variant.Format
	Explicit bool
}

// SignedName is what the token must cover.
func (r PageRequest) SignedName() string {
	if r.Image {
		return PageImageName(r.Size.Name)
	}
	return PageSignedName(r.Text)
}

// ParsePage validates a /p/ URL's segments after the prefix; last is ""
// for the bare page.
func ParsePage(hash, token, last string) (PageRequest, error) {
	if !IsHash(hash) {
		return PageRequest{}, fmt.Errorf("%w: hash must be 40 lowercase hex digits", ErrMalformed)
	}
	if token == "" || len(token) > 64 {
		return PageRequest{}, fmt.Errorf("%w: token", ErrMalformed)
	}
	r := PageRequest{Hash: hash, Token: token}
	switch {
	case last == "":
	case strings.HasPrefix(last, "~"):
		t, err := ParseText(last)
		if err != nil {
			return PageRequest{}, err
		}
		r.Text = t
	default:
		s, f, explicit, err := PageImageSegment(last)
		if err != nil {
			return PageRequest{}, err
		}
		r.Image, r.Size, r.Format, r.Explicit = true, s, f, explicit
	}
	return r, nil
}

// SmallPageSizes are the fit boxes below the smallest named fit size
// that pages also serve, so oEmbed can honour a maxwidth under 720 px: a
// fixed ladder, never arbitrary sizes.
var SmallPageSizes = []string{"fit_160x160", "fit_320x320", "fit_480x480", "fit_640x640"}

// PageImageSegment reads the size of a page's or album's image: a named
// size or one of SmallPageSizes (not original, not other custom sizes: a
// page shows a photo, it does not hand out its file or arbitrary work),
// optionally with an extension.
func PageImageSegment(seg string) (variant.Size, variant.Format, bool, error) {
	s, f, explicit, err := ParseSizeSegment(seg)
	if err != nil {
		return variant.Size{}, 0, false, err
	}
	if s.Custom && slices.Contains(SmallPageSizes, s.Name) {
		return s, f, explicit, nil
	}
	if s.Custom || s.Mode == variant.Original {
		return variant.Size{}, 0, false, fmt.Errorf("%w: %q is not a named size a page serves", variant.ErrUnknownSize, s.Name)
	}
	return s, f, explicit, nil
}

// IsAlbumID reports whether s has the shape of an album id.
func IsAlbumID(s string) bool {
	if len(s) != AlbumIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// AlbumKind says what an album URL asks for.
type AlbumKind int

const (
	AlbumGallery AlbumKind = iota // the gallery page (Page >= 1)
	AlbumListing                  // album.json
	AlbumItem                     // one photo's share page
	AlbumImage                    // one photo at a size
)

// AlbumRequest is a parsed /a/ URL.
type AlbumRequest struct {
	ID, Token string
	Kind      AlbumKind
	Page      int // gallery page, 1-based
	// The item: Hash when the URL names the photo, else Index (zero-based).
	Index    int
	Hash     string
	Size     variant.Size
	Format   variant.Format
	Explicit bool
}

// AlbumPath builds /a/<id>/<token>.
func AlbumPath(id, token string) string { return "/a/" + id + "/" + token }

// AlbumItemPath builds /a/<id>/<token>/<item>[/<size>]; item is a decimal
// index or a sha1.
func AlbumItemPath(id, token, item, size string) string {
	p := AlbumPath(id, token) + "/" + item
	if size != "" {
		p += "/" + size
	}
	return p
}

// AlbumGalleryPath builds the path of gallery page n (1 is the bare URL).
func AlbumGalleryPath(id, token string, n int) string {
	if n <= 1 {
		return AlbumPath(id, token)
	}
	return AlbumPath(id, token) + "/page/" + strconv.Itoa(n)
}

// canonicalInt reads a decimal without sign or leading zeros.
func canonicalInt(s string, limit int) (int, bool) {
	if s == "" || len(s) > 9 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= limit
}

// ParseAlbum validates an /a/ URL: item and size may be "".
func ParseAlbum(id, token, item, size string) (AlbumRequest, error) {
	if !IsAlbumID(id) {
		return AlbumRequest{}, fmt.Errorf("%w: album id must be %d lowercase hex digits", ErrMalformed, AlbumIDLen)
	}
	if token == "" || len(token) > 64 {
		return AlbumRequest{}, fmt.Errorf("%w: token", ErrMalformed)
	}
	r := AlbumRequest{ID: id, Token: token, Page: 1}
	switch {
	case item == "":
		return r, nil
	case item == AlbumJSON && size == "":
		r.Kind = AlbumListing
		return r, nil
	case item == "page":
		n, ok := canonicalInt(size, 999999999)
		if !ok || n < 2 {
			// Page 1 is the bare album URL: one URL per page.
			return AlbumRequest{}, fmt.Errorf("%w: gallery page", ErrMalformed)
		}
		r.Page = n
		return r, nil
	case IsHash(item):
		r.Hash = item
	default:
		n, ok := canonicalInt(item, 999999999)
		if !ok {
			return AlbumRequest{}, fmt.Errorf("%w: album item must be an index or a sha1", ErrMalformed)
		}
		r.Index = n
	}
	r.Kind = AlbumItem
	if size == "" {
		return r, nil
	}
	s, f, explicit, err := PageImageSegment(size)
	if err != nil {
		return AlbumRequest{}, err
	}
	r.Kind, r.Size, r.Format, r.Explicit = AlbumImage, s, f, explicit
	return r, nil
}
