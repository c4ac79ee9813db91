package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Clock is the time source of a Scheduler; tests drive it by hand.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Scheduler defaults.
const (
	DefaultWorkers  = 2
	DefaultJitter   = 0.1
	DefaultRetryMin = time.Minute
)

// SchedulerOptions tune a Scheduler; zero fields take the defaults.
type SchedulerOptions struct {
	// Fetcher opens sources (nil: a Fetcher with default limits).
	Fetcher *Fetcher
	// Clock is the time source (nil: the system clock).
	Clock Clock
	// Workers bounds how many feeds refresh at the same time
	// (0: DefaultWorkers).
	Workers int
	// Jitter moves every wait by up to this share of it, up or down, so
	// that many resolvers do not hit a feed at the same second
	// (0: DefaultJitter; negative: none).
	Jitter float64
	// RetryMin is the wait after a first failure; it doubles with each
	// further failure up to the feed's interval (0: DefaultRetryMin).
	RetryMin time.Duration
	// Logger receives one record per refresh (nil: slog.Default()).
	Logger *slog.Logger
	// Rand returns numbers in [0, 1) for the jitter (nil: math/rand/v2).
	Rand func() float64
}

// Scheduler refreshes feeds on their intervals and hands every accepted
// version to a callback. One goroutine plans; a fixed number of workers
// fetch. Both belong to the Scheduler and end with Stop.
type Scheduler struct {
	feeds    []*Feed
	byName   map[string]int
	onUpdate func(Result)
	opts     SchedulerOptions
	log      *slog.Logger

	deliver sync.Mutex // callbacks run one at a time
	trigger chan int   // RefreshNow requests; capacity len(feeds)
	mu      sync.Mutex // guards cancel and started
	cancel  func()     // stops the running scheduler
	started bool       // Start was called
	wg      sync.WaitGroup
}

// NewScheduler checks the feed configurations and returns a scheduler
// that, once started, refreshes each feed at once and then on its
// interval. onUpdate receives each newly accepted version; it is never
// called for an unchanged, rejected or failed fetch, never for two versions
// at the same time, and it should return promptly (other feeds' updates
// wait for it).
func NewScheduler(feeds []Config, onUpdate func(Result), opts SchedulerOptions) (*Scheduler, error) {
	if onUpdate == nil {
		return nil, errors.New("feed: scheduler without an update callback")
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Fetcher == nil {
		opts.Fetcher = &Fetcher{}
	}
	if opts.Workers == 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Workers < 0 {
		return nil, fmt.Errorf("feed: %d workers", opts.Workers)
	}
	if opts.Jitter == 0 {
		opts.Jitter = DefaultJitter
	}
	if opts.Jitter >= 1 {
		return nil, fmt.Errorf("feed: jitter %v must be below 1", opts.Jitter)
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = DefaultRetryMin
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	s := &Scheduler{
		byName:   make(map[string]int, len(feeds)),
		onUpdate: onUpdate,
		opts:     opts,
		log:      opts.Logger,
		trigger:  make(chan int, len(feeds)),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, c := range feeds {
		if _, dup := s.byName[c.Name]; dup {
			return nil, fmt.Errorf("feed: two feeds named %q", c.Name)
		}
		f, err := NewFeed(c, opts.Fetcher, opts.Clock.Now)
		if err != nil {
			return nil, err
		}
		s.byName[c.Name] = len(s.feeds)
		s.feeds = append(s.feeds, f)
	}
	return s, nil
}

// Feed returns the named feed, or nil. Call its Restore before Start to
// resume from a version kept across a restart. To refresh it out of turn
// use RefreshNow: the result of a direct Refresh goes to its caller only,
// not to the update callback.
func (s *Scheduler) Feed(name string) *Feed {
	if i, ok := s.byName[name]; ok {
		return s.feeds[i]
	}
	return nil
}

// Status returns the status of every feed, in configuration order.
func (s *Scheduler) Status() []Status {
	out := make([]Status, len(s.feeds))
	for i, f := range s.feeds {
		out[i] = f.Status()
	}
	return out
}

// ErrUnknownFeed is returned by RefreshNow for a name not configured.
var ErrUnknownFeed = errors.New("feed: unknown feed")

// RefreshNow asks for the named feed to be refreshed as soon as a worker is
// free, without waiting for it. A request for a feed that is being
// refreshed runs once more after it; requests made while one is already
// pending are merged into it.
func (s *Scheduler) RefreshNow(name string) error {
	i, ok := s.byName[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownFeed, name)
	}
	select {
	case s.trigger <- i:
	default: // full: a request is pending for every feed already
	}
	return nil
}

// Start launches the scheduler; it runs until ctx ends or Stop is called.
// A Scheduler starts once.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("feed: scheduler already started")
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(ctx)
	// Both channels hold one slot per feed and a feed is never queued or
	// running twice, so neither send can block.
	jobs := make(chan int, len(s.feeds))
	done := make(chan int, len(s.feeds))
	for range s.opts.Workers {
		s.wg.Go(func() { s.work(ctx, jobs, done) })
	}
	s.wg.Go(func() {
		defer close(jobs)
		s.plan(ctx, jobs, done)
	})
	return nil
}

// Stop ends the scheduler, cancelling refreshes in flight, and returns
// once its goroutines have exited (an update callback in progress
// finishes first). It may be called more than once.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
}

// plan decides when each feed is due and hands due feeds to the workers.
func (s *Scheduler) plan(ctx context.Context, jobs, done chan int) {
	n := len(s.feeds)
	next := make([]time.Time, n) // when each feed is due
	running := make([]bool, n)
	again := make([]bool, n) // refresh requested while running
	now := s.opts.Clock.Now()
	for i := range next {
		next[i] = now
	}
	for {
		now = s.opts.Clock.Now()
		var wake time.Time
		for i := range n {
			switch {
			case running[i]:
			case !next[i].After(now):
				running[i] = true
				jobs <- i
			case wake.IsZero() || next[i].Before(wake):
				wake = next[i]
			}
		}
		var timer <-chan time.Time
		if !wake.IsZero() {
			timer = s.opts.Clock.After(wake.Sub(now))
		}
		select {
		case <-ctx.Done():
			return
		case i := <-done:
			running[i] = false
			now = s.opts.Clock.Now()
			if again[i] {
				again[i] = false
				next[i] = now
			} else {
				next[i] = now.Add(s.delay(s.feeds[i]))
			}
		case i := <-s.trigger:
			if running[i] {
				again[i] = true
			} else {
				next[i] = now
			}
		case <-timer:
		}
	}
}

// delay is the wait before a feed's next refresh: its interval after a
// success, an exponential backoff from RetryMin after failures, with
// jitter.
func (s *Scheduler) delay(f *Feed) time.Duration {
	d := f.Interval()
	if fails := f.Status().Failures; fails > 0 {
		backoff := s.opts.RetryMin
		for i := 1; i < fails && backoff < d; i++ {
			backoff *= 2
		}
		d = min(backoff, d)
	}
	if s.opts.Jitter > 0 {
		d += time.Duration(float64(d) * s.opts.Jitter * (2*s.opts.Rand() - 1))
	}
	return d
}

func (s *Scheduler) work(ctx context.Context, jobs <-chan int, done chan<- int) {
	for i := range jobs {
		if ctx.Err() == nil {
			s.refresh(ctx, s.feeds[i])
		}
		done <- i
	}
}

func (s *Scheduler) refresh(ctx context.Context, f *Feed) {
	res, err := f.Refresh(ctx)
	st := f.Status()
	attrs := []any{
		slog.String("feed", f.Name()),
		slog.String("source", st.Source),
		slog.Int("entries", st.Entries),
		slog.Duration("duration", st.Duration),
	}
	var rejected *RejectedError
	switch {
	case res != nil:
		// Delivered even when shutting down: the feed already counts this
		// version as current.
		s.log.Info("feed updated", append(attrs,
			slog.Int("invalid", res.Report.Invalid), slog.Int("skipped", res.Report.Skipped))...)
		s.deliver.Lock()
		defer s.deliver.Unlock()
		s.onUpdate(*res)
	case ctx.Err() != nil:
		return
	case errors.As(err, &rejected):
		s.log.Warn("feed version rejected", append(attrs, slog.String("reason", rejected.Reason))...)
	case err != nil:
		s.log.Warn("feed refresh failed", append(attrs, slog.String("error", st.Reason), slog.Int("failures", st.Failures))...)
	default:
		s.log.Debug("feed unchanged", attrs...)
	}
}
