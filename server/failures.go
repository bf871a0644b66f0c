package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/video"
)

// errTooSlow: the job hit the request deadline while libvips (or ffmpeg)
// was working on it; the work was stopped. It answers 503 like any
// deadline, and is remembered so a retry does not start it again.
var errTooSlow = errors.New("image took longer than the request deadline to render")

// failures remembers originals that failed for reasons of their own
// (undecodable, too large, too slow), so a client or a CDN retrying a
// hostile file costs a map lookup, not another libvips job. Entries are
// keyed by the file's identity (hash, size, mtime): a replaced file is
// tried afresh.
type failures struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[string]failedEntry
}

type failedEntry struct {
	err   error
	until time.Time
}

// maxFailures bounds the table; a flood of distinct bad files cannot grow
// it without limit (the oldest half is dropped when full).
const maxFailures = 4096

func newFailures(ttl time.Duration, now func() time.Time) *failures {
	return &failures{ttl: ttl, now: now, m: map[string]failedEntry{}}
}

func failureKey(o storage.Original) string {
	return o.Hash + "\x00" + o.ModTime.String()
}

// remembered returns the failure recorded for o, if still fresh.
func (f *failures) remembered(o storage.Original) (failedEntry, bool) {
	if f == nil || f.ttl <= 0 {
		return failedEntry{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.m[failureKey(o)]
	if !ok {
		return failedEntry{}, false
	}
	if !e.until.After(f.now()) {
		delete(f.m, failureKey(o))
		return failedEntry{}, false
	}
	return e, true
}

// record keeps err for o if it is the file's own fault.
func (f *failures) record(o storage.Original, err error) {
	if f == nil || f.ttl <= 0 || !fileFault(err) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) >= maxFailures {
		// Full: drop what has expired, then (a flood of distinct bad
		// files) whatever map order gives until half is free.
		now := f.now()
		for k, e := range f.m {
			if !e.until.After(now) || len(f.m) > maxFailures/2 {
				delete(f.m, k)
			}
		}
	}
	f.m[failureKey(o)] = failedEntry{err: err, until: f.now().Add(f.ttl)}
}

// fileFault reports errors that come from the original itself, not from
// the moment (overload, a client leaving, a missing file).
func fileFault(err error) bool {
	switch {
	case errors.Is(err, errTooSlow),
		errors.Is(err, transform.ErrUnsupported),
		errors.Is(err, transform.ErrTooLarge),
		errors.Is(err, storage.ErrTooLarge),
		errors.Is(err, video.ErrUnknown):
		return true
	}
	return false
}

// slowJob turns a deadline that stopped libvips or ffmpeg at work (not one
// that expired while the job waited for a worker or for memory) into
// errTooSlow.
func slowJob(ctx context.Context, err error) error {
	if errors.Is(err, transform.ErrStopped) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errors.Join(errTooSlow, err)
	}
	return err
}
