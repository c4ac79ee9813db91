package resolver

import (
	"sync"
	"testing"
	"time"
)

func TestBusyFollowsTheQueryRate(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e, err := New(Config{Upstream: &fakeUpstream{}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if e.Busy() {
		t.Fatal("a new engine is busy")
	}
	steps := []struct {
		name  string
		reads int
		after time.Duration
		busy  bool
	}{
		{"1,000 queries a second is busy", 10, 10 * time.Millisecond, true},
		{"the estimate holds within a window", 0, 5 * time.Millisecond, true},
		{"a quiet window is not busy", 0, 10 * time.Millisecond, false},
		{"a query now and then is not busy", 3, 10 * time.Millisecond, false},
		{"a burst after a long gap is not busy", 500, time.Minute, false},
		{"20,000 queries a second is busy", 200, 10 * time.Millisecond, true},
	}
	for _, s := range steps {
		e.activity.read(s.reads)
		advance(s.after)
		if got := e.Busy(); got != s.busy {
			t.Fatalf("%s: Busy() = %v", s.name, got)
		}
	}
	start := time.Now()
	e.Yield() // busy: sleeps briefly
	if time.Since(start) < yieldSleep {
		t.Fatal("Yield on a busy engine returned without sleeping")
	}
}
