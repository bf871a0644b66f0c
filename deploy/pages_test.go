package deploy_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/variant"
)

// The nginx config caches every share page, page image and album URL
// thumbd mints, no other spelling of one, and nothing its patterns accept
// is outside the page grammar.
func TestNginxCachesOnlyCanonicalPageURLs(t *testing.T) {
	res := canonicalPatterns(t, nginxConf(t))
	sg, err := signing.New([]string{"deploy-test-key-0123456789abcdefghijkl"}, false)
	if err != nil {
		t.Fatal(err)
	}
	const hash = "534feabf61b79a5478620bd313defcb883e325bd"
	var canon []string
	add := func(p string) {
		t.Helper()
		if !anyMatch(res, p) {
			t.Errorf("%s is canonical but nginx would not cache it", p)
		}
		canon = append(canon, p)
	}
	sizes := append([]string{}, thumburl.SmallPageSizes...)
	for _, s := range variant.Sizes {
		if s.Mode != variant.Original {
			sizes = append(sizes, s.Name)
		}
	}
	for _, exp := range []time.Time{{}, time.Now().Add(24 * time.Hour)} {
		m := links.Minter{Signer: sg, Expires: exp}
		for _, text := range []thumburl.Text{{}, {Title: "t"}, {Caption: "c"}, {Title: strings.Repeat("é", thumburl.MaxTitle/2), Caption: strings.Repeat("x", thumburl.MaxCaption)}} {
			l, err := m.MintPage(links.Photo{Hash: hash}, text)
			if err != nil {
				t.Fatal(err)
			}
			add(l.URL)
		}
		for _, sz := range sizes {
			for _, ext := range []string{"", ".jpg", ".webp", ".avif", ".png", ".jpeg"} {
				tok, _ := sg.Sign(hash, thumburl.PageImageName(sz), exp)
				add(thumburl.PageImagePath(hash, tok, sz+ext))
			}
		}
		for _, rec := range []bool{false, true} {
			a, err := m.MintAlbum("2024/trip", rec)
			if err != nil {
				t.Fatal(err)
			}
			tok := strings.Split(a.URL, "/")[3]
			add(a.URL)
			add(a.Listing)
			add(thumburl.AlbumGalleryPath(a.ID, tok, 2))
			add(thumburl.AlbumGalleryPath(a.ID, tok, 10))
			add(thumburl.AlbumGalleryPath(a.ID, tok, 123456789))
			for _, item := range []string{"0", "7", "999999999", hash} {
				add(thumburl.AlbumItemPath(a.ID, tok, item, ""))
				add(thumburl.AlbumItemPath(a.ID, tok, item, "tile_224"))
				add(thumburl.AlbumItemPath(a.ID, tok, item, "fit_1280.jpg"))
			}
		}
	}
	add("/oembed?url=https%3A%2F%2Fimg.example.com%2Fp%2F" + hash + "&maxwidth=600&format=json")

	page, album := canon[1], ""
	for _, c := range canon {
		if strings.HasPrefix(c, "/a/") && strings.Count(c, "/") == 3 && album == "" {
			album = c
		}
	}
	for _, v := range []string{
		page + "/", page + "?x=1", "/p//" + page[3:], page + "=", strings.Replace(page, "/p/", "/p/./", 1),
		strings.Replace(page, "/p/", "/P/", 1), page + "/x/..", page + "%7E", strings.Replace(page, "~", "%7E", 1),
		album + "/", album + "?x=1", strings.Replace(album, "/a/", "/a//", 1), album + "/../0",
		album + "/page/1", album + "/page/0", album + "/page/01", album + "/01", album + "/0/original", album + "/0/tile_77",
		album + "/0/fit_800x600", album + "/album.json/x", "/oembed/?url=x", "/oembed#x", "/oembed?url=x#y",
	} {
		if anyMatch(res, v) {
			t.Errorf("nginx would cache the non-canonical %q", v)
		}
	}

	// Random edits that still match must still parse as a page or album.
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "/.%?;#~+ aAfFzZ09x_-p"
	accepted := 0
	for i := 0; i < 50000; i++ {
		orig := canon[rng.IntN(len(canon)-1)]
		b := []byte(orig)
		for n := 1 + rng.IntN(3); n > 0; n-- {
			j, c := rng.IntN(len(b)+1), alphabet[rng.IntN(len(alphabet))]
			switch rng.IntN(3) {
			case 0:
				b = append(b[:j:j], append([]byte{c}, b[j:]...)...)
			case 1:
				if j < len(b) {
					b[j] = c
				}
			case 2:
				if j < len(b) {
					b = append(b[:j:j], b[j+1:]...)
				}
			}
		}
		p := string(b)
		if !anyMatch(res, p) || p == orig {
			continue
		}
		accepted++
		seg := strings.Split(p, "/")
		var err error
		switch {
		case len(seg) >= 4 && len(seg) <= 5 && seg[1] == "p":
			last := ""
			if len(seg) == 5 {
				last = seg[4]
			}
			_, err = thumburl.ParsePage(seg[2], seg[3], last)
			if err != nil && strings.HasPrefix(last, "~") {
				// The pattern checks the alphabet, not the base64 padding
				// bits or the decoded text: such an edit is a 400 cached
				// under its own URL, never under a real one.
				err = nil
			}
		case len(seg) >= 4 && len(seg) <= 6 && seg[1] == "a":
			seg = append(seg, "", "")
			_, err = thumburl.ParseAlbum(seg[2], seg[3], seg[4], seg[5])
		default:
			t.Fatalf("nginx would cache %q, which is not a page or album URL", p)
		}
		if err != nil {
			t.Fatalf("nginx would cache %q, which thumbd refuses: %v", p, err)
		}
	}
	if accepted < 1000 {
		t.Errorf("only %d edits still matched", accepted)
	}
	t.Logf("%d canonical page URLs, %d accepted edits checked", len(canon), accepted)
}
