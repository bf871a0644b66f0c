// Package accesslog is an asynchronous, bounded, line-buffered io.Writer
// for log lines: put it under slog's JSON or Text handler and a request
// never waits for stderr, a pipe or a full disk. Lines are copied into a
// buffer and written by one background goroutine at least every flush
// interval (default one second), when a buffer fills, on Flush and on
// Close. When every buffer is full (the destination is slower than the
// lines arrive) a line is dropped and counted instead of blocking the
// caller; Dropped feeds a Prometheus counter.
package accesslog

import (
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options' zero values.
const (
	DefaultBufferSize    = 256 << 10
	DefaultBuffers       = 4
	DefaultFlushInterval = time.Second
)

// Options size the writer. Memory is bounded by BufferSize x Buffers.
type Options struct {
	// BufferSize is the capacity of one buffer in bytes; a line longer
	// than this is dropped.
	BufferSize int
	// Buffers is how many buffers exist: one collects lines while the
	// others wait to be written. At least 2.
	Buffers int
	// FlushInterval bounds how long a line waits in a buffer.
	FlushInterval time.Duration
}

// Writer is safe for concurrent use. Each Write must be one whole line
// (slog's handlers write one record per call), so lines never interleave.
type Writer struct {
	dst      io.Writer
	interval time.Duration

	mu     sync.Mutex
	cur    []byte // collecting; guarded by mu
	closed bool   // guarded by mu

	free chan []byte // empty buffers
	full chan []byte // buffers to write, in order
	// flushReq asks the loop to hand over cur now; the reply channel is
	// closed once everything handed over before it has been written.
	flushReq chan chan struct{}
	stop     chan struct{} // closed by Close
	done     chan struct{} // closed when the loop has exited
	dmu      sync.Mutex    // serialises writes through after Close

	dropped   atomic.Uint64
	written   atomic.Uint64
	errs      atomic.Uint64
	lastErrMu sync.Mutex
	lastErr   error
}

// New starts the background writer over dst. Call Close at shutdown.
func New(dst io.Writer, o Options) *Writer {
	if o.BufferSize <= 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.Buffers < 2 {
		o.Buffers = DefaultBuffers
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	w := &Writer{
		dst:      dst,
		interval: o.FlushInterval,
		cur:      make([]byte, 0, o.BufferSize),
		free:     make(chan []byte, o.Buffers),
		full:     make(chan []byte, o.Buffers),
		flushReq: make(chan chan struct{}),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for i := 1; i < o.Buffers; i++ {
		w.free <- make([]byte, 0, o.BufferSize)
	}
	go w.loop()
	return w
}

// Write copies p into the current buffer and returns at once. It never
// blocks on the destination: if p does not fit and no empty buffer is
// left, p is dropped (counted by Dropped) and Write still reports
// success, so a logger never fails a request. After Close, lines go
// straight to the destination (shutdown is the one time waiting is fine).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.direct(p)
	}
	if len(p) > cap(w.cur) {
		w.mu.Unlock()
		w.dropped.Add(1)
		return len(p), nil
	}
	for yielded := false; len(w.cur)+len(p) > cap(w.cur); yielded = true {
		select {
		case next := <-w.free:
			w.full <- w.cur // never blocks: at most Buffers buffers exist
			w.cur = next
			continue
		default:
		}
		if yielded {
			w.mu.Unlock()
			w.dropped.Add(1)
			return len(p), nil
		}
		// Every buffer is queued. When the callers keep every CPU busy the
		// writing goroutine (runnable, woken by the hand-over) may simply
		// not have run yet: give it one turn before dropping. This waits
		// for the scheduler, never for the destination.
		w.mu.Unlock()
		runtime.Gosched()
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return w.direct(p)
		}
	}
	w.cur = append(w.cur, p...)
	w.mu.Unlock()
	return len(p), nil
}

// direct writes through after Close, once the loop has written what was
// buffered (so lines stay in order and the destination sees one writer).
func (w *Writer) direct(p []byte) (int, error) {
	<-w.done
	w.dmu.Lock()
	defer w.dmu.Unlock()
	n, err := w.dst.Write(p)
	if err != nil {
		w.fail(err)
	} else {
		w.written.Add(uint64(len(p)))
	}
	return n, err
}

// loop writes full buffers as they come and the current one every
// interval.
func (w *Writer) loop() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case b := <-w.full:
			w.write(b)
		case <-t.C:
			w.flushAll()
		case reply := <-w.flushReq:
			w.flushAll()
			close(reply)
		case <-w.stop:
			w.flushAll()
			return
		}
	}
}

// handOver queues the current buffer if it holds anything and an empty
// one can replace it; otherwise the lines wait for the next turn.
func (w *Writer) handOver() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.cur) == 0 {
		return
	}
	select {
	case next := <-w.free:
		w.full <- w.cur
		w.cur = next
	default:
		// Every other buffer is queued in full; draining frees them.
	}
}

// flushAll writes every line collected so far. If the current buffer
// could not be handed over (every other buffer was queued), writing the
// queue frees one, so a second round always gets it.
func (w *Writer) flushAll() {
	for round := 0; round < 2; round++ {
		w.handOver()
		for len(w.full) > 0 {
			w.write(<-w.full)
		}
	}
}

// write sends one buffer to the destination and returns it to the pool.
func (w *Writer) write(b []byte) {
	if _, err := w.dst.Write(b); err != nil {
		w.fail(err)
	} else {
		w.written.Add(uint64(len(b)))
	}
	w.free <- b[:0]
}

func (w *Writer) fail(err error) {
	w.errs.Add(1)
	w.lastErrMu.Lock()
	w.lastErr = err
	w.lastErrMu.Unlock()
}

// Flush waits until every line written before it has reached the
// destination (or failed to: see Err).
func (w *Writer) Flush() {
	reply := make(chan struct{})
	select {
	case w.flushReq <- reply:
		<-reply
	case <-w.done:
	}
}

// Close writes what is buffered, stops the background goroutine and
// switches Write to writing through. It does not close the destination.
// Safe to call more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	// Writes from here on go direct; the loop writes what was buffered.
	close(w.stop)
	<-w.done
	return w.Err()
}

// Dropped is how many lines were thrown away because every buffer was
// full (or one line was larger than a buffer).
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Written is how many bytes reached the destination.
func (w *Writer) Written() uint64 { return w.written.Load() }

// WriteErrors is how many writes to the destination failed; their lines
// are lost.
func (w *Writer) WriteErrors() uint64 { return w.errs.Load() }

// Err is the destination's last write error, if any.
func (w *Writer) Err() error {
	w.lastErrMu.Lock()
	defer w.lastErrMu.Unlock()
	if w.lastErr == nil {
		return nil
	}
	return errors.Join(errDestination, w.lastErr)
}

var errDestination = errors.New("accesslog: destination write failed")
