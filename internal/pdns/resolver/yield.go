package resolver

import (
	"sync/atomic"
	"time"
)

// Long work beside the query path (a list build, a snapshot) shares the
// cores with the listeners. With one core (GOMAXPROCS=1) the Go scheduler
// lets a running goroutine keep the processor for up to 10 ms before it
// preempts it, and it polls the network only between goroutines;
// runtime.Gosched does not help, because the yielding goroutine goes back
// to the run queue, which is served before the network. A short sleep parks
// the goroutine instead: the scheduler finds nothing else to run, polls the
// network at once and answers the queries that arrived meanwhile.
//
// When no query arrives during that sleep it lasts about a millisecond (the
// network poller waits in whole milliseconds), which would make a large
// build several times slower on an idle or lightly used server; so Yield
// sleeps only while queries arrive at a steady rate. Below that rate a query
// that comes during a build waits at most for the scheduler's preemption.
const (
	yieldSleep = 20 * time.Microsecond
	// yieldWindow is how often Yield re-estimates the query rate; it spans
	// a preemption slice, so that queries answered only after the scheduler
	// preempted the work still count.
	yieldWindow = 10 * time.Millisecond
	// yieldBusyReads is the number of reads per window from which Yield
	// sleeps (800 queries a second).
	yieldBusyReads = 8
)

// activity counts the listeners' reads for Yield.
type activity struct {
	epoch  time.Time     // the engine's clock at its creation
	reads  atomic.Uint64 // queries read by the listeners
	window atomic.Int64  // start of the current window, time since epoch
	seen   atomic.Uint64 // reads at the window's start
	busy   atomic.Bool   // the last window had a steady rate of queries
}

// read counts n queries read by a listener.
func (a *activity) read(n int) { a.reads.Add(uint64(n)) }

// Yield gives the engine's listeners a turn during long work on the same
// cores: while queries arrive at a steady rate it sleeps briefly, which lets
// the scheduler answer them; otherwise it returns at once. Call it every few
// hundred microseconds of work (blocklist.Builder.Yield, a loop over a
// million names). Safe for concurrent use.
func (e *Engine) Yield() {
	if e.Busy() {
		time.Sleep(yieldSleep)
	}
}

// Busy reports whether queries arrived at a steady rate (800 a second or
// more) lately, measured over the time since the previous estimate, at
// least 10 ms. Work that would hold the processor for long in one go
// (returning all free memory to the system) can wait while it is true.
func (e *Engine) Busy() bool {
	a := &e.activity
	now := int64(e.cfg.Now().Sub(a.epoch))
	if elapsed := now - a.window.Load(); elapsed >= int64(yieldWindow) {
		r := a.reads.Load()
		// A rate over the time since the last estimate: a long quiet gap
		// between two builds does not count as busy.
		a.busy.Store((r-a.seen.Load())*uint64(yieldWindow) >= yieldBusyReads*uint64(elapsed))
		a.seen.Store(r)
		a.window.Store(now)
	}
	return a.busy.Load()
}
