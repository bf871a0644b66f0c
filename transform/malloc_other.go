//go:build !linux || !cgo

package transform

func limitMallocArenas() {}
