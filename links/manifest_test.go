package links_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/thumbd/thumbd/links"
)

// Manifests carry the placeholder per photo: JSON as thumbhash, blurhash
// and color beside width and height; CSV as the last three columns.
func TestManifestsCarryPlaceholders(t *testing.T) {
	p := photo
	p.Placeholder = landscape
	p.BlurHash = "LEHV6nWB2yk8pyo0adR*.7kCMdnj"
	ls, err := minter(t).Mint(p, []string{"fit_720"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := links.WriteJSON(&buf, []links.Entry{{Photo: p, Links: ls}}); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"thumbhash": landscape.ThumbHash, "blurhash": p.BlurHash, "color": landscape.Color, "width": 4032.0, "height": 3024.0} {
		if got[0][k] != want {
			t.Errorf("json %s = %v, want %v\n%s", k, got[0][k], want, buf.String())
		}
	}
	buf.Reset()
	if err := links.WriteCSV(&buf, []string{"fit_720"}, []links.Entry{{Photo: p, Links: ls}}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := strings.Join(rows[0], ",")
	if head != "path,hash,width,height,taken,url_fit_720,color,thumbhash,blurhash" {
		t.Errorf("csv header %s", head)
	}
	if r := rows[1]; r[6] != landscape.Color || r[7] != landscape.ThumbHash || r[8] != p.BlurHash {
		t.Errorf("csv row %v", r)
	}
	// A photo without a placeholder (a hash signed as given) has no such keys.
	buf.Reset()
	links.WriteJSON(&buf, []links.Entry{{Photo: links.Photo{Hash: photo.Hash}, Links: ls}})
	if strings.Contains(buf.String(), "thumbhash") || strings.Contains(buf.String(), "color") {
		t.Errorf("empty placeholder written:\n%s", buf.String())
	}
}

// Minter.PictureHTML signs every size in the three formats and paints the
// photo's placeholder; sizes that are not a lossy photo are refused.
func TestMinterPictureHTML(t *testing.T) {
	p := photo
	p.Placeholder = landscape
	out, err := minter(t).PictureHTML(p, []string{"fit_720.jpg", "fit_1280", "fit_1600x1200_q70"}, "Low tide")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var sources, imgs int
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attrs := map[string]string{}
			for _, a := range n.Attr {
				attrs[a.Key] = a.Val
			}
			switch n.Data {
			case "source":
				sources++
				ext := map[string]string{"image/avif": ".avif", "image/webp": ".webp"}[attrs["type"]]
				if ext == "" || strings.Count(attrs["srcset"], ext+" ") != 3 {
					t.Errorf("source %v: want 3 %s candidates", attrs, ext)
				}
			case "img":
				imgs++
				for k, want := range map[string]string{"width": "720", "height": "540", "alt": "Low tide", "loading": "lazy", "decoding": "async", "style": "background:#9f9b9f"} {
					if attrs[k] != want {
						t.Errorf("img %s = %q, want %q", k, attrs[k], want)
					}
				}
				if !strings.HasSuffix(attrs["src"], "/fit_720.jpg") || strings.Count(attrs["srcset"], ".jpg ") != 3 || !strings.Contains(attrs["srcset"], "fit_1600x1200_q70.jpg 1600w") {
					t.Errorf("img src/srcset: %v", attrs)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if sources != 2 || imgs != 1 {
		t.Errorf("%d sources, %d imgs in %s", sources, imgs, out)
	}
	for _, bad := range []string{"original", "colors", "avc", "huge_9"} {
		if _, err := minter(t).PictureHTML(p, []string{"fit_720", bad}, "x"); err == nil {
			t.Errorf("%s accepted in a <picture>", bad)
		}
	}
}
