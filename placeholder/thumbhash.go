package placeholder

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"sync"
)

// ErrTooLarge: the encoders take the small image a thumbnail step makes,
// never an original (ThumbHash's reference refuses more than 100x100 too).
var ErrTooLarge = errors.New("placeholder: image larger than 100x100")

// ErrHash is returned for a hash that is not one the encoders could write.
var ErrHash = errors.New("placeholder: malformed hash")

// MaxSide is the largest width or height the encoders take.
const MaxSide = 100

// jsRound is JavaScript's Math.round: halves go towards +Inf (Go's
// math.Round takes them away from zero), which the reference relies on.
func jsRound(x float64) float64 {
	r := math.Floor(x)
	if x-r >= 0.5 {
		r++
	}
	return r
}

// ThumbHash encodes non-premultiplied RGBA (w*h*4 bytes, row by row) as the
// reference rgbaToThumbHash (Evan Wallace's thumbhash.js) does, operation
// for operation: the same summation order, JavaScript's rounding, and every
// product that feeds a sum rounded on its own (float64(...)) so that a
// platform that fuses multiply-adds (arm64) answers as amd64 does.
func ThumbHash(w, h int, rgba []byte) ([]byte, error) {
	if err := checkRGBA(w, h, rgba); err != nil {
		return nil, err
	}
	n := w * h

	// The average colour, weighted by alpha.
	var avgR, avgG, avgB, avgA float64
	for i, j := 0, 0; i < n; i, j = i+1, j+4 {
		alpha := float64(rgba[j+3]) / 255
		avgR += float64(alpha / 255 * float64(rgba[j]))
		avgG += float64(alpha / 255 * float64(rgba[j+1]))
		avgB += float64(alpha / 255 * float64(rgba[j+2]))
		avgA += alpha
	}
	if avgA != 0 {
		avgR /= avgA
		avgG /= avgA
		avgB /= avgA
	}

	hasAlpha := avgA < float64(n)
	lLimit := 7.0 // fewer luminance bits when alpha needs room
	if hasAlpha {
		lLimit = 5
	}
	fw, fh := float64(w), float64(h)
	lx := int(math.Max(1, jsRound(lLimit*fw/math.Max(fw, fh))))
	ly := int(math.Max(1, jsRound(lLimit*fh/math.Max(fw, fh))))

	// RGBA to LPQA, composited over the average colour.
	l := make([]float64, n)
	p := make([]float64, n)
	q := make([]float64, n)
	var a []float64
	if hasAlpha {
		a = make([]float64, n)
	}
	for i, j := 0, 0; i < n; i, j = i+1, j+4 {
		alpha := float64(rgba[j+3]) / 255
		r := float64(avgR*(1-alpha)) + float64(alpha/255*float64(rgba[j]))
		g := float64(avgG*(1-alpha)) + float64(alpha/255*float64(rgba[j+1]))
		b := float64(avgB*(1-alpha)) + float64(alpha/255*float64(rgba[j+2]))
		l[i] = (r + g + b) / 3
		p[i] = (r+g)/2 - b
		q[i] = r - g
		if hasAlpha {
			a[i] = alpha
		}
	}

	fx := make([]float64, w)
	encode := func(ch []float64, nx, ny int) (dc float64, ac []float64, scale float64) {
		for cy := 0; cy < ny; cy++ {
			for cx := 0; cx*ny < nx*(ny-cy); cx++ {
				var f float64
				for x := 0; x < w; x++ {
					fx[x] = math.Cos(math.Pi / fw * float64(cx) * (float64(x) + 0.5))
				}
				for y := 0; y < h; y++ {
					fy := math.Cos(math.Pi / fh * float64(cy) * (float64(y) + 0.5))
					row := ch[y*w : y*w+w]
					for x, v := range row {
						f += float64(v * fx[x] * fy)
					}
				}
				f /= float64(n)
				if cx != 0 || cy != 0 {
					ac = append(ac, f)
					scale = math.Max(scale, math.Abs(f))
				} else {
					dc = f
				}
			}
		}
		if scale != 0 {
			for i := range ac {
				ac[i] = 0.5 + float64(0.5/scale*ac[i])
			}
		}
		return dc, ac, scale
	}
	lDC, lAC, lScale := encode(l, max(3, lx), max(3, ly))
	pDC, pAC, pScale := encode(p, 3, 3)
	qDC, qAC, qScale := encode(q, 3, 3)
	var aDC, aScale float64
	var aAC []float64
	if hasAlpha {
		aDC, aAC, aScale = encode(a, 5, 5)
	}

	isLandscape := w > h
	header24 := int32(jsRound(63*lDC)) | int32(jsRound(31.5+float64(31.5*pDC)))<<6 |
		int32(jsRound(31.5+float64(31.5*qDC)))<<12 | int32(jsRound(31*lScale))<<18 | b2i(hasAlpha)<<23
	side := lx
	if isLandscape {
		side = ly
	}
	header16 := int32(side) | int32(jsRound(63*pScale))<<3 | int32(jsRound(63*qScale))<<9 | b2i(isLandscape)<<15
	hash := []byte{byte(header24), byte(header24 >> 8), byte(header24 >> 16), byte(header16), byte(header16 >> 8)}
	acStart := 5
	if hasAlpha {
		acStart = 6
		hash = append(hash, byte(int32(jsRound(15*aDC))|int32(jsRound(15*aScale))<<4))
	}
	chans := [][]float64{lAC, pAC, qAC}
	if hasAlpha {
		chans = append(chans, aAC)
	}
	acIndex := 0
	for _, ac := range chans {
		for _, f := range ac {
			k := acStart + acIndex>>1
			for len(hash) <= k {
				hash = append(hash, 0)
			}
			hash[k] |= byte(int32(jsRound(15*f)) << ((acIndex & 1) << 2))
			acIndex++
		}
	}
	return hash, nil
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func checkRGBA(w, h int, rgba []byte) error {
	if w < 1 || h < 1 {
		return fmt.Errorf("placeholder: %dx%d image", w, h)
	}
	if w > MaxSide || h > MaxSide {
		return fmt.Errorf("%w: %dx%d", ErrTooLarge, w, h)
	}
	if len(rgba) != w*h*4 {
		return fmt.Errorf("placeholder: %d bytes for %dx%d RGBA, want %d", len(rgba), w, h, w*h*4)
	}
	return nil
}

// thumbHeader is what the five (or six) leading bytes of a ThumbHash say.
type thumbHeader struct {
	lDC, pDC, qDC, lScale, pScale, qScale float64
	aDC, aScale                           float64
	hasAlpha, isLandscape                 bool
	lx, ly                                int // luminance components, at least 3
	ratio                                 float64
	acStart, acCount                      int
}

func readThumbHeader(hash []byte) (thumbHeader, error) {
	var t thumbHeader
	if len(hash) < 5 {
		return t, fmt.Errorf("%w: %d bytes", ErrHash, len(hash))
	}
	h24 := int32(hash[0]) | int32(hash[1])<<8 | int32(hash[2])<<16
	h16 := int32(hash[3]) | int32(hash[4])<<8
	t.lDC = float64(h24&63) / 63
	t.pDC = float64((h24>>6)&63)/31.5 - 1
	t.qDC = float64((h24>>12)&63)/31.5 - 1
	t.lScale = float64((h24>>18)&31) / 31
	t.hasAlpha = h24>>23 != 0
	t.pScale = float64((h16>>3)&63) / 63
	t.qScale = float64((h16>>9)&63) / 63
	t.isLandscape = h16>>15 != 0
	long := 7
	if t.hasAlpha {
		long = 5
	}
	// The ratio uses the stored side as is; the decoder uses at least 3.
	rx, ry := int(h16&7), long
	if t.isLandscape {
		rx, ry = long, int(h16&7)
	}
	if rx == 0 || ry == 0 {
		return t, fmt.Errorf("%w: zero components", ErrHash)
	}
	t.ratio = float64(rx) / float64(ry)
	t.lx, t.ly = max(3, rx), max(3, ry)
	t.aDC, t.acStart = 1, 5
	if t.hasAlpha {
		if len(hash) < 6 {
			return t, fmt.Errorf("%w: alpha byte missing", ErrHash)
		}
		t.aDC = float64(hash[5]&15) / 15
		t.aScale = float64(hash[5]>>4) / 15
		t.acStart = 6
	}
	t.acCount = triangle(t.lx, t.ly) + 2*triangle(3, 3)
	if t.hasAlpha {
		t.acCount += triangle(5, 5)
	}
	if need := t.acStart + (t.acCount+1)/2; len(hash) < need {
		return t, fmt.Errorf("%w: %d bytes, want %d", ErrHash, len(hash), need)
	}
	return t, nil
}

// triangle counts the AC terms of an nx by ny channel as the reference
// stores them (the DC term left out).
func triangle(nx, ny int) int {
	c := 0
	for cy := 0; cy < ny; cy++ {
		for cx := 0; cx*ny < nx*(ny-cy); cx++ {
			c++
		}
	}
	return c - 1
}

// DecodeThumbHash renders a ThumbHash as the reference thumbHashToRGBA
// does: at most 32 pixels on the long side, non-premultiplied RGBA.
func DecodeThumbHash(hash []byte) (w, h int, rgba []byte, err error) {
	t, err := readThumbHeader(hash)
	if err != nil {
		return 0, 0, nil, err
	}
	acIndex := 0
	channel := func(nx, ny int, scale float64) []float64 {
		var ac []float64
		for cy := 0; cy < ny; cy++ {
			cx := 0
			if cy == 0 {
				cx = 1
			}
			for ; cx*ny < nx*(ny-cy); cx++ {
				nib := hash[t.acStart+acIndex>>1] >> ((acIndex & 1) << 2) & 15
				ac = append(ac, float64((float64(nib)/7.5-1)*scale))
				acIndex++
			}
		}
		return ac
	}
	// The reference boosts saturation by 1.25 against quantisation.
	lAC := channel(t.lx, t.ly, t.lScale)
	pAC := channel(3, 3, t.pScale*1.25)
	qAC := channel(3, 3, t.qScale*1.25)
	var aAC []float64
	if t.hasAlpha {
		aAC = channel(5, 5, t.aScale)
	}

	if t.ratio > 1 {
		w, h = 32, int(jsRound(32/t.ratio))
	} else {
		w, h = int(jsRound(32*t.ratio)), 32
	}
	rgba = make([]byte, w*h*4)
	nfx, nfy := max(t.lx, 3), max(t.ly, 3)
	if t.hasAlpha {
		nfx, nfy = max(t.lx, 5), max(t.ly, 5)
	}
	fx, fy := make([]float64, nfx), make([]float64, nfy)
	fw, fh := float64(w), float64(h)
	for y, i := 0, 0; y < h; y++ {
		for x := 0; x < w; x, i = x+1, i+4 {
			l, p, q, a := t.lDC, t.pDC, t.qDC, t.aDC
			for cx := range fx {
				fx[cx] = math.Cos(math.Pi / fw * (float64(x) + 0.5) * float64(cx))
			}
			for cy := range fy {
				fy[cy] = math.Cos(math.Pi / fh * (float64(y) + 0.5) * float64(cy))
			}
			for cy, j := 0, 0; cy < t.ly; cy++ {
				fy2 := fy[cy] * 2
				cx := 0
				if cy == 0 {
					cx = 1
				}
				for ; cx*t.ly < t.lx*(t.ly-cy); cx, j = cx+1, j+1 {
					l += float64(lAC[j] * fx[cx] * fy2)
				}
			}
			for cy, j := 0, 0; cy < 3; cy++ {
				fy2 := fy[cy] * 2
				cx := 0
				if cy == 0 {
					cx = 1
				}
				for ; cx < 3-cy; cx, j = cx+1, j+1 {
					f := fx[cx] * fy2
					p += float64(pAC[j] * f)
					q += float64(qAC[j] * f)
				}
			}
			if t.hasAlpha {
				for cy, j := 0, 0; cy < 5; cy++ {
					fy2 := fy[cy] * 2
					cx := 0
					if cy == 0 {
						cx = 1
					}
					for ; cx < 5-cy; cx, j = cx+1, j+1 {
						a += float64(aAC[j] * fx[cx] * fy2)
					}
				}
			}
			b := l - float64(2.0/3*p)
			r := (float64(3*l) - b + q) / 2
			g := r - q
			rgba[i] = toByte(r)
			rgba[i+1] = toByte(g)
			rgba[i+2] = toByte(b)
			rgba[i+3] = toByte(a)
		}
	}
	return w, h, rgba, nil
}

// toByte is the reference's max(0, 255*min(1, v)) stored in a Uint8Array,
// which truncates.
func toByte(v float64) byte {
	v = math.Max(0, 255*math.Min(1, v))
	if math.IsNaN(v) {
		return 0
	}
	return byte(v)
}

// ParseThumbHash reads the base64 a Placeholder carries and checks that it
// decodes.
func ParseThumbHash(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHash, err)
	}
	if _, err := readThumbHeader(b); err != nil {
		return nil, err
	}
	return b, nil
}

// ThumbHashHasAlpha reports whether the image the hash stands for has
// transparent parts (a page should then not paint a background behind it).
func ThumbHashHasAlpha(hash []byte) bool {
	return len(hash) >= 3 && hash[2]&0x80 != 0
}

// ThumbHashDataURL renders a ThumbHash (base64) as a PNG data: URL for a
// CSS background. It is about 1-2 KB; pages that want fewer bytes use the
// colour alone.
func ThumbHashDataURL(b64 string) (string, error) {
	hash, err := ParseThumbHash(b64)
	if err != nil {
		return "", err
	}
	w, h, rgba, err := DecodeThumbHash(hash)
	if err != nil {
		return "", err
	}
	img := &image.NRGBA{Pix: rgba, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression, BufferPool: pngBuffers{}}
	if err := enc.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("placeholder: png: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// pngBuffers keeps the PNG encoder's zlib state (most of a megabyte) for
// the next data URL: a page of many photos renders many of them.
type pngBuffers struct{}

var pngPool sync.Pool

func (pngBuffers) Get() *png.EncoderBuffer {
	b, _ := pngPool.Get().(*png.EncoderBuffer)
	return b
}

func (pngBuffers) Put(b *png.EncoderBuffer) { pngPool.Put(b) }
