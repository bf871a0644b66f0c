package placeholder

import (
	"encoding/base64"
	"testing"
)

// The encoders on a real photograph at the size the pipeline hands over
// (100x75).
func benchPixels(b *testing.B) (int, int, []byte) {
	b.Helper()
	return photoPixels(b, "../testdata/photos/Landscape_1.jpg")
}

func BenchmarkThumbHash(b *testing.B) {
	w, h, rgba := benchPixels(b)
	for b.Loop() {
		if _, err := ThumbHash(w, h, rgba); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlurHash(b *testing.B) {
	w, h, rgba := benchPixels(b)
	cx, cy := BlurHashComponents(w, h)
	for b.Loop() {
		if _, err := BlurHash(w, h, rgba, cx, cy); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompute(b *testing.B) {
	w, h, rgba := benchPixels(b)
	for b.Loop() {
		if _, err := Compute(w, h, 4, rgba); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkThumbHashDataURL(b *testing.B) {
	w, h, rgba := benchPixels(b)
	th, err := ThumbHash(w, h, rgba)
	if err != nil {
		b.Fatal(err)
	}
	s := base64.StdEncoding.EncodeToString(th)
	for b.Loop() {
		if _, err := ThumbHashDataURL(s); err != nil {
			b.Fatal(err)
		}
	}
}
