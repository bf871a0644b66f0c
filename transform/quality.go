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

// FormatFingerprint identifies the settings that change the bytes of size
// s encoded as f, and only those: a WebP quality change leaves JPEG files
// and sizes that name their own quality valid, a crop change leaves fit
// sizes valid. Static exports name their files with it, so a changed
// setting re-renders exactly what it affects.
func (o Options) FormatFingerprint(s variant.Size, f variant.Format) string {
	m := s.Mode
	if m == variant.Colors {
		f = variant.PNG
	}
	fp := "p" + PipelineVersion + "-" + f.Ext()
	q := func(configured ...int) string {
		if s.Quality > 0 {
			return "" // the size's own quality, in its name
		}
		return fmt.Sprint(configured)
	}
	switch f {
	case variant.JPEG:
		bg := variant.White.Hex()
		if o.Background != nil {
			bg = o.Background.Hex()
		}
		fp += fmt.Sprintf("-q%s-b%s", q(o.JPEGQuality, o.JPEGQualitySmall), bg)
	case variant.WebP:
		fp += fmt.Sprintf("-q%s-e%d", q(orDefault(o.WebPQuality, 80)), orDefault(o.WebPEffort, 4))
	case variant.AVIF:
		fp += fmt.Sprintf("-q%s-e%d", q(orDefault(o.AVIFQuality, 60)), orDefault(o.AVIFEffort, 2))
	}
	if m == variant.Tile {
		crop, _ := variant.ParseCrop(string(o.Crop))
		fp += "-c" + string(crop)
	}
	return fp
}
