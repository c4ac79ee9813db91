package feed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Refresh intervals.
const (
	DefaultInterval = time.Hour
	MinInterval     = 10 * time.Second
)

// Config describes one feed.
type Config struct {
	// Name identifies the feed in logs, status and results; unique within
	// a Scheduler.
	Name string
	// Source is a file path or an http(s) URL (see ParseSource).
	Source string
	// Format of the feed; FormatAuto detects it on every fetch.
	Format Format
	// Origin is the RPZ zone name when the zone file does not state it.
	Origin string
	// Interval between refreshes (0: DefaultInterval; at least MinInterval).
	Interval time.Duration
	// MaxEntries fails a version with more entries (0: DefaultMaxEntries).
	MaxEntries int
	// Guard decides whether a new version may replace the last good one.
	Guard Guard
}

// Guard thresholds. A new version is rejected, and the last good version
// kept, when it fails to parse, when too many of its rules are invalid, or
// when it holds far fewer entries than the last good version: an
// upstream outage that serves an error page or a truncated file must not
// silently unblock what the feed used to block.
type Guard struct {
	// MaxInvalidRatio rejects a version whose invalid rules exceed this
	// share of all its rules (0: DefaultMaxInvalidRatio; negative: no check).
	MaxInvalidRatio float64
	// MinSizeRatio rejects a version with fewer entries than this share of
	// the last good version's (0: DefaultMinSizeRatio; negative: no check).
	MinSizeRatio float64
}

// Guard defaults.
const (
	DefaultMaxInvalidRatio = 0.10
	DefaultMinSizeRatio    = 0.50
)

func (g Guard) withDefaults() Guard {
	if g.MaxInvalidRatio == 0 {
		g.MaxInvalidRatio = DefaultMaxInvalidRatio
	}
	if g.MinSizeRatio == 0 {
		g.MinSizeRatio = DefaultMinSizeRatio
	}
	return g
}

// check returns why rep may not replace the last good version, or "".
func (g Guard) check(rep *Report, good *Version) string {
	if g.MaxInvalidRatio >= 0 && rep.InvalidRatio() > g.MaxInvalidRatio {
		reason := fmt.Sprintf("%d of %d rules invalid (%.1f%%, limit %.1f%%)",
			rep.Invalid, rep.Rules, 100*rep.InvalidRatio(), 100*g.MaxInvalidRatio)
		if len(rep.Errors) > 0 {
			reason += "; first: " + rep.Errors[0].Error()
		}
		return reason
	}
	if g.MinSizeRatio >= 0 && good != nil && float64(rep.Entries) < g.MinSizeRatio*float64(good.Entries) {
		return fmt.Sprintf("shrank to %d entries from %d (below %.0f%% of the last good version)",
			rep.Entries, good.Entries, 100*g.MinSizeRatio)
	}
	return ""
}

// RejectedError is returned by Refresh when a fetched version fails the
// guard; the last good version stays in force.
type RejectedError struct {
	Reason string
}

// Error returns the reason with the package prefix.
func (e *RejectedError) Error() string { return "feed: new version rejected: " + e.Reason }

// Version describes an accepted version of a feed.
type Version struct {
	Validators
	Hash      string    // SHA-256 of the content, hex
	Entries   int       // number of entries
	Format    Format    // format parsed
	FetchedAt time.Time // when it was fetched
}

// Result is a newly accepted version with its entries, for the resolver to
// swap in.
type Result struct {
	Feed    string
	Entries []Entry
	Report  Report
	Version Version
}

// State of a feed.
type State string

// States.
const (
	StateNever    State = "never_fetched"
	StateOK       State = "ok"       // the last attempt confirmed or replaced the version
	StateRejected State = "rejected" // the last attempt fetched a version the guard refused
	StateError    State = "error"    // the last attempt could not fetch
)

// Status is what an operator sees of a feed.
type Status struct {
	Feed         string
	Source       string // credentials and query values redacted
	State        State
	LastAttempt  time.Time
	LastSuccess  time.Time     // last attempt that ended in state ok
	LastChange   time.Time     // when the current version was accepted
	Entries      int           // entries of the current (last good) version
	Format       Format        // format of the current version
	Reason       string        // why the last attempt was rejected or failed
	ETag         string        // validators of the current version
	LastModified string        // HTTP Last-Modified, or the file time
	Duration     time.Duration // of the last attempt
	Failures     int           // consecutive attempts in state error or rejected
	// Report of the last version parsed, accepted or rejected; nil before
	// the first. Shared: read it, do not change it.
	Report *Report
}

// Feed is one configured feed with its last good version. Refresh may be
// called from any goroutine; calls for one feed run one at a time.
type Feed struct {
	cfg     Config
	src     Source
	fetcher *Fetcher
	now     func() time.Time

	refresh sync.Mutex // one refresh at a time

	mu     sync.Mutex // guards the fields below
	status Status
	good   *Version
}

// NewFeed checks cfg and returns the feed, never fetched yet. now is the
// clock (nil: time.Now).
func NewFeed(cfg Config, fetcher *Fetcher, now func() time.Time) (*Feed, error) {
	if strings.TrimSpace(cfg.Name) == "" {
		return nil, errors.New("feed: config without a name")
	}
	src, err := ParseSource(cfg.Source)
	if err != nil {
		return nil, fmt.Errorf("feed %q: %w", cfg.Name, err)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Interval < MinInterval {
		return nil, fmt.Errorf("feed %q: interval %v is shorter than %v", cfg.Name, cfg.Interval, MinInterval)
	}
	if cfg.Guard.MaxInvalidRatio > 1 || cfg.Guard.MinSizeRatio > 1 {
		return nil, fmt.Errorf("feed %q: guard ratios must not exceed 1", cfg.Name)
	}
	cfg.Guard = cfg.Guard.withDefaults()
	if _, err := cfg.parseOptions().withDefaults(); err != nil {
		return nil, fmt.Errorf("feed %q: %w", cfg.Name, err)
	}
	if fetcher == nil {
		fetcher = &Fetcher{}
	}
	if now == nil {
		now = time.Now
	}
	return &Feed{
		cfg: cfg, src: src, fetcher: fetcher, now: now,
		status: Status{Feed: cfg.Name, Source: src.String(), State: StateNever},
	}, nil
}

func (c *Config) parseOptions() ParseOptions {
	return ParseOptions{Format: c.Format, MaxEntries: c.MaxEntries, Origin: c.Origin}
}

// Name returns the configured name.
func (f *Feed) Name() string { return f.cfg.Name }

// Interval returns the time between refreshes.
func (f *Feed) Interval() time.Duration { return f.cfg.Interval }

// Status returns a snapshot of the feed's status.
func (f *Feed) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

// Restore makes v the last good version without fetching, for a caller
// that kept the entries of v across a restart: the next Refresh asks the
// source whether it changed since v, and the guard compares with v.
func (f *Feed) Restore(v Version) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.good = &v
	f.status.State = StateOK
	f.status.LastSuccess = v.FetchedAt
	f.status.LastChange = v.FetchedAt
	f.setVersion(v)
}

// Refresh fetches the feed and returns the new version's entries when one
// was accepted. It returns (nil, nil) when the source has not changed
// (HTTP 304, same file time and size, or same content), a *RejectedError
// when the guard refused the new version, and another error when the
// source could not be fetched. In every case but success the last good
// version stays in force. When ctx is cancelled (shutdown), the status is
// left as it was.
func (f *Feed) Refresh(ctx context.Context) (*Result, error) {
	f.refresh.Lock()
	defer f.refresh.Unlock()
	start := f.now()
	f.mu.Lock()
	good := f.good
	f.mu.Unlock()
	var prev Validators
	if good != nil {
		prev = good.Validators
	}

	resp, err := f.fetcher.Open(ctx, f.src, prev)
	if err != nil {
		return nil, f.fail(ctx, start, StateError, err, nil)
	}
	if resp.NotModified {
		f.unchanged(start, resp.Validators)
		return nil, nil
	}
	body := &recordingReader{r: resp.Body, h: sha256.New()}
	entries, rep, err := Parse(body, f.cfg.parseOptions())
	resp.Body.Close()
	switch {
	case body.err != nil:
		return nil, f.fail(ctx, start, StateError, body.err, nil)
	case err != nil:
		return nil, f.fail(ctx, start, StateRejected, &RejectedError{Reason: strings.TrimPrefix(err.Error(), "feed: ")}, &rep)
	}
	sum := hex.EncodeToString(body.h.Sum(nil))
	if good != nil && sum == good.Hash {
		f.unchanged(start, resp.Validators)
		return nil, nil
	}
	if reason := f.cfg.Guard.check(&rep, good); reason != "" {
		return nil, f.fail(ctx, start, StateRejected, &RejectedError{Reason: reason}, &rep)
	}
	v := Version{Validators: resp.Validators, Hash: sum, Entries: len(entries), Format: rep.Format, FetchedAt: start}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.good = &v
	f.status.LastChange = start
	f.setVersion(v)
	f.succeed(start)
	f.status.Report = &rep
	return &Result{Feed: f.cfg.Name, Entries: entries, Report: rep, Version: v}, nil
}

// unchanged records an attempt that found the last good version in place.
func (f *Feed) unchanged(start time.Time, v Validators) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.good != nil {
		// Keep validators fresh (a server may change its ETag format, a
		// file may be touched) so the next attempt stays cheap.
		g := *f.good
		g.Validators = v
		f.good = &g
		f.setVersion(g)
	}
	f.succeed(start)
}

func (f *Feed) succeed(start time.Time) {
	f.status.State = StateOK
	f.status.Reason = ""
	f.status.LastAttempt = start
	f.status.LastSuccess = start
	f.status.Duration = f.now().Sub(start)
	f.status.Failures = 0
}

func (f *Feed) fail(ctx context.Context, start time.Time, state State, err error, rep *Report) error {
	if ctx.Err() != nil {
		return err // shutting down: this attempt says nothing about the feed
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.State = state
	f.status.Reason = strings.TrimPrefix(err.Error(), "feed: ")
	f.status.LastAttempt = start
	f.status.Duration = f.now().Sub(start)
	f.status.Failures++
	if rep != nil {
		f.status.Report = rep
	}
	return err
}

// setVersion copies the current version's facts into the status; f.mu held.
func (f *Feed) setVersion(v Version) {
	f.status.Entries = v.Entries
	f.status.Format = v.Format
	f.status.ETag = v.ETag
	f.status.LastModified = v.LastModified
	if v.LastModified == "" && !v.ModTime.IsZero() {
		f.status.LastModified = v.ModTime.UTC().Format(http.TimeFormat)
	}
}

// recordingReader hashes what it reads and keeps the first read error, so
// a failed download (an error state) is told apart from content the parser
// refused (a rejection).
type recordingReader struct {
	r   io.Reader
	h   hash.Hash
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}
