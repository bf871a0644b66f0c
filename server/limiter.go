package server

import (
	"context"
	"sync/atomic"
)

// limiter bounds libvips jobs: at most cap(slots) run, at most queue wait.
// Beyond that callers are refused at once (503) rather than queued without
// bound, which is what melts an image server during a burst of CDN misses.
type limiter struct {
	slots   chan struct{}
	queue   int64
	waiting atomic.Int64
	running atomic.Int64
}

func newLimiter(workers, queue int) *limiter {
	return &limiter{slots: make(chan struct{}, workers), queue: int64(queue)}
}

// acquire takes a slot or fails with errOverloaded or the context's error.
func (l *limiter) acquire(ctx context.Context) (release func(), err error) {
	select {
	case l.slots <- struct{}{}:
	default:
		if l.waiting.Add(1) > l.queue {
			l.waiting.Add(-1)
			return nil, errOverloaded
		}
		select {
		case l.slots <- struct{}{}:
			l.waiting.Add(-1)
		case <-ctx.Done():
			l.waiting.Add(-1)
			return nil, ctx.Err()
		}
	}
	l.running.Add(1)
	return func() { l.running.Add(-1); <-l.slots }, nil
}
