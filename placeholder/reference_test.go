package placeholder

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "golang.org/x/image/tiff"
)

// The reference implementations are npm thumbhash and blurhash, pinned in
// testdata/node/package-lock.json and run by node.
const nodeDir = "testdata/node"

// need fails under CI (which installs node and npm) and skips elsewhere.
func need(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

var (
	npmOnce sync.Once
	npmErr  error
)

// installed reports whether node_modules holds exactly the locked versions.
func installed() bool {
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	b, err := os.ReadFile(filepath.Join(nodeDir, "package-lock.json"))
	if err != nil || json.Unmarshal(b, &lock) != nil {
		return false
	}
	for _, name := range []string{"thumbhash", "blurhash"} {
		var pkg struct{ Version string }
		b, err := os.ReadFile(filepath.Join(nodeDir, "node_modules", name, "package.json"))
		if err != nil || json.Unmarshal(b, &pkg) != nil || pkg.Version != lock.Packages["node_modules/"+name].Version || pkg.Version == "" {
			return false
		}
	}
	return true
}

// reference runs ref.mjs on items once npm ci has installed the pins.
func reference(t *testing.T, items []refItem) []refResult {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		need(t, "node not on PATH (make test installs it): %v", err)
	}
	npmOnce.Do(func() {
		if installed() {
			return
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			npmErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--prefer-offline")
		cmd.Dir = nodeDir
		if out, err := cmd.CombinedOutput(); err != nil {
			npmErr = fmt.Errorf("npm ci: %w\n%s", err, out)
		}
	})
	if npmErr != nil {
		need(t, "reference packages not installed: %v", npmErr)
	}
	in, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "ref.mjs")
	cmd.Dir = nodeDir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node ref.mjs: %v\n%s", err, stderr.String())
	}
	var res []refResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node answer: %v", err)
	}
	if len(res) != len(items) {
		t.Fatalf("node answered %d of %d", len(res), len(items))
	}
	return res
}

type refItem struct {
	name   string
	W      int    `json:"w"`
	H      int    `json:"h"`
	RGBA   []byte `json:"rgba"` // base64 in JSON
	CX     int    `json:"cx"`
	CY     int    `json:"cy"`
	TH     string `json:"th"` // ours, for the reference to decode
	BH     string `json:"bh"`
	BW     int    `json:"bw"` // the size the reference renders bh at
	BHH    int    `json:"bhh"`
	exact  bool   // the hashes must be equal byte for byte
	thOurs []byte
}

type refResult struct {
	TH    string `json:"th"`
	BH    string `json:"bh"`
	THDec struct {
		W    int    `json:"w"`
		H    int    `json:"h"`
		RGBA []byte `json:"rgba"`
	} `json:"thDec"`
	BHValid bool   `json:"bhValid"`
	BHDec   []byte `json:"bhDec"`
}

// photoPixels decodes a real photograph with the standard library and
// box-filters it to fit 100x100 (never up), as the pipeline's thumbnail
// does: premultiplied averages, so transparent pixels lend no colour.
func photoPixels(t testing.TB, path string) (int, int, []byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	w, h := sw, sh
	if w > MaxSide || h > MaxSide {
		if w >= h {
			w, h = MaxSide, max(1, (h*MaxSide+w/2)/w)
		} else {
			w, h = max(1, (w*MaxSide+h/2)/h), MaxSide
		}
	}
	// image/draw converts YCbCr to RGBA on a fast path.
	full := image.NewRGBA(image.Rect(0, 0, sw, sh))
	draw.Draw(full, full.Bounds(), src, b.Min, draw.Src)
	out := make([]byte, 4*w*h)
	for dy := 0; dy < h; dy++ {
		y0, y1 := dy*sh/h, (dy+1)*sh/h
		for dx := 0; dx < w; dx++ {
			x0, x1 := dx*sw/w, (dx+1)*sw/w
			var sum [4]int
			for y := y0; y < y1; y++ {
				row := full.Pix[y*full.Stride+4*x0 : y*full.Stride+4*x1]
				for i := 0; i < len(row); i += 4 {
					sum[0] += int(row[i])
					sum[1] += int(row[i+1])
					sum[2] += int(row[i+2])
					sum[3] += int(row[i+3])
				}
			}
			n := (y1 - y0) * (x1 - x0)
			o := out[4*(dy*w+dx):]
			a := (sum[3] + n/2) / n
			o[3] = byte(a)
			if sum[3] > 0 {
				for c := 0; c < 3; c++ { // un-premultiply
					o[c] = byte(min(255, (sum[c]*255+sum[3]/2)/sum[3]))
				}
			}
		}
	}
	return w, h, out
}

// photos lists the decodable photographs in testdata (AVIF has no Go
// decoder here).
func photos(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"*.jpg", "*.png", "*.gif", "*.tiff", "orientation/*.jpg"} {
		m, err := filepath.Glob(filepath.Join("..", "testdata", "photos", pat))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) < 10 {
		t.Fatalf("only %d photos found", len(out))
	}
	return out
}

func item(t *testing.T, name string, w, h int, rgba []byte, exact bool) refItem {
	t.Helper()
	th, err := ThumbHash(w, h, rgba)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	cx, cy := BlurHashComponents(w, h)
	bh, err := BlurHash(w, h, rgba, cx, cy)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return refItem{name: name, W: w, H: h, RGBA: rgba, CX: cx, CY: cy, TH: base64.StdEncoding.EncodeToString(th), BH: bh, BW: 32, BHH: 24, exact: exact, thOurs: th}
}

// synthetic images: random noise (no symmetry, so exact), and flat and
// one-axis images, where an AC term is zero in exact arithmetic and the
// reference's own bits come from the last place of the engine's Math.cos.
func synthetic(t *testing.T) []refItem {
	rng := rand.New(rand.NewPCG(17, 2))
	noise := func(w, h int, alpha bool) []byte {
		p := make([]byte, w*h*4)
		for i := range p {
			p[i] = byte(rng.UintN(256))
			if i%4 == 3 && !alpha {
				p[i] = 255
			}
		}
		return p
	}
	fill := func(w, h int, f func(x, y int) (r, g, b, a byte)) []byte {
		p := make([]byte, w*h*4)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := 4 * (y*w + x)
				p[i], p[i+1], p[i+2], p[i+3] = f(x, y)
			}
		}
		return p
	}
	var out []refItem
	for _, s := range [][2]int{{100, 100}, {100, 1}, {1, 100}, {37, 91}, {91, 37}, {1, 1}, {2, 3}, {64, 48}} {
		out = append(out, item(t, fmt.Sprintf("noise %dx%d", s[0], s[1]), s[0], s[1], noise(s[0], s[1], false), true))
		out = append(out, item(t, fmt.Sprintf("noise+alpha %dx%d", s[0], s[1]), s[0], s[1], noise(s[0], s[1], true), true))
	}
	out = append(out,
		item(t, "flat", 40, 30, fill(40, 30, func(x, y int) (byte, byte, byte, byte) { return 200, 120, 40, 255 }), false),
		item(t, "clear", 20, 20, fill(20, 20, func(x, y int) (byte, byte, byte, byte) { return 0, 0, 0, 0 }), false),
		item(t, "vertical gradient", 50, 80, fill(50, 80, func(x, y int) (byte, byte, byte, byte) { return byte(3 * y), byte(255 - 3*y), 90, 255 }), false),
		item(t, "half transparent", 60, 40, fill(60, 40, func(x, y int) (byte, byte, byte, byte) {
			if x < 25 {
				return 30, 200, 90, 0
			}
			return byte(4 * x), byte(5 * y), 200, 255
		}), false),
	)
	return out
}

// TestReferenceEquality: on the same pixels, the ThumbHash and the BlurHash
// are the reference's byte for byte; the reference decodes every hash this
// package writes, and this package's ThumbHash and BlurHash decoders render
// them as the reference does.
func TestReferenceEquality(t *testing.T) {
	var items []refItem
	for _, p := range photos(t) {
		w, h, rgba := photoPixels(t, p)
		items = append(items, item(t, strings.TrimPrefix(p, "../testdata/photos/"), w, h, rgba, true))
	}
	nPhotos := len(items)
	items = append(items, synthetic(t)...)
	res := reference(t, items)

	var exactTH, exactBH, degenerateSame int
	for i, it := range items {
		r := res[i]
		switch {
		case r.TH == it.TH:
			exactTH++
		case it.exact:
			t.Errorf("%s (%dx%d): thumbhash %s, reference %s", it.name, it.W, it.H, it.TH, r.TH)
		default:
			// Both must still say the same thing: equal renderings.
			ref, err := base64.StdEncoding.DecodeString(r.TH)
			if err != nil {
				t.Fatal(err)
			}
			_, _, a, err1 := DecodeThumbHash(ref)
			_, _, b, err2 := DecodeThumbHash(it.thOurs)
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				t.Errorf("%s: thumbhash %s renders unlike the reference's %s (%v, %v)", it.name, it.TH, r.TH, err1, err2)
			} else {
				degenerateSame++
				t.Logf("%s: thumbhash %s vs reference %s: same rendering", it.name, it.TH, r.TH)
			}
		}
		if r.BH == it.BH {
			exactBH++
		} else {
			t.Errorf("%s (%dx%d): blurhash %s, reference %s", it.name, it.W, it.H, it.BH, r.BH)
		}

		// Decoding.
		w, h, rgba, err := DecodeThumbHash(it.thOurs)
		if err != nil {
			t.Errorf("%s: decode own thumbhash: %v", it.name, err)
		} else if w != r.THDec.W || h != r.THDec.H || !bytes.Equal(rgba, r.THDec.RGBA) {
			t.Errorf("%s: thumbhash renders %dx%d, reference %dx%d, pixels equal %v", it.name, w, h, r.THDec.W, r.THDec.H, bytes.Equal(rgba, r.THDec.RGBA))
		}
		if !r.BHValid {
			t.Errorf("%s: reference calls blurhash %s invalid", it.name, it.BH)
		}
		px, err := DecodeBlurHash(it.BH, it.BW, it.BHH)
		if err != nil {
			t.Errorf("%s: decode own blurhash: %v", it.name, err)
		} else if !bytes.Equal(px, r.BHDec) {
			t.Errorf("%s: blurhash renders unlike the reference", it.name)
		}
	}
	t.Logf("%d photographs + %d synthetic: thumbhash equal %d, blurhash equal %d; degenerate thumbhashes that differ only in bits the reference leaves to Math.cos's last place but render the same: %d",
		nPhotos, len(items)-nPhotos, exactTH, exactBH, degenerateSame)
}
