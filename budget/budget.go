// Package budget is the process-wide memory budget for decoding: each job
// reserves what its header says it will need before it decodes, waits when
// the budget is in use, and is refused when it needs more than the whole.
package budget

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrTooLarge: the job needs more than the whole budget.
var ErrTooLarge = errors.New("needs more memory than the decode budget")

// Budget is a weighted semaphore over bytes, first come first served, so a
// large job is not starved by a stream of small ones.
type Budget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiters []*waiter
}

type waiter struct {
	n     int64
	ready chan struct{}
}

// New returns a budget of size bytes.
func New(size int64) *Budget { return &Budget{size: size} }

// Size is the whole budget.
func (b *Budget) Size() int64 { return b.size }

// InUse is what running jobs hold now.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Acquire reserves n bytes, waiting until they are free or ctx ends. The
// returned release gives them back (call it once).
func (b *Budget) Acquire(ctx context.Context, n int64) (release func(), err error) {
	if n <= 0 {
		n = 1
	}
	if n > b.size {
		return nil, fmt.Errorf("%w: %d MiB of %d MiB", ErrTooLarge, n>>20, b.size>>20)
	}
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return b.releaser(n), nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return b.releaser(n), nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready:
			// Granted just as ctx ended: give it back.
			b.used -= n
		default:
			for i, x := range b.waiters {
				if x == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
		}
		b.grant()
		b.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (b *Budget) releaser(n int64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.used -= n
			b.grant()
			b.mu.Unlock()
		})
	}
}

// grant wakes waiters in order while they fit; b.mu is held.
func (b *Budget) grant() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.size {
			return
		}
		b.used += w.n
		b.waiters = b.waiters[1:]
		close(w.ready)
	}
}
