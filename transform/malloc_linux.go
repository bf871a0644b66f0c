//go:build linux && cgo

package transform

/*
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
// Runs when the binary is loaded, before the Go runtime starts threads, so
// the limit applies to every arena glibc will ever create.
__attribute__((constructor)) static void thumbd_limit_arenas(void) {
	if (getenv("MALLOC_ARENA_MAX") == NULL) mallopt(M_ARENA_MAX, 2);
}
#endif
*/
import "C"

// glibc's malloc arenas are capped at 2 at load time (the constructor
// above). libvips allocates large, short-lived buffers from many threads;
// with glibc's default of 8 arenas per core, freed memory stays spread over
// arenas and RSS climbs far above what is in use (make soak: ~830 MiB with
// the default, ~250 MiB with 2). An explicit MALLOC_ARENA_MAX, or jemalloc
// via LD_PRELOAD as in the Docker image, takes precedence. Nothing to call:
// the constructor runs by itself.
