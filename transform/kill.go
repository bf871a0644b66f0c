package transform

/*
#cgo pkg-config: vips
#include <vips/vips.h>
#include <vips/vector.h>
*/
import "C"

import (
	"context"
	"reflect"
	"sync"
	"unsafe"

	"github.com/davidbyttow/govips/v2/vips"
)

// vipsImage is the VipsImage behind an ImageRef. govips (v2.16.0, pinned in
// go.mod) has no accessor for it and no way to cancel an evaluation, so the
// field is read by reflection; TestDeadlineStopsLibvips fails if a govips
// upgrade moves it.
func vipsImage(r *vips.ImageRef) *C.VipsImage {
	f := reflect.ValueOf(r).Elem().FieldByName("image")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		return nil
	}
	return (*C.VipsImage)(unsafe.Pointer(f.Pointer()))
}

// disableVectors turns off libvips' run-time SIMD compiler (liborc).
// Debian bookworm's orc 0.4.33 frees compiled programs without a lock: with
// several requests building and dropping small resizes at once (the index
// scan's placeholders over 100k small photos), orc_code_free corrupted the
// C heap within seconds (SIGSEGV, "free(): invalid pointer"). imgproxy
// disables it for the same reason; the C paths cost little (BENCHMARKS.md).
func disableVectors() { setVectors(false) }

func setVectors(on bool) {
	v := C.gboolean(C.FALSE)
	if on {
		v = C.TRUE
	}
	C.vips_vector_set_enabled(v)
}

// VectorsEnabled reports whether liborc is in use, for a test.
func VectorsEnabled() bool { return C.vips_vector_isenabled() != 0 }

// killer stops libvips' evaluation of the image it watches when ctx ends:
// libvips checks an image's kill flag each time a region of it is
// computed, so the encoder fails at its next tile instead of decoding the
// rest of a hostile file after the client got its 503.
type killer struct {
	mu     sync.Mutex
	img    *C.VipsImage
	killed bool
	done   chan struct{}
	exited chan struct{}
}

func newKiller(ctx context.Context) *killer {
	k := &killer{done: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(k.exited)
		select {
		case <-ctx.Done():
			k.mu.Lock()
			k.killed = true
			if k.img != nil {
				C.vips_image_set_kill(k.img, C.TRUE)
			}
			k.mu.Unlock()
		case <-k.done:
		}
	}()
	return k
}

// watch points the killer at the image about to be evaluated (the one
// handed to an encoder). Call it again whenever the ImageRef changes. The
// killer holds a reference of its own, so the image it may flag is never
// freed under it.
func (k *killer) watch(r *vips.ImageRef) {
	img := vipsImage(r)
	if img != nil {
		C.g_object_ref(C.gpointer(img))
	}
	k.mu.Lock()
	old := k.img
	k.img = img
	if k.killed && img != nil {
		C.vips_image_set_kill(img, C.TRUE)
	}
	k.mu.Unlock()
	if old != nil {
		C.g_object_unref(C.gpointer(old))
	}
}

// stopped reports whether the deadline has stopped libvips.
func (k *killer) stopped() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.killed
}

// stop ends the watch and drops the killer's reference.
func (k *killer) stop() {
	close(k.done)
	<-k.exited
	k.mu.Lock()
	old := k.img
	k.img = nil
	k.mu.Unlock()
	if old != nil {
		C.g_object_unref(C.gpointer(old))
	}
}
