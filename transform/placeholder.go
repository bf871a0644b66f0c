package transform

import (
	"context"
	"fmt"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/imagehdr"
	"github.com/thumbd/thumbd/placeholder"
	"github.com/thumbd/thumbd/variant"
)

// placeholderBox is what the placeholder is computed from: the whole frame
// fitted into 100x100, never upscaled (placeholder.MaxSide).
var placeholderBox = variant.Size{Name: "placeholder", Width: placeholder.MaxSide, Height: placeholder.MaxSide, Mode: variant.Fit}

// Placeholder computes the ThumbHash, BlurHash and average colour of an
// original (see package placeholder) from a 100x100 fit thumbnail: upright,
// sRGB, 8 bits a band. It runs behind the same guards as Transform: the
// container is checked in Go first, the decode memory is reserved from the
// budget, and the deadline stops libvips.
func (t *Transformer) Placeholder(ctx context.Context, src []byte) (placeholder.Placeholder, error) {
	if err := ctx.Err(); err != nil {
		return placeholder.Placeholder{}, err
	}
	hdr, err := t.header(src)
	if err != nil {
		return placeholder.Placeholder{}, err
	}
	typ := vipsType[hdr.Format]
	if !vips.IsTypeSupported(typ) {
		return placeholder.Placeholder{}, fmt.Errorf("%w: no %s loader in this libvips", ErrUnsupported, vips.ImageTypes[typ])
	}
	release, err := t.reserve(ctx, DecodeEstimate(hdr, placeholderBox))
	if err != nil {
		return placeholder.Placeholder{}, err
	}
	defer release()
	defer pinSource(src)() // read in place by the sequential loaders

	k := newKiller(ctx)
	defer k.stop()
	p, err := t.placeholder(k, src, hdr, typ)
	if err != nil && ctx.Err() != nil {
		return placeholder.Placeholder{}, fmt.Errorf("%w: %w (%v)", ErrStopped, ctx.Err(), err)
	}
	return p, err
}

func (t *Transformer) placeholder(k *killer, src []byte, h imagehdr.Header, typ vips.ImageType) (placeholder.Placeholder, error) {
	img, err := t.thumbnail(k, src, h, typ, placeholderBox)
	if err != nil {
		return placeholder.Placeholder{}, err
	}
	defer img.Close()
	if err := toSRGB(img); err != nil {
		return placeholder.Placeholder{}, fmt.Errorf("colour: %w", err)
	}
	if img.BandFormat() != vips.BandFormatUchar {
		if err := img.Cast(vips.BandFormatUchar); err != nil {
			return placeholder.Placeholder{}, fmt.Errorf("cast: %w", err)
		}
	}
	k.watch(img)
	pix, err := img.ToBytes()
	if err != nil {
		// Pixels are computed here, so a damaged file fails now.
		return placeholder.Placeholder{}, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	return placeholder.Compute(img.Width(), img.Height(), img.Bands(), pix)
}
