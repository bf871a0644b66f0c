// Command stages breaks one uncached thumbd transform into its stages
// (read, header, decode, resize, colour, encode, check) by calling govips
// in the same steps as transform/transform.go, and times candidate
// pipeline changes (access mode, shrink-on-load, resize kernel, encoder
// settings) on the same file, each with its output size and SSIM against
// a full-resolution Lanczos3 reference. Single libvips thread, as thumbd
// runs (vips_concurrency: 1); figures are CPU time of the whole process
// (user + system), medians of interleaved rounds.
//
//	go run ./tools/stages -file testdata/bench/sony-ilce6700-aloe.jpg -size tile_500 -n 15
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/imagehdr"
	"github.com/thumbd/thumbd/metastrip"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

func main() {
	file := flag.String("file", "testdata/bench/sony-ilce6700-aloe.jpg", "original (JPEG for the variants)")
	sizeName := flag.String("size", "tile_500", "thumbd size name")
	n := flag.Int("n", 15, "rounds (each runs every stage and variant once)")
	variants := flag.Bool("variants", true, "also time the candidate pipelines")
	flag.Parse()

	transform.Startup(1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	vips.LoggingSettings(func(string, vips.LogLevel, string) {}, vips.LogLevelError)
	size, err := variant.ParseSize(*sizeName)
	if err != nil {
		fatal(err)
	}
	src, err := os.ReadFile(*file)
	if err != nil {
		fatal(err)
	}
	hdr, err := imagehdr.Parse(src, 1000)
	if err != nil {
		fatal(err)
	}
	crop := size.Mode != variant.Fit
	fmt.Printf("### `%s` %s (%dx%d, %.1f MP, %d KiB, %s%s)\n\n", filepath.Base(*file), size.Name, hdr.Width, hdr.Height,
		float64(hdr.Pixels())/1e6, len(src)>>10, hdr.Format, map[bool]string{true: ", progressive", false: ""}[hdr.Progressive])

	st := newStages(*file, src, size, crop)
	var vs []namedVariant
	var ref image.Image
	var cs cBuf
	if *variants {
		cs = newCBuf(src)
		defer cs.free()
		refShrink := 1
		if hdr.Format == imagehdr.JPEG {
			vs = candidates(st.shrink)
		} else {
			vs, refShrink = otherCandidates(), 0
		}
		refPNG, err := runVariant(cs, pipeline{shrink: refShrink, kernel: kernelLanczos3}, size.Width, size.Height, crop)
		if err != nil {
			fatal(fmt.Errorf("reference: %w", err))
		}
		if ref, err = png.Decode(bytes.NewReader(refPNG)); err != nil {
			fatal(err)
		}
	}
	stageTimes := map[string][]time.Duration{}
	varTimes := make([][]time.Duration, len(vs))
	varOut := make([][]byte, len(vs))
	for r := 0; r < *n+1; r++ { // round 0 warms up
		for k, f := range st.steps() {
			d := f()
			if r > 0 {
				stageTimes[k] = append(stageTimes[k], d)
			}
		}
		for i := range vs {
			j := (i + r) % len(vs) // rotate the order: drift hits every variant alike
			var out []byte
			d := timed(func() { out, err = vs[j].run(cs, st, size, crop) })
			if err != nil {
				fatal(fmt.Errorf("%s: %w", vs[j].name, err))
			}
			if r > 0 {
				varTimes[j] = append(varTimes[j], d)
			}
			varOut[j] = out
		}
	}
	st.report(stageTimes, *n)
	if len(vs) > 0 {
		fmt.Printf("\nCandidates (CPU ms of the whole pipeline from bytes in memory to JPEG bytes; SSIM on luma against a\n")
		fmt.Printf("full-resolution decode + Lanczos3 resize, 1.0 = identical; median of %d):\n\n", *n)
		fmt.Println("| pipeline | CPU ms | vs thumbd | bytes | SSIM |")
		fmt.Println("|---|---|---|---|---|")
		base := median(varTimes[0])
		for i, v := range vs {
			m := median(varTimes[i])
			ssim := "n/a"
			if img, err := jpeg.Decode(bytes.NewReader(varOut[i])); err == nil {
				ssim = fmt.Sprintf("%.4f", ssimLuma(ref, img))
			}
			fmt.Printf("| %s | %.1f | %.2fx | %d | %s |\n", v.name, ms(m), float64(m)/float64(base), len(varOut[i]), ssim)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "stages:", err)
	os.Exit(1)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// stages are transform.go's steps, each timed on its own or as the
// difference of two prefixes of the pipeline (libvips is lazy: a prefix is
// forced into memory, and that copy's own cost - the sink - is measured and taken
// out).
type stages struct {
	path   string
	src    []byte
	size   variant.Size
	crop   bool
	shrink int
	tr     *transform.Transformer
}

func newStages(path string, src []byte, size variant.Size, crop bool) *stages {
	st := &stages{path: path, src: src, size: size, crop: crop, shrink: 1}
	if img, err := vips.LoadImageFromBuffer(src, vips.NewImportParams()); err == nil {
		if img.Format() == vips.ImageTypeJPEG {
			st.shrink = jpegShrink(img.Width(), img.Height(), img.Orientation(), size)
		}
		img.Close()
	}
	st.tr = transform.New(transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78, MaxMegapixels: 100})
	return st
}

// jpegShrink mirrors transform's choice: the largest libjpeg scale that
// leaves at least the output's pixels on each axis.
func jpegShrink(w, h, orientation int, s variant.Size) int {
	if orientation >= 5 && orientation <= 8 {
		w, h = h, w
	}
	fw, fh := float64(s.Width)/float64(w), float64(s.Height)/float64(h)
	f := max(fw, fh)
	if s.Mode == variant.Fit {
		f = min(fw, fh, 1)
	}
	for _, d := range []int{8, 4, 2} {
		if (w+d-1)/d >= int(float64(w)*f+0.999) && (h+d-1)/d >= int(float64(h)*f+0.999) {
			return d
		}
	}
	return 1
}

func (st *stages) decodeHow() string {
	if vips.DetermineImageType(st.src) == vips.ImageTypeJPEG {
		return fmt.Sprintf("libjpeg decode at 1/%d, random access (whole image to memory)", st.shrink)
	}
	return "full decode (no shrink-on-load in thumbd's path), random access (whole image to memory)"
}

func (st *stages) load() *vips.ImageRef {
	p := vips.NewImportParams()
	if st.shrink > 1 {
		p.JpegShrinkFactor.Set(st.shrink)
	}
	img, err := vips.LoadImageFromBuffer(st.src, p)
	if err != nil {
		fatal(err)
	}
	return img
}

func (st *stages) thumb(img *vips.ImageRef) {
	crop, sizing := vips.InterestingNone, vips.SizeDown
	if st.crop {
		crop, sizing = vips.InterestingCentre, vips.SizeBoth
	}
	if err := img.ThumbnailWithSize(st.size.Width, st.size.Height, crop, sizing); err != nil {
		fatal(err)
	}
}

// colour is transform's toSRGB for the cases the bench files have: an
// RGB ICC profile other than sRGB is transformed to the compact sRGB v2.
func colour(img *vips.ImageRef) {
	if img.HasICCProfile() {
		p := img.GetICCProfile()
		desc := bytes.ReplaceAll(p, []byte{0}, nil)
		if len(p) >= 20 && string(p[16:20]) == "RGB " && !bytes.Contains(desc, []byte("sRGB")) {
			if err := img.TransformICCProfile(vips.SRGBV2MicroICCProfilePath); err != nil {
				fatal(err)
			}
		}
	}
	if img.Interpretation() != vips.InterpretationSRGB {
		if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
			fatal(err)
		}
	}
}

func (st *stages) encode(img *vips.ImageRef) []byte {
	if err := img.RemoveMetadata(); err != nil {
		fatal(err)
	}
	small := img.Width() <= transform.SmallEdge && img.Height() <= transform.SmallEdge
	q := 83
	if small {
		q = 78
	}
	b, _, err := img.ExportJpeg(&vips.JpegExportParams{StripMetadata: true, Quality: q, Interlace: !small, OptimizeCoding: true})
	if err != nil {
		fatal(err)
	}
	return b
}

// avg forces every pixel of img's pipeline the way the encoder pulls
// them (libvips' strip-wise sink into a memory image); an Average would
// pull 128x128 tiles and recompute the resize's overlaps.
func avg(img *vips.ImageRef) {
	if _, err := img.ToBytes(); err != nil {
		fatal(err)
	}
}

// timed returns the CPU time (user + system, every thread of the process:
// libvips' workers included) that f used. On a machine shared with other
// work, wall time measures the neighbours as much as the code; CPU time
// does not.
func timed(f func()) time.Duration {
	t0 := cpuNow()
	f()
	return cpuNow() - t0
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// steps returns one timing per key for this round.
func (st *stages) steps() map[string]func() time.Duration {
	return map[string]func() time.Duration{
		"read": func() time.Duration {
			return timed(func() {
				// storage.Read: open, stat, one buffer of the file's size, ReadFull.
				f, err := os.Open(st.path)
				if err != nil {
					fatal(err)
				}
				fi, _ := f.Stat()
				buf := make([]byte, fi.Size())
				if _, err := io.ReadFull(f, buf); err != nil {
					fatal(err)
				}
				f.Close()
			})
		},
		"header": func() time.Duration {
			return timed(func() {
				// transform.header (imagehdr) + thumbnail's header-only libvips load.
				if _, err := imagehdr.Parse(st.src, 1000); err != nil {
					fatal(err)
				}
				img, err := vips.LoadImageFromBuffer(st.src, vips.NewImportParams())
				if err != nil {
					fatal(err)
				}
				_ = img.Orientation()
				img.Close()
			})
		},
		"p1 load+sink": func() time.Duration {
			img := st.load()
			defer img.Close()
			return timed(func() { avg(img) })
		},
		"sink": func() time.Duration {
			// Random access keeps the decoded image: a second pull is the sink alone.
			img := st.load()
			defer img.Close()
			avg(img)
			return timed(func() { avg(img) })
		},
		"p2 +resize": func() time.Duration {
			img := st.load()
			defer img.Close()
			return timed(func() { st.thumb(img); avg(img) })
		},
		"p3 +colour": func() time.Duration {
			img := st.load()
			defer img.Close()
			return timed(func() { st.thumb(img); colour(img); avg(img) })
		},
		"p4 +strip+encode": func() time.Duration {
			img := st.load()
			defer img.Close()
			return timed(func() { st.thumb(img); colour(img); st.encode(img) })
		},
		"check": func() time.Duration {
			img := st.load()
			out := st.encode(func() *vips.ImageRef { st.thumb(img); colour(img); return img }())
			img.Close()
			return timed(func() {
				if err := metastrip.Check(out); err != nil {
					fatal(err)
				}
			})
		},
		"transform.Transform": func() time.Duration {
			return timed(func() {
				if _, err := st.tr.Transform(context.Background(), st.src, st.size, variant.JPEG); err != nil {
					fatal(err)
				}
			})
		},
	}
}

func (st *stages) report(t map[string][]time.Duration, n int) {
	m := func(k string) float64 { return ms(median(t[k])) }
	sink := m("sink")
	rows := []struct {
		stage, how string
		v          float64
	}{
		{"read", "open + stat + ReadFull into a new buffer (storage.Read, page cache warm)", m("read")},
		{"header", "imagehdr.Parse + libvips header-only load (transform.header, thumbnail)", m("header")},
		{"decode", st.decodeHow(), m("p1 load+sink") - sink},
		{"resize", "vips_thumbnail_image on the decoded image (shrink + Lanczos3 reduce + crop)", m("p2 +resize") - m("p1 load+sink")},
		{"colour", "ICC to sRGB when the profile is not sRGB", m("p3 +colour") - m("p2 +resize")},
		{"encode", "strip + JPEG Q83 progressive, optimised Huffman", m("p4 +strip+encode") - m("p3 +colour") + sink},
		{"check", "metastrip.Check on the output", m("check")},
	}
	fmt.Printf("Stages (CPU ms, median of %d; libvips single-threaded; the header load is counted once):\n\n", n)
	fmt.Println("| stage | ms | share | what |")
	fmt.Println("|---|---|---|---|")
	var sum float64
	for _, r := range rows {
		sum += max(r.v, 0)
	}
	for _, r := range rows {
		fmt.Printf("| %s | %.1f | %.0f%% | %s |\n", r.stage, r.v, 100*max(r.v, 0)/sum, r.how)
	}
	fmt.Printf("| **sum** | **%.1f** | | |\n", sum)
	fmt.Printf("| transform.Transform | %.1f | | the real function, same bytes (read and check not included in it: read is the server's) |\n", m("transform.Transform"))
	fmt.Printf("\n(sink: copying the decoded image to memory, %.1f ms, taken out of decode and encode.)\n", sink)
}

type namedVariant struct {
	name string
	run  func(cs cBuf, st *stages, size variant.Size, crop bool) ([]byte, error)
}

func cv(name string, v pipeline) namedVariant {
	return namedVariant{name, func(cs cBuf, _ *stages, size variant.Size, crop bool) ([]byte, error) {
		return runVariant(cs, v, size.Width, size.Height, crop)
	}}
}

// candidates are the pipelines compared; the first is thumbd's today.
func candidates(shrink int) []namedVariant {
	cur := pipeline{shrink: shrink, thumbnailImage: true, quality: 83, interlace: true, optimize: true}
	with := func(f func(*pipeline)) pipeline { v := cur; f(&v); return v }
	vs := []namedVariant{
		{"thumbd now: transform.Transform (header load, sequential load at 1/" + fmt.Sprint(shrink) + ", vips_resize + crop, sRGB, progressive+optimize Q83, Check)",
			func(_ cBuf, st *stages, size variant.Size, _ bool) ([]byte, error) {
				img, err := st.tr.Transform(context.Background(), st.src, size, variant.JPEG)
				if err != nil {
					return nil, err
				}
				return img.Bytes, nil
			}},
		cv("same libvips steps without govips (random access, thumbnail_image)", cur),
		cv("sequential access, thumbnail_image", with(func(v *pipeline) { v.sequential = true })),
		cv("sequential, vips_resize Lanczos3 + centre crop (imgproxy's steps)", with(func(v *pipeline) { v.sequential = true; v.thumbnailImage = false; v.kernel = kernelLanczos3 })),
		cv("sequential, vips_resize Lanczos2", with(func(v *pipeline) { v.sequential = true; v.thumbnailImage = false; v.kernel = kernelLanczos2 })),
		cv("sequential, vips_resize Mitchell", with(func(v *pipeline) { v.sequential = true; v.thumbnailImage = false; v.kernel = kernelMitchell })),
		cv("sequential, vips_resize cubic", with(func(v *pipeline) { v.sequential = true; v.thumbnailImage = false; v.kernel = kernelCubic })),
		cv("sequential, vips_resize linear", with(func(v *pipeline) { v.sequential = true; v.thumbnailImage = false; v.kernel = kernelLinear })),
		cv("sequential, thumbnail_image, baseline (no interlace), optimize", with(func(v *pipeline) { v.sequential = true; v.interlace = false })),
		cv("sequential, thumbnail_image, baseline, no optimize", with(func(v *pipeline) { v.sequential = true; v.interlace = false; v.optimize = false })),
		cv("sequential, thumbnail_image, progressive Q80 (imgproxy's default quality)", with(func(v *pipeline) { v.sequential = true; v.quality = 80 })),
	}
	if shrink > 1 {
		vs = append(vs, cv(fmt.Sprintf("sequential, thumbnail_image, decode at 1/%d (a factor of 2 in reserve)", shrink/2),
			with(func(v *pipeline) { v.sequential = true; v.shrink = shrink / 2 })))
	}
	vs = append(vs,
		namedVariant{"vips_thumbnail_buffer (libvips' own shrink choice, sequential) + progressive+optimize Q83", func(_ cBuf, st *stages, size variant.Size, crop bool) ([]byte, error) {
			c, s := vips.InterestingNone, vips.SizeDown
			if crop {
				c, s = vips.InterestingCentre, vips.SizeBoth
			}
			img, err := vips.LoadThumbnailFromBuffer(st.src, size.Width, size.Height, c, s, vips.NewImportParams())
			if err != nil {
				return nil, err
			}
			defer img.Close()
			return st.encode(img), nil
		}},
		namedVariant{"vips_thumbnail from the file (no Go read) + progressive+optimize Q83", func(_ cBuf, st *stages, size variant.Size, crop bool) ([]byte, error) {
			c, s := vips.InterestingNone, vips.SizeDown
			if crop {
				c, s = vips.InterestingCentre, vips.SizeBoth
			}
			img, err := vips.LoadThumbnailFromFile(st.path, size.Width, size.Height, c, s, vips.NewImportParams())
			if err != nil {
				return nil, err
			}
			defer img.Close()
			return st.encode(img), nil
		}},
	)
	return vs
}

// otherCandidates are the pipelines compared for formats without
// shrink-on-load in thumbd (HEIF, PNG): the whole image is decoded.
func otherCandidates() []namedVariant {
	thumbd := candidates(1)[0]
	cur := pipeline{shrink: 0, thumbnailImage: true, quality: 83, interlace: true, optimize: true}
	with := func(f func(*pipeline)) pipeline { v := cur; f(&v); return v }
	embedded := transform.New(transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78, MaxMegapixels: 100, HEIFThumbnails: true})
	return []namedVariant{
		{"thumbd now: transform.Transform (header load, sequential load, thumbnail_image, sRGB, progressive+optimize Q83, Check)", thumbd.run},
		{"thumbd with HEIFThumbnails: the embedded thumbnail when it covers the output", func(_ cBuf, st *stages, size variant.Size, _ bool) ([]byte, error) {
			img, err := embedded.Transform(context.Background(), st.src, size, variant.JPEG)
			if err != nil {
				return nil, err
			}
			return img.Bytes, nil
		}},
		cv("random access, thumbnail_image (libvips steps without govips)", cur),
		cv("sequential access, thumbnail_image", with(func(v *pipeline) { v.sequential = true })),
		cv("sequential, vips_resize Lanczos3 + centre crop (imgproxy's steps)", with(func(v *pipeline) { v.sequential = true; v.thumbnailImage = false; v.kernel = kernelLanczos3 })),
		{"vips_thumbnail_buffer (sequential) + progressive+optimize Q83", func(_ cBuf, st *stages, size variant.Size, crop bool) ([]byte, error) {
			c, s := vips.InterestingNone, vips.SizeDown
			if crop {
				c, s = vips.InterestingCentre, vips.SizeBoth
			}
			img, err := vips.LoadThumbnailFromBuffer(st.src, size.Width, size.Height, c, s, vips.NewImportParams())
			if err != nil {
				return nil, err
			}
			defer img.Close()
			return st.encode(img), nil
		}},
	}
}

// ssimLuma is the mean SSIM (Wang et al. 2004: 11x11 Gaussian window,
// sigma 1.5, K1 0.01, K2 0.03) of the two images' luma over their common
// area.
func ssimLuma(a, b image.Image) float64 {
	w := min(a.Bounds().Dx(), b.Bounds().Dx())
	h := min(a.Bounds().Dy(), b.Bounds().Dy())
	x, y := luma(a, w, h), luma(b, w, h)
	xx, yy, xy := make([]float64, w*h), make([]float64, w*h), make([]float64, w*h)
	for i := range x {
		xx[i], yy[i], xy[i] = x[i]*x[i], y[i]*y[i], x[i]*y[i]
	}
	mx, my := blur(x, w, h), blur(y, w, h)
	sxx, syy, sxy := blur(xx, w, h), blur(yy, w, h), blur(xy, w, h)
	const c1, c2 = (0.01 * 255) * (0.01 * 255), (0.03 * 255) * (0.03 * 255)
	var sum float64
	for i := range mx {
		vx, vy, cov := sxx[i]-mx[i]*mx[i], syy[i]-my[i]*my[i], sxy[i]-mx[i]*my[i]
		sum += ((2*mx[i]*my[i] + c1) * (2*cov + c2)) / ((mx[i]*mx[i] + my[i]*my[i] + c1) * (vx + vy + c2))
	}
	return sum / float64(len(mx))
}

func luma(img image.Image, w, h int) []float64 {
	out := make([]float64, w*h)
	b := img.Bounds()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			out[y*w+x] = (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
		}
	}
	return out
}

// blur is a separable 11-tap Gaussian (sigma 1.5), edges clamped.
func blur(in []float64, w, h int) []float64 {
	var k [11]float64
	var ks float64
	for i := range k {
		d := float64(i - 5)
		k[i] = math.Exp(-d * d / (2 * 1.5 * 1.5))
		ks += k[i]
	}
	for i := range k {
		k[i] /= ks
	}
	tmp, out := make([]float64, w*h), make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var s float64
			for i := -5; i <= 5; i++ {
				s += k[i+5] * in[y*w+clamp(x+i, w)]
			}
			tmp[y*w+x] = s
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var s float64
			for i := -5; i <= 5; i++ {
				s += k[i+5] * tmp[clamp(y+i, h)*w+x]
			}
			out[y*w+x] = s
		}
	}
	return out
}

func clamp(v, n int) int { return min(max(v, 0), n-1) }
