package thumburl_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/variant"
)

const album = "0123456789abcdef01234567"

func seg(t *testing.T, title, caption string) string {
	t.Helper()
	s, err := thumburl.Text{Title: title, Caption: caption}.Segment()
	if err != nil {
		t.Fatalf("Segment(%q, %q): %v", title, caption, err)
	}
	return s
}

func TestTextSegmentRoundTrip(t *testing.T) {
	for _, tc := range []thumburl.Text{
		{Title: "Low tide"},
		{Caption: "only a caption"},
		{Title: `<script>alert("x")</script> & 'q'`, Caption: "line 1\nline 2 </p><img src=x onerror=alert(1)>"},
		{Title: "Ünïcødé 🌊 日本語", Caption: "~tilde~ in text"},
		{Title: strings.Repeat("t", thumburl.MaxTitle), Caption: strings.Repeat("c", thumburl.MaxCaption)},
	} {
		s := seg(t, tc.Title, tc.Caption)
		if !strings.HasPrefix(s, "~") || strings.ContainsAny(s, "/?#%.= +") {
			t.Errorf("segment %q is not a plain path segment", s)
		}
		got, err := thumburl.ParseText(s)
		if err != nil || got != tc {
			t.Errorf("ParseText(%q) = %+v, %v; want %+v", s, got, err, tc)
		}
		r, err := thumburl.ParsePage(hash, tok, s)
		if err != nil || r.Image || r.Text != tc || r.SignedName() != thumburl.PageSignedName(tc) {
			t.Errorf("ParsePage(.., %q) = %+v, %v", s, r, err)
		}
	}
}

func TestTextRefused(t *testing.T) {
	long := thumburl.Text{Title: strings.Repeat("t", thumburl.MaxTitle+1)}
	for _, tc := range []thumburl.Text{
		long,
		{Caption: strings.Repeat("c", thumburl.MaxCaption+1)},
		{Title: "two\nlines"},
		{Title: "bell\a"},
		{Caption: "nul\x00"},
		{Title: " padded"},
		{Title: "\xff\xfe not utf-8"},
		{Title: "line\u2028separator"},
	} {
		if s, err := tc.Segment(); err == nil {
			t.Errorf("Segment(%+q) = %q; want an error", tc, s)
		}
	}
	// Clean makes pasted text acceptable.
	c := thumburl.Text{Title: "  two\n lines\t", Caption: "\r\n a\r\nb \r"}.Clean()
	if c.Title != "two lines" || c.Caption != "a\nb" {
		t.Errorf("Clean = %+q", c)
	}
	if _, err := c.Segment(); err != nil {
		t.Errorf("cleaned text refused: %v", err)
	}
}

// Only the one spelling Segment writes is accepted: a link is one URL.
func TestTextNonCanonical(t *testing.T) {
	good := seg(t, "ab", "cd") // ~YWI~Y2Q
	for _, s := range []string{
		"~", "~~", "~~~", good + "~", good + "=", "~YWI=", "~YWI~",
		"~YWJ", // non-zero padding bits
		"~YW I", "~YWI~Y2Q~Y2Q", "YWI", "~+/8", "~YWI\n",
		"~" + strings.Repeat("dHR0", 100) + "dA", // 301 bytes of title
	} {
		if _, err := thumburl.ParseText(s); !errors.Is(err, thumburl.ErrMalformed) {
			t.Errorf("ParseText(%q): %v; want ErrMalformed", s, err)
		}
	}
}

func TestSignedNamesAreNotSizes(t *testing.T) {
	names := []string{thumburl.PageName, thumburl.PageSignedName(thumburl.Text{Title: "x"}), thumburl.PageImageName("fit_720"),
		thumburl.AlbumName, thumburl.AlbumNameRecurse}
	seen := map[string]bool{}
	for _, n := range names {
		if _, err := variant.ParseSize(n); err == nil {
			t.Errorf("signed name %q parses as a size: a page token would open /t/", n)
		}
		if strings.ContainsAny(n, "\n") || seen[n] {
			t.Errorf("name %q repeats or breaks the MAC framing", n)
		}
		seen[n] = true
	}
	a := thumburl.PageSignedName(thumburl.Text{Title: "a", Caption: "b"})
	b := thumburl.PageSignedName(thumburl.Text{Title: "a\x00b"})
	c := thumburl.PageSignedName(thumburl.Text{Title: "ab"})
	if a == b || a == c || b == c {
		t.Errorf("different texts sign the same name: %q %q %q", a, b, c)
	}
}

func TestParsePage(t *testing.T) {
	for _, tc := range []struct {
		last  string
		image bool
		size  string
		f     variant.Format
		err   error
	}{
		{"", false, "", 0, nil},
		{"fit_720", true, "fit_720", variant.JPEG, nil},
		{"fit_1280.webp", true, "fit_1280", variant.WebP, nil},
		{"tile_224.avif", true, "tile_224", variant.AVIF, nil},
		{"original", false, "", 0, variant.ErrUnknownSize},
		{"fit_800x600", false, "", 0, variant.ErrUnknownSize},
		{"fit_480x480", true, "fit_480x480", variant.JPEG, nil},
		{"fit_480x481", false, "", 0, variant.ErrUnknownSize},
		{"tile_77", false, "", 0, variant.ErrUnknownSize},
		{"page", false, "", 0, variant.ErrUnknownSize},
		{"fit_720.gif", false, "", 0, variant.ErrUnknownSize},
	} {
		r, err := thumburl.ParsePage(hash, tok, tc.last)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("ParsePage(%q): %v; want %v", tc.last, err, tc.err)
			}
			continue
		}
		if err != nil || r.Image != tc.image || r.Size.Name != tc.size || (tc.image && r.Format != tc.f) {
			t.Errorf("ParsePage(%q) = %+v, %v", tc.last, r, err)
		}
		want := thumburl.PageName
		if tc.image {
			want = thumburl.PageImageName(tc.size)
		}
		if r.SignedName() != want {
			t.Errorf("ParsePage(%q).SignedName() = %q; want %q", tc.last, r.SignedName(), want)
		}
	}
	for _, h := range []string{"", "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", hash[:39], album} {
		if _, err := thumburl.ParsePage(h, tok, ""); !errors.Is(err, thumburl.ErrMalformed) {
			t.Errorf("ParsePage(hash %q): %v; want ErrMalformed", h, err)
		}
	}
	if _, err := thumburl.ParsePage(hash, strings.Repeat("a", 65), ""); !errors.Is(err, thumburl.ErrMalformed) {
		t.Errorf("long token: %v", err)
	}
}

func TestParseAlbum(t *testing.T) {
	for _, tc := range []struct {
		item, size string
		kind       thumburl.AlbumKind
		page, idx  int
		hash, sz   string
	}{
		{"", "", thumburl.AlbumGallery, 1, 0, "", ""},
		{"page", "2", thumburl.AlbumGallery, 2, 0, "", ""},
		{"page", "130", thumburl.AlbumGallery, 130, 0, "", ""},
		{thumburl.AlbumJSON, "", thumburl.AlbumListing, 1, 0, "", ""},
		{"0", "", thumburl.AlbumItem, 1, 0, "", ""},
		{"17", "", thumburl.AlbumItem, 1, 17, "", ""},
		{hash, "", thumburl.AlbumItem, 1, 0, hash, ""},
		{"3", "tile_500", thumburl.AlbumImage, 1, 3, "", "tile_500"},
		{hash, "fit_1280.jpg", thumburl.AlbumImage, 1, 0, hash, "fit_1280"},
	} {
		r, err := thumburl.ParseAlbum(album, tok, tc.item, tc.size)
		if err != nil || r.Kind != tc.kind || r.Page != tc.page || r.Index != tc.idx || r.Hash != tc.hash || r.Size.Name != tc.sz {
			t.Errorf("ParseAlbum(%q, %q) = %+v, %v", tc.item, tc.size, r, err)
		}
	}
	for _, tc := range [][2]string{
		{"page", "1"}, {"page", "0"}, {"page", "02"}, {"page", ""}, {"page", "-1"}, {"page", "x"},
		{"01", ""}, {"-1", ""}, {"+1", ""}, {"1e3", ""}, {"1234567890", ""}, {"1000000000", ""}, {"..", ""}, {"%2e%2e", ""},
		{thumburl.AlbumJSON, "tile_224"}, {"0", "original"}, {"0", "fit_100x100"}, {"0", "nope"},
		{hash[:39], ""}, {strings.ToUpper(hash), ""},
	} {
		if _, err := thumburl.ParseAlbum(album, tok, tc[0], tc[1]); err == nil {
			t.Errorf("ParseAlbum(%q, %q) accepted", tc[0], tc[1])
		}
	}
	for _, id := range []string{"", album[:23], album + "0", strings.ToUpper(album), hash, "0123456789abcdef0123456g"} {
		if _, err := thumburl.ParseAlbum(id, tok, "", ""); !errors.Is(err, thumburl.ErrMalformed) {
			t.Errorf("album id %q: %v", id, err)
		}
	}
}

func TestPagePaths(t *testing.T) {
	if p := thumburl.PagePath(hash, tok, ""); p != "/p/"+hash+"/"+tok {
		t.Error(p)
	}
	if p := thumburl.AlbumGalleryPath(album, tok, 1); p != "/a/"+album+"/"+tok {
		t.Error(p)
	}
	if p := thumburl.AlbumGalleryPath(album, tok, 3); p != "/a/"+album+"/"+tok+"/page/3" {
		t.Error(p)
	}
	if p := thumburl.AlbumItemPath(album, tok, "4", "tile_224"); p != "/a/"+album+"/"+tok+"/4/tile_224" {
		t.Error(p)
	}
}

func TestPageAndAlbumRevocations(t *testing.T) {
	r, err := thumburl.ParseRevocations([]string{hash + "/page", "album:" + strings.ToUpper(album)})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Revoked(hash, thumburl.PageName) || r.Revoked(hash, "fit_720") || !r.AlbumRevoked(album) || r.AlbumRevoked("00000000000000000000000a") {
		t.Errorf("revocations wrong: %+v", r)
	}
	if r.Len() != 2 {
		t.Errorf("Len = %d", r.Len())
	}
	r.Each(func(h, size string) { t.Errorf("Each passed %s/%s: page and album entries drop no variants", h, size) })
	for _, bad := range []string{"album:", "album:xyz", "album:" + hash, "album " + album, hash + "/pages"} {
		if _, err := thumburl.ParseRevocations([]string{bad}); err == nil {
			t.Errorf("revocation %q accepted", bad)
		}
	}
}

func FuzzParseText(f *testing.F) {
	f.Add("~TG93IHRpZGU")
	f.Add("~~Y2Fw")
	f.Add("~YWI~Y2Q")
	f.Fuzz(func(t *testing.T, s string) {
		tx, err := thumburl.ParseText(s)
		if err != nil {
			return
		}
		again, err := tx.Segment()
		if err != nil || again != s {
			t.Fatalf("ParseText(%q) accepted a non-canonical spelling (%q, %v)", s, again, err)
		}
	})
}
