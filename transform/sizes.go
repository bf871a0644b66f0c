package transform

import (
	"errors"
	"fmt"
	"sort"
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
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Size is a named variant: a box and a way to fill it.
type Size struct {
	Name   string
	Width  int
	Height int
	Mode   Mode
}

// Sizes are PhotoPrism's thumbnail names and boxes, so its clients carry over.
// Fit sizes are listed smallest first; MaxSize clamping relies on that order.
var Sizes = []Size{
	{"colors", 3, 3, Colors},
	{"tile_50", 50, 50, Tile},
	{"tile_100", 100, 100, Tile},
	{"tile_224", 224, 224, Tile},
	{"left_224", 224, 224, Left},
	{"right_224", 224, 224, Right},
	{"tile_500", 500, 500, Tile},
	{"tile_1080", 1080, 1080, Tile},
	{"fit_720", 720, 720, Fit},
	{"fit_1280", 1280, 1024, Fit},
	{"fit_1600", 1600, 900, Fit},
	{"fit_1920", 1920, 1200, Fit},
	{"fit_2048", 2048, 2048, Fit},
	{"fit_2560", 2560, 1600, Fit},
	{"fit_3840", 3840, 2400, Fit},
	{"fit_4096", 4096, 4096, Fit},
	{"fit_5120", 5120, 5120, Fit},
	{"fit_7680", 7680, 4320, Fit},
	{"original", 0, 0, Original},
}

var sizeIndex = func() map[string]int {
	m := make(map[string]int, len(Sizes))
	for i, s := range Sizes {
		m[s.Name] = i
	}
	return m
}()

// ParseSize looks a size up by name.
func ParseSize(name string) (Size, error) {
	i, ok := sizeIndex[name]
	if !ok {
		return Size{}, fmt.Errorf("%w: %.40q", ErrUnknownSize, name)
	}
	return Sizes[i], nil
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

// Clamp returns s, or the cap when s is a fit size larger than the cap.
func (l Limit) Clamp(s Size) Size {
	if l.max == 0 || s.Mode != Fit {
		return s
	}
	if i := sizeIndex[s.Name]; i > l.max {
		return Sizes[l.max]
	}
	return s
}
