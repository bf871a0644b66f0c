//go:build !linux || !cgo

package transform

// LimitArenas is a no-op off glibc (see malloc_linux.go).
func LimitArenas() {}
