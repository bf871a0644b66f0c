package transform_test

import (
	"testing"

	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

// FormatFingerprint changes with exactly the settings that change a
// variant's bytes.
func TestFormatFingerprint(t *testing.T) {
	base := transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78, Crop: variant.CropCentre}
	black := variant.Color{}
	fit, tile, q70 := size(t, "fit_720"), size(t, "tile_224"), size(t, "fit_720x720_q70")
	for _, c := range []struct {
		name    string
		change  func(o *transform.Options)
		s       variant.Size
		f       variant.Format
		changes bool
	}{
		{"jpeg quality, jpeg", func(o *transform.Options) { o.JPEGQuality = 70 }, fit, variant.JPEG, true},
		{"small jpeg quality, jpeg", func(o *transform.Options) { o.JPEGQualitySmall = 70 }, tile, variant.JPEG, true},
		{"jpeg quality, webp", func(o *transform.Options) { o.JPEGQuality = 70 }, fit, variant.WebP, false},
		{"jpeg quality, own quality", func(o *transform.Options) { o.JPEGQuality = 70 }, q70, variant.JPEG, false},
		{"webp quality, webp", func(o *transform.Options) { o.WebPQuality = 60 }, fit, variant.WebP, true},
		{"webp quality, own quality", func(o *transform.Options) { o.WebPQuality = 60 }, q70, variant.WebP, false},
		{"webp effort, own quality", func(o *transform.Options) { o.WebPEffort = 6 }, q70, variant.WebP, true},
		{"webp quality, avif", func(o *transform.Options) { o.WebPQuality = 60 }, fit, variant.AVIF, false},
		{"avif quality, avif", func(o *transform.Options) { o.AVIFQuality = 50 }, fit, variant.AVIF, true},
		{"avif effort, avif", func(o *transform.Options) { o.AVIFEffort = 4 }, fit, variant.AVIF, true},
		{"crop, tile", func(o *transform.Options) { o.Crop = variant.CropAttention }, tile, variant.JPEG, true},
		{"crop, fit", func(o *transform.Options) { o.Crop = variant.CropAttention }, fit, variant.JPEG, false},
		{"background, jpeg", func(o *transform.Options) { o.Background = &black }, fit, variant.JPEG, true},
		{"background, png", func(o *transform.Options) { o.Background = &black }, fit, variant.PNG, false},
		{"jpeg quality, colors", func(o *transform.Options) { o.JPEGQuality = 70 }, size(t, "colors"), variant.JPEG, false},
	} {
		changed := base
		c.change(&changed)
		if got := base.FormatFingerprint(c.s, c.f) != changed.FormatFingerprint(c.s, c.f); got != c.changes {
			t.Errorf("%s: fingerprint changed %v, want %v", c.name, got, c.changes)
		}
	}
	if base.FormatFingerprint(fit, variant.JPEG) == base.FormatFingerprint(fit, variant.WebP) {
		t.Error("formats share a fingerprint")
	}
}
