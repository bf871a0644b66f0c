package links_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/signing"
)

func minter(t *testing.T) links.Minter {
	sg, err := signing.New([]string{"links-test-key-0123456789abcdefghijk"}, false)
	if err != nil {
		t.Fatal(err)
	}
	return links.Minter{Signer: sg, Base: "https://img.example.com/"}
}

var photo = links.Photo{Path: "2024/low_tide-at.dawn.jpg", Hash: strings.Repeat("ab", 20), Width: 4032, Height: 3024}

func TestMintSizesAndVideo(t *testing.T) {
	ls, err := minter(t).Mint(photo, []string{"fit_720", "fit_1280.jpg", "tile_224", "avc"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		suffix string
		w, h   int
	}{{"/fit_720", 720, 540}, {"/fit_1280.jpg", 1280, 960}, {"/tile_224", 224, 224}, {"/avc", 4032, 3024}}
	for i, l := range ls {
		if !strings.HasSuffix(l.URL, want[i].suffix) || l.Width != want[i].w || l.Height != want[i].h {
			t.Errorf("%d: %+v", i, l)
		}
		if !strings.HasPrefix(l.URL, "https://img.example.com/t/") && !strings.HasPrefix(l.URL, "https://img.example.com/v/") {
			t.Errorf("base: %s", l.URL)
		}
	}
	if !strings.Contains(ls[3].URL, "/v/") {
		t.Errorf("video link not under /v/: %s", ls[3].URL)
	}
	// The token of fit_1280.jpg is the token of fit_1280.
	plain, _ := minter(t).Mint(photo, []string{"fit_1280"})
	if strings.TrimSuffix(ls[1].URL, ".jpg") != plain[0].URL {
		t.Errorf("extension changed the token: %s vs %s", ls[1].URL, plain[0].URL)
	}
	if _, err := minter(t).Mint(photo, []string{"huge_9"}); err == nil {
		t.Error("unknown size minted")
	}
}

func TestHTMLSnippet(t *testing.T) {
	small := links.Photo{Path: "a.jpg", Hash: photo.Hash, Width: 640, Height: 426}
	ls, _ := minter(t).Mint(small, []string{"fit_720", "fit_1280", "fit_1920"})
	html := links.HTML(small, ls, `"Quotes" & <tags>`)
	if strings.Count(html, " 640w") != 0 || strings.Contains(html, "srcset") {
		t.Errorf("one width only: no srcset expected: %s", html)
	}
	if !strings.Contains(html, `alt="&#34;Quotes&#34; &amp; &lt;tags&gt;"`) || !strings.Contains(html, `width="640" height="426"`) {
		t.Errorf("escaping or size: %s", html)
	}
	ls, _ = minter(t).Mint(photo, []string{"fit_720", "fit_1280", "fit_1920"})
	html = links.HTML(photo, ls, "x")
	for _, want := range []string{" 720w", " 1280w", " 1600w", `sizes="(max-width: 720px) 100vw, 720px"`, `width="720" height="540"`, `loading="lazy"`} {
		if !strings.Contains(html, want) {
			t.Errorf("lacks %q: %s", want, html)
		}
	}
	if md := links.Markdown(ls, "a [b]"); md != `![a \[b\]](`+ls[0].URL+`)` {
		t.Errorf("markdown: %s", md)
	}
	if alt := links.Alt(photo); alt != "low tide at dawn" {
		t.Errorf("alt: %q", alt)
	}
}

func TestManifests(t *testing.T) {
	m := minter(t)
	m.Expires = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	p := photo
	p.Taken = "2024-06-01T06:12:00"
	ls, _ := m.Mint(p, []string{"tile_224", "fit_1280.jpg"})
	es := []links.Entry{{Photo: p, Links: ls}}
	var jb bytes.Buffer
	if err := links.WriteJSON(&jb, es); err != nil {
		t.Fatal(err)
	}
	var back []links.Entry
	if err := json.Unmarshal(jb.Bytes(), &back); err != nil || len(back) != 1 || back[0].Taken != p.Taken || len(back[0].Links) != 2 || !back[0].Links[0].Expires.Equal(m.Expires) {
		t.Fatalf("json round trip: %v %+v", err, back)
	}
	var cb bytes.Buffer
	if err := links.WriteCSV(&cb, []string{"tile_224", "fit_1280.jpg"}, es); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cb).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][6] != "url_fit_1280.jpg" || rows[1][4] != "2024-06-01T06:12:00" || !strings.HasSuffix(rows[1][6], ".jpg") {
		t.Fatalf("csv: %v %v", err, rows)
	}
	var empty bytes.Buffer
	links.WriteJSON(&empty, nil)
	if strings.TrimSpace(empty.String()) != "[]" {
		t.Errorf("empty manifest: %q", empty.String())
	}
}

// An unknown extension is refused like an unknown size.
func TestMintRefusesUnknownExtension(t *testing.T) {
	if _, err := minter(t).Mint(photo, []string{"tile_224.bmp"}); err == nil {
		t.Error("tile_224.bmp minted")
	}
}
