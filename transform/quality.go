package transform

import (
	"fmt"

	"github.com/thumbd/thumbd/variant"
)

// quality is the encoder quality for s: the one its name carries
// (fit_1280x1024_q70), else the configured default d.
func quality(s variant.Size, d int) int {
	if s.Quality > 0 {
		return s.Quality
	}
	return d
}

// FormatFingerprint identifies the settings that change the bytes of mode
// m encoded as f, and only those: a WebP quality change leaves JPEG files
// valid, a crop change leaves fit sizes valid. Static exports name their
// files with it, so a changed setting re-renders exactly what it affects.
func (o Options) FormatFingerprint(m variant.Mode, f variant.Format) string {
	if m == variant.Colors {
		f = variant.PNG
	}
	fp := "p" + PipelineVersion + "-" + f.Ext()
	switch f {
	case variant.JPEG:
		bg := variant.White.Hex()
		if o.Background != nil {
			bg = o.Background.Hex()
		}
		fp += fmt.Sprintf("-q%d-s%d-b%s", o.JPEGQuality, o.JPEGQualitySmall, bg)
	case variant.WebP:
		fp += fmt.Sprintf("-q%d-e%d", orDefault(o.WebPQuality, 80), orDefault(o.WebPEffort, 4))
	case variant.AVIF:
		fp += fmt.Sprintf("-q%d-e%d", orDefault(o.AVIFQuality, 60), orDefault(o.AVIFEffort, 2))
	}
	if m == variant.Tile {
		crop, _ := variant.ParseCrop(string(o.Crop))
		fp += "-c" + string(crop)
	}
	return fp
}
