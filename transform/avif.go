package transform

import (
	"errors"
	"fmt"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/heifenc"
)

// encodeAVIF encodes an 8-bit sRGB image (grey is widened to RGB) as AVIF
// through libheif directly (see heifenc: libvips 8.14's own AVIF saver
// fails with libheif 1.17 and later). Only pixels reach the encoder, so no
// metadata can.
func encodeAVIF(img *vips.ImageRef, quality, effort int) ([]byte, error) {
	if img.Bands() < 3 {
		if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
			return nil, fmt.Errorf("avif: to sRGB: %w", err)
		}
	}
	if img.BandFormat() != vips.BandFormatUchar {
		if err := img.Cast(vips.BandFormatUchar); err != nil {
			return nil, fmt.Errorf("avif: to 8 bits: %w", err)
		}
	}
	w, h, bands := img.Width(), img.Height(), img.Bands()
	pix, err := img.ToBytes()
	if err != nil {
		return nil, err
	}
	if len(pix) != w*h*bands {
		return nil, errors.New("avif: pixel buffer size mismatch")
	}
	return heifenc.EncodeAVIF(pix, w, h, bands, heifenc.Options{Quality: quality, Effort: effort})
}

// HeifVersion is the linked libheif version, for the start-up log.
func HeifVersion() string { return heifenc.Version() }
