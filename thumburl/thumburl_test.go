package thumburl_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/variant"
)

const (
	hash = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	tok  = "-fRuExvwR-bfB1DlSdxViCDz"
)

func TestParseAllSizesAndExtensions(t *testing.T) {
	exts := []struct {
		ext      string
		format   variant.Format
		explicit bool
	}{
		{"", variant.JPEG, false},
		{".jpg", variant.JPEG, true},
		{".jpeg", variant.JPEG, true},
		{".png", variant.PNG, true},
		{".webp", variant.WebP, true},
		{".avif", variant.AVIF, true},
	}
	if len(variant.SizeNames()) < 18 {
		t.Fatalf("SizeNames() = %v; want the 18 PhotoPrism sizes", variant.SizeNames())
	}
	for _, name := range variant.SizeNames() {
		want, err := variant.ParseSize(name)
		if err != nil {
			t.Fatalf("ParseSize(%q): %v", name, err)
		}
		for _, e := range exts {
			t.Run(name+e.ext, func(t *testing.T) {
				r, err := thumburl.Parse(hash, tok, name+e.ext)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if r.Hash != hash || r.Token != tok {
					t.Errorf("Hash, Token = %q, %q; want %q, %q", r.Hash, r.Token, hash, tok)
				}
				if r.Size != want {
					t.Errorf("Size = %+v; want %+v", r.Size, want)
				}
				wantFormat := e.format
				if name == "colors" {
					wantFormat = variant.PNG // colors is always PNG
				}
				if r.Format != wantFormat {
					t.Errorf("Format = %v; want %v", r.Format, wantFormat)
				}
				if r.Explicit != e.explicit {
					t.Errorf("Explicit = %v; want %v", r.Explicit, e.explicit)
				}
			})
		}
	}
}

func TestParseColorsFormat(t *testing.T) {
	for _, tc := range []struct {
		size     string
		format   variant.Format
		explicit bool
	}{
		{"colors", variant.PNG, false},
		{"colors.png", variant.PNG, true},
		{"colors.jpg", variant.PNG, true}, // the extension does not change colors' format
		{"tile_50", variant.JPEG, false},
	} {
		r, err := thumburl.Parse(hash, tok, tc.size)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.size, err)
		}
		if r.Format != tc.format || r.Explicit != tc.explicit {
			t.Errorf("Parse(%q) format %v explicit %v; want %v %v", tc.size, r.Format, r.Explicit, tc.format, tc.explicit)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range []struct {
		name              string
		hash, token, size string
		want              error
	}{
		{"hash 39 chars", hash[:39], tok, "tile_500", thumburl.ErrMalformed},
		{"hash 41 chars", hash + "0", tok, "tile_500", thumburl.ErrMalformed},
		{"hash uppercase", strings.ToUpper(hash), tok, "tile_500", thumburl.ErrMalformed},
		{"hash one uppercase", "A" + hash[1:], tok, "tile_500", thumburl.ErrMalformed},
		{"hash non-hex g", "g" + hash[1:], tok, "tile_500", thumburl.ErrMalformed},
		{"hash with space", " " + hash[1:], tok, "tile_500", thumburl.ErrMalformed},
		{"hash with slash", "/" + hash[1:], tok, "tile_500", thumburl.ErrMalformed},
		{"hash empty", "", tok, "tile_500", thumburl.ErrMalformed},
		{"hash multibyte", "é" + hash[2:], tok, "tile_500", thumburl.ErrMalformed},
		{"token empty", hash, "", "tile_500", thumburl.ErrMalformed},
		{"token 65 chars", hash, strings.Repeat("a", 65), "tile_500", thumburl.ErrMalformed},
		{"token 1000 chars", hash, strings.Repeat("a", 1000), "tile_500", thumburl.ErrMalformed},
		{"bad hash wins over bad size", hash[:39], tok, "nope", thumburl.ErrMalformed},
		{"size empty", hash, tok, "", variant.ErrUnknownSize},
		{"size unknown", hash, tok, "square_500", variant.ErrUnknownSize},
		{"size unknown tile suffix", hash, tok, "tile_x1", variant.ErrUnknownSize},
		{"size custom leading zero", hash, tok, "tile_0501", variant.ErrUnknownSize},
		{"size custom zero", hash, tok, "tile_0", variant.ErrUnknownSize},
		{"size custom too large", hash, tok, "tile_99999", variant.ErrUnknownSize},
		{"size custom fit without height", hash, tok, "fit_800x", variant.ErrUnknownSize},
		{"size custom signed", hash, tok, "tile_+500", variant.ErrUnknownSize},
		{"size uppercase", hash, tok, "TILE_500", variant.ErrUnknownSize},
		{"size fit_999", hash, tok, "fit_999", variant.ErrUnknownSize},
		{"size trailing space", hash, tok, "tile_500 ", variant.ErrUnknownSize},
		{"size unknown with ext", hash, tok, "square_500.jpg", variant.ErrUnknownSize},
		{"ext unknown", hash, tok, "tile_500.gif", variant.ErrUnknownSize},
		{"ext uppercase", hash, tok, "tile_500.JPG", variant.ErrUnknownSize},
		{"ext empty", hash, tok, "tile_500.", variant.ErrUnknownSize},
		{"ext double", hash, tok, "tile_500.jpg.png", variant.ErrUnknownSize},
		{"ext only", hash, tok, ".jpg", variant.ErrUnknownSize},
		{"ext long", hash, tok, "tile_500." + strings.Repeat("x", 500), variant.ErrUnknownSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := thumburl.Parse(tc.hash, tc.token, tc.size)
			if err == nil {
				t.Fatalf("Parse(%q, %q, %q) = %+v; want error", tc.hash, tc.token, tc.size, r)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse error %v; want errors.Is %v", err, tc.want)
			}
			other := variant.ErrUnknownSize
			if tc.want == variant.ErrUnknownSize {
				other = thumburl.ErrMalformed
			}
			if errors.Is(err, other) {
				t.Errorf("Parse error %v is both ErrMalformed and ErrUnknownSize", err)
			}
			if r != (thumburl.Request{}) {
				t.Errorf("Parse returned non-zero Request %+v with error", r)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error message is %d bytes; it must not echo long input", len(err.Error()))
			}
		})
	}
}

func TestParseCustomSizes(t *testing.T) {
	for _, tc := range []struct {
		size string
		want variant.Size
	}{
		{"tile_501", variant.Size{Name: "tile_501", Width: 501, Height: 501, Mode: variant.Tile, Custom: true}},
		{"tile_501.webp", variant.Size{Name: "tile_501", Width: 501, Height: 501, Mode: variant.Tile, Custom: true}},
		{"fit_800x600", variant.Size{Name: "fit_800x600", Width: 800, Height: 600, Mode: variant.Fit, Custom: true}},
	} {
		r, err := thumburl.Parse(hash, tok, tc.size)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.size, err)
			continue
		}
		if r.Size != tc.want {
			t.Errorf("Parse(%q).Size = %+v; want %+v", tc.size, r.Size, tc.want)
		}
	}
}

func TestParseTokenLengthBoundary(t *testing.T) {
	for _, n := range []int{1, 24, 32, 64} {
		if _, err := thumburl.Parse(hash, strings.Repeat("t", n), "tile_50"); err != nil {
			t.Errorf("token of %d chars: %v", n, err)
		}
	}
}

func TestIsHash(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{hash, true},
		{strings.Repeat("0", 40), true},
		{strings.Repeat("f", 40), true},
		{strings.Repeat("F", 40), false},
		{strings.Repeat("0", 39), false},
		{strings.Repeat("0", 41), false},
		{"", false},
		{strings.Repeat("g", 40), false},
	} {
		if got := thumburl.IsHash(tc.s); got != tc.ok {
			t.Errorf("IsHash(%q) = %v; want %v", tc.s, got, tc.ok)
		}
	}
}

func TestPath(t *testing.T) {
	if got, want := thumburl.Path(hash, tok, "tile_500.webp"), "/t/"+hash+"/"+tok+"/tile_500.webp"; got != want {
		t.Errorf("Path = %q; want %q", got, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, size := range []string{"tile_500", "fit_1920.webp", "colors", "colors.jpg", "left_224.avif", "x.y", "", "tile_500.",
		"fit_1280x1024_q70", "tile_300_q60.webp", "screen_1920x1080_q100.avif", "tile_300_q0", "tile_300_q070", "tile_300_q101",
		"fit_720_q70", "tile_300_q", "tile__q60", "fit_800x600_q70_q70", "colors_q50", "original_q90"} {
		f.Add(hash, tok, size)
	}
	f.Add(strings.ToUpper(hash), tok, "tile_50")
	f.Add(hash[:39], "", "fit_720")
	f.Add(hash, strings.Repeat("t", 65), "fit_720")
	names := variant.SizeNames()
	f.Fuzz(func(t *testing.T, h, token, size string) {
		r, err := thumburl.Parse(h, token, size)
		if err != nil {
			if !errors.Is(err, thumburl.ErrMalformed) && !errors.Is(err, variant.ErrUnknownSize) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrUnknownSize", err)
			}
			return
		}
		if len(r.Hash) != 40 || r.Hash != h || !thumburl.IsHash(r.Hash) {
			t.Fatalf("Hash %q is not 40 lowercase hex", r.Hash)
		}
		for _, c := range r.Hash {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				t.Fatalf("Hash %q has %q", r.Hash, c)
			}
		}
		if !slices.Contains(names, r.Size.Name) {
			// Otherwise it must be a well-formed custom size.
			if !r.Size.Custom {
				t.Fatalf("Size.Name %q is neither one of %v nor a custom size", r.Size.Name, names)
			}
			if r.Size.Width < 1 || r.Size.Height < 1 || r.Size.Width > variant.MaxCustomEdge || r.Size.Height > variant.MaxCustomEdge {
				t.Fatalf("custom size %+v outside 1..%d", r.Size, variant.MaxCustomEdge)
			}
			if again, err := variant.ParseSize(r.Size.Name); err != nil || again != r.Size {
				t.Fatalf("custom size %q does not round-trip: %+v, %v", r.Size.Name, again, err)
			}
			// A quality is 1-100 and spelled one way: the name says it.
			if q := r.Size.Quality; q != 0 && (q < 1 || q > variant.MaxQuality || !strings.HasSuffix(r.Size.Name, fmt.Sprintf("_q%d", q))) {
				t.Fatalf("custom size %q has quality %d", r.Size.Name, q)
			}
			if r.Size.Quality == 0 && strings.Contains(r.Size.Name, "_q") {
				t.Fatalf("custom size %q lost its quality", r.Size.Name)
			}
		} else if r.Size.Custom || r.Size.Quality != 0 {
			t.Fatalf("named size %q marked custom or with a quality", r.Size.Name)
		}
		if r.Token != token || token == "" || len(token) > 64 {
			t.Fatalf("Token %q (input %q) accepted", r.Token, token)
		}
		base, _, _ := strings.Cut(size, ".")
		if base != r.Size.Name {
			t.Fatalf("size segment %q parsed as %q", size, r.Size.Name)
		}
		if r.Explicit != strings.Contains(size, ".") {
			t.Fatalf("Explicit = %v for %q", r.Explicit, size)
		}
	})
}
