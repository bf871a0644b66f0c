package transform_test

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/thumbd/thumbd/variant"
)

// labStats compares two sRGB rasters of the same size the way the HDR
// checks are stated: mean and standard deviation of CIELAB L* (D65) of
// each, and the mean CIE76 colour difference between them.
type labStats struct {
	meanL, sdL, refMeanL, refSdL, meanDE float64
}

func lab(r, g, b int) (float64, float64, float64) {
	lin := func(c int) float64 {
		v := float64(c) / 255
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	R, G, B := lin(r), lin(g), lin(b)
	x := (0.4124564*R + 0.3575761*G + 0.1804375*B) / 0.95047
	y := 0.2126729*R + 0.7151522*G + 0.0721750*B
	z := (0.0193339*R + 0.1191920*G + 0.9503041*B) / 1.08883
	f := func(t float64) float64 {
		if t > 216.0/24389 {
			return math.Cbrt(t)
		}
		return (24389.0/27*t + 16) / 116
	}
	fx, fy, fz := f(x), f(y), f(z)
	return 116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)
}

func compareLab(t *testing.T, got, ref raster) labStats {
	t.Helper()
	if got.w != ref.w || got.h != ref.h {
		t.Fatalf("%dx%d against a %dx%d reference", got.w, got.h, ref.w, ref.h)
	}
	var s labStats
	var sumL, sumL2, rL, rL2, de float64
	n := float64(got.w * got.h)
	for y := 0; y < got.h; y++ {
		for x := 0; x < got.w; x++ {
			l1, a1, b1 := lab(got.at(x, y, 0), got.at(x, y, 1), got.at(x, y, 2))
			l2, a2, b2 := lab(ref.at(x, y, 0), ref.at(x, y, 1), ref.at(x, y, 2))
			sumL, sumL2, rL, rL2 = sumL+l1, sumL2+l1*l1, rL+l2, rL2+l2*l2
			de += math.Sqrt((l1-l2)*(l1-l2) + (a1-a2)*(a1-a2) + (b1-b2)*(b1-b2))
		}
	}
	s.meanL, s.refMeanL = sumL/n, rL/n
	s.sdL, s.refSdL = math.Sqrt(sumL2/n-s.meanL*s.meanL), math.Sqrt(rL2/n-s.refMeanL*s.refMeanL)
	s.meanDE = de / n
	return s
}

// HDR tolerances (docs/raw-heif-notes.md section 4): mean luminance alone
// does not see a washed-out rendering, the L* spread and dE do.
const (
	tolMeanL = 1.5
	tolSdL   = 2.0
	tolDE    = 2.5
)

func (s labStats) ok() bool {
	return math.Abs(s.meanL-s.refMeanL) <= tolMeanL && math.Abs(s.sdL-s.refSdL) <= tolSdL && s.meanDE <= tolDE
}

// pqFromPhoto makes a 10-bit BT.2020 PQ AVIF of a real SDR photo: ffmpeg's
// zscale maps sRGB to linear light with SDR white at 203 cd/m² and
// encodes it with the PQ curve in BT.2020 primaries (16-bit PNG), and
// heif-enc writes the AVIF with the matching nclx box. The photo itself is
// the reference rendering: a right SDR rendering of the PQ file is that
// photo again. transfer "arib-std-b67" makes the HLG twin.
func pqFromPhoto(t *testing.T, photoName, transfer string) []byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg not installed; `make test` installs it")
	}
	dir := t.TempDir()
	mid, out := filepath.Join(dir, "hdr.png"), filepath.Join(dir, "hdr.avif")
	code := map[string]string{"smpte2084": "16", "arib-std-b67": "18"}[transfer]
	// A JPEG is YCbCr (BT.601 matrix); a PNG is RGB, with alpha kept.
	in, float, final := "bt470bg", "gbrpf32le", "rgb48be"
	if filepath.Ext(photoName) == ".png" {
		in, float, final = "gbr", "gbrapf32le", "rgba64be"
	}
	args := []string{"-v", "error", "-nostdin", "-y", "-i", filepath.Join("../testdata/photos", photoName), "-vf",
		"zscale=rin=full:min=" + in + ":tin=iec61966-2-1:pin=bt709:r=full:m=gbr:t=linear:p=bt709:npl=203,format=" + float + "," +
			"zscale=r=full:m=gbr:t=" + transfer + ":p=bt2020:npl=203,format=" + final, "-frames:v", "1", mid}
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	heifTool(t, "heif-enc", "-A", "-b", "10", "-q", "96", "--colour_primaries", "9", "--transfer_characteristic", code,
		"--matrix_coefficients", "9", "-o", out, mid)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHDRToSDR: PQ and HLG renderings of a real photo become sRGB
// thumbnails that match the photo (neither washed out nor dark), within
// the stated tolerances; libvips' own reading of the same file (nclx
// ignored, samples taken as sRGB) is the control that must fail them.
func TestHDRToSDR(t *testing.T) {
	for _, transfer := range []string{"smpte2084", "arib-std-b67"} {
		src := pqFromPhoto(t, "cops.jpg", transfer)
		for _, sz := range []string{"fit_720", "tile_224", "colors"} {
			t.Run(transfer+"/"+sz, func(t *testing.T) {
				f := variant.JPEG
				if sz == "colors" {
					f = variant.PNG
				}
				want, err := run(t, defaultOpts, photo(t, "cops.jpg"), sz, f)
				if err != nil {
					t.Fatal(err)
				}
				got, err := run(t, defaultOpts, src, sz, f)
				if err != nil {
					t.Fatalf("Transform: %v", err)
				}
				ref := pixels(t, want.Bytes)
				s := compareLab(t, pixels(t, got.Bytes), ref)
				t.Logf("L* %.2f (reference %.2f), sd %.2f (reference %.2f), mean dE76 %.2f", s.meanL, s.refMeanL, s.sdL, s.refSdL, s.meanDE)
				if !s.ok() {
					t.Errorf("not the photo: |dL*| %.2f (<= %.1f), |d sd| %.2f (<= %.1f), dE76 %.2f (<= %.1f)",
						math.Abs(s.meanL-s.refMeanL), tolMeanL, math.Abs(s.sdL-s.refSdL), tolSdL, s.meanDE, tolDE)
				}
				if sz != "fit_720" {
					return
				}
				// The control: libvips' thumbnail of the same file.
				naive := filepath.Join(t.TempDir(), "naive.png")
				in := filepath.Join(t.TempDir(), "in.avif")
				if err := os.WriteFile(in, src, 0o644); err != nil {
					t.Fatal(err)
				}
				if b, err := exec.Command("vipsthumbnail", in, "-s", "720x720>", "-o", naive).CombinedOutput(); err != nil {
					t.Fatalf("vipsthumbnail: %v\n%s", err, b)
				}
				nb, err := os.ReadFile(naive)
				if err != nil {
					t.Fatal(err)
				}
				c := compareLab(t, pixels(t, nb), ref)
				t.Logf("control (nclx ignored): L* %.2f, sd %.2f, dE76 %.2f", c.meanL, c.sdL, c.meanDE)
				if c.ok() {
					t.Errorf("the naive rendering passes the tolerances too; the check cannot see a washed-out image")
				}
			})
		}
	}
}

// TestHDRAlpha: a PQ image with an alpha channel keeps it, and its
// colours, through the tone mapping.
func TestHDRAlpha(t *testing.T) {
	src := pqFromPhoto(t, "dice.png", "smpte2084")
	want, err := run(t, defaultOpts, photo(t, "dice.png"), "fit_720", variant.PNG)
	if err != nil {
		t.Fatal(err)
	}
	got, err := run(t, defaultOpts, src, "fit_720", variant.PNG)
	if err != nil {
		t.Fatalf("Transform: %v", err)
	}
	a, b := pixels(t, want.Bytes), pixels(t, got.Bytes)
	if b.bands != 4 {
		t.Fatalf("%d bands; the alpha channel was lost", b.bands)
	}
	var da float64
	for i := 3; i < len(a.pix); i += 4 {
		d := int(a.pix[i]) - int(b.pix[i])
		da += float64(max(d, -d))
	}
	// AV1 codes alpha lossily too: libvips' own decode of the file's alpha
	// differs from the PNG's by 2.48 on average, as the output does.
	if da /= float64(len(a.pix) / 4); da > 3.5 {
		t.Errorf("alpha differs by %.2f on average", da)
	}
	s := compareLab(t, b, a)
	t.Logf("L* %.2f (reference %.2f), sd %.2f (reference %.2f), mean dE76 %.2f, alpha %.2f", s.meanL, s.refMeanL, s.sdL, s.refSdL, s.meanDE, da)
	if !s.ok() {
		t.Errorf("colours differ beyond the tolerances")
	}
}

// TestHDRRealFiles: the real HDR-capable files (iPhone gain-map HEIC in
// Display P3, 10-bit AVIF with a gain map, Sony 10-bit HEIF) are
// SDR-first: their thumbnail must match libheif's own rendering of the
// primary image within the same tolerances.
func TestHDRRealFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 24 MP HEIF files")
	}
	for _, file := range []string{"iphone.heic", "dock-75-hdr.avif", "sony.heif"} {
		path := filepath.Join("../testdata/heif", file)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ref := heifReference(t, path)
		t.Run(file, func(t *testing.T) {
			want, err := run(t, defaultOpts, ref, "fit_720", variant.PNG)
			if err != nil {
				t.Fatal(err)
			}
			got, err := run(t, defaultOpts, src, "fit_720", variant.PNG)
			if err != nil {
				t.Fatal(err)
			}
			s := compareLab(t, pixels(t, got.Bytes), pixels(t, want.Bytes))
			t.Logf("L* %.2f (reference %.2f), sd %.2f (reference %.2f), mean dE76 %.2f", s.meanL, s.refMeanL, s.sdL, s.refSdL, s.meanDE)
			if !s.ok() {
				t.Errorf("differs from libheif's rendering beyond the tolerances")
			}
		})
	}
}
