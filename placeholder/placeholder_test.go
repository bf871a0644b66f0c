package placeholder

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image/png"
	"math"
	"strings"
	"testing"
)

func solid(w, h int, r, g, b, a byte) []byte {
	p := make([]byte, 4*w*h)
	for i := 0; i < len(p); i += 4 {
		p[i], p[i+1], p[i+2], p[i+3] = r, g, b, a
	}
	return p
}

func TestJSRound(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{2.5, 3}, {-2.5, -2}, {7.5, 8}, {0.49999999999999994, 0}, {-0.5, 0}, {14.999, 15}, {0, 0}, {1.4, 1},
	} {
		if got := jsRound(c.in); got != c.want {
			t.Errorf("jsRound(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestToRGBA(t *testing.T) {
	for _, c := range []struct {
		name    string
		w, h, b int
		pix     []byte
		want    []byte
		wantErr bool
	}{
		{"grey", 2, 1, 1, []byte{10, 20}, []byte{10, 10, 10, 255, 20, 20, 20, 255}, false},
		{"grey alpha", 1, 1, 2, []byte{10, 7}, []byte{10, 10, 10, 7}, false},
		{"rgb", 1, 2, 3, []byte{1, 2, 3, 4, 5, 6}, []byte{1, 2, 3, 255, 4, 5, 6, 255}, false},
		{"rgba", 1, 1, 4, []byte{1, 2, 3, 4}, []byte{1, 2, 3, 4}, false},
		{"short buffer", 2, 2, 3, make([]byte, 11), nil, true},
		{"five bands", 1, 1, 5, make([]byte, 5), nil, true},
		{"zero width", 0, 1, 3, nil, nil, true},
		{"too wide", 101, 1, 3, make([]byte, 303), nil, true},
	} {
		got, err := ToRGBA(c.w, c.h, c.b, c.pix)
		if (err != nil) != c.wantErr || !bytes.Equal(got, c.want) {
			t.Errorf("%s: %v, %v; want %v (error %v)", c.name, got, err, c.want, c.wantErr)
		}
	}
	if _, err := ToRGBA(101, 1, 3, make([]byte, 303)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
}

func TestEncoderArguments(t *testing.T) {
	for _, c := range []struct {
		name string
		w, h int
		n    int
	}{
		{"101 wide", 101, 1, 4 * 101},
		{"101 high", 1, 101, 4 * 101},
		{"short", 2, 2, 15},
		{"zero", 0, 0, 0},
	} {
		if _, err := ThumbHash(c.w, c.h, make([]byte, c.n)); err == nil {
			t.Errorf("%s: thumbhash accepted", c.name)
		}
		if _, err := BlurHash(c.w, c.h, make([]byte, c.n), 4, 3); err == nil {
			t.Errorf("%s: blurhash accepted", c.name)
		}
		if _, err := AverageColor(c.w, c.h, make([]byte, c.n)); err == nil {
			t.Errorf("%s: colour accepted", c.name)
		}
	}
	for _, comp := range [][2]int{{0, 3}, {4, 10}, {-1, 1}} {
		if _, err := BlurHash(1, 1, solid(1, 1, 0, 0, 0, 255), comp[0], comp[1]); err == nil {
			t.Errorf("blurhash with %v components accepted", comp)
		}
	}
}

func TestBlurHashComponents(t *testing.T) {
	for _, c := range []struct{ w, h, cx, cy int }{
		{100, 75, 4, 3},  // 4:3
		{75, 100, 3, 4},  // portrait
		{100, 67, 4, 3},  // 3:2
		{100, 56, 4, 3},  // 16:9: never fewer than 3
		{100, 10, 4, 3},  // panorama
		{100, 100, 4, 4}, // square
		{100, 90, 4, 4},  // nearly square
		{100, 80, 4, 3},  // 5:4
		{1, 1, 4, 4},
	} {
		if cx, cy := BlurHashComponents(c.w, c.h); cx != c.cx || cy != c.cy {
			t.Errorf("%dx%d: %dx%d, want %dx%d", c.w, c.h, cx, cy, c.cx, c.cy)
		}
	}
}

func TestAverageColor(t *testing.T) {
	checker := make([]byte, 4*4)
	copy(checker, []byte{0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 255})
	halfClear := append(solid(1, 1, 255, 0, 0, 255), solid(1, 1, 0, 0, 255, 0)...)
	for _, c := range []struct {
		name string
		w, h int
		pix  []byte
		want string
	}{
		{"white", 3, 2, solid(3, 2, 255, 255, 255, 255), "#ffffff"},
		{"black", 1, 1, solid(1, 1, 0, 0, 0, 255), "#000000"},
		{"sRGB value kept", 2, 2, solid(2, 2, 18, 128, 240, 255), "#1280f0"},
		// Black and white average to linear 0.5, which is sRGB 188.
		{"checker in linear light", 2, 2, checker, "#bcbcbc"},
		{"transparent pixels lend nothing", 2, 1, halfClear, "#ff0000"},
		{"all transparent: unweighted", 1, 1, solid(1, 1, 10, 20, 30, 0), "#0a141e"},
	} {
		got, err := AverageColor(c.w, c.h, c.pix)
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
		if !ValidColor(got) {
			t.Errorf("%s: %q not valid", c.name, got)
		}
	}
}

func TestValidColor(t *testing.T) {
	for s, want := range map[string]bool{
		"#000000": true, "#A0b1C2": true, "#fff": false, "000000": false, "#00000g": false,
		"#0000000": false, "": false, "red;x:y": false, "#12345\"": false,
	} {
		if ValidColor(s) != want {
			t.Errorf("ValidColor(%q) != %v", s, want)
		}
	}
}

func TestComputeOnAPhoto(t *testing.T) {
	w, h, rgba := photoPixels(t, "../testdata/photos/Landscape_1.jpg")
	p, err := Compute(w, h, 4, rgba)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidColor(p.Color) || ValidBlurHash(p.BlurHash) != nil {
		t.Fatalf("%+v", p)
	}
	th, err := ParseThumbHash(p.ThumbHash)
	if err != nil || ThumbHashHasAlpha(th) {
		t.Fatalf("thumbhash %q: %v, alpha %v", p.ThumbHash, err, ThumbHashHasAlpha(th))
	}
	if len(p.BlurHash) != 4+2*4*3 {
		t.Errorf("4:3 photo: blurhash %q, want 28 characters", p.BlurHash)
	}
	// Three bands give what four opaque bands give.
	rgb := make([]byte, 0, 3*w*h)
	for i := 0; i < len(rgba); i += 4 {
		rgb = append(rgb, rgba[i:i+3]...)
	}
	p3, err := Compute(w, h, 3, rgb)
	if err != nil || p3 != p {
		t.Errorf("rgb %+v vs rgba %+v (%v)", p3, p, err)
	}
	t.Logf("Landscape_1 %dx%d: %+v", w, h, p)

	// A photo with transparency says so.
	w, h, rgba = photoPixels(t, "../testdata/photos/dice.png")
	th2, err := ThumbHash(w, h, rgba)
	if err != nil || !ThumbHashHasAlpha(th2) {
		t.Errorf("dice.png: alpha not flagged (%v)", err)
	}
}

func TestThumbHashDataURL(t *testing.T) {
	for _, name := range []string{"Landscape_1.jpg", "Landscape_5.jpg", "dice.png"} {
		w, h, rgba := photoPixels(t, "../testdata/photos/"+name)
		th, err := ThumbHash(w, h, rgba)
		if err != nil {
			t.Fatal(err)
		}
		u, err := ThumbHashDataURL(base64.StdEncoding.EncodeToString(th))
		if err != nil {
			t.Fatal(err)
		}
		const prefix = "data:image/png;base64,"
		if !strings.HasPrefix(u, prefix) {
			t.Fatalf("%s: %.40s", name, u)
		}
		raw, err := base64.StdEncoding.DecodeString(u[len(prefix):])
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", name, err)
		}
		dw, dh, _, _ := DecodeThumbHash(th)
		if b := img.Bounds(); b.Dx() != dw || b.Dy() != dh || max(dw, dh) != 32 {
			t.Errorf("%s: PNG %v, decoder %dx%d", name, b, dw, dh)
		}
		// The aspect ratio survives roughly (the hash keeps it in eighths).
		if got, want := float64(dw)/float64(dh), float64(w)/float64(h); math.Abs(got-want)/want > 0.25 {
			t.Errorf("%s: ratio %.2f, photo %.2f", name, got, want)
		}
		t.Logf("%s: data URL %d bytes", name, len(u))
	}
}

func TestMalformedHashes(t *testing.T) {
	for _, s := range []string{"", "!!!!", "AAAA", base64.StdEncoding.EncodeToString([]byte{1, 2, 3, 4}), base64.StdEncoding.EncodeToString([]byte{1, 2, 3, 0, 0, 0, 0}),
		base64.StdEncoding.EncodeToString([]byte{1, 2, 0x83, 7, 0}), // alpha bit, no alpha byte
		"npsCBYCIeHiHh3d4h4eHcI+FiU",                                // truncated
	} {
		if _, err := ParseThumbHash(s); !errors.Is(err, ErrHash) {
			t.Errorf("ParseThumbHash(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "LEHV6n", "LEHV6nWB2yk8pyo0adR*.7kCMdnjX", "LEHV6nWB2yk8pyo0adR*.7kCMdn", "LEHV6nWB2yk8pyo0adR*.7kCMd\"", "\xffEHV6nWB2yk8pyo0adR*.7kCMdnj"} {
		if ValidBlurHash(s) == nil {
			t.Errorf("ValidBlurHash(%q) accepted", s)
		}
		if _, err := DecodeBlurHash(s, 8, 8); err == nil {
			t.Errorf("DecodeBlurHash(%q) accepted", s)
		}
	}
	// Wolt's example hash decodes.
	if err := ValidBlurHash("LEHV6nWB2yk8pyo0adR*.7kCMdnj"); err != nil {
		t.Error(err)
	}
	if _, err := DecodeBlurHash("LEHV6nWB2yk8pyo0adR*.7kCMdnj", 0, 8); err == nil {
		t.Error("zero-width rendering accepted")
	}
}
