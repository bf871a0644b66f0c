package transform

import (
	"bytes"
	"fmt"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/metastrip"
	"github.com/thumbd/thumbd/variant"
)

// heifBuffer returns src in a form govips will load. govips v2.16 picks
// the loader from the major brand itself and knows only heic, mif1, msf1
// and avif, so a Sony a6700 file (major brand heix) or an AVIF sequence
// (avis) would be refused before libvips saw it; imagehdr has already
// recognised the container, so a copy with the major brand set to one
// govips knows is handed over instead (libheif reads the boxes, not the
// brand).
func heifBuffer(src []byte, typ vips.ImageType) []byte {
	if typ != vips.ImageTypeHEIF && typ != vips.ImageTypeAVIF || len(src) < 12 || string(src[4:8]) != "ftyp" {
		return src
	}
	if got := vips.DetermineImageType(src); got == vips.ImageTypeHEIF || got == vips.ImageTypeAVIF {
		return src
	}
	b := bytes.Clone(src)
	brand := "mif1"
	if typ == vips.ImageTypeAVIF {
		brand = "avif"
	}
	copy(b[8:12], brand)
	return b
}

// loadBuffer is vips.LoadImageFromBuffer for a container imagehdr has
// identified as typ (HEIF brands govips does not know included).
func loadBuffer(src []byte, typ vips.ImageType, p *vips.ImportParams) (*vips.ImageRef, error) {
	return vips.LoadImageFromBuffer(heifBuffer(src, typ), p)
}

// heifThumbnail makes the thumbnail of a HEIF or AVIF image whose primary
// image is w x h (upright: libheif applies irot and imir itself).
//
// The primary image is decoded sequentially, libheif's rows streaming
// into the resize instead of the decoded 24 MP frame being copied first
// (iPhone HEIC tile_500: 1522 -> ~750 ms CPU, the same SSIM; see
// docs/perf-notes.md). With embedded set, the file's own thumbnail is used
// instead when it covers the output (libvips' rule: it would not be
// enlarged) and shows the same frame as the primary image (same aspect
// ratio within 1%: a letterboxed or differently cropped thumbnail is
// refused); it carries no metadata of its own (libvips attaches the
// primary's, which the encoder strips like any other). A thumbnail that
// does not decode (the Sony a6700's 1080x1616 item: "bad image dimensions
// on decode") falls back to the primary image, which decides whether the
// file is damaged.
func heifThumbnail(k *killer, src []byte, typ vips.ImageType, w, h int, s variant.Size, crop vips.Interesting, sizing vips.Size, embedded bool) (*vips.ImageRef, error) {
	if embedded {
		img, err := heifEmbedded(k, heifBuffer(src, typ), w, h, s, crop, sizing)
		if img != nil || (err != nil && k.stopped()) {
			return img, err
		}
	}
	img, err := loadHEIFSequential(src)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	k.watch(img)
	// vips_resize + crop (imgproxy's steps), as for JPEG and PNG: the same
	// pixels as ThumbnailWithSize (TestHEIFResizeCropIsThumbnail) for less
	// work (24 MP iPhone HEIC tile_500, tools/stages: Transform 572.7 -> 568.5
	// ms; imgproxy's steps 563.4).
	if err := resizeCrop(img, s.Width, s.Height, crop, sizing); err != nil {
		img.Close()
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	return img, nil
}

// heifEmbedded thumbnails the embedded thumbnail libvips would use (its
// first, upright) for a primary image of w x h, or returns nil, nil when
// there is none that qualifies. The item is loaded once: its header says
// whether it qualifies, and the same image is then decoded (loading it
// twice, once to look and once to use, was 12 of 64 ms per iPhone HEIC
// tile_224; docs/perf-notes.md). A thumbnail libheif cannot decode is
// found here, not by the encoder, and reported as an error.
func heifEmbedded(k *killer, buf []byte, w, h int, s variant.Size, crop vips.Interesting, sizing vips.Size) (*vips.ImageRef, error) {
	p := importParams()
	p.HeifThumbnail.Set(true)
	img, err := vips.LoadImageFromBuffer(buf, p)
	if err != nil {
		return nil, nil // the primary image decides whether the file is damaged
	}
	tw, th := img.Width(), img.Height()
	// No thumbnail (libvips loaded the primary image), or one that would
	// be enlarged or shows another frame.
	if tw >= w || !coversOutput(tw, th, s, crop, sizing) || !sameFrame(w, h, tw, th) {
		img.Close()
		return nil, nil
	}
	// Random access: the small decoded item stays in memory, so the
	// encoder reads it again from there.
	if err := verifyDecode(k, img); err != nil {
		img.Close()
		return nil, err
	}
	k.watch(img)
	if err := img.ThumbnailWithSize(s.Width, s.Height, crop, sizing); err != nil {
		img.Close()
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	return img, nil
}

// coversOutput is libvips' rule for using a HEIF thumbnail of tw x th
// (thumbnail.c: the common shrink from it is above 1, so it is never
// enlarged).
func coversOutput(tw, th int, s variant.Size, crop vips.Interesting, sizing vips.Size) bool {
	hs, vs := thumbShrink(tw, th, s.Width, s.Height, 1, crop, sizing)
	return min(hs, vs) > 1
}

// sameFrame reports whether a thumbnail of tw x th has the primary
// image's aspect ratio within 1% (encoders round thumbnail sides to even
// numbers; a letterboxed or cropped thumbnail is further off).
func sameFrame(w, h, tw, th int) bool {
	a, b := int64(tw)*int64(h), int64(th)*int64(w)
	d := a - b
	if d < 0 {
		d = -d
	}
	return d*100 <= max(a, b)
}

// sameContainer serves a WebP, HEIC or AVIF original in its own format:
// WebP with its EXIF and XMP chunks dropped (metastrip.WebP), HEIF/AVIF
// with its Exif and XMP items removed in place (metastrip.HEIF: offsets
// untouched, the image items byte for byte, so it decodes to the same
// pixels at the source's size; a 1.16 MB HEIC was a 16.7 MB PNG). The
// image is decoded once first, so a damaged file is refused (415) rather
// than passed on. ok is false when the file must be re-encoded instead: a
// WebP whose EXIF orientation would be lost with its EXIF chunk, a HEIF
// layout the rewrite does not handle, or a result Check would refuse.
func sameContainer(k *killer, src []byte, hdr *vips.ImageRef, typ vips.ImageType) (*Image, bool, error) {
	if typ == vips.ImageTypeWEBP && hdr.Orientation() > 1 {
		return nil, false, nil
	}
	if err := verifyDecode(k, hdr); err != nil {
		return nil, false, err
	}
	var b []byte
	f := variant.WebP
	switch typ {
	case vips.ImageTypeWEBP:
		// A structure metastrip refuses, though libvips decoded it, is
		// re-encoded rather than refused.
		if w, err := metastrip.WebP(src); err == nil {
			b = w
		}
	case vips.ImageTypeAVIF:
		b, f = heifStripped(src), variant.AVIF
	default:
		b, f = heifStripped(src), variant.HEIF
	}
	if b == nil || metastrip.Check(b) != nil {
		return nil, false, nil
	}
	return &Image{Bytes: b, Width: hdr.Width(), Height: hdr.Height(), Format: f}, true, nil
}

// heifStripped is metastrip.HEIF, or nil when the file needs re-encoding.
func heifStripped(src []byte) []byte {
	b, err := metastrip.HEIF(src)
	if err != nil {
		return nil
	}
	return b
}
