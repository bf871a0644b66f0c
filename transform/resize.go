package transform

import (
	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/variant"
)

// thumbShrink is vips_thumbnail's shrink per axis for an input of w x h
// stored pixels and the given box (libvips 8.14, thumbnail.c
// vips_thumbnail_calculate_shrink): with a 90/270 degree orientation the
// box is swapped, since the resize runs on the stored pixels; a crop fills
// the box (the smaller shrink), a fit fits inside it (the larger); SizeDown
// never enlarges and SizeForce scales each axis on its own. Computing it
// the same way keeps resizeCrop's output identical to ThumbnailWithSize's.
func thumbShrink(w, h, boxW, boxH, orientation int, crop vips.Interesting, sizing vips.Size) (hs, vs float64) {
	if orientation >= 5 && orientation <= 8 {
		boxW, boxH = boxH, boxW
	}
	hs, vs = float64(w)/float64(boxW), float64(h)/float64(boxH)
	horizontal := hs >= vs // fit: the axis that needs more shrinking decides
	if crop != vips.InterestingNone {
		horizontal = hs < vs
	}
	if sizing != vips.SizeForce {
		if horizontal {
			vs = hs
		} else {
			hs = vs
		}
	}
	switch sizing {
	case vips.SizeUp:
		hs, vs = min(1, hs), min(1, vs)
	case vips.SizeDown:
		hs, vs = max(1, hs), max(1, vs)
	}
	return min(hs, float64(w)), min(vs, float64(h))
}

// resizeCrop does what ThumbnailWithSize (vips_thumbnail_image) does to a
// shrunk JPEG load, in the steps imgproxy takes: vips_resize by the
// remaining scale (Lanczos3), the EXIF rotation, then the crop (a centre
// extract, or vips_smartcrop for the other strategies); the same pixels
// (TestResizeCropIsThumbnail), less work (tools/stages, 24 MP JPEG
// tile_500: see docs/perf-notes.md). img may be a sequential load.
//
// It handles 8-bit sRGB and greyscale images; anything else (CMYK, 16-bit)
// goes through ThumbnailWithSize, whose ICC import handles CMYK in its
// own processing space. SizeForce (colors) does too.
func resizeCrop(img *vips.ImageRef, boxW, boxH int, crop vips.Interesting, sizing vips.Size) error {
	interp := img.Interpretation()
	if sizing == vips.SizeForce || img.BandFormat() != vips.BandFormatUchar || img.HasAlpha() ||
		(interp != vips.InterpretationSRGB && interp != vips.InterpretationBW) {
		return img.ThumbnailWithSize(boxW, boxH, crop, sizing)
	}
	o := img.Orientation()
	hs, vs := thumbShrink(img.Width(), img.Height(), boxW, boxH, o, crop, sizing)
	if hs != 1 || vs != 1 {
		if err := img.ResizeWithVScale(1/hs, 1/vs, vips.KernelLanczos3); err != nil {
			return err
		}
	}
	inMemory := false
	if o > 1 && o <= 8 {
		// Rotating and flipping read rows out of order: the (small)
		// resized image goes to memory first, as vips_thumbnail does.
		if err := copyMemory(img); err != nil {
			return err
		}
		inMemory = true
		if err := img.AutoRotate(); err != nil {
			return err
		}
	}
	if crop == vips.InterestingNone {
		return nil
	}
	cw, ch := min(boxW, img.Width()), min(boxH, img.Height())
	if cw == img.Width() && ch == img.Height() {
		return nil
	}
	if crop == vips.InterestingCentre {
		// vips_smartcrop's centre rule, without its copy to memory (an
		// extract reads rows in order).
		return img.ExtractArea((img.Width()-cw)/2, (img.Height()-ch)/2, cw, ch)
	}
	if !inMemory {
		// The smart crops look at the whole image more than once.
		if err := copyMemory(img); err != nil {
			return err
		}
	}
	return img.SmartCrop(cw, ch, crop)
}

// cropFor maps a size's mode to the crop strategy and sizing rule
// of the thumbnail.
func (t *Transformer) cropFor(s variant.Size) (vips.Interesting, vips.Size) {
	switch s.Mode {
	case variant.Tile:
		return interesting(t.opts.Crop), vips.SizeBoth
	case variant.Left:
		return vips.InterestingLow, vips.SizeBoth
	case variant.Right:
		return vips.InterestingHigh, vips.SizeBoth
	case variant.Colors:
		return vips.InterestingNone, vips.SizeForce
	}
	return vips.InterestingNone, vips.SizeDown
}
