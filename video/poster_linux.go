package video

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// waitDelay bounds how long Wait waits for the stdin and stdout copies
// after ffmpeg exited or was killed (a read stuck on a dead disk, say).
const waitDelay = 2 * time.Second

// testStarted, when set by a test, sees the pid of each ffmpeg started.
var testStarted func(pid int)

// HaveFFmpeg reports whether ffmpeg and prlimit are on PATH.
func HaveFFmpeg() bool {
	_, _, err := tools()
	return err == nil
}

func tools() (ffmpeg, prlimit string, err error) {
	if ffmpeg, err = exec.LookPath("ffmpeg"); err != nil {
		return "", "", ErrNoFFmpeg
	}
	// Without prlimit ffmpeg would run unbounded: refuse rather than that.
	if prlimit, err = exec.LookPath("prlimit"); err != nil {
		return "", "", fmt.Errorf("%w: prlimit (util-linux) not found", ErrNoFFmpeg)
	}
	return ffmpeg, prlimit, nil
}

// Poster extracts a representative frame of the video open as f (size
// bytes, from Stat) as PNG. The container is identified by Probe and the
// demuxer forced; ffmpeg reads the bytes from a pipe fed from f and may
// open no file or URL, so a playlist, concat script or external reference
// in a library file can't make it read anything else. It runs under
// resource limits, in its own session, killed with its process group when
// ctx ends.
func Poster(ctx context.Context, f *os.File, size int64, lim Limits) ([]byte, error) {
	ffmpeg, prlimit, err := tools()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	src, demuxer, err := posterInput(f, size)
	if err != nil {
		return nil, err
	}
	lim = lim.withDefaults()

	cmd := exec.CommandContext(ctx, prlimit, posterArgs(ffmpeg, demuxer, lim)...)
	// No inherited variables (FFREPORT would make ffmpeg write a log file,
	// AV_LOG_* change its output) and no working directory in the library.
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Dir = "/"
	// A new session: a process group to kill as a whole, and no controlling
	// terminal to read from. prlimit execs ffmpeg, so the pid is ffmpeg's.
	// No Pdeathsig: it fires when the forking thread exits, not thumbd, and
	// an orphan is bounded anyway (its stdin closes, RLIMIT_CPU ends it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Cancel = func() error {
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			return err
		}
		return nil
	}
	cmd.WaitDelay = waitDelay
	// exec copies src into the pipe and ignores EPIPE: ffmpeg stops reading
	// as soon as it has its frames.
	cmd.Stdin = src
	out := &capBuffer{max: lim.MaxOutputBytes, strict: true}
	stderr := &capBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = out, stderr

	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("video: starting ffmpeg: %w", err)
	}
	if testStarted != nil {
		testStarted(cmd.Process.Pid)
	}
	err = cmd.Wait()
	png, over := out.result()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case over:
		return nil, fmt.Errorf("%w: poster larger than %d bytes", ErrUnknown, lim.MaxOutputBytes)
	case err != nil && !(errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success()):
		// A copy stuck after a successful exit is no reason to drop the frame.
		msg, _ := stderr.result()
		return nil, fmt.Errorf("%w: ffmpeg: %v: %s", ErrUnknown, err, firstLine(string(msg)))
	case len(png) == 0:
		return nil, fmt.Errorf("%w: ffmpeg produced no frame", ErrUnknown)
	case !bytes.HasPrefix(png, pngMagic):
		return nil, fmt.Errorf("%w: ffmpeg output is not a PNG", ErrUnknown)
	}
	return png, nil
}

// capBuffer keeps at most max bytes. A strict one fails the write that
// goes over, which closes the pipe and stops ffmpeg (SIGPIPE); a lax one
// (stderr) drops the excess. Locked: after WaitDelay, exec may return
// while its copy goroutine still writes.
type capBuffer struct {
	mu     sync.Mutex
	buf    []byte
	max    int64
	strict bool
	over   bool
	done   bool // result was taken: later writes are refused
}

var errTooBig = errors.New("output too large")

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return 0, errTooBig
	}
	if room := c.max - int64(len(c.buf)); int64(len(p)) > room {
		if c.strict {
			c.over = true
			return 0, errTooBig
		}
		c.buf = append(c.buf, p[:max(room, 0)]...)
		return len(p), nil
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *capBuffer) result() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	return c.buf, c.over
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
