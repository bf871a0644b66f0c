package transform

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <vips/vips.h>

// seq_load decodes buf with access=sequential: the loader streams rows
// into whatever reads them instead of decoding the whole image into memory
// first. libvips reads buf in place, lazily, for as long as the image
// lives: the caller keeps it pinned until the image is closed (see
// pinSource). kind 0: JPEG at 1/shrink; 1: HEIF/AVIF primary image, no
// embedded thumbnail; 2: PNG.
static VipsImage *seq_load(const void *buf, size_t len, int kind, int shrink) {
	VipsImage *out = NULL;
	int err;
	if (kind == 0)
		err = vips_jpegload_buffer((void *) buf, len, &out, "access", VIPS_ACCESS_SEQUENTIAL,
			"shrink", shrink, "fail_on", VIPS_FAIL_ON_WARNING, NULL);
	else if (kind == 2)
		err = vips_pngload_buffer((void *) buf, len, &out, "access", VIPS_ACCESS_SEQUENTIAL,
			"fail_on", VIPS_FAIL_ON_WARNING, NULL);
	else
		err = vips_heifload_buffer((void *) buf, len, &out, "access", VIPS_ACCESS_SEQUENTIAL,
			"thumbnail", FALSE, "fail_on", VIPS_FAIL_ON_WARNING, NULL);
	return err ? NULL : out;
}

static int free_buf(void *buf, void *unused) {
	free(buf);
	return 0;
}

// jpeg_load_owned decodes a JPEG from buf, a malloc'd buffer that the
// image owns from here on: libvips frees it when the last reference to
// the image (and so to its source) goes.
static VipsImage *jpeg_load_owned(void *buf, size_t len, int shrink) {
	VipsBlob *blob = vips_blob_new(free_buf, buf, len);
	VipsSource *source = vips_source_new_from_blob(blob);
	vips_area_unref(VIPS_AREA(blob));
	if (source == NULL)
		return NULL;
	VipsImage *out = NULL;
	int err = vips_jpegload_source(source, &out, "access", VIPS_ACCESS_SEQUENTIAL,
		"shrink", shrink, "fail_on", VIPS_FAIL_ON_WARNING, NULL);
	g_object_unref(source);
	return err ? NULL : out;
}
*/
import "C"

import (
	"errors"
	"reflect"
	"runtime"
	"unsafe"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/jpegscan"
)

// govips v2.16 loads every buffer with random access: the loader decodes
// the whole (shrunk) image into memory before the resize reads a row of
// it. Measured with tools/stages: a sequential load is 1678 -> ~780 ms CPU
// for a 24 MP HEIC at tile_500, and 75 -> 67 ms for a 24 MP JPEG. govips
// has no way to ask for it and no way to wrap a VipsImage made outside it,
// so the image is loaded here and handed to an ImageRef by setting its
// unexported image field (as kill.go reads it; govips is pinned in go.mod
// and TestSequentialLoad fails if a govips upgrade moves the field).

var errLayout = errors.New("govips ImageRef layout changed")

// adopt returns an ImageRef that owns img (its reference is transferred).
func adopt(img *C.VipsImage) (*vips.ImageRef, error) {
	ref, err := vips.Black(1, 1)
	if err != nil {
		C.g_object_unref(C.gpointer(img))
		return nil, err
	}
	f := reflect.ValueOf(ref).Elem().FieldByName("image")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		C.g_object_unref(C.gpointer(img))
		return nil, errLayout
	}
	p := (*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr()))
	old := *p
	*p = unsafe.Pointer(img)
	if old != nil {
		C.g_object_unref(C.gpointer(old))
	}
	return ref, nil
}

// vipsError takes libvips' error buffer.
func vipsError() error {
	msg := C.GoString(C.vips_error_buffer())
	C.vips_error_clear()
	if msg == "" {
		msg = "load failed"
	}
	return errors.New(firstLine(msg))
}

// pinSource pins src so libvips may read it in place after the call that
// loaded it returns (cgo's rule for C keeping a Go pointer), until the
// returned unpin. Transform and Placeholder pin the original for their
// whole run and close every image before they return; a copy into C memory
// instead (as before) cost a memcpy and the original's size again in RSS
// per running job (5.3 MB for the 24 MP JPEG).
func pinSource(src []byte) (unpin func()) {
	if len(src) == 0 {
		return func() {}
	}
	var p runtime.Pinner
	p.Pin(&src[0])
	return p.Unpin
}

// seqLoad loads src, which must be pinned (pinSource) until the image is
// closed.
func seqLoad(src []byte, kind, shrink int) (*vips.ImageRef, error) {
	if len(src) == 0 {
		return nil, errors.New("empty buffer")
	}
	img := C.seq_load(unsafe.Pointer(&src[0]), C.size_t(len(src)), C.int(kind), C.int(shrink))
	if img == nil {
		return nil, vipsError()
	}
	return adopt(img)
}

// loadJPEGSequential decodes a JPEG at 1/shrink, sequentially.
func loadJPEGSequential(src []byte, shrink int) (*vips.ImageRef, error) {
	return seqLoad(src, 0, shrink)
}

// loadJPEGShrunk decodes a JPEG at 1/shrink, sequentially, the cheapest
// exact way there is.
func loadJPEGShrunk(src []byte, shrink int) (*vips.ImageRef, error) {
	if shrink == 8 {
		return loadJPEGEighth(src)
	}
	return loadJPEGSequential(src, shrink)
}

// loadJPEGEighth decodes a JPEG at 1/8, sequentially, from the smaller
// stream jpegscan.Eighth makes of a progressive one when it can (the same
// pixels, without the entropy decoding of AC scans the 1/8 IDCT ignores).
// The rewritten stream is copied to C memory that the image owns, so it
// needs no pin and lives exactly as long as the image.
func loadJPEGEighth(src []byte) (*vips.ImageRef, error) {
	trimmed, ok := jpegscan.Eighth(src)
	if !ok {
		return seqLoad(src, 0, 8)
	}
	img := C.jpeg_load_owned(C.CBytes(trimmed), C.size_t(len(trimmed)), 8)
	if img == nil {
		return nil, vipsError()
	}
	return adopt(img)
}

// loadPNGSequential decodes a PNG, sequentially.
func loadPNGSequential(src []byte) (*vips.ImageRef, error) {
	return seqLoad(src, 2, 1)
}

// loadHEIFSequential decodes a HEIF/AVIF primary image (upright: libheif
// applies irot/imir), sequentially.
func loadHEIFSequential(src []byte) (*vips.ImageRef, error) {
	return seqLoad(src, 1, 1)
}

// copyMemory renders img into memory, so operations that read it out of
// order (a 90 degree rotation, vips_smartcrop's passes) can follow a
// sequential load.
func copyMemory(r *vips.ImageRef) error {
	in := vipsImage(r)
	if in == nil {
		return errLayout
	}
	out := C.vips_image_copy_memory(in)
	if out == nil {
		return vipsError()
	}
	f := reflect.ValueOf(r).Elem().FieldByName("image")
	p := (*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr()))
	*p = unsafe.Pointer(out)
	C.g_object_unref(C.gpointer(in))
	return nil
}
