package variant_test

import (
	"errors"
	"testing"

	"github.com/thumbd/thumbd/variant"
)

func size(t *testing.T, name string) variant.Size {
	t.Helper()
	s, err := variant.ParseSize(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		want variant.Size
		ok   bool
	}{
		{"colors", variant.Size{Name: "colors", Width: 3, Height: 3, Mode: variant.Colors}, true},
		{"tile_50", variant.Size{Name: "tile_50", Width: 50, Height: 50, Mode: variant.Tile}, true},
		{"tile_500", variant.Size{Name: "tile_500", Width: 500, Height: 500, Mode: variant.Tile}, true},
		{"left_224", variant.Size{Name: "left_224", Width: 224, Height: 224, Mode: variant.Left}, true},
		{"right_224", variant.Size{Name: "right_224", Width: 224, Height: 224, Mode: variant.Right}, true},
		{"fit_720", variant.Size{Name: "fit_720", Width: 720, Height: 720, Mode: variant.Fit}, true},
		{"fit_1920", variant.Size{Name: "fit_1920", Width: 1920, Height: 1200, Mode: variant.Fit}, true},
		{"fit_7680", variant.Size{Name: "fit_7680", Width: 7680, Height: 4320, Mode: variant.Fit}, true},
		{"tile_501", variant.Size{Name: "tile_501", Width: 501, Height: 501, Mode: variant.Tile, Custom: true}, true},
		{"fit_800x600", variant.Size{Name: "fit_800x600", Width: 800, Height: 600, Mode: variant.Fit, Custom: true}, true},
		{"fit_1280x1024_q70", variant.Size{Name: "fit_1280x1024_q70", Width: 1280, Height: 1024, Mode: variant.Fit, Custom: true, Quality: 70}, true},
		{"tile_300_q60", variant.Size{Name: "tile_300_q60", Width: 300, Height: 300, Mode: variant.Tile, Custom: true, Quality: 60}, true},
		{"tile_224_q1", variant.Size{Name: "tile_224_q1", Width: 224, Height: 224, Mode: variant.Tile, Custom: true, Quality: 1}, true},
		{"screen_1920x1080_q100", variant.Size{Name: "screen_1920x1080_q100", Width: 1920, Height: 1080, Mode: variant.Screen, Custom: true, Quality: 100}, true},
		{"tile_300_q0", variant.Size{}, false},   // 1-100
		{"tile_300_q101", variant.Size{}, false}, // 1-100
		{"tile_300_q070", variant.Size{}, false}, // canonical only
		{"tile_300_q", variant.Size{}, false},
		{"tile_300_Q60", variant.Size{}, false},
		{"tile_300_q6x", variant.Size{}, false},
		{"tile_300_q-5", variant.Size{}, false},
		{"tile_300_q1000", variant.Size{}, false},
		{"fit_720_q70", variant.Size{}, false}, // named sizes take no quality: fit_720x720_q70
		{"fit_800x600_q70_q70", variant.Size{}, false},
		{"tile__q60", variant.Size{}, false},
		{"colors_q50", variant.Size{}, false},
		{"original_q90", variant.Size{}, false},
		{"left_224_q50", variant.Size{}, false},
		{"fit_999", variant.Size{}, false},
		{"tile_0", variant.Size{}, false},
		{"tile_007", variant.Size{}, false},
		{"tile_99999", variant.Size{}, false},
		{"fit_800x", variant.Size{}, false},
		{"square_500", variant.Size{}, false},
		{"tile_500.jpg", variant.Size{}, false},
		{"Tile_500", variant.Size{}, false},
		{"", variant.Size{}, false},
	} {
		got, err := variant.ParseSize(tc.name)
		if !tc.ok {
			if !errors.Is(err, variant.ErrUnknownSize) {
				t.Errorf("ParseSize(%q) = %+v, %v; want ErrUnknownSize", tc.name, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	names := variant.SizeNames()
	if len(names) != len(variant.Sizes) {
		t.Fatalf("SizeNames has %d names for %d sizes", len(names), len(variant.Sizes))
	}
	seen := map[string]bool{}
	for i, n := range names {
		if seen[n] {
			t.Errorf("duplicate size name %q", n)
		}
		seen[n] = true
		if s, err := variant.ParseSize(n); err != nil || s != variant.Sizes[i] {
			t.Errorf("ParseSize(%q) = %+v, %v; want %+v", n, s, err, variant.Sizes[i])
		}
	}
	// Clamping relies on fit sizes being listed smallest (by width) first.
	prev := 0
	for _, s := range variant.Sizes {
		if s.Mode == variant.Fit {
			if s.Width <= prev {
				t.Errorf("fit size %s not wider than the previous one", s.Name)
			}
			prev = s.Width
		}
	}
}

func TestLimit(t *testing.T) {
	l, err := variant.NewLimit("fit_1920")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"fit_7680", "fit_1920"},
		{"fit_2048", "fit_1920"},
		{"fit_1920", "fit_1920"},
		{"fit_1600", "fit_1600"},
		{"fit_720", "fit_720"},
		{"tile_500", "tile_500"},
		{"tile_1080", "tile_1080"},
		{"left_224", "left_224"},
		{"colors", "colors"},
	} {
		if got := l.Clamp(size(t, tc.in)); got != size(t, tc.want) {
			t.Errorf("Clamp(%s) = %+v; want %s", tc.in, got, tc.want)
		}
	}
	// The zero Limit and the largest size clamp nothing.
	var zero variant.Limit
	maxL, err := variant.NewLimit("fit_7680")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range variant.SizeNames() {
		if got := zero.Clamp(size(t, n)); got.Name != n {
			t.Errorf("zero Limit clamps %s to %s", n, got.Name)
		}
		if got := maxL.Clamp(size(t, n)); got.Name != n {
			t.Errorf("fit_7680 Limit clamps %s to %s", n, got.Name)
		}
	}
	for _, bad := range []string{"tile_500", "colors", "left_224", "fit_999", "", "FIT_1920"} {
		if _, err := variant.NewLimit(bad); err == nil {
			t.Errorf("NewLimit(%q) accepted", bad)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		f       variant.Format
		ct, ext string
	}{
		{variant.JPEG, "image/jpeg", "jpg"},
		{variant.PNG, "image/png", "png"},
		{variant.WebP, "image/webp", "webp"},
		{variant.AVIF, "image/avif", "avif"},
	} {
		if tc.f.ContentType() != tc.ct || tc.f.Ext() != tc.ext {
			t.Errorf("Format %d: %s, %s; want %s, %s", tc.f, tc.f.ContentType(), tc.f.Ext(), tc.ct, tc.ext)
		}
	}
}
