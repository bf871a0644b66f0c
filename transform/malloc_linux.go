//go:build linux && cgo

package transform

/*
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
static void thumbd_limit_arenas(void) {
	if (getenv("MALLOC_ARENA_MAX") == NULL) mallopt(M_ARENA_MAX, 2);
}
#else
static void thumbd_limit_arenas(void) {}
#endif
*/
import "C"

// LimitArenas caps glibc's malloc arenas at 2; main calls it first thing,
// before libvips starts its threads (glibc creates arenas lazily, as
// threads contend, and Go's own threads do not use malloc). libvips
// allocates large, short-lived buffers from many threads; with glibc's
// default of 8 arenas per core, freed memory stays spread over arenas and
// RSS climbs far above what is in use (make soak: ~830 MiB with the
// default, ~250 MiB with 2). An explicit MALLOC_ARENA_MAX, or jemalloc via
// LD_PRELOAD as in the Docker image, takes precedence.
func LimitArenas() { C.thumbd_limit_arenas() }
