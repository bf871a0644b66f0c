package links_test

import (
	"strings"
	"testing"
	"time"

	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/thumburl"
)

func TestPageAndAlbumLinks(t *testing.T) {
	sg, err := signing.New([]string{"links-test-key-0123456789abcdefghijkl"}, false)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	m := links.Minter{Signer: sg, Base: "https://img.example.com/", Expires: exp}
	p := links.Photo{Hash: "da39a3ee5e6b4b0d3255bfef95601890afd80709", Width: 1600, Height: 1200}
	now := time.Now()

	// "page" among the sizes of Mint is the untitled share page.
	ls, err := m.Mint(p, []string{"tile_224", "page"})
	if err != nil || len(ls) != 2 || ls[1].Size != "page" || !strings.HasPrefix(ls[1].URL, "https://img.example.com/p/"+p.Hash+"/") {
		t.Fatalf("Mint with page: %+v, %v", ls, err)
	}
	tok := strings.Split(ls[1].URL, "/")[5]
	if _, err := sg.VerifyGrant(p.Hash, thumburl.PageName, tok, now); err != nil || ls[1].Expires != exp {
		t.Errorf("page token: %v", err)
	}

	ims, err := m.MintPageImages(p, []string{"fit_720", "fit_1280.webp"})
	if err != nil || len(ims) != 2 || ims[0].Width != 720 || ims[1].Height != 960 {
		t.Fatalf("MintPageImages: %+v, %v", ims, err)
	}
	for i, size := range []string{"fit_720", "fit_1280"} {
		parts := strings.Split(ims[i].URL, "/")
		if _, err := sg.VerifyGrant(p.Hash, thumburl.PageImageName(size), parts[5], now); err != nil {
			t.Errorf("%s: page image token: %v", ims[i].URL, err)
		}
		if _, err := sg.Verify(p.Hash, size, parts[5], now); err == nil {
			t.Errorf("%s: a page image token opens /t/", ims[i].URL)
		}
	}
	if _, err := m.MintPageImages(p, []string{"original"}); err == nil {
		t.Error("a page image of the original was minted")
	}
	page, _ := m.MintPage(p, thumburl.Text{Title: "T"})
	h := links.PageHTML(page, p, ims, `a "b"`)
	if !strings.HasPrefix(h, `<a href="https://img.example.com/p/`) || !strings.Contains(h, `alt="a &#34;b&#34;"`) || !strings.HasSuffix(h, "</a>") {
		t.Errorf("PageHTML %s", h)
	}
	if md := links.PageMarkdown(page, ims, "x]"); !strings.HasPrefix(md, `[![x\]](https://img.example.com/p/`) {
		t.Errorf("PageMarkdown %s", md)
	}

	al, err := m.MintAlbum("2024/trip", true)
	id, _ := sg.AlbumID("2024/trip")
	if err != nil || al.ID != id || !al.Recursive || al.Listing != al.URL+"/album.json" || strings.Contains(al.URL, "trip") {
		t.Fatalf("MintAlbum %+v, %v", al, err)
	}
	if _, err := sg.VerifyGrant(id, thumburl.AlbumNameRecurse, strings.Split(al.URL, "/")[5], now); err != nil {
		t.Errorf("album token: %v", err)
	}
	if h := links.AlbumHTML(al, "<Summer>"); !strings.Contains(h, "&lt;Summer&gt;") {
		t.Errorf("AlbumHTML %s", h)
	}
}
