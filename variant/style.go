package variant

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Crop picks what a centred tile keeps: the centre, or libvips' smart crops
// (entropy: the busiest region; attention: skin tones, saturation, edges),
// which cut fewer heads off portraits.
type Crop string

const (
	CropCentre    Crop = "centre"
	CropEntropy   Crop = "entropy"
	CropAttention Crop = "attention"
)

// ParseCrop validates a crop name ("" and "center" mean centre).
func ParseCrop(s string) (Crop, error) {
	switch Crop(s) {
	case "", CropCentre, "center":
		return CropCentre, nil
	case CropEntropy, CropAttention:
		return Crop(s), nil
	}
	return "", fmt.Errorf("%q; want centre, entropy or attention", s)
}

// UnmarshalText lets the config decode crop straight into a Crop.
func (c *Crop) UnmarshalText(b []byte) error {
	v, err := ParseCrop(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Color is an opaque sRGB colour (the JPEG background).
type Color struct{ R, G, B uint8 }

// White is the default background.
var White = Color{255, 255, 255}

// ParseColor reads "#rrggbb" (or "rrggbb").
func ParseColor(s string) (Color, error) {
	h := strings.TrimPrefix(s, "#")
	b, err := hex.DecodeString(h)
	if len(h) != 6 || err != nil {
		return Color{}, fmt.Errorf("%q; want #rrggbb", s)
	}
	return Color{b[0], b[1], b[2]}, nil
}

// UnmarshalText lets the config decode background straight into a Color.
func (c *Color) UnmarshalText(b []byte) error {
	v, err := ParseColor(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Hex is the colour as rrggbb.
func (c Color) Hex() string { return fmt.Sprintf("%02x%02x%02x", c.R, c.G, c.B) }
