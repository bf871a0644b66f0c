package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a destination tests can read while the writer writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  int // Write calls
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gate blocks every Write until opened: a destination slower than the lines.
type gate struct {
	open    chan struct{}
	entered chan struct{} // one value per Write that has started
	syncBuffer
}

func newGate() *gate { return &gate{open: make(chan struct{}), entered: make(chan struct{}, 1024)} }

func (g *gate) Write(p []byte) (int, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.open
	return g.syncBuffer.Write(p)
}

type failing struct{ calls int }

func (f *failing) Write(p []byte) (int, error) { f.calls++; return 0, errors.New("disk full") }

func lines(n, width int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		l := fmt.Sprintf("line %06d ", i)
		out[i] = []byte(l + strings.Repeat("x", max(0, width-len(l)-1)) + "\n")
	}
	return out
}

// wait polls cond until it holds; the test's own deadline is the limit.
func wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 20000 { // 20 s
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDelivery(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		n       int
		width   int
		writers int
	}{
		{"few short lines", Options{}, 10, 40, 1},
		{"fills many small buffers", Options{BufferSize: 1 << 10, Buffers: 256}, 2000, 100, 1},
		{"exactly a buffer per line", Options{BufferSize: 128, Buffers: 4096}, 1000, 128, 1},
		{"concurrent writers", Options{BufferSize: 4 << 10, Buffers: 256}, 4000, 80, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := &syncBuffer{}
			w := New(dst, tc.opts)
			ls := lines(tc.n, tc.width)
			var wg sync.WaitGroup
			for k := 0; k < tc.writers; k++ {
				wg.Add(1)
				go func(k int) {
					defer wg.Done()
					for i := k; i < len(ls); i += tc.writers {
						if n, err := w.Write(ls[i]); err != nil || n != len(ls[i]) {
							t.Errorf("Write = %d, %v", n, err)
						}
					}
				}(k)
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if d := w.Dropped(); d != 0 {
				t.Fatalf("dropped %d lines with room for all", d)
			}
			got := strings.SplitAfter(dst.String(), "\n")
			got = got[:len(got)-1]
			if len(got) != tc.n {
				t.Fatalf("%d lines delivered, want %d", len(got), tc.n)
			}
			seen := map[string]bool{}
			for _, l := range got {
				seen[l] = true
			}
			for _, l := range ls {
				if !seen[string(l)] {
					t.Fatalf("line %q missing or torn", l[:12])
				}
			}
			if tc.writers == 1 {
				for i, l := range got {
					if l != string(ls[i]) {
						t.Fatalf("line %d out of order: %q", i, l[:12])
					}
				}
			}
			if w.Written() != uint64(tc.n*tc.width) {
				t.Fatalf("Written = %d, want %d", w.Written(), tc.n*tc.width)
			}
		})
	}
}

// A line waits at most one flush interval: no Flush, no Close, no full
// buffer, and it still reaches the destination.
func TestFlushesOnTimer(t *testing.T) {
	dst := &syncBuffer{}
	w := New(dst, Options{FlushInterval: 20 * time.Millisecond})
	defer w.Close()
	if _, err := w.Write([]byte("alone\n")); err != nil {
		t.Fatal(err)
	}
	wait(t, "the timer flush", func() bool { return dst.String() == "alone\n" })
}

func TestDefaultIntervalIsAtMostOneSecond(t *testing.T) {
	w := New(io.Discard, Options{})
	defer w.Close()
	if w.interval <= 0 || w.interval > time.Second {
		t.Fatalf("default flush interval %v", w.interval)
	}
}

func TestFlushWaitsForEarlierLines(t *testing.T) {
	dst := &syncBuffer{}
	w := New(dst, Options{FlushInterval: time.Hour})
	defer w.Close()
	for _, l := range lines(100, 50) {
		w.Write(l)
	}
	w.Flush()
	if n := strings.Count(dst.String(), "\n"); n != 100 {
		t.Fatalf("after Flush %d lines at the destination, want 100", n)
	}
}

// A destination that stops accepting writes never blocks a caller: lines
// beyond the buffers are dropped and counted, and what arrives is whole.
func TestSlowDestinationDropsInsteadOfBlocking(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		n       int
		minDrop int
	}{
		{"two tiny buffers", Options{BufferSize: 256, Buffers: 2, FlushInterval: time.Hour}, 200, 150},
		{"default sizes", Options{FlushInterval: time.Hour}, 40000, 20000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := newGate()
			w := New(dst, tc.opts)
			ls := lines(tc.n, 64)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for _, l := range ls {
					w.Write(l)
				}
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second): // liveness only: the writes must not wait for the gate
				t.Fatal("Write blocked on a stalled destination")
			}
			// The loop holds one buffer in the stalled Write.
			<-dst.entered
			if d := w.Dropped(); d < uint64(tc.minDrop) {
				t.Fatalf("dropped %d, want at least %d", d, tc.minDrop)
			}
			close(dst.open)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got := dst.String()
			delivered := strings.Count(got, "\n")
			if uint64(delivered)+w.Dropped() != uint64(tc.n) {
				t.Fatalf("delivered %d + dropped %d != written %d", delivered, w.Dropped(), tc.n)
			}
			for _, l := range strings.SplitAfter(got, "\n") {
				if l != "" && len(l) != 64 {
					t.Fatalf("torn line %q", l)
				}
			}
		})
	}
}

func TestLineLargerThanBufferIsDropped(t *testing.T) {
	dst := &syncBuffer{}
	w := New(dst, Options{BufferSize: 100})
	w.Write(bytes.Repeat([]byte("y"), 101))
	w.Write([]byte("fits\n"))
	w.Close()
	if w.Dropped() != 1 || dst.String() != "fits\n" {
		t.Fatalf("dropped %d, got %q", w.Dropped(), dst.String())
	}
}

func TestDestinationErrorsAreCounted(t *testing.T) {
	dst := &failing{}
	w := New(dst, Options{})
	w.Write([]byte("lost\n"))
	err := w.Close()
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close = %v, want the destination's error", err)
	}
	if w.WriteErrors() != 1 || dst.calls != 1 {
		t.Fatalf("WriteErrors %d, calls %d", w.WriteErrors(), dst.calls)
	}
}

func TestWriteAfterCloseGoesThrough(t *testing.T) {
	dst := &syncBuffer{}
	w := New(dst, Options{FlushInterval: time.Hour})
	w.Write([]byte("before\n"))
	w.Close()
	w.Write([]byte("after\n"))
	if err := w.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}
	if got := dst.String(); got != "before\nafter\n" {
		t.Fatalf("got %q", got)
	}
	w.Flush() // after Close: returns
}

// Under slog's JSON handler from many goroutines, every line arrives
// whole and parses.
func TestUnderSlogJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := New(f, Options{BufferSize: 8 << 10, Buffers: 512})
	log := slog.New(slog.NewJSONHandler(w, nil))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				log.Info("request", "g", g, "i", i, "path", "/t/…/…/tile_500", "status", 200)
			}
		}(g)
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %d: %v: %q", n, err, sc.Text())
		}
		n++
	}
	if uint64(n)+w.Dropped() != 4000 {
		t.Fatalf("%d lines + %d dropped, want 4000", n, w.Dropped())
	}
}
