package main

import (
	"bytes"
	"encoding/binary"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

func TestTagKeepsFilesValidAndDistinct(t *testing.T) {
	jpg, err := os.ReadFile("../../testdata/photos/cops.jpg")
	if err != nil {
		t.Fatal(err)
	}
	pngb, err := os.ReadFile("../../testdata/photos/dice.png")
	if err != nil {
		t.Fatal(err)
	}
	webp := append([]byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00"), make([]byte, 10)...)
	binary.LittleEndian.PutUint32(webp[4:], uint32(len(webp)-8))
	heif := []byte("\x00\x00\x00\x10ftypheic\x00\x00\x00\x00")
	tests := []struct {
		name  string
		src   []byte
		valid func([]byte) error
	}{
		{"jpeg", jpg, func(b []byte) error { _, err := jpeg.Decode(bytes.NewReader(b)); return err }},
		{"png", pngb, func(b []byte) error { _, err := png.Decode(bytes.NewReader(b)); return err }},
		{"webp", webp, func(b []byte) error {
			if n := binary.LittleEndian.Uint32(b[4:]); int(n) != len(b)-8 {
				t.Errorf("RIFF size %d, file %d", n, len(b))
			}
			return nil
		}},
		{"heif", heif, func(b []byte) error {
			if n := binary.BigEndian.Uint32(b[len(heif):]); int(n) != len(b)-len(heif) || string(b[len(heif)+4:len(heif)+8]) != "free" {
				t.Errorf("trailing box %q", b[len(heif):])
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tag(tc.src, "copy 001")
			if err != nil {
				t.Fatal(err)
			}
			b, err := tag(tc.src, "copy 002")
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(a, b) || bytes.Equal(a, tc.src) {
				t.Fatal("copies are not distinct")
			}
			if err := tc.valid(a); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := tag([]byte("GIF89a"), "x"); err == nil {
		t.Fatal("unknown format accepted")
	}
}
