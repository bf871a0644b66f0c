package links_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/placeholder"
	"github.com/thumbd/thumbd/signing"
)

// A ThumbHash of a real photograph (Landscape_1.jpg at 100x75) and its
// colour, as the placeholder package computes them.
var landscape = placeholder.Placeholder{ThumbHash: "IggWJYR3d4h/iHiFh1eHiHeDcDcI", Color: "#9f9b9f"}

func fmtLinks(ext string, ws ...int) []links.Link {
	var ls []links.Link
	for i, w := range ws {
		l := links.Link{URL: "/t/h/tok" + strconv.Itoa(i) + "/fit_" + strconv.Itoa(w) + ext, Width: w}
		if w > 0 {
			l.Height = w * 3 / 4
		}
		ls = append(ls, l)
	}
	return ls
}

func sources(ws ...int) links.Sources {
	return links.Sources{AVIF: fmtLinks(".avif", ws...), WebP: fmtLinks(".webp", ws...), JPEG: fmtLinks(".jpg", ws...)}
}

// alphaHash is the ThumbHash of an image with transparent parts.
func alphaHash(t *testing.T) string {
	t.Helper()
	px := make([]byte, 4*8*8)
	for i := 0; i < len(px); i += 4 {
		px[i], px[i+3] = 200, byte(i)
	}
	th, err := placeholder.ThumbHash(8, 8, px)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(th)
}

func TestPictureHTML(t *testing.T) {
	photo := links.Photo{Path: "a.jpg", Hash: strings.Repeat("ab", 20), Width: 4032, Height: 3024}
	full := `<picture>` +
		`<source type="image/avif" srcset="/t/h/tok0/fit_720.avif 720w, /t/h/tok1/fit_1280.avif 1280w" sizes="(max-width: 720px) 100vw, 720px">` +
		`<source type="image/webp" srcset="/t/h/tok0/fit_720.webp 720w, /t/h/tok1/fit_1280.webp 1280w" sizes="(max-width: 720px) 100vw, 720px">` +
		`<img src="/t/h/tok0/fit_720.jpg" srcset="/t/h/tok0/fit_720.jpg 720w, /t/h/tok1/fit_1280.jpg 1280w" sizes="(max-width: 720px) 100vw, 720px"` +
		` width="720" height="540" alt="&#34;Quotes&#34; &amp; &lt;tags&gt;" loading="lazy" decoding="async" style="background:#9f9b9f"></picture>`
	for _, c := range []struct {
		name    string
		pic     links.Picture
		want    string   // the whole output, if set
		has     []string // substrings that must appear
		hasNot  []string
		wantErr error // errors.Is, or any error if errAny
		errAny  bool
	}{
		{name: "three formats", pic: links.Picture{Photo: photo, Alt: `"Quotes" & <tags>`, Placeholder: landscape, Sources: sources(720, 1280)}, want: full},
		{
			name: "a small original: one width, listed once",
			pic:  links.Picture{Photo: photo, Alt: "x", Sources: sources(640, 640, 640)},
			has:  []string{`<source type="image/avif" srcset="/t/h/tok0/fit_640.avif 640w" sizes=`, `<img src="/t/h/tok0/fit_640.jpg" width="640" height="480"`},
			// No srcset on the img: its one candidate is src.
			hasNot: []string{"tok1", "tok2", `.jpg 640w`, "style="},
		},
		{
			name: "widths sorted, first of equal widths kept",
			pic:  links.Picture{Alt: "x", Sources: sources(1280, 720, 720)},
			has:  []string{`srcset="/t/h/tok1/fit_720.avif 720w, /t/h/tok0/fit_1280.avif 1280w"`, `<img src="/t/h/tok0/fit_1280.jpg"`, `sizes="(max-width: 1280px) 100vw, 1280px"`},
		},
		{
			name:   "no AVIF: WebP and JPEG only",
			pic:    links.Picture{Alt: "x", Sources: links.Sources{WebP: fmtLinks(".webp", 720), JPEG: fmtLinks(".jpg", 720)}},
			has:    []string{`<picture><source type="image/webp"`},
			hasNot: []string{"image/avif"},
		},
		{name: "no JPEG", pic: links.Picture{Alt: "x", Sources: links.Sources{AVIF: fmtLinks(".avif", 720)}}, wantErr: links.ErrNoJPEG},
		{name: "colour that is CSS", pic: links.Picture{Alt: "x", Placeholder: placeholder.Placeholder{Color: "red;background:url(//evil)"}, Sources: sources(720)}, errAny: true},
		{name: "malformed thumbhash", pic: links.Picture{Alt: "x", Placeholder: placeholder.Placeholder{ThumbHash: "not base64!"}, Sources: sources(720)}, wantErr: placeholder.ErrHash},
		{
			name:   "transparent photo: no background",
			pic:    links.Picture{Alt: "x", Placeholder: placeholder.Placeholder{ThumbHash: alphaHash(t), Color: "#c80000"}, Sources: sources(720), ThumbHashImage: true},
			hasNot: []string{"style=", "background"},
		},
		{
			name: "thumbhash painted under the colour",
			pic:  links.Picture{Alt: "x", Placeholder: landscape, Sources: sources(720), ThumbHashImage: true},
			has:  []string{`style="background:#9f9b9f url(data:image/png;base64,`, `) center/cover no-repeat"`},
		},
		{
			name:   "URLs escaped for the attribute and the srcset",
			pic:    links.Picture{Alt: "x", Sources: links.Sources{AVIF: []links.Link{{URL: `/a b,c"d<e>.avif`, Width: 10}}, JPEG: []links.Link{{URL: `/a b,c"d<e>.jpg`, Width: 10}}}},
			has:    []string{`srcset="/a%20b%2Cc&#34;d&lt;e&gt;.avif 10w"`, `<img src="/a b,c&#34;d&lt;e&gt;.jpg"`},
			hasNot: []string{`"d<`},
		},
		{
			name:   "widths unknown: URL alone, no sizes, no box",
			pic:    links.Picture{Alt: "x", Sources: sources(0, 0)},
			has:    []string{`<source type="image/avif" srcset="/t/h/tok0/fit_0.avif">`, `<img src="/t/h/tok0/fit_0.jpg" alt="x"`},
			hasNot: []string{"sizes=", "width=", "tok1"},
		},
		{
			name: "sizes given",
			pic:  links.Picture{Alt: "x", Sizes: `(min-width: 60em) 50vw, 100vw`, Sources: sources(720, 1280)},
			has:  []string{`sizes="(min-width: 60em) 50vw, 100vw"`},
		},
		{
			name: "height from the photo when the link lacks it",
			pic:  links.Picture{Photo: links.Photo{Width: 3000, Height: 2000}, Alt: "x", Sources: links.Sources{JPEG: []links.Link{{URL: "/j", Width: 720}}}},
			has:  []string{`width="720" height="480"`},
		},
		{
			name: "decorative: empty alt kept",
			pic:  links.Picture{Sources: sources(720)},
			has:  []string{` alt="" loading="lazy" decoding="async"`},
		},
	} {
		got, err := links.PictureHTML(c.pic)
		switch {
		case c.wantErr != nil || c.errAny:
			if err == nil || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
				t.Errorf("%s: error %v, want %v (output %q)", c.name, err, c.wantErr, got)
			}
			continue
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if c.want != "" && got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
		for _, s := range c.has {
			if !strings.Contains(got, s) {
				t.Errorf("%s: no %q in %s", c.name, s, got)
			}
		}
		for _, s := range c.hasNot {
			if strings.Contains(got, s) {
				t.Errorf("%s: %q in %s", c.name, s, got)
			}
		}
	}
}

func TestMintSources(t *testing.T) {
	sg, err := signing.New([]string{"picture-test-key-0123456789abcdefghij"}, false)
	if err != nil {
		t.Fatal(err)
	}
	m := links.Minter{Signer: sg, Base: "https://img.example.com"}
	p := links.Photo{Path: "x.jpg", Hash: strings.Repeat("cd", 20), Width: 4032, Height: 3024}
	s, err := m.MintSources(p, []string{"fit_720", "fit_1280.png", "tile_224"})
	if err != nil {
		t.Fatal(err)
	}
	for ext, ls := range map[string][]links.Link{".avif": s.AVIF, ".webp": s.WebP, ".jpg": s.JPEG} {
		if len(ls) != 3 {
			t.Fatalf("%s: %d links", ext, len(ls))
		}
		for i, l := range ls {
			if !strings.HasSuffix(l.URL, ext) || strings.Contains(l.URL, ".png") {
				t.Errorf("%s %d: %s", ext, i, l.URL)
			}
		}
		if ls[0].Width != 720 || ls[0].Height != 540 || ls[2].Width != 224 {
			t.Errorf("%s: sizes %+v", ext, ls)
		}
	}
	// The token covers the size, not the format: the same in all three.
	tok := func(u string) string { return strings.Split(u, "/")[5] }
	if tok(s.AVIF[1].URL) != tok(s.JPEG[1].URL) || tok(s.WebP[1].URL) != tok(s.JPEG[1].URL) {
		t.Errorf("tokens differ: %s %s %s", s.AVIF[1].URL, s.WebP[1].URL, s.JPEG[1].URL)
	}
	if _, err := m.MintSources(p, []string{"huge_9"}); err == nil {
		t.Error("unknown size minted")
	}
}

// TestPictureParses reads the markup back with an HTML parser: the
// structure a browser builds, attribute values that round-trip hostile
// text, and srcsets whose candidates parse with distinct ascending widths.
func TestPictureParses(t *testing.T) {
	sg, err := signing.New([]string{"picture-test-key-0123456789abcdefghij"}, false)
	if err != nil {
		t.Fatal(err)
	}
	m := links.Minter{Signer: sg, Base: `https://img.example.com/"quoted"&<odd> base`}
	// A 900-pixel-wide original: fit_1280, fit_1600 and fit_1920 are all 900
	// wide (nothing is upscaled), so the srcsets list 900 once.
	p := links.Photo{Path: "x.jpg", Hash: strings.Repeat("ef", 20), Width: 900, Height: 600}
	src, err := m.MintSources(p, []string{"fit_720", "fit_1920", "fit_1280", "fit_1600"})
	if err != nil {
		t.Fatal(err)
	}
	alt := `Low tide "at" dawn & <script>alert(1)</script>`
	out, err := links.PictureHTML(links.Picture{Photo: p, Alt: alt, Placeholder: landscape, Sources: src, ThumbHashImage: true})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader("<!doctype html><body>" + out))
	if err != nil {
		t.Fatal(err)
	}
	var pictures []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "script" {
			t.Errorf("alt text became a <script> element")
		}
		if n.Type == html.ElementNode && n.Data == "picture" {
			pictures = append(pictures, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if len(pictures) != 1 {
		t.Fatalf("%d <picture> elements in %s", len(pictures), out)
	}
	var kids []*html.Node
	for c := pictures[0].FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			t.Errorf("non-element child %q", c.Data)
			continue
		}
		kids = append(kids, c)
	}
	if len(kids) != 3 || kids[0].Data != "source" || kids[1].Data != "source" || kids[2].Data != "img" {
		t.Fatalf("children %v", names(kids))
	}
	attr := func(n *html.Node) map[string]string {
		a := map[string]string{}
		for _, at := range n.Attr {
			if _, dup := a[at.Key]; dup {
				t.Errorf("<%s> has %s twice", n.Data, at.Key)
			}
			a[at.Key] = at.Val
		}
		return a
	}
	wantSizes := "(max-width: 720px) 100vw, 720px"
	for i, typ := range []string{"image/avif", "image/webp"} {
		a := attr(kids[i])
		if a["type"] != typ || a["sizes"] != wantSizes {
			t.Errorf("source %d: %v", i, a)
		}
		checkSrcset(t, typ, a["srcset"], "."+strings.TrimPrefix(typ, "image/"), []int{720, 900})
	}
	img := attr(kids[2])
	for k, v := range map[string]string{
		"src": src.JPEG[0].URL, "alt": alt, "width": "720", "height": "480",
		"loading": "lazy", "decoding": "async", "sizes": wantSizes,
	} {
		if img[k] != v {
			t.Errorf("img %s = %q, want %q", k, img[k], v)
		}
	}
	checkSrcset(t, "img", img["srcset"], ".jpg", []int{720, 900})
	if st := img["style"]; !strings.HasPrefix(st, "background:#9f9b9f url(data:image/png;base64,") {
		t.Errorf("style %.80q", st)
	}
	if !strings.HasPrefix(src.JPEG[0].URL, `https://img.example.com/"quoted"&<odd> base/t/`) {
		t.Fatalf("test premise: base kept as is: %s", src.JPEG[0].URL)
	}
}

// checkSrcset parses candidates as a browser does (split on commas that
// follow a descriptor) and wants the given widths, in order, each once.
func checkSrcset(t *testing.T, who, set, ext string, widths []int) {
	t.Helper()
	cands := strings.Split(set, ", ")
	if len(cands) != len(widths) {
		t.Fatalf("%s: srcset %q: %d candidates, want %d", who, set, len(cands), len(widths))
	}
	for i, c := range cands {
		f := strings.Fields(c)
		if len(f) != 2 || !strings.HasSuffix(f[1], "w") {
			t.Fatalf("%s: candidate %q", who, c)
		}
		w, err := strconv.Atoi(strings.TrimSuffix(f[1], "w"))
		if err != nil || w != widths[i] {
			t.Errorf("%s: candidate %d width %q, want %d", who, i, f[1], widths[i])
		}
		if !strings.HasSuffix(f[0], ext) || strings.ContainsAny(f[0], " ,") {
			t.Errorf("%s: candidate URL %q", who, f[0])
		}
	}
}

func names(ns []*html.Node) []string {
	var s []string
	for _, n := range ns {
		s = append(s, n.Data)
	}
	return s
}
