// Package placeholder computes what a page shows while a photo loads: a
// ThumbHash, a BlurHash and an average colour, from the small sRGB pixel
// buffer a thumbnail step gives (at most 100x100). It is pure Go, with no
// libvips, so link tools and tests can use it without cgo; the pipeline
// hands it pixels.
package placeholder

import (
	"encoding/base64"
	"fmt"
	"math"
)

// Placeholder is what links, export and sign carry per photo.
type Placeholder struct {
	ThumbHash string `json:"thumbhash,omitempty"` // standard base64 of the bytes
	BlurHash  string `json:"blurhash,omitempty"`
	Color     string `json:"color,omitempty"` // #rrggbb
}

// Compute makes all three from w x h 8-bit sRGB pixels with bands 1 (grey),
// 2 (grey, alpha), 3 (RGB) or 4 (RGBA), interleaved row by row, which is
// what libvips writes to memory for an 8-bit image.
func Compute(w, h, bands int, pix []byte) (Placeholder, error) {
	rgba, err := ToRGBA(w, h, bands, pix)
	if err != nil {
		return Placeholder{}, err
	}
	th, err := ThumbHash(w, h, rgba)
	if err != nil {
		return Placeholder{}, err
	}
	cx, cy := BlurHashComponents(w, h)
	bh, err := BlurHash(w, h, rgba, cx, cy)
	if err != nil {
		return Placeholder{}, err
	}
	c, err := AverageColor(w, h, rgba)
	if err != nil {
		return Placeholder{}, err
	}
	return Placeholder{ThumbHash: base64.StdEncoding.EncodeToString(th), BlurHash: bh, Color: c}, nil
}

// ToRGBA widens 1-, 2- or 3-band pixels to RGBA (opaque where there was no
// alpha); 4-band pixels are returned as they are.
func ToRGBA(w, h, bands int, pix []byte) ([]byte, error) {
	if w < 1 || h < 1 || w > MaxSide || h > MaxSide {
		if w > MaxSide || h > MaxSide {
			return nil, fmt.Errorf("%w: %dx%d", ErrTooLarge, w, h)
		}
		return nil, fmt.Errorf("placeholder: %dx%d image", w, h)
	}
	if bands < 1 || bands > 4 {
		return nil, fmt.Errorf("placeholder: %d bands", bands)
	}
	n := w * h
	if len(pix) != n*bands {
		return nil, fmt.Errorf("placeholder: %d bytes for %dx%d with %d bands, want %d", len(pix), w, h, bands, n*bands)
	}
	if bands == 4 {
		return pix, nil
	}
	out := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		s, d := pix[i*bands:i*bands+bands], out[4*i:4*i+4]
		switch bands {
		case 1:
			d[0], d[1], d[2], d[3] = s[0], s[0], s[0], 255
		case 2:
			d[0], d[1], d[2], d[3] = s[0], s[0], s[0], s[1]
		case 3:
			d[0], d[1], d[2], d[3] = s[0], s[1], s[2], 255
		}
	}
	return out, nil
}

// AverageColor is the photo's mean colour as #rrggbb: averaged in linear
// light (so a fine black-and-white pattern gives the grey it looks like
// from afar, not a darker one), each pixel weighted by its alpha; an image
// with no opaque pixel at all is averaged unweighted.
func AverageColor(w, h int, rgba []byte) (string, error) {
	if err := checkRGBA(w, h, rgba); err != nil {
		return "", err
	}
	var r, g, b, wsum float64
	for i := 0; i < len(rgba); i += 4 {
		a := float64(rgba[i+3])
		r += a * linearTable[rgba[i]]
		g += a * linearTable[rgba[i+1]]
		b += a * linearTable[rgba[i+2]]
		wsum += a
	}
	if wsum == 0 {
		for i := 0; i < len(rgba); i += 4 {
			r += linearTable[rgba[i]]
			g += linearTable[rgba[i+1]]
			b += linearTable[rgba[i+2]]
		}
		wsum = float64(w * h)
	}
	return fmt.Sprintf("#%02x%02x%02x", encodeSRGB(r/wsum), encodeSRGB(g/wsum), encodeSRGB(b/wsum)), nil
}

// encodeSRGB is the sRGB transfer function, rounded to the nearest 8-bit
// value.
func encodeSRGB(v float64) int {
	v = math.Max(0, math.Min(1, v))
	if v <= 0.0031308 {
		v *= 12.92
	} else {
		v = 1.055*math.Pow(v, 1/2.4) - 0.055
	}
	return int(math.Round(v * 255))
}

// ValidColor reports whether s is #rrggbb, the only form a page may paint
// (the markup puts it in a style attribute).
func ValidColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for i := 1; i < 7; i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
