package transform

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"sync"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/imagehdr"
	"github.com/thumbd/thumbd/variant"
)

// HDR sources in SDR.
//
// libvips 8.14 ignores a HEIF/AVIF nclx colour box ("heifload: ignoring
// nclx profile") and treats the decoded samples as sRGB. That is right for
// the SDR files cameras and phones write (nclx BT.709/sRGB, gain-map
// photos whose primary image is the SDR rendering), and wrong for a PQ or
// HLG primary image: served as sRGB it comes out washed out (measured on a
// PQ rendering of a real photo: L* spread 13.4 instead of 23.2, mean
// dE76 12.5). For those, the samples are turned into display light by the
// transfer's EOTF with SDR reference white (BT.2408: 203 cd/m²) at 1.0,
// converted from BT.2020 primaries to BT.709 in linear light, and encoded
// as sRGB; highlights above reference white are clipped, as an SDR display
// would show them (measured against ffmpeg's zscale + tonemap=clip: mean
// dE76 under 1).

// H.273 code points read from the nclx box (imagehdr.Header).
const (
	transferPQ       = 16 // SMPTE ST 2084
	transferHLG      = 18 // ARIB STD-B67
	primariesBT2020  = 9
	primariesP3D65   = 12
	sdrWhiteNits     = 203.0
	hlgDisplayNits   = 1000.0 // HLG's nominal peak; system gamma 1.2 at it
	lutHeadroom      = 2.0    // the LUT keeps linear light up to twice SDR white
	pqMaxNits        = 10000.0
	lutEntries       = 1 << 16
	hlgSystemGamma   = 1.2
	hlgA, hlgB, hlgC = 0.17883277, 0.28466892, 0.55991073
)

// isHDR reports whether the header's nclx says PQ or HLG.
func isHDR(h imagehdr.Header) bool {
	return (h.Format == imagehdr.HEIF || h.Format == imagehdr.AVIF) && (h.Transfer == transferPQ || h.Transfer == transferHLG)
}

// linearSDR is the display light of a PQ or HLG sample v (0..1), with
// SDR reference white at 1.0.
func linearSDR(transfer int, v float64) float64 {
	switch transfer {
	case transferPQ:
		const m1, m2 = 2610.0 / 16384, 2523.0 / 4096 * 128
		const c1, c2, c3 = 3424.0 / 4096, 2413.0 / 4096 * 32, 2392.0 / 4096 * 32
		p := math.Pow(v, 1/m2)
		l := math.Pow(math.Max(p-c1, 0)/(c2-c3*p), 1/m1)
		return l * pqMaxNits / sdrWhiteNits
	case transferHLG:
		// Inverse OETF to scene light, then the OOTF's system gamma on each
		// channel (exact for neutral colours, close for the rest).
		var e float64
		if v <= 0.5 {
			e = v * v / 3
		} else {
			e = (math.Exp((v-hlgC)/hlgA) + hlgB) / 12
		}
		return math.Pow(e, hlgSystemGamma) * hlgDisplayNits / sdrWhiteNits
	}
	return v
}

var (
	lutOnce sync.Map // transfer -> *lutPNG
)

type lutPNG struct {
	once sync.Once
	b    []byte
	err  error
}

// transferLUT is a 65536-entry 16-bit LUT (as a PNG libvips loads as a
// one-band ushort image) from a 16-bit sample to linear SDR light, scaled
// so that 65535 is lutHeadroom times reference white.
func transferLUT(transfer int) ([]byte, error) {
	v, _ := lutOnce.LoadOrStore(transfer, &lutPNG{})
	l := v.(*lutPNG)
	l.once.Do(func() {
		img := image.NewGray16(image.Rect(0, 0, lutEntries, 1))
		for i := range lutEntries {
			x := linearSDR(transfer, float64(i)/(lutEntries-1)) / lutHeadroom
			img.SetGray16(i, 0, color.Gray16{Y: uint16(math.Round(math.Min(math.Max(x, 0), 1) * 65535))})
		}
		var buf bytes.Buffer
		l.err = png.Encode(&buf, img)
		l.b = buf.Bytes()
	})
	return l.b, l.err
}

// Linear-light primaries conversions to BT.709 (from the primaries'
// chromaticities, D65 white).
var toBT709 = map[int][][]float64{
	primariesBT2020: {{1.660491, -0.587641, -0.072850}, {-0.124550, 1.132900, -0.008349}, {-0.018151, -0.100579, 1.118730}},
	primariesP3D65:  {{1.224940, -0.224940, 0}, {-0.042057, 1.042057, 0}, {-0.019638, -0.078636, 1.098274}},
}

// toneMap turns img, decoded from a PQ or HLG HEIF/AVIF with header h, into
// 8-bit sRGB in place: EOTF by LUT on the 16-bit samples, primaries to
// BT.709 in linear light, then libvips' scRGB -> sRGB (the sRGB curve,
// clipped to 8 bits). Alpha, if any, is carried over.
func toneMap(img *vips.ImageRef, h imagehdr.Header) (*vips.ImageRef, error) {
	lutBytes, err := transferLUT(h.Transfer)
	if err != nil {
		return nil, err
	}
	lut, err := vips.LoadImageFromBuffer(lutBytes, importParams())
	if err != nil {
		return nil, fmt.Errorf("hdr lut: %w", err)
	}
	defer lut.Close()
	var alpha *vips.ImageRef
	if img.HasAlpha() && img.Bands() == 4 {
		if alpha, err = img.ExtractBandToImage(3, 1); err != nil {
			return nil, err
		}
		defer alpha.Close()
		if err := img.ExtractBand(0, 3); err != nil {
			return nil, err
		}
	}
	if img.BandFormat() == vips.BandFormatUchar {
		// 8-bit PQ: widen to the LUT's 16 bits.
		if err := img.Linear1(257, 0); err != nil {
			return nil, err
		}
		if err := img.Cast(vips.BandFormatUshort); err != nil {
			return nil, err
		}
	}
	steps := []func() error{
		func() error { return img.Maplut(lut) },
		func() error { return img.Cast(vips.BandFormatFloat) },
		func() error { return img.Linear1(lutHeadroom/65535, 0) },
	}
	if m, ok := toBT709[h.Primaries]; ok {
		steps = append(steps, func() error { return img.Recomb(m) })
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return nil, fmt.Errorf("hdr: %w", err)
		}
	}
	out, err := img.CopyChangingInterpretation(vips.InterpretationScRGB)
	if err != nil {
		return nil, fmt.Errorf("hdr: %w", err)
	}
	if err := out.ToColorSpace(vips.InterpretationSRGB); err != nil {
		out.Close()
		return nil, fmt.Errorf("hdr: to sRGB: %w", err)
	}
	if alpha != nil {
		err := alpha.Linear1(255.0/65535, 0.5) // rounded, as the colour bands are
		if err == nil {
			err = alpha.Cast(vips.BandFormatUchar)
		}
		if err == nil {
			err = out.BandJoin(alpha)
		}
		if err != nil {
			out.Close()
			return nil, fmt.Errorf("hdr: alpha: %w", err)
		}
	}
	return out, nil
}

// hdrThumbnail is heifThumbnail for PQ and HLG images: the primary image
// at full depth (the embedded thumbnail and vips_thumbnail would reduce it
// to 8 bits as if it were sRGB), tone-mapped, then thumbnailed.
func hdrThumbnail(k *killer, src []byte, typ vips.ImageType, h imagehdr.Header, s variant.Size, crop vips.Interesting, sizing vips.Size) (*vips.ImageRef, error) {
	img, err := loadHDR(k, src, typ, h)
	if err != nil {
		return nil, err
	}
	if err := img.ThumbnailWithSize(s.Width, s.Height, crop, sizing); err != nil {
		img.Close()
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	return img, nil
}

// loadHDR decodes a PQ or HLG primary image to 8-bit sRGB.
func loadHDR(k *killer, src []byte, typ vips.ImageType, h imagehdr.Header) (*vips.ImageRef, error) {
	raw, err := loadBuffer(src, typ, importParams())
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	defer raw.Close()
	k.watch(raw)
	img, err := toneMap(raw, h)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	// The nclx box said how to read the samples; any ICC profile libvips
	// attached would now be wrong.
	if err := img.RemoveICCProfile(); err != nil {
		img.Close()
		return nil, err
	}
	k.watch(img)
	return img, nil
}
