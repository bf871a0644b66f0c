package transform

/*
#cgo pkg-config: libheif
#include <stdlib.h>
#include <string.h>
#include <libheif/heif.h>

typedef struct { unsigned char *buf; size_t len; int failed; } thumbd_membuf;

// libheif 1.17+ treats a writer error without a message as a failure;
// libvips 8.14's heifsave returns exactly that, so thumbd writes AVIF
// through libheif itself with a writer that answers properly.
static struct heif_error thumbd_write(struct heif_context *ctx, const void *data, size_t size, void *userdata) {
	thumbd_membuf *m = userdata;
	struct heif_error ok = { heif_error_Ok, heif_suberror_Unspecified, "Success" };
	unsigned char *b = realloc(m->buf, m->len + size);
	if (b == NULL) {
		m->failed = 1;
		struct heif_error e = { heif_error_Encoding_error, heif_suberror_Unspecified, "out of memory" };
		return e;
	}
	memcpy(b + m->len, data, size);
	m->buf = b;
	m->len += size;
	return ok;
}

// thumbd_avif encodes 8-bit interleaved RGB or RGBA pixels. It returns NULL
// or the first error's message (static, owned by libheif).
static const char *thumbd_avif(const unsigned char *pix, int w, int h, int bands, int quality, int speed, thumbd_membuf *out) {
	struct heif_context *ctx = heif_context_alloc();
	struct heif_encoder *enc = NULL;
	struct heif_image *img = NULL;
	struct heif_image_handle *handle = NULL;
	const char *msg = NULL;
	struct heif_error err = heif_context_get_encoder_for_format(ctx, heif_compression_AV1, &enc);
	if (err.code) { msg = err.message; goto done; }
	heif_encoder_set_lossy_quality(enc, quality);
	// The AV1 encoders' speed is libvips' 9 - effort; an encoder without
	// the parameter keeps its default.
	heif_encoder_set_parameter_integer(enc, "speed", speed);
	err = heif_image_create(w, h, heif_colorspace_RGB,
		bands == 4 ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, &img);
	if (err.code) { msg = err.message; goto done; }
	err = heif_image_add_plane(img, heif_channel_interleaved, w, h, 8);
	if (err.code) { msg = err.message; goto done; }
	int stride = 0;
	uint8_t *dst = heif_image_get_plane(img, heif_channel_interleaved, &stride);
	for (int y = 0; y < h; y++) memcpy(dst + (size_t)y * stride, pix + (size_t)y * w * bands, (size_t)w * bands);
	err = heif_context_encode_image(ctx, img, enc, NULL, &handle);
	if (err.code) { msg = err.message; goto done; }
	struct heif_writer writer = { 1, thumbd_write };
	err = heif_context_write(ctx, &writer, out);
	if (err.code || out->failed) { msg = err.code ? err.message : "out of memory"; goto done; }
done:
	if (handle) heif_image_handle_release(handle);
	if (img) heif_image_release(img);
	if (enc) heif_encoder_release(enc);
	heif_context_free(ctx);
	return msg;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/davidbyttow/govips/v2/vips"
)

// encodeAVIF encodes an 8-bit sRGB image (grey is widened to RGB) as AVIF
// through libheif directly; effort 0-9 maps to the encoder's speed as in
// libvips. Nothing but pixels reaches the encoder, so no metadata can.
func encodeAVIF(img *vips.ImageRef, quality, effort int) ([]byte, error) {
	if img.Bands() < 3 {
		if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
			return nil, fmt.Errorf("avif: to sRGB: %w", err)
		}
	}
	if img.BandFormat() != vips.BandFormatUchar {
		if err := img.Cast(vips.BandFormatUchar); err != nil {
			return nil, fmt.Errorf("avif: to 8 bits: %w", err)
		}
	}
	bands := img.Bands()
	if bands != 3 && bands != 4 {
		return nil, fmt.Errorf("avif: %d bands", bands)
	}
	w, h := img.Width(), img.Height()
	pix, err := img.ToBytes()
	if err != nil {
		return nil, err
	}
	if len(pix) != w*h*bands || w <= 0 || h <= 0 {
		return nil, errors.New("avif: pixel buffer size mismatch")
	}
	var out C.thumbd_membuf
	defer C.free(unsafe.Pointer(out.buf))
	if msg := C.thumbd_avif((*C.uchar)(unsafe.Pointer(&pix[0])), C.int(w), C.int(h), C.int(bands),
		C.int(quality), C.int(9-effort), &out); msg != nil {
		return nil, fmt.Errorf("avif: %s", C.GoString(msg))
	}
	return C.GoBytes(unsafe.Pointer(out.buf), C.int(out.len)), nil
}
