// Package heifenc encodes 8-bit RGB or RGBA pixels as AVIF by calling
// libheif directly, and reports libheif's version.
//
// It exists because libvips 8.14 (Debian bookworm) cannot save AVIF through
// libheif 1.17 or later, which thumbd installs from bookworm-backports to
// read current iPhone HEIC: libvips' heifsave writer callback returns a
// heif_error without a message, which libheif 1.17-1.19.7 rejects ("heif_writer
// callback returned a null error text (5.2001)"; fixed in libvips 8.15). The
// encoded bytes are fine; only the error path is wrong. This package makes
// the same encoder calls as libvips 8.14's heifsave (quality, lossless,
// speed = 9 - effort, 4:2:0 chroma below quality 90) with a writer that
// answers properly.
package heifenc

/*
#cgo pkg-config: libheif
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <libheif/heif.h>

static const char heifenc_ok[] = "ok";
static const char heifenc_nomem[] = "out of memory";

typedef struct {
	unsigned char *data;
	size_t len;
} heifenc_buf;

// heifenc_write keeps libheif's output in malloc'd memory. It always sets
// a message, which libheif 1.17 and later require.
static struct heif_error heifenc_write(struct heif_context *ctx, const void *data, size_t size, void *userdata) {
	heifenc_buf *b = userdata;
	struct heif_error e = { heif_error_Ok, heif_suberror_Unspecified, heifenc_ok };
	(void) ctx;
	free(b->data);
	b->len = 0;
	b->data = malloc(size ? size : 1);
	if (!b->data) {
		e.code = heif_error_Memory_allocation_error;
		e.message = heifenc_nomem;
		return e;
	}
	memcpy(b->data, data, size);
	b->len = size;
	return e;
}

typedef struct {
	int code;
	char msg[256];
} heifenc_err;

static void heifenc_seterr(heifenc_err *out, struct heif_error e, const char *where) {
	out->code = e.code ? e.code : -1;
	snprintf(out->msg, sizeof out->msg, "%s: %s (%d.%d)", where, e.message ? e.message : "no message", (int) e.code, (int) e.subcode);
}

// heifenc_avif encodes width x height pixels of bands (3 or 4) 8-bit samples
// with rows stride bytes apart.
static int heifenc_avif(const unsigned char *pix, int width, int height, int bands, int stride,
	int quality, int lossless, int speed, const char *chroma, heifenc_buf *out, heifenc_err *err) {
	struct heif_context *ctx = NULL;
	struct heif_encoder *enc = NULL;
	struct heif_image *img = NULL;
	struct heif_error e;
	int ok = 0;

	ctx = heif_context_alloc();
	if (!ctx) {
		err->code = -1;
		snprintf(err->msg, sizeof err->msg, "heif_context_alloc failed");
		return 0;
	}
	e = heif_context_get_encoder_for_format(ctx, heif_compression_AV1, &enc);
	if (e.code) { heifenc_seterr(err, e, "no AV1 encoder"); goto done; }
	e = heif_encoder_set_lossy_quality(enc, quality);
	if (e.code) { heifenc_seterr(err, e, "quality"); goto done; }
	e = heif_encoder_set_lossless(enc, lossless);
	if (e.code) { heifenc_seterr(err, e, "lossless"); goto done; }
	e = heif_encoder_set_parameter_integer(enc, "speed", speed);
	if (e.code && e.subcode != heif_suberror_Unsupported_parameter) { heifenc_seterr(err, e, "speed"); goto done; }
	e = heif_encoder_set_parameter_string(enc, "chroma", chroma);
	if (e.code && e.subcode != heif_suberror_Unsupported_parameter) { heifenc_seterr(err, e, "chroma"); goto done; }

	e = heif_image_create(width, height, heif_colorspace_RGB,
		bands == 4 ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, &img);
	if (e.code) { heifenc_seterr(err, e, "image"); goto done; }
	e = heif_image_add_plane(img, heif_channel_interleaved, width, height, 8);
	if (e.code) { heifenc_seterr(err, e, "plane"); goto done; }
	int dstride = 0;
	unsigned char *dst = heif_image_get_plane(img, heif_channel_interleaved, &dstride);
	if (!dst) {
		err->code = -1;
		snprintf(err->msg, sizeof err->msg, "no plane");
		goto done;
	}
	for (int y = 0; y < height; y++) {
		memcpy(dst + (size_t) y * dstride, pix + (size_t) y * stride, (size_t) width * bands);
	}

	e = heif_context_encode_image(ctx, img, enc, NULL, NULL);
	if (e.code) { heifenc_seterr(err, e, "encode"); goto done; }
	struct heif_writer w;
	memset(&w, 0, sizeof w);
	w.writer_api_version = 1;
	w.write = heifenc_write;
	e = heif_context_write(ctx, &w, out);
	if (e.code) { heifenc_seterr(err, e, "write"); goto done; }
	ok = 1;
done:
	if (img) heif_image_release(img);
	if (enc) heif_encoder_release(enc);
	heif_context_free(ctx);
	return ok;
}

static int heifenc_init(heifenc_err *err) {
	struct heif_error e = heif_init(NULL);
	if (e.code) {
		heifenc_seterr(err, e, "heif_init");
		return 0;
	}
	return 1;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// Options are the encoder settings, named as libvips names them.
type Options struct {
	Quality  int  // 1-100; 0 means 50, libvips' default
	Effort   int  // 0 (fastest) - 9; libheif's aom speed is 9 - Effort
	Lossless bool // lossless AV1 (Quality is then ignored by the encoder)
}

// ErrInput means the pixels passed in do not describe an image Encode takes.
var ErrInput = errors.New("heifenc: bad input")

var (
	initOnce sync.Once
	initErr  error
)

// start loads libheif's plugins once for the process. heif_init is
// reference counted and never undone: plugins stay loaded like libvips'.
func start() error {
	initOnce.Do(func() {
		var e C.heifenc_err
		if C.heifenc_init(&e) == 0 {
			initErr = fmt.Errorf("heifenc: %s", C.GoString(&e.msg[0]))
		}
	})
	return initErr
}

// Version is libheif's version string, e.g. "1.19.7".
func Version() string {
	return C.GoString(C.heif_get_version())
}

// HasAVIFEncoder reports whether libheif has an AV1 encoder (from 1.17 on
// it is the libheif-plugin-aomenc package).
func HasAVIFEncoder() bool {
	if start() != nil {
		return false
	}
	return C.heif_have_encoder_for_format(C.heif_compression_AV1) != 0
}

// EncodeAVIF encodes width x height pixels of 8-bit samples, bands 3 (RGB)
// or 4 (RGBA) interleaved, rows packed (len(pix) == width*height*bands),
// as libvips' ToBytes gives them. The result carries no metadata: no Exif,
// XMP or ICC profile (the pixels are taken as sRGB).
func EncodeAVIF(pix []byte, width, height, bands int, o Options) ([]byte, error) {
	if width <= 0 || height <= 0 || width > 1<<16 || height > 1<<16 {
		return nil, fmt.Errorf("%w: %dx%d", ErrInput, width, height)
	}
	if bands != 3 && bands != 4 {
		return nil, fmt.Errorf("%w: %d bands", ErrInput, bands)
	}
	if len(pix) != width*height*bands {
		return nil, fmt.Errorf("%w: %d bytes for %dx%dx%d", ErrInput, len(pix), width, height, bands)
	}
	if err := start(); err != nil {
		return nil, err
	}
	q := o.Quality
	if q == 0 {
		q = 50
	}
	q = min(max(q, 1), 100)
	effort := min(max(o.Effort, 0), 9)
	// libvips 8.14: subsample_mode auto keeps full chroma from Q 90 up.
	chroma := C.CString("420")
	if q >= 90 {
		C.free(unsafe.Pointer(chroma))
		chroma = C.CString("444")
	}
	defer C.free(unsafe.Pointer(chroma))
	lossless := C.int(0)
	if o.Lossless {
		lossless = 1
	}

	var (
		out C.heifenc_buf
		e   C.heifenc_err
	)
	ok := C.heifenc_avif((*C.uchar)(unsafe.Pointer(&pix[0])), C.int(width), C.int(height), C.int(bands), C.int(width*bands),
		C.int(q), lossless, C.int(9-effort), chroma, &out, &e)
	defer C.free(unsafe.Pointer(out.data))
	if ok == 0 {
		return nil, fmt.Errorf("heifenc: avif: %s", C.GoString(&e.msg[0]))
	}
	return C.GoBytes(unsafe.Pointer(out.data), C.int(out.len)), nil
}
