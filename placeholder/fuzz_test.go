package placeholder

import (
	"encoding/base64"
	"testing"
)

// FuzzDecodeThumbHash: any bytes either fail with an error or render a
// 32-pixel-long image of the right length; never a panic.
func FuzzDecodeThumbHash(f *testing.F) {
	for _, s := range []string{"npsCBYCIeHiHh3d4h4eHcI+FiUCH", "HNkBBDDwpId4eIZoh7j4hYcIiA==", "1QcSHQRnh493V4dIh4eXh1h4kJUI", "YJqGPQw7sFlslqhFafSE+Q6oJ1h2iHB2Rw=="} {
		b, _ := base64.StdEncoding.DecodeString(s)
		f.Add(b)
	}
	f.Add([]byte{0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, hash []byte) {
		w, h, rgba, err := DecodeThumbHash(hash)
		if err != nil {
			return
		}
		if w < 1 || h < 1 || max(w, h) != 32 || len(rgba) != 4*w*h {
			t.Fatalf("%x: %dx%d with %d bytes", hash, w, h, len(rgba))
		}
		if _, err := ThumbHashDataURL(base64.StdEncoding.EncodeToString(hash)); err != nil {
			t.Fatalf("%x decodes but has no data URL: %v", hash, err)
		}
	})
}

// FuzzDecodeBlurHash: a string ValidBlurHash accepts renders; others fail.
func FuzzDecodeBlurHash(f *testing.F) {
	f.Add("LEHV6nWB2yk8pyo0adR*.7kCMdnj", 8, 6)
	f.Add("00000000", 1, 1)
	f.Add("|~~~~~~~", 100, 100)
	f.Fuzz(func(t *testing.T, s string, w, h int) {
		pix, err := DecodeBlurHash(s, w, h)
		valid := ValidBlurHash(s) == nil
		okSize := w >= 1 && h >= 1 && w <= MaxSide && h <= MaxSide
		if (err == nil) != (valid && okSize) {
			t.Fatalf("%q at %dx%d: decode error %v, valid %v", s, w, h, err, valid)
		}
		if err == nil && len(pix) != 4*w*h {
			t.Fatalf("%q: %d bytes", s, len(pix))
		}
	})
}

// FuzzEncode: every placeholder the encoders write decodes.
func FuzzEncode(f *testing.F) {
	f.Add(uint8(3), uint8(2), []byte("some pixels to start from, any will do"))
	f.Add(uint8(99), uint8(0), []byte{255, 0, 0, 128})
	f.Fuzz(func(t *testing.T, w8, h8 uint8, seed []byte) {
		w, h := int(w8)%MaxSide+1, int(h8)%MaxSide+1
		if len(seed) == 0 {
			seed = []byte{0}
		}
		rgba := make([]byte, 4*w*h)
		for i := range rgba {
			rgba[i] = seed[i%len(seed)] + byte(i/len(seed))
		}
		p, err := Compute(w, h, 4, rgba)
		if err != nil {
			t.Fatal(err)
		}
		th, err := ParseThumbHash(p.ThumbHash)
		if err != nil {
			t.Fatalf("%dx%d: own thumbhash %q: %v", w, h, p.ThumbHash, err)
		}
		if _, _, _, err := DecodeThumbHash(th); err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeBlurHash(p.BlurHash, 32, 32); err != nil {
			t.Fatalf("%dx%d: own blurhash %q: %v", w, h, p.BlurHash, err)
		}
		if !ValidColor(p.Color) {
			t.Fatalf("colour %q", p.Color)
		}
	})
}
