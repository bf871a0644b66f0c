//go:build !linux

package video

import (
	"context"
	"os"
)

// HaveFFmpeg reports false: the jail (prlimit, process groups) is Linux only.
func HaveFFmpeg() bool { return false }

// Poster needs Linux to run ffmpeg jailed; elsewhere it is unavailable.
func Poster(ctx context.Context, f *os.File, size int64, lim Limits) ([]byte, error) {
	return nil, ErrNoFFmpeg
}
