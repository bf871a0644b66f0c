package main

// Variants govips cannot express: a sequential-access JPEG load (govips
// loads every buffer with random access) feeding vips_resize with a
// chosen kernel, then a centre crop and the JPEG saver. These are the
// steps imgproxy's pipeline takes (learned from its processing/*.go, not
// copied) and the candidates for thumbd's.

/*
#cgo pkg-config: vips
#include <vips/vips.h>
#include <stdlib.h>

static int stage_variant(void *buf, size_t len, int shrink, int sequential, int w, int h, int crop,
                         int thumbnail_image, int kernel, int q, int interlace, int optimize,
                         void **out, size_t *outlen) {
	VipsImage *base = vips_image_new();
	VipsImage **t = (VipsImage **) vips_object_local_array(VIPS_OBJECT(base), 4);
	VipsAccess access = sequential ? VIPS_ACCESS_SEQUENTIAL : VIPS_ACCESS_RANDOM;
	int err;
	if (shrink > 0)
		err = vips_jpegload_buffer(buf, len, &t[0], "access", access, "shrink", shrink, "fail", TRUE, NULL);
	else if (!(t[0] = vips_image_new_from_buffer(buf, len, "", "access", access, NULL)))
		err = -1;
	else
		err = 0;
	if (!err) {
		if (thumbnail_image) {
			err = vips_thumbnail_image(t[0], &t[1], w, "height", h,
			                           "crop", crop ? VIPS_INTERESTING_CENTRE : VIPS_INTERESTING_NONE,
			                           "size", crop ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN, NULL);
			if (!err) t[2] = t[1], g_object_ref(t[2]);
		} else {
			double sx = (double) w / t[0]->Xsize, sy = (double) h / t[0]->Ysize;
			double s = crop ? (sx > sy ? sx : sy) : (sx < sy ? sx : sy);
			if (!crop && s > 1) s = 1;
			err = vips_resize(t[0], &t[1], s, "kernel", (VipsKernel) kernel, NULL);
			if (!err && crop) {
				int cw = t[1]->Xsize < w ? t[1]->Xsize : w, ch = t[1]->Ysize < h ? t[1]->Ysize : h;
				err = vips_extract_area(t[1], &t[2], (t[1]->Xsize - cw) / 2, (t[1]->Ysize - ch) / 2, cw, ch, NULL);
			} else if (!err) {
				t[2] = t[1];
				g_object_ref(t[2]);
			}
		}
	}
	if (!err && q == 0)
		err = vips_pngsave_buffer(t[2], out, outlen, "compression", 1, "strip", TRUE, NULL);
	else if (!err)
		err = vips_jpegsave_buffer(t[2], out, outlen, "Q", q, "strip", TRUE, "interlace", interlace,
		                           "optimize_coding", optimize, NULL);
	g_object_unref(base);
	return err;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// pipeline is one way to make the output from a JPEG.
type pipeline struct {
	shrink         int  // libjpeg scale denominator; 0: not a JPEG, the format's own loader
	sequential     bool // access=sequential (strips pulled by the resize) or random (whole decode first)
	thumbnailImage bool // vips_thumbnail_image (what govips' ThumbnailWithSize calls) instead of vips_resize
	kernel         int  // VipsKernel for vips_resize
	quality        int  // 0: lossless PNG (the SSIM reference)
	interlace      bool
	optimize       bool
}

// Kernels (VipsKernel values).
const (
	kernelNearest  = C.VIPS_KERNEL_NEAREST
	kernelLinear   = C.VIPS_KERNEL_LINEAR
	kernelCubic    = C.VIPS_KERNEL_CUBIC
	kernelMitchell = C.VIPS_KERNEL_MITCHELL
	kernelLanczos2 = C.VIPS_KERNEL_LANCZOS2
	kernelLanczos3 = C.VIPS_KERNEL_LANCZOS3
)

// cBuf is an original copied once into C memory, so no run pays a copy
// that govips' buffer loaders do not pay either.
type cBuf struct {
	p unsafe.Pointer
	n int
}

func newCBuf(b []byte) cBuf { return cBuf{C.CBytes(b), len(b)} }

func (c cBuf) free() { C.free(c.p) }

func runVariant(src cBuf, v pipeline, w, h int, crop bool) ([]byte, error) {
	var out unsafe.Pointer
	var n C.size_t
	if C.stage_variant(src.p, C.size_t(src.n), C.int(v.shrink), cbool(v.sequential), C.int(w), C.int(h), cbool(crop),
		cbool(v.thumbnailImage), C.int(v.kernel), C.int(v.quality), cbool(v.interlace), cbool(v.optimize), &out, &n) != 0 {
		msg := C.GoString(C.vips_error_buffer())
		C.vips_error_clear()
		return nil, errors.New(msg)
	}
	defer C.g_free(C.gpointer(out))
	return C.GoBytes(out, C.int(n)), nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
