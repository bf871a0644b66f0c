package pages_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/thumbd/thumbd/pages"
)

const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>&amp;'`

// The one inline stylesheet is exactly what the CSP's hash names, so the
// page is styled without 'unsafe-inline'.
func TestStyleHashMatchesCSP(t *testing.T) {
	for name, render := range map[string]func() ([]byte, error){
		"share":   func() ([]byte, error) { return pages.RenderShare(pages.Share{Src: pages.Image{URL: "/p/x"}}) },
		"gallery": func() ([]byte, error) { return pages.RenderGallery(pages.Gallery{Heading: "Album"}) },
	} {
		b, err := render()
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllSubmatch(b, -1)
		if len(m) != 1 {
			t.Fatalf("%s: %d style elements", name, len(m))
		}
		sum := sha256.Sum256(m[0][1])
		if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(pages.CSP(), "style-src "+want) {
			t.Errorf("%s: CSP %q does not name the stylesheet's hash %s", name, pages.CSP(), want)
		}
	}
}

// Every text field is escaped: a hostile title, caption, alt and file
// name stay text in the parsed document.
func TestHostileTextEscaped(t *testing.T) {
	meta := pages.Meta{Title: hostile, Description: hostile, URL: "https://x/p/a?b=" + hostile, OEmbed: "https://x/oembed?url=a&format=json",
		Image: pages.Image{URL: "https://x/i.jpg", Width: 10, Height: 20}, ImageType: "image/jpeg", ImageAlt: hostile, Noindex: true}
	share, err := pages.RenderShare(pages.Share{Meta: meta, Heading: hostile, Caption: hostile + "\nline", Alt: hostile, Back: "/a/x",
		Src: pages.Image{URL: "/p/1", Width: 10, Height: 20}, Srcset: []pages.Image{{URL: "/p/1", Width: 10}, {URL: "/p/2", Width: 20}}})
	if err != nil {
		t.Fatal(err)
	}
	gallery, err := pages.RenderGallery(pages.Gallery{Meta: meta, Heading: hostile, Count: 1, Page: 1, Pages: 2, Next: "/a/x/page/2", JSON: "/a/x/album.json",
		Items: []pages.Item{{Page: "/a/x/0", Name: hostile, Thumb: pages.Image{URL: "/a/x/0/tile_224", Width: 224, Height: 224}}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"share": share, "gallery": gallery} {
		if bytes.Contains(b, []byte("<script")) || bytes.Contains(b, []byte("<img src=x")) {
			t.Errorf("%s: hostile markup survived:\n%s", name, b)
		}
		doc, err := html.Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var n, alts, titles int
		var walk func(*html.Node)
		walk = func(x *html.Node) {
			if x.Type == html.ElementNode {
				switch x.Data {
				case "script", "iframe", "object", "embed":
					t.Errorf("%s: <%s> element", name, x.Data)
				}
				for _, a := range x.Attr {
					if strings.HasPrefix(a.Key, "on") {
						t.Errorf("%s: handler %s on <%s>", name, a.Key, x.Data)
					}
					if a.Key == "alt" && a.Val == hostile {
						alts++
					}
					if a.Key == "content" && a.Val == hostile {
						titles++
					}
				}
				n++
			}
			for c := x.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		if alts != 1 || titles < 4 {
			t.Errorf("%s: hostile text as attribute values: %d alts, %d meta contents", name, alts, titles)
		}
	}
	if !bytes.Contains(share, []byte(`srcset="/p/1 10w, /p/2 20w"`)) || !bytes.Contains(share, []byte(`content="noindex`)) {
		t.Errorf("share page srcset/robots:\n%s", share)
	}
	if !bytes.Contains(gallery, []byte(`rel="next" href="/a/x/page/2"`)) {
		t.Errorf("gallery pager:\n%s", gallery)
	}
	noidx, _ := pages.RenderShare(pages.Share{Src: pages.Image{URL: "/p/1"}})
	if bytes.Contains(noidx, []byte("robots")) {
		t.Error("robots meta without Noindex")
	}
}
