package placeholder

import (
	"fmt"
	"math"
	"strings"
)

// The BlurHash here is Wolt's algorithm as its TypeScript package (npm
// blurhash 2.0.5) computes it, which the tests compare against byte for
// byte. Two of that package's habits are kept on purpose, since a hash is
// only useful if every decoder agrees on it: the pixels are summed column
// by column, and the AC range is the largest signed value, not the largest
// magnitude (Wolt's C encoder takes the magnitude).

const base83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"

func encode83(b *strings.Builder, n, length int) {
	p := 1
	for i := 1; i < length; i++ {
		p *= 83
	}
	for ; p > 0; p /= 83 {
		b.WriteByte(base83[n/p%83])
	}
}

func decode83(s string) (int, error) {
	v := 0
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(base83, s[i])
		if d < 0 {
			return 0, fmt.Errorf("%w: blurhash character %q", ErrHash, s[i])
		}
		v = v*83 + d
	}
	return v, nil
}

// srgbToLinear is the package's sRGBToLinear for one 8-bit value (decode
// can pass more than 255 from a malformed DC, as the reference does).
func srgbToLinear(c int) float64 {
	v := float64(c) / 255
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

var linearTable = func() (t [256]float64) {
	for i := range t {
		t[i] = srgbToLinear(i)
	}
	return t
}()

// invGamma is the package's 1 / 2.4 as its build folded it.
const invGamma = 0.4166666666666667

// linearToSRGB is the package's linearTosRGB: clamp, encode, truncate.
func linearToSRGB(value float64) int {
	v := math.Max(0, math.Min(1, value))
	if v <= 0.0031308 {
		return int(math.Trunc(float64(v*12.92*255) + 0.5))
	}
	return int(math.Trunc(float64((float64(1.055*math.Pow(v, invGamma))-0.055)*255) + 0.5))
}

func signPow(v, exp float64) float64 {
	s := 1.0
	if v < 0 {
		s = -1
	}
	return s * math.Pow(math.Abs(v), exp)
}

// BlurHashComponents is the component grid this package uses: 4 along the
// long side and 3 along the short one, 4x4 when the image is nearly square
// (long/short below 8/7). That keeps the hash at 28 characters (36 for
// square ones) and gives each axis detail in proportion to its length.
func BlurHashComponents(w, h int) (cx, cy int) {
	long, short := max(w, h), min(w, h)
	if long <= 0 {
		return 4, 4
	}
	s := min(4, max(3, int(math.Round(4*float64(short)/float64(long)))))
	if w >= h {
		return 4, s
	}
	return s, 4
}

// BlurHash encodes RGBA (w*h*4 bytes, alpha ignored as in the reference)
// with cx by cy components (1-9 each).
func BlurHash(w, h int, rgba []byte, cx, cy int) (string, error) {
	if err := checkRGBA(w, h, rgba); err != nil {
		return "", err
	}
	if cx < 1 || cx > 9 || cy < 1 || cy > 9 {
		return "", fmt.Errorf("placeholder: blurhash needs 1-9 components, got %dx%d", cx, cy)
	}
	// Linear values once per pixel; the cosines per component and column
	// (or row) once: the same numbers the reference computes inline.
	lin := make([]float64, w*h*3)
	for i := 0; i < w*h; i++ {
		lin[3*i] = linearTable[rgba[4*i]]
		lin[3*i+1] = linearTable[rgba[4*i+1]]
		lin[3*i+2] = linearTable[rgba[4*i+2]]
	}
	fw, fh := float64(w), float64(h)
	cosX := make([]float64, cx*w)
	for x := 0; x < cx; x++ {
		for i := 0; i < w; i++ {
			cosX[x*w+i] = math.Cos((math.Pi * float64(x) * float64(i)) / fw)
		}
	}
	cosY := make([]float64, cy*h)
	for y := 0; y < cy; y++ {
		for j := 0; j < h; j++ {
			cosY[y*h+j] = math.Cos((math.Pi * float64(y) * float64(j)) / fh)
		}
	}

	factors := make([][3]float64, 0, cx*cy)
	scale := 1 / float64(w*h)
	for y := 0; y < cy; y++ {
		for x := 0; x < cx; x++ {
			norm := 2.0
			if x == 0 && y == 0 {
				norm = 1
			}
			var r, g, b float64
			for i := 0; i < w; i++ { // column by column, as the reference
				nx := float64(norm * cosX[x*w+i])
				for j := 0; j < h; j++ {
					basis := float64(nx * cosY[y*h+j])
					k := 3 * (j*w + i)
					r += float64(basis * lin[k])
					g += float64(basis * lin[k+1])
					b += float64(basis * lin[k+2])
				}
			}
			factors = append(factors, [3]float64{r * scale, g * scale, b * scale})
		}
	}

	var out strings.Builder
	encode83(&out, cx-1+(cy-1)*9, 1)
	maximum := 1.0
	if len(factors) > 1 {
		actual := math.Inf(-1)
		for _, f := range factors[1:] {
			actual = math.Max(actual, math.Max(f[0], math.Max(f[1], f[2])))
		}
		q := int(math.Floor(math.Max(0, math.Min(82, math.Floor(float64(actual*166)-0.5)))))
		maximum = float64(q+1) / 166
		encode83(&out, q, 1)
	} else {
		encode83(&out, 0, 1)
	}
	dc := factors[0]
	encode83(&out, linearToSRGB(dc[0])<<16+linearToSRGB(dc[1])<<8+linearToSRGB(dc[2]), 4)
	for _, f := range factors[1:] {
		quant := func(v float64) int {
			return int(math.Floor(math.Max(0, math.Min(18, math.Floor(float64(signPow(v/maximum, 0.5)*9)+9.5)))))
		}
		encode83(&out, quant(f[0])*19*19+quant(f[1])*19+quant(f[2]), 2)
	}
	return out.String(), nil
}

// blurHeader checks a hash's length against its size flag.
func blurHeader(s string) (nx, ny int, err error) {
	if len(s) < 6 {
		return 0, 0, fmt.Errorf("%w: blurhash of %d characters", ErrHash, len(s))
	}
	flag, err := decode83(s[:1])
	if err != nil {
		return 0, 0, err
	}
	ny, nx = flag/9+1, flag%9+1
	if ny > 9 {
		return 0, 0, fmt.Errorf("%w: blurhash size flag %d", ErrHash, flag)
	}
	if len(s) != 4+2*nx*ny {
		return 0, 0, fmt.Errorf("%w: blurhash of %d characters, want %d", ErrHash, len(s), 4+2*nx*ny)
	}
	return nx, ny, nil
}

// DecodeBlurHash renders a BlurHash at w x h as the reference decode does
// (punch 1): opaque RGBA.
func DecodeBlurHash(s string, w, h int) ([]byte, error) {
	nx, ny, err := blurHeader(s)
	if err != nil {
		return nil, err
	}
	if w < 1 || h < 1 || w > MaxSide || h > MaxSide {
		return nil, fmt.Errorf("placeholder: blurhash rendered at %dx%d", w, h)
	}
	qmax, err := decode83(s[1:2])
	if err != nil {
		return nil, err
	}
	maximum := float64(qmax+1) / 166
	colors := make([][3]float64, nx*ny)
	for i := range colors {
		if i == 0 {
			v, err := decode83(s[2:6])
			if err != nil {
				return nil, err
			}
			colors[0] = [3]float64{srgbToLinear(v >> 16), srgbToLinear(v >> 8 & 255), srgbToLinear(v & 255)}
			continue
		}
		v, err := decode83(s[4+2*i : 6+2*i])
		if err != nil {
			return nil, err
		}
		ac := func(q int) float64 {
			f := float64(q-9) / 9
			return signPow2(f) * maximum
		}
		colors[i] = [3]float64{ac(v / (19 * 19)), ac(v / 19 % 19), ac(v % 19)}
	}
	pix := make([]byte, w*h*4)
	fw, fh := float64(w), float64(h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var r, g, b float64
			for j := 0; j < ny; j++ {
				for i := 0; i < nx; i++ {
					basis := float64(math.Cos((math.Pi*float64(x)*float64(i))/fw) * math.Cos((math.Pi*float64(y)*float64(j))/fh))
					c := colors[i+j*nx]
					r += float64(c[0] * basis)
					g += float64(c[1] * basis)
					b += float64(c[2] * basis)
				}
			}
			k := 4 * (y*w + x)
			pix[k], pix[k+1], pix[k+2], pix[k+3] = byte(linearToSRGB(r)), byte(linearToSRGB(g)), byte(linearToSRGB(b)), 255
		}
	}
	return pix, nil
}

// signPow2 is signPow(v, 2), which the reference's pow answers as v*v.
func signPow2(v float64) float64 {
	if v < 0 {
		return -(v * v)
	}
	return v * v
}

// ValidBlurHash checks a hash's shape and alphabet without rendering it.
func ValidBlurHash(s string) error {
	if _, _, err := blurHeader(s); err != nil {
		return err
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(base83, s[i]) < 0 {
			return fmt.Errorf("%w: blurhash character %q", ErrHash, s[i])
		}
	}
	return nil
}
