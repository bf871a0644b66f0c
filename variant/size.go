// Package variant is thumbd's vocabulary: the named sizes (PhotoPrism's
// table and the custom fit_/tile_/screen_ forms), output formats, crop
// modes and colours, and the geometry rules that say how big a variant of
// a photo will be. It has no cgo: the URL parser, the config, link tooling
// and the picker use it without linking libvips; only transform/ turns
// these words into pixels.
package variant

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUnknownSize means the size segment names no variant thumbd can make.
var ErrUnknownSize = errors.New("unknown size")

// Mode says how a variant maps the original onto its box.
type Mode int

const (
	// Fit keeps the aspect ratio inside the box and never upscales.
	Fit Mode = iota
	// Tile cover-crops to exactly the box, centred; small originals are upscaled.
	Tile
	// Left cover-crops anchored at the low end (left or top).
	Left
	// Right cover-crops anchored at the high end (right or bottom).
	Right
	// Colors squeezes the whole frame into the box, ignoring aspect ratio.
	Colors
	// Original is the original photo itself, minus private metadata.
	Original
	// Screen fits the box turned to match the photo: the largest image that
	// fits a W x H screen held either way (a phone that can rotate).
	Screen
)

func (m Mode) String() string {
	switch m {
	case Fit:
		return "fit"
	case Tile:
		return "tile"
	case Left:
		return "left"
	case Right:
		return "right"
	case Colors:
		return "colors"
	case Original:
		return "original"
	case Screen:
		return "screen"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Size is a named variant: a box and a way to fill it.
type Size struct {
	Name   string
	Width  int
	Height int
	Mode   Mode
	// Custom sizes (fit_<W>x<H>, tile_<N>, screen_<W>x<H>) are not in the
	// table; they need a signed link and stay under a configured maximum.
	Custom bool
	// Quality is the encoder quality a custom size names (_q<N>, 1-100);
	// 0 means the configured one. It is part of Name, so the token, the
	// ETag and every cache key cover it.
	Quality int
}

// Sizes are PhotoPrism's thumbnail names and boxes, so its clients carry over.
// Fit sizes are listed smallest first; MaxSize clamping relies on that order.
var Sizes = []Size{
	{Name: "colors", Width: 3, Height: 3, Mode: Colors},
	{Name: "tile_50", Width: 50, Height: 50, Mode: Tile},
	{Name: "tile_100", Width: 100, Height: 100, Mode: Tile},
	{Name: "tile_224", Width: 224, Height: 224, Mode: Tile},
	{Name: "left_224", Width: 224, Height: 224, Mode: Left},
	{Name: "right_224", Width: 224, Height: 224, Mode: Right},
	{Name: "tile_500", Width: 500, Height: 500, Mode: Tile},
	{Name: "tile_1080", Width: 1080, Height: 1080, Mode: Tile},
	{Name: "fit_720", Width: 720, Height: 720, Mode: Fit},
	{Name: "fit_1280", Width: 1280, Height: 1024, Mode: Fit},
	{Name: "fit_1600", Width: 1600, Height: 900, Mode: Fit},
	{Name: "fit_1920", Width: 1920, Height: 1200, Mode: Fit},
	{Name: "fit_2048", Width: 2048, Height: 2048, Mode: Fit},
	{Name: "fit_2560", Width: 2560, Height: 1600, Mode: Fit},
	{Name: "fit_3840", Width: 3840, Height: 2400, Mode: Fit},
	{Name: "fit_4096", Width: 4096, Height: 4096, Mode: Fit},
	{Name: "fit_5120", Width: 5120, Height: 5120, Mode: Fit},
	{Name: "fit_7680", Width: 7680, Height: 4320, Mode: Fit},
	{Name: "original", Width: 0, Height: 0, Mode: Original},
}

var sizeIndex = func() map[string]int {
	m := make(map[string]int, len(Sizes))
	for i, s := range Sizes {
		m[s.Name] = i
	}
	return m
}()

// MaxCustomEdge bounds custom sizes before any configured maximum applies.
const MaxCustomEdge = 16384

// FullSize is what original.jpg (.png, .webp, .avif) asks for: the whole
// photo at its own size (up to MaxCustomEdge), upright and sRGB, in the
// format the URL names, for browsers that cannot show the original's own
// container (HEIC). Its name parses as no size, so only that spelling
// reaches it, and caches and ETags keep it apart from original.
var FullSize = Size{Name: "original_full", Width: MaxCustomEdge, Height: MaxCustomEdge, Mode: Fit, Custom: true}

// ParseSize looks a size up by name, or parses a custom size. Custom names
// must be canonical (no leading zeros), so one variant has one name. A
// custom size may end in _q<N>, an encoder quality of 1-100
// (fit_1280x1024_q70, tile_300_q60); named sizes take none, so a quality
// has one spelling (fit_720x720_q70, not fit_720_q70).
func ParseSize(name string) (Size, error) {
	if s, ok := Lookup(name); ok {
		return s, nil
	}
	return Size{}, fmt.Errorf("%w: %.40q", ErrUnknownSize, name)
}

// Lookup is ParseSize without an error value, for hot paths that only ask
// whether a name is a size (the access log checks every path segment).
func Lookup(name string) (Size, bool) {
	if i, ok := sizeIndex[name]; ok {
		return Sizes[i], true
	}
	prefix, dims, ok := strings.Cut(name, "_")
	if !ok {
		return Size{}, false
	}
	quality := 0
	if i := strings.LastIndex(dims, "_q"); i >= 0 {
		if quality, ok = qualityValue(dims[i+2:]); !ok {
			return Size{}, false
		}
		dims = dims[:i]
	}
	switch prefix {
	case "tile":
		n, ok := dimension(dims)
		if !ok {
			return Size{}, false
		}
		return Size{Name: name, Width: n, Height: n, Mode: Tile, Custom: true, Quality: quality}, true
	case "fit", "screen":
		ws, hs, ok := strings.Cut(dims, "x")
		w, okw := dimension(ws)
		h, okh := dimension(hs)
		if !ok || !okw || !okh {
			return Size{}, false
		}
		mode := Fit
		if prefix == "screen" {
			mode = Screen
		}
		return Size{Name: name, Width: w, Height: h, Mode: mode, Custom: true, Quality: quality}, true
	}
	return Size{}, false
}

// MaxQuality is the highest quality a size may name.
const MaxQuality = 100

// qualityValue parses a canonical quality, 1-100.
func qualityValue(s string) (int, bool) {
	if s == "" || len(s) > 3 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n >= 1 && n <= MaxQuality
}

// dimension parses a canonical positive edge length.
func dimension(s string) (int, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= MaxCustomEdge
}

// SizeNames lists every named size in table order.
func SizeNames() []string {
	names := make([]string, len(Sizes))
	for i, s := range Sizes {
		names[i] = s.Name
	}
	return names
}

// Limit caps fit sizes at a configured largest size. A bigger fit request is
// served at the cap, never as the original.
type Limit struct{ max int }

// NewLimit returns a Limit whose cap is the named fit size.
func NewLimit(maxName string) (Limit, error) {
	i, ok := sizeIndex[maxName]
	if !ok || Sizes[i].Mode != Fit {
		fits := []string{}
		for _, s := range Sizes {
			if s.Mode == Fit {
				fits = append(fits, s.Name)
			}
		}
		sort.Strings(fits)
		return Limit{}, fmt.Errorf("%q is not a fit_* size (one of %v)", maxName, fits)
	}
	return Limit{max: i}, nil
}

// UnmarshalText lets the config decode max_size straight into a Limit.
func (l *Limit) UnmarshalText(b []byte) error {
	v, err := NewLimit(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// String is the cap's name ("" for no cap).
func (l Limit) String() string {
	if l.max == 0 {
		return ""
	}
	return Sizes[l.max].Name
}

// Allows reports whether a named fit size is within the cap (pages and
// oEmbed offer only sizes the server will really make).
func (l Limit) Allows(s Size) bool { return l.Clamp(s) == s }

// Clamp returns s, or the cap when s is a named fit size with a longer
// longest edge than the cap's (the table's fit sizes grow in longest edge,
// so table order decides). The result is never the original. Custom sizes
// are checked against their own maximum instead.
func (l Limit) Clamp(s Size) Size {
	if l.max == 0 || s.Mode != Fit || s.Custom {
		return s
	}
	if i := sizeIndex[s.Name]; i > l.max {
		return Sizes[l.max]
	}
	return s
}
