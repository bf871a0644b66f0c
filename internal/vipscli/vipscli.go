// Package vipscli runs the vips command-line tool to make test fixtures.
//
// libvips 8.14 (Debian bookworm) linked with libheif 1.17 or later (from
// bookworm-backports, which thumbd needs for current iPhone files) reports
// every HEIF/AVIF save as failed: its writer callback returns an error
// without a message, which newer libheif treats as a failure, and a small
// file is never flushed. thumbd's own AVIF output goes through libheif
// directly (transform/avif.go); for fixtures, Run saves such files through
// a 16-bit PNG and libheif's own heif-enc instead.
package vipscli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Run runs vips with args and returns its combined output. A HEIF/AVIF
// destination (the last argument of a copy or heifsave) is written with
// heif-enc.
func Run(args ...string) ([]byte, error) {
	// Multi-page sources (…[n=-1]) need libvips' own saver.
	if len(args) == 3 && (args[0] == "copy" || args[0] == "heifsave") && !strings.Contains(args[1], "[n=") {
		if out, ok := heifTarget(args[2]); ok {
			return viaHeifEnc(args[1], out)
		}
	}
	return exec.Command("vips", args...).CombinedOutput()
}

type heifOut struct {
	path     string
	avif     bool
	bitdepth string
	quality  string
}

// heifTarget reads "x.heic[compression=hevc,bitdepth=10,Q=80]".
func heifTarget(dst string) (heifOut, bool) {
	file, opts, _ := strings.Cut(dst, "[")
	ext := strings.ToLower(filepath.Ext(file))
	if ext != ".heic" && ext != ".heif" && ext != ".avif" {
		return heifOut{}, false
	}
	h := heifOut{path: file, avif: ext == ".avif"}
	for _, o := range strings.Split(strings.TrimSuffix(opts, "]"), ",") {
		k, v, _ := strings.Cut(o, "=")
		switch strings.ToLower(k) {
		case "bitdepth":
			h.bitdepth = v
		case "q":
			h.quality = v
		case "compression":
			h.avif = v == "av1"
		case "", "strip":
		default:
			return heifOut{}, false // options heif-enc cannot honour
		}
	}
	return h, true
}

func viaHeifEnc(src string, h heifOut) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "vipscli")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	png := filepath.Join(tmp, "in.png")
	cast := []string{"copy", src, png}
	if h.bitdepth != "" && h.bitdepth != "8" {
		// heif-enc takes the bit depth from a 16-bit PNG.
		cast = []string{"colourspace", src, png, "rgb16"}
	}
	if out, err := exec.Command("vips", cast...).CombinedOutput(); err != nil {
		return out, fmt.Errorf("vips %v: %w", cast, err)
	}
	args := []string{"-o", h.path}
	if h.avif {
		args = append(args, "-A")
	}
	if h.bitdepth != "" && h.bitdepth != "8" {
		args = append(args, "-b", h.bitdepth)
	}
	if h.quality != "" {
		args = append(args, "-q", h.quality)
	}
	return exec.Command("heif-enc", append(args, png)...).CombinedOutput()
}
