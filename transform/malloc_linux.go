//go:build linux && cgo

package transform

/*
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
static void thumbd_limit_arenas(void) {
	if (getenv("MALLOC_ARENA_MAX") == NULL) mallopt(M_ARENA_MAX, 2);
}
static void thumbd_trim(void) { malloc_trim(0); }
static void thumbd_mmap_threshold(int n) {
	if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL) mallopt(M_MMAP_THRESHOLD, n);
}
static void thumbd_trim_threshold(int n) {
	if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL) mallopt(M_TRIM_THRESHOLD, n);
}
#else
static void thumbd_limit_arenas(void) {}
static void thumbd_trim(void) {}
static void thumbd_mmap_threshold(int n) {}
static void thumbd_trim_threshold(int n) {}
#endif
*/
import "C"

import "runtime/debug"

// LimitArenas caps glibc's malloc arenas at 2; main calls it first thing,
// before libvips starts its threads (glibc creates arenas lazily, as
// threads contend, and Go's own threads do not use malloc). libvips
// allocates large, short-lived buffers from many threads; with glibc's
// default of 8 arenas per core, freed memory stays spread over arenas and
// RSS climbs far above what is in use (make soak: ~830 MiB with the
// default, ~250 MiB with 2). An explicit MALLOC_ARENA_MAX, or jemalloc via
// LD_PRELOAD as in the Docker image, takes precedence.
func LimitArenas() { C.thumbd_limit_arenas() }

// ReleaseMemory hands memory that is free but still mapped back to the
// system: Go's heap and glibc's arenas (malloc_trim). The start-up scan
// decodes every photo for its placeholder and leaves glibc holding the
// peak of that work (a folder of 24 MP JPEGs: ~230 MiB resident after a
// scan whose live memory was back under 100 MiB); serve calls this after
// a scan so that memory is not charged to the requests that follow.
func ReleaseMemory() {
	debug.FreeOSMemory()
	C.thumbd_trim()
}

// MallocForScan makes glibc map every allocation over 128 KiB on its own
// and unmap it when freed, for the start-up scan. glibc otherwise raises
// that threshold as large blocks are freed (up to 32 MiB) and serves them
// from its arenas, which keep the pages: the scan decodes every photo for
// its placeholder (a 24 MP progressive JPEG holds ~150 MiB of DCT
// coefficients), and a folder of them left ~100 MiB more resident after
// the scan than with this (measured: 152-204 -> 57-62 MiB before the
// first request). An explicit MALLOC_MMAP_THRESHOLD_ takes precedence.
func MallocForScan() { C.thumbd_mmap_threshold(128 << 10) }

// MallocForServe sets the thresholds glibc's own adjustment ends at once
// the scan is done: allocations up to 32 MiB come from the arenas, and up
// to 64 MiB (twice that, as glibc's adjustment sets it) of free memory at
// the top of an arena is kept rather than handed back. Requests then
// reuse their large buffers instead of faulting in fresh pages each time:
// a 16 MP progressive JPEG's luma coefficients (31.8 MB) are freed at the
// end of every request, and with glibc's default 128 KiB trim threshold
// they were returned and faulted in again (tile_224, median minor faults
// per Transform: 7732 with only the mmap threshold set, 3-4 with both, 3
// with glibc's untouched dynamic thresholds; a 128 KiB mmap threshold on
// the request path: about 12000 and +40% CPU). Explicit
// MALLOC_*_THRESHOLD_ variables take precedence.
func MallocForServe() {
	C.thumbd_mmap_threshold(32 << 20)
	C.thumbd_trim_threshold(64 << 20)
}
