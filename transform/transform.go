// Package transform turns an original's bytes into a named variant with
// libvips: shrink-on-load thumbnail, crop or fit, auto-orient, sRGB, strip
// metadata, encode. It never sees paths or HTTP.
package transform

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/budget"
	"github.com/thumbd/thumbd/imagehdr"
	"github.com/thumbd/thumbd/metastrip"
	"github.com/thumbd/thumbd/variant"
)

// Errors callers map to statuses.
var (
	// ErrUnsupported: the bytes are not an image this libvips can decode
	// completely (unknown format, missing loader, truncated or corrupt data).
	ErrUnsupported = errors.New("unsupported or undecodable image")
	// ErrTooLarge: the header declares more pixels, frames or decode
	// memory than allowed.
	ErrTooLarge = errors.New("image too large")
	// ErrStopped: libvips was stopped at the deadline while working on the
	// image (wrapped with the context's error).
	ErrStopped = errors.New("stopped at the deadline")
	// ErrPrivate: an encoded output still held a private-metadata
	// container; it is never served (fail closed).
	ErrPrivate = errors.New("output failed the metadata check")
)

// Options are the encoding and safety settings; they are part of every
// variant's identity (see Options.Fingerprint).
type Options struct {
	JPEGQuality      int // above SmallEdge px
	JPEGQualitySmall int // at or below SmallEdge px
	MaxMegapixels    int // header check before decoding; 0 = no limit
	Crop             variant.Crop
	// Background fills transparent areas in JPEG output; nil is white.
	Background *variant.Color
	// Per-format settings; zero means the defaults below.
	WebPQuality int // 1-100, default 80
	WebPEffort  int // 0 (fastest) - 6, default 4
	AVIFQuality int // 1-100, default 60 (looks like JPEG 83)
	AVIFEffort  int // 0 (fastest) - 9, default 2
	// MaxFrames refuses files with more frames/pages, counted from the
	// container before libvips reads them; 0 = 1000.
	MaxFrames int
	// Budget bounds the decode memory of all jobs at once; nil = none.
	Budget *budget.Budget
	// HEIFThumbnails lets small variants of a HEIC/AVIF come from the
	// file's embedded thumbnail when it covers the output and shows the
	// same frame: 25x less CPU (iPhone HEIC tile_224: 47 vs 690 ms), but a
	// softer picture (SSIM 0.961 vs 0.969 against a full-resolution
	// rendering, tools/stages). Config key heif_thumbnails, on by default
	// as in libvips' own thumbnail and imgproxy.
	HEIFThumbnails bool
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// interesting maps a crop mode to libvips' crop strategy.
func interesting(c variant.Crop) vips.Interesting {
	switch c {
	case variant.CropEntropy:
		return vips.InterestingEntropy
	case variant.CropAttention:
		return vips.InterestingAttention
	}
	return vips.InterestingCentre
}

// DefaultMaxFrames is max_frames' default.
const DefaultMaxFrames = 1000

// SmallEdge is the longest edge at or below which the small-output quality
// applies and JPEGs are baseline (progressive costs bytes on tiny images).
const SmallEdge = 150

// PipelineVersion changes whenever the pipeline's output for the same input
// and options changes, so ETags change with it (7: liborc off, whose C
// paths round differently).
const PipelineVersion = "7"

// Fingerprint identifies the options in ETags.
func (o Options) Fingerprint() string {
	crop, _ := variant.ParseCrop(string(o.Crop))
	bg := variant.White.Hex()
	if o.Background != nil {
		bg = o.Background.Hex()
	}
	fp := fmt.Sprintf("p%s-q%d-s%d-%s-w%d.%d-a%d.%d-b%s", PipelineVersion, o.JPEGQuality, o.JPEGQualitySmall, crop,
		orDefault(o.WebPQuality, 80), orDefault(o.WebPEffort, 4), orDefault(o.AVIFQuality, 60), orDefault(o.AVIFEffort, 2), bg)
	if o.HEIFThumbnails {
		fp += "-ht"
	}
	return fp
}

// Image is an encoded variant.
type Image struct {
	Bytes  []byte
	Width  int
	Height int
	Format variant.Format
	// Source says where the bytes were made from when not the original
	// (set by the caller; part of the ETag).
	Source string
}

// Transformer runs the libvips pipeline.
type Transformer struct {
	opts Options
}

var startOnce sync.Once

// Startup initialises libvips once per process. Concurrency is libvips'
// threads per image; the operation cache is off because every request
// makes a different image and the cache only grows RSS (govips#318).
func Startup(concurrency int, logger *slog.Logger) {
	startOnce.Do(func() {
		vips.LoggingSettings(func(domain string, level vips.LogLevel, msg string) {
			// Only warnings and worse; libvips' info chatter is noise.
			if level <= vips.LogLevelWarning {
				logger.Warn("libvips", "domain", domain, "msg", firstLine(msg))
			}
		}, vips.LogLevelWarning)
		vips.Startup(&vips.Config{
			ConcurrencyLevel: concurrency,
			MaxCacheFiles:    0,
			MaxCacheMem:      0,
			MaxCacheSize:     0,
		})
		disableVectors()
	})
}

// New returns a Transformer; call Startup first.
func New(opts Options) *Transformer {
	return &Transformer{opts: opts}
}

// Loaders reports which input formats this libvips can decode, for the
// start-up log.
func Loaders() map[string]bool {
	out := map[string]bool{}
	for t, name := range vips.ImageTypes {
		switch t {
		case vips.ImageTypeJPEG, vips.ImageTypePNG, vips.ImageTypeWEBP, vips.ImageTypeGIF,
			vips.ImageTypeTIFF, vips.ImageTypeHEIF, vips.ImageTypeAVIF:
			out[name] = vips.IsTypeSupported(t)
		}
	}
	return out
}

// Transform makes variant s of the original in src, encoded as f.
//
// Before libvips sees a byte, the container is read in Go (imagehdr): the
// format must be one served, the frame count and pixel count within
// limits, and the decode memory the header implies is reserved from the
// process-wide budget (waiting for room, or ErrTooLarge if it could never
// fit). While libvips works, the deadline can stop it (see killer).
func (t *Transformer) Transform(ctx context.Context, src []byte, s variant.Size, f variant.Format) (*Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hdr, err := t.header(src)
	if err != nil {
		return nil, err
	}
	// imagehdr knows only the formats served (SVG, PDF and friends can
	// carry scripts or fetch URLs: refused above as unknown).
	typ := vipsType[hdr.Format]
	if !vips.IsTypeSupported(typ) {
		return nil, fmt.Errorf("%w: no %s loader in this libvips", ErrUnsupported, vips.ImageTypes[typ])
	}
	release, err := t.reserve(ctx, DecodeEstimate(hdr, s))
	if err != nil {
		return nil, err
	}
	defer release()
	defer pinSource(src)() // read in place by the sequential loaders

	k := newKiller(ctx)
	defer k.stop()
	img, err := t.run(ctx, k, src, hdr, typ, s, f)
	if err != nil && ctx.Err() != nil {
		// Whatever libvips reported, the cause is the deadline (its own
		// words are kept for the log: "killed" when the flag stopped it).
		return nil, fmt.Errorf("%w: %w (%v)", ErrStopped, ctx.Err(), err)
	}
	return img, err
}

// vipsType maps the container imagehdr found to libvips' loader.
var vipsType = map[imagehdr.Format]vips.ImageType{
	imagehdr.JPEG: vips.ImageTypeJPEG, imagehdr.PNG: vips.ImageTypePNG, imagehdr.GIF: vips.ImageTypeGIF,
	imagehdr.WebP: vips.ImageTypeWEBP, imagehdr.TIFF: vips.ImageTypeTIFF, imagehdr.HEIF: vips.ImageTypeHEIF,
	imagehdr.AVIF: vips.ImageTypeAVIF,
}

// header reads and checks the container (no libvips): format, frames and
// megapixels are refused here, before any loader runs.
func (t *Transformer) header(src []byte) (imagehdr.Header, error) {
	maxFrames := orDefault(t.opts.MaxFrames, DefaultMaxFrames)
	hdr, err := imagehdr.Parse(src, maxFrames)
	if err != nil {
		return hdr, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	if hdr.Format == imagehdr.GIF && !gifComplete(src) {
		// libvips decodes only the first frame, so a GIF cut short after
		// it would be served as if whole; damaged files answer 415.
		return hdr, fmt.Errorf("%w: GIF without its trailer (truncated)", ErrUnsupported)
	}
	if hdr.Format == imagehdr.HEIF || hdr.Format == imagehdr.AVIF {
		// libheif decodes what the primary image needs and nothing else,
		// so a file cut after it (or the embedded thumbnail of one cut
		// inside it) would be served as if whole; damaged files answer 415.
		if err := metastrip.HEIFComplete(src); err != nil {
			return hdr, fmt.Errorf("%w: HEIF cut short: %v", ErrUnsupported, err)
		}
	}
	if hdr.Frames > maxFrames {
		return hdr, fmt.Errorf("%w: more than %d frames", ErrTooLarge, maxFrames)
	}
	if max := t.opts.MaxMegapixels; max > 0 && hdr.Pixels() > int64(max)*1_000_000 {
		return hdr, fmt.Errorf("%w: %dx%d exceeds %d megapixels", ErrTooLarge, hdr.Width, hdr.Height, max)
	}
	return hdr, nil
}

// gifComplete reports whether a GIF ends with its trailer byte (0x3B),
// allowing the zero padding some writers append.
func gifComplete(b []byte) bool {
	b = bytes.TrimRight(b, "\x00")
	return len(b) > 0 && b[len(b)-1] == 0x3B
}

// reserve takes need bytes from the decode budget.
func (t *Transformer) reserve(ctx context.Context, need int64) (func(), error) {
	if t.opts.Budget == nil {
		return func() {}, nil
	}
	release, err := t.opts.Budget.Acquire(ctx, need)
	if errors.Is(err, budget.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return release, err
}

func (t *Transformer) run(ctx context.Context, k *killer, src []byte, h imagehdr.Header, typ vips.ImageType, s variant.Size, f variant.Format) (*Image, error) {
	if s.Mode == variant.Original {
		return t.original(k, src, h, typ)
	}
	img, err := t.thumbnail(k, src, h, typ, s)
	if err != nil {
		return nil, err
	}
	defer img.Close()

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := toSRGB(img); err != nil {
		return nil, fmt.Errorf("colour: %w", err)
	}
	return t.encode(k, img, s, f)
}

// original returns the photo itself without private metadata. JPEG, PNG,
// WebP, HEIC and AVIF keep their container and are never re-encoded (see
// sameContainer): the compressed pixels stay byte-identical, the ICC
// profile stays, a JPEG keeps its orientation in a minimal EXIF block and
// HEIF its irot/imir boxes. Other formats (GIF, TIFF), and the rare files
// those rewrites cannot handle, are decoded and re-encoded losslessly as
// PNG, upright, with their ICC profile.
func (t *Transformer) original(k *killer, src []byte, ih imagehdr.Header, typ vips.ImageType) (*Image, error) {
	hdr, err := loadBuffer(src, typ, importParams())
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	defer hdr.Close()
	k.watch(hdr)
	w, h := hdr.Width(), hdr.Height()
	switch typ {
	case vips.ImageTypeJPEG:
		// The bytes are passed through, not re-encoded, so decode them
		// once (at 1/8 scale: libjpeg still reads every entropy-coded
		// byte) to refuse a truncated or corrupt JPEG as 415, like every
		// other size.
		if err := verifyJPEG(k, src); err != nil {
			return nil, err
		}
		b, err := metastrip.JPEG(src, hdr.Orientation())
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
		return checked(&Image{Bytes: b, Width: w, Height: h, Format: variant.JPEG})
	case vips.ImageTypePNG:
		if err := verifyDecode(k, hdr); err != nil {
			return nil, err
		}
		b, err := metastrip.PNG(src)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
		return checked(&Image{Bytes: b, Width: w, Height: h, Format: variant.PNG})
	case vips.ImageTypeWEBP, vips.ImageTypeHEIF, vips.ImageTypeAVIF:
		if img, ok, err := sameContainer(k, src, hdr, typ); ok || err != nil {
			return img, err
		}
	}
	if selfOriented(typ) {
		err = hdr.RemoveOrientation()
	} else {
		err = hdr.AutoRotate()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	// Keep only what decoding needs: the ICC profile survives, EXIF, XMP
	// and IPTC do not.
	if err := hdr.RemoveMetadata(); err != nil {
		return nil, fmt.Errorf("strip: %w", err)
	}
	k.watch(hdr)
	buf, _, err := hdr.ExportPng(&vips.PngExportParams{Compression: 6, Filter: vips.PngFilterNone})
	if err != nil {
		return nil, fmt.Errorf("%w: encode png: %s", ErrUnsupported, firstLine(err.Error()))
	}
	// The PNG saver writes remaining text metadata as chunks; drop them.
	if buf, err = metastrip.PNG(buf); err != nil {
		return nil, fmt.Errorf("strip png: %w", err)
	}
	return checked(&Image{Bytes: buf, Width: hdr.Width(), Height: hdr.Height(), Format: variant.PNG})
}

// selfOriented reports whether the format's decoder hands over pixels
// already upright: libheif applies HEIF's own rotation and mirror boxes,
// and the EXIF orientation tag it leaves must not be applied again.
func selfOriented(typ vips.ImageType) bool {
	return typ == vips.ImageTypeHEIF || typ == vips.ImageTypeAVIF
}

// orientation is the EXIF orientation (1-8) the pipeline must still
// apply to img: the one rule for thumbnails, screen boxes, shrink-on-load
// and probed dimensions.
func orientation(img *vips.ImageRef, typ vips.ImageType) int {
	if selfOriented(typ) {
		return 1
	}
	return img.Orientation()
}

// verifyJPEG decodes a JPEG at 1/8 scale to find damage a pass-through
// would serve.
func verifyJPEG(k *killer, src []byte) error {
	p := importParams()
	p.JpegShrinkFactor.Set(8)
	img, err := vips.LoadImageFromBuffer(src, p)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	defer img.Close()
	return verifyDecode(k, img)
}

// verifyDecode computes every pixel of img (with fail-on-error, so any
// decoder warning is an error).
func verifyDecode(k *killer, img *vips.ImageRef) error {
	k.watch(img)
	if _, err := img.Average(); err != nil {
		return fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	return nil
}

// checked is the last gate before bytes leave the pipeline: an output
// that still holds EXIF, XMP, IPTC, maker notes or any other metadata
// container is an error, whichever encoder or code path made it.
func checked(img *Image) (*Image, error) {
	if err := metastrip.Check(img.Bytes); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPrivate, err)
	}
	return img, nil
}

// importParams fail on any decoder warning: a truncated JPEG is refused
// (415) instead of served with a grey band.
func importParams() *vips.ImportParams {
	p := vips.NewImportParams()
	p.FailOnError.Set(true)
	return p
}

func (t *Transformer) thumbnail(k *killer, src []byte, h imagehdr.Header, typ vips.ImageType, s variant.Size) (*vips.ImageRef, error) {
	// Header only: libvips loads lazily, so this costs no pixel decoding.
	hdr, err := loadBuffer(src, typ, importParams())
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	w, ht := hdr.Width(), hdr.Height()
	orientation := orientation(hdr, typ)
	hdr.Close()
	if s.Mode == variant.Screen {
		uw, uh := variant.Upright(w, ht, orientation)
		s = variant.ScreenBox(s, uw, uh)
	}
	crop, sizing := t.cropFor(s)

	if selfOriented(typ) {
		// libheif hands over upright pixels and libvips drops the EXIF
		// orientation it leaves (see selfOriented).
		if isHDR(h) {
			return hdrThumbnail(k, src, typ, h, s, crop, sizing)
		}
		return heifThumbnail(k, src, typ, w, ht, s, crop, sizing, t.opts.HEIFThumbnails)
	}

	if typ == vips.ImageTypeJPEG {
		if shrink := jpegShrink(w, ht, orientation, s); shrink > 1 {
			// Decode at 1/shrink in libjpeg's DCT, then resize the rest.
			// vips_thumbnail itself keeps a factor of two in reserve and
			// would decode twice as many pixels in each direction.
			// Sequential: libjpeg's rows stream into the resize.
			img, err := loadJPEGShrunk(src, shrink)
			if err != nil {
				return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
			}
			k.watch(img)
			if err := resizeCrop(img, s.Width, s.Height, crop, sizing); err != nil {
				img.Close()
				return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
			}
			return img, nil
		}
	}

	if typ == vips.ImageTypePNG {
		// PNG has no shrink-on-load: a sequential load streams rows into
		// resizeCrop (vips_resize + crop, imgproxy's steps), the same
		// pixels as vips_thumbnail for less work (tools/stages, 16 MP RGB
		// PNG tile_500: Transform 313.2 -> 295.9 ms CPU, byte-identical
		// output). PNGs with alpha, 16 bits or a non-sRGB space go through
		// ThumbnailWithSize inside resizeCrop.
		img, err := loadPNGSequential(src)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
		}
		k.watch(img)
		if err := resizeCrop(img, s.Width, s.Height, crop, sizing); err != nil {
			img.Close()
			return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
		}
		return img, nil
	}

	// Shrink-on-load from the buffer for the other formats (and JPEGs that
	// need every pixel).
	img, err := vips.LoadThumbnailFromBuffer(src, s.Width, s.Height, crop, sizing, importParams())
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	return img, nil
}

// jpegShrink is the largest libjpeg scale denominator (1, 2, 4, 8) that
// still leaves at least as many pixels as the output needs in each
// direction, so nothing is ever upscaled from a shrunk decode.
func jpegShrink(w, h, orientation int, s variant.Size) int {
	w, h = variant.Upright(w, h, orientation) // the box applies to the upright image
	if w <= 0 || h <= 0 {
		return 1
	}
	fw, fh := float64(s.Width)/float64(w), float64(s.Height)/float64(h)
	var sx, sy float64 // final scale factors per axis
	switch s.Mode {
	case variant.Fit:
		f := min(fw, fh, 1)
		sx, sy = f, f
	case variant.Colors:
		sx, sy = fw, fh
	default: // cover crops
		f := max(fw, fh)
		sx, sy = f, f
	}
	shrink := 1
	for _, d := range []int{8, 4, 2} {
		// libjpeg rounds scaled sizes up.
		if (w+d-1)/d >= int(float64(w)*sx+0.999) && (h+d-1)/d >= int(float64(h)*sy+0.999) {
			shrink = d
			break
		}
	}
	return shrink
}

// toSRGB applies an embedded ICC profile and leaves 8-bit sRGB, or 8-bit
// grey for grey originals. vips_thumbnail already imports CMYK through its
// profile but leaves RGB profiles (Adobe RGB, Display P3) alone, so the
// profile is applied here only when it still describes the pixels.
func toSRGB(img *vips.ImageRef) error {
	interp := img.Interpretation()
	if img.HasICCProfile() {
		space := iccSpace(img.GetICCProfile())
		rgb := interp == vips.InterpretationSRGB || interp == vips.InterpretationRGB16 || interp == vips.InterpretationRGB
		// An sRGB profile on sRGB pixels needs no transform: skipping it
		// saves an lcms pass on most camera JPEGs.
		if (space == "RGB " && rgb && !iccIsSRGB(img.GetICCProfile())) || (space == "CMYK" && interp == vips.InterpretationCMYK) {
			// The compact sRGB v2 profile as target: same colours as the full
			// IEC profile, a smaller transform (measured ~4 ms less per tile).
			if err := img.TransformICCProfile(vips.SRGBV2MicroICCProfilePath); err != nil {
				return err
			}
			interp = img.Interpretation()
		}
	}
	switch interp {
	case vips.InterpretationSRGB:
		if img.BandFormat() == vips.BandFormatUchar {
			return nil
		}
	case vips.InterpretationBW, vips.InterpretationGrey16:
		return img.ToColorSpace(vips.InterpretationBW)
	}
	return img.ToColorSpace(vips.InterpretationSRGB)
}

// iccIsSRGB reports whether the profile's description names sRGB (the
// "sRGB IEC61966-2.1" that most cameras embed). It reads the tag table
// directly: 'desc' is ASCII in v2 profiles and UTF-16 ('mluc') in v4.
func iccIsSRGB(p []byte) bool {
	if len(p) < 132 {
		return false
	}
	n := int(binary.BigEndian.Uint32(p[128:]))
	for i := 0; i < n && 132+12*(i+1) <= len(p); i++ {
		e := p[132+12*i:]
		if string(e[0:4]) != "desc" {
			continue
		}
		off, size := int(binary.BigEndian.Uint32(e[4:])), int(binary.BigEndian.Uint32(e[8:]))
		if off < 0 || size < 0 || off > len(p) || size > len(p)-off {
			return false
		}
		d := p[off : off+size]
		// Drop the NULs of UTF-16 so one search covers both encodings.
		d = bytes.ReplaceAll(d, []byte{0}, nil)
		return bytes.Contains(d, []byte("sRGB"))
	}
	return false
}

// iccSpace reads the data colour space signature from an ICC header.
func iccSpace(profile []byte) string {
	if len(profile) < 20 {
		return ""
	}
	return string(profile[16:20])
}

func (t *Transformer) encode(k *killer, img *vips.ImageRef, s variant.Size, f variant.Format) (*Image, error) {
	if s.Mode == variant.Colors {
		f = variant.PNG
	}
	if f == variant.JPEG && img.HasAlpha() {
		bg := variant.White
		if t.opts.Background != nil {
			bg = *t.opts.Background
		}
		if err := img.Flatten(&vips.Color{R: bg.R, G: bg.G, B: bg.B}); err != nil {
			return nil, fmt.Errorf("flatten: %w", err)
		}
	}
	// Drop EXIF, XMP and IPTC from the image itself, not only through the
	// savers' strip flags: libvips 8.14's WebP saver writes them back.
	if err := img.RemoveMetadata(); err != nil {
		return nil, fmt.Errorf("strip: %w", err)
	}
	k.watch(img)
	small := img.Width() <= SmallEdge && img.Height() <= SmallEdge
	var (
		buf []byte
		err error
	)
	switch f {
	case variant.PNG:
		buf, _, err = img.ExportPng(&vips.PngExportParams{StripMetadata: true, Compression: 6})
	case variant.WebP:
		buf, _, err = img.ExportWebp(&vips.WebpExportParams{StripMetadata: true, Quality: quality(s, orDefault(t.opts.WebPQuality, 80)), ReductionEffort: orDefault(t.opts.WebPEffort, 4)})
	case variant.AVIF:
		// Through libheif directly (see avif.go). AVIF effort 2 keeps encoding
		// within a few times JPEG's cost; higher efforts are far slower.
		buf, err = encodeAVIF(img, quality(s, orDefault(t.opts.AVIFQuality, 60)), orDefault(t.opts.AVIFEffort, 2))
	default:
		q := t.opts.JPEGQuality
		if small {
			q = t.opts.JPEGQualitySmall
		}
		q = quality(s, q)
		buf, _, err = img.ExportJpeg(&vips.JpegExportParams{
			StripMetadata:  true,
			Quality:        q,
			Interlace:      !small,
			OptimizeCoding: true,
		})
	}
	if err != nil {
		// libvips decodes lazily, so a corrupt original usually fails here,
		// while the encoder runs; that is the input's fault, hence 415.
		return nil, fmt.Errorf("%w: encode %s: %s", ErrUnsupported, f.Ext(), firstLine(err.Error()))
	}
	if f == variant.WebP {
		// Belt and braces for the saver above: remove EXIF/XMP chunks.
		if buf, err = metastrip.WebP(buf); err != nil {
			return nil, fmt.Errorf("strip webp: %w", err)
		}
	}
	return checked(&Image{Bytes: buf, Width: img.Width(), Height: img.Height(), Format: f})
}

// firstLine drops govips' appended Go stack trace from libvips errors.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// VipsVersion is the linked libvips version, for logs and `thumbd version`.
func VipsVersion() string { return vips.Version }

// MemStats reports the memory libvips tracks: now and its high-water mark.
func MemStats() (mem, high int64) {
	var st vips.MemoryStats
	vips.ReadVipsMemStats(&st)
	return st.Mem, st.MemHigh
}

// Info is what link tooling needs to know about an original.
type Info struct {
	Width, Height int       // upright
	Taken         time.Time // EXIF DateTimeOriginal, zero if absent
}

// Probe reads an original's header (no pixel decoding): upright size and
// when it was taken.
func Probe(src []byte, maxFrames int) (Info, error) {
	// The container first: a file with 50,000 frames costs libvips seconds
	// just to read its header.
	// (src may be only the start of the file, so a parse error here is not
	// a verdict.)
	typ := vips.DetermineImageType(src)
	if h, err := imagehdr.Parse(src, maxFrames); err == nil {
		if h.Frames > maxFrames {
			return Info{}, fmt.Errorf("%w: more than %d frames", ErrTooLarge, maxFrames)
		}
		// imagehdr knows HEIF brands (heix, ...) that govips' sniffing does not.
		typ = vipsType[h.Format]
	}
	if typ == vips.ImageTypeUnknown || !vips.IsTypeSupported(typ) {
		return Info{}, ErrUnsupported
	}
	hdr, err := loadBuffer(src, typ, importParams())
	if err != nil {
		return Info{}, fmt.Errorf("%w: %s", ErrUnsupported, firstLine(err.Error()))
	}
	defer hdr.Close()
	info := Info{Width: hdr.Width(), Height: hdr.Height()}
	info.Width, info.Height = variant.Upright(info.Width, info.Height, orientation(hdr, typ))
	// libvips renders EXIF strings as "2018:09:18 15:01:24 (2018:09:18 ..., ASCII, ...)".
	if v := hdr.GetString("exif-ifd2-DateTimeOriginal"); len(v) >= 19 {
		if t, err := time.Parse("2006:01:02 15:04:05", v[:19]); err == nil {
			info.Taken = t
		}
	}
	return info, nil
}
