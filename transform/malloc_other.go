//go:build !linux || !cgo

package transform

import "runtime/debug"

// LimitArenas is a no-op off glibc (see malloc_linux.go).
func LimitArenas() {}

// ReleaseMemory returns Go's free heap to the system (see malloc_linux.go).
func ReleaseMemory() { debug.FreeOSMemory() }

// MallocForScan is a no-op off glibc (see malloc_linux.go).
func MallocForScan() {}

// MallocForServe is a no-op off glibc (see malloc_linux.go).
func MallocForServe() {}
