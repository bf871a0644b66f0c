package budget

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAcquireReleaseAndRefuse(t *testing.T) {
	b := New(100)
	r1, err := b.Acquire(context.Background(), 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(context.Background(), 101); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Acquire(101 of 100) = %v; want ErrTooLarge", err)
	}
	// 50 more does not fit: it waits until r1 is released.
	got := make(chan func(), 1)
	go func() {
		r, err := b.Acquire(context.Background(), 50)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	waitForWaiters(b, 1)
	select {
	case <-got:
		t.Fatal("second job ran over budget")
	default:
	}
	r1()
	r1() // idempotent
	r2 := <-got
	if b.InUse() != 50 {
		t.Fatalf("InUse = %d; want 50", b.InUse())
	}
	r2()
	if b.InUse() != 0 {
		t.Fatalf("InUse = %d; want 0", b.InUse())
	}
}

func TestWaiterLeavesOnDeadline(t *testing.T) {
	b := New(10)
	r, _ := b.Acquire(context.Background(), 10)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(ctx, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want deadline", err)
	}
	r()
	if b.InUse() != 0 || len(b.waiters) != 0 {
		t.Fatalf("InUse %d, waiters %d after release", b.InUse(), len(b.waiters))
	}
	// First come, first served: a big waiter is not overtaken.
	small, _ := b.Acquire(context.Background(), 4)
	bigDone := make(chan struct{})
	go func() {
		r, err := b.Acquire(context.Background(), 10)
		if err == nil {
			r()
		}
		close(bigDone)
	}()
	waitForWaiters(b, 1)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := b.Acquire(ctx2, 1); err == nil {
		t.Fatal("small job overtook a waiting large one")
	}
	small()
	<-bigDone
}

// waitForWaiters polls until n acquirers are queued (a condition, not a
// fixed wait).
func waitForWaiters(b *Budget, n int) {
	for {
		b.mu.Lock()
		got := len(b.waiters)
		b.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
