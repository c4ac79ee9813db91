package feed

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a Clock the test moves by hand.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}

// waitUntilPlanned waits until the scheduler sleeps until exactly at: it
// has finished what it was doing and planned the next refresh for then.
func (c *fakeClock) waitUntilPlanned(t *testing.T, at time.Time) {
	t.Helper()
	eventually(t, "a wait until "+at.Format(time.TimeOnly), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, w := range c.waiters {
			if w.at.Equal(at) {
				return true
			}
		}
		return false
	})
}

// eventually polls cond for up to five seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func receive(t *testing.T, ch <-chan Result) Result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for an update")
		return Result{}
	}
}

func expectNoUpdate(t *testing.T, ch <-chan Result) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("unexpected update with %d entries", len(r.Entries))
	default:
	}
}

var t0 = time.Date(2026, 8, 22, 4, 0, 0, 0, time.UTC)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startScheduler(t *testing.T, feeds []Config, opts SchedulerOptions) (*Scheduler, chan Result) {
	t.Helper()
	updates := make(chan Result, 16)
	if opts.Jitter == 0 {
		opts.Jitter = -1
	}
	opts.Logger = quietLogger()
	s, err := NewScheduler(feeds, func(r Result) { updates <- r }, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, updates
}

func TestSchedulerRefreshesOnInterval(t *testing.T) {
	fs, srv := startServer(t)
	fs.set(sampleNames(t, 10), `"v1"`, "")
	clock := &fakeClock{now: t0}
	s, updates := startScheduler(t, []Config{{Name: "threats", Source: srv.URL, Interval: time.Hour}},
		SchedulerOptions{Fetcher: &Fetcher{Client: srv.Client()}, Clock: clock})

	if r := receive(t, updates); r.Feed != "threats" || len(r.Entries) != 10 {
		t.Fatalf("first update %+v", r)
	}
	clock.waitUntilPlanned(t, t0.Add(time.Hour))

	// Unchanged source: a conditional request, no update.
	clock.Advance(time.Hour)
	clock.waitUntilPlanned(t, t0.Add(2*time.Hour))
	expectNoUpdate(t, updates)
	if n := len(fs.requests()); n != 2 {
		t.Fatalf("%d requests; want 2", n)
	}

	fs.set(sampleNames(t, 12), `"v2"`, "")
	clock.Advance(time.Hour)
	if r := receive(t, updates); len(r.Entries) != 12 || r.Version.ETag != `"v2"` {
		t.Fatalf("second update %+v", r)
	}
	clock.waitUntilPlanned(t, t0.Add(3*time.Hour))
	if st := s.Status()[0]; st.State != StateOK || st.Entries != 12 || !st.LastChange.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("status %+v", st)
	}

	// An operator's request runs at once, without moving the clock.
	if err := s.RefreshNow("threats"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the requested refresh", func() bool { return len(fs.requests()) == 4 })
	if err := s.RefreshNow("nope"); !errors.Is(err, ErrUnknownFeed) {
		t.Fatalf("RefreshNow(unknown) = %v", err)
	}
}

func TestSchedulerBacksOffOnFailure(t *testing.T) {
	fs, srv := startServer(t)
	fs.set(sampleNames(t, 10), `"v1"`, "")
	fs.setStatus(http.StatusInternalServerError)
	clock := &fakeClock{now: t0}
	s, updates := startScheduler(t, []Config{{Name: "threats", Source: srv.URL, Interval: 10 * time.Minute}},
		SchedulerOptions{Fetcher: &Fetcher{Client: srv.Client()}, Clock: clock, RetryMin: time.Minute})

	// Failures wait 1, 2, 4, 8 minutes, then the interval (10).
	at := t0
	for i, wait := range []time.Duration{1, 2, 4, 8, 10, 10} {
		at = at.Add(wait * time.Minute)
		clock.waitUntilPlanned(t, at)
		if st := s.Status()[0]; st.State != StateError || st.Failures != i+1 {
			t.Fatalf("after failure %d: status %+v", i+1, st)
		}
		clock.Advance(wait * time.Minute)
	}
	eventually(t, "the seventh attempt", func() bool { return len(fs.requests()) == 7 })

	fs.setStatus(0)
	clock.waitUntilPlanned(t, at.Add(10*time.Minute))
	clock.Advance(10 * time.Minute)
	if r := receive(t, updates); len(r.Entries) != 10 {
		t.Fatalf("update after recovery %+v", r)
	}
	clock.waitUntilPlanned(t, at.Add(20*time.Minute))
	if st := s.Status()[0]; st.State != StateOK || st.Failures != 0 {
		t.Fatalf("status after recovery %+v", st)
	}
}

func TestSchedulerDelay(t *testing.T) {
	for _, tt := range []struct {
		failures int
		rand     float64
		jitter   float64
		want     time.Duration
	}{
		{0, 0.5, -1, time.Hour},
		{1, 0.5, -1, time.Minute},
		{3, 0.5, -1, 4 * time.Minute},
		{6, 0.5, -1, 32 * time.Minute},
		{7, 0.5, -1, time.Hour},
		{8, 0.5, -1, time.Hour},
		{500, 0.5, -1, time.Hour},
		{0, 0, 0.1, 54 * time.Minute},
		{0, 0.75, 0.1, 63 * time.Minute},
	} {
		s, err := NewScheduler([]Config{{Name: "f", Source: "/x"}}, func(Result) {},
			SchedulerOptions{Jitter: tt.jitter, Rand: func() float64 { return tt.rand }})
		if err != nil {
			t.Fatal(err)
		}
		f := s.Feed("f")
		f.status.Failures = tt.failures
		if got := s.delay(f); got != tt.want {
			t.Errorf("delay after %d failures, rand %v, jitter %v = %v; want %v", tt.failures, tt.rand, tt.jitter, got, tt.want)
		}
	}
}

func TestSchedulerBoundsWorkAndCallbacks(t *testing.T) {
	var active, maxActive atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := active.Add(1)
		defer active.Add(-1)
		for m := maxActive.Load(); n > m && !maxActive.CompareAndSwap(m, n); m = maxActive.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		w.Write([]byte(r.URL.Path[1:] + ".example\n"))
	}))
	defer srv.Close()
	var feeds []Config
	for i := range 5 {
		feeds = append(feeds, Config{Name: "f" + strconv.Itoa(i), Source: srv.URL + "/f" + strconv.Itoa(i)})
	}
	var inCallback, overlap atomic.Int32
	updates := make(chan Result, 16)
	s, err := NewScheduler(feeds, func(r Result) {
		if inCallback.Add(1) > 1 {
			overlap.Add(1)
		}
		time.Sleep(5 * time.Millisecond)
		inCallback.Add(-1)
		updates <- r
	}, SchedulerOptions{Fetcher: &Fetcher{Client: srv.Client()}, Clock: &fakeClock{now: t0}, Workers: 2, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	seen := map[string]bool{}
	for range feeds {
		r := receive(t, updates)
		seen[r.Entries[0].Name] = true
	}
	if len(seen) != 5 {
		t.Fatalf("updates for %v", seen)
	}
	if m := maxActive.Load(); m > 2 {
		t.Fatalf("%d fetches at once with 2 workers", m)
	}
	if overlap.Load() != 0 {
		t.Fatal("callbacks overlapped")
	}
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
}

func TestSchedulerStopCancelsFetches(t *testing.T) {
	fs, srv := startServer(t)
	fs.mu.Lock()
	fs.hang = true
	fs.mu.Unlock()
	s, _ := startScheduler(t, []Config{{Name: "slow", Source: srv.URL}},
		SchedulerOptions{Fetcher: &Fetcher{Client: srv.Client()}, Clock: &fakeClock{now: t0}})
	eventually(t, "the request", func() bool { return len(fs.requests()) == 1 })
	stopped := make(chan struct{})
	go func() {
		s.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return while a fetch hung")
	}
	if st := s.Status()[0]; st.State != StateNever {
		t.Fatalf("shutdown changed the status: %+v", st)
	}
	s.Stop() // twice is fine
}

func TestNewSchedulerValidation(t *testing.T) {
	ok := []Config{{Name: "a", Source: "/a"}}
	if _, err := NewScheduler(ok, nil, SchedulerOptions{}); err == nil {
		t.Error("nil callback accepted")
	}
	if _, err := NewScheduler(append(ok, Config{Name: "a", Source: "/b"}), func(Result) {}, SchedulerOptions{}); err == nil {
		t.Error("duplicate names accepted")
	}
	if _, err := NewScheduler(ok, func(Result) {}, SchedulerOptions{Workers: -1}); err == nil {
		t.Error("negative workers accepted")
	}
	if _, err := NewScheduler(ok, func(Result) {}, SchedulerOptions{Jitter: 1}); err == nil {
		t.Error("jitter of 1 accepted")
	}
	s, err := NewScheduler(nil, func(Result) {}, SchedulerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Stop() // before Start: nothing to do
}
