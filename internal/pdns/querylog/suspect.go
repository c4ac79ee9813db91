package querylog

import (
	"log/slog"
	"net/netip"
	"time"
)

// SuspectOptions configures the notification sent when a client looks
// infected: it queried names of the "c2" or "malware" categories at least
// Threshold times within one Window.
type SuspectOptions struct {
	// Threshold is the number of c2/malware queries in a window that makes a
	// client suspected. Default 5.
	Threshold uint64
	// Window is the length of the fixed, UTC-aligned counting windows.
	// Default one hour.
	Window time.Duration
	// Notify is called once per client and window, when the client reaches
	// Threshold. It runs on a goroutine owned by the Store, one event at a
	// time; slow callbacks make later events wait, and events beyond a
	// backlog of 256 are dropped and counted (StoreStats.SuspectDropped).
	// Nil disables notifications (the SuspectedClients rollup still works).
	Notify func(SuspectEvent)
}

// SuspectEvent reports a client that crossed the suspect threshold.
type SuspectEvent struct {
	Tenant      string     // organization ID of the agency
	Client      netip.Addr // the suspected client
	Hits        uint64     // c2/malware queries in the window when notified (= Threshold)
	WindowStart time.Time  // start of the counting window (UTC)
	Window      time.Duration
	Time        time.Time // time of the query that crossed the threshold
	QName       string    // the name queried by that query
	Category    string    // its category ("c2" or "malware")
	Rule        string    // the rule that matched it
}

const (
	maxSuspectWindows = 1 << 17 // (tenant, client) pairs counted at once
	suspectBacklog    = 256
)

type suspectKey struct {
	tenant string
	client netip.Addr
}

type suspectWindow struct {
	start    int64
	hits     uint64
	notified bool
}

// suspectTracker counts c2/malware hits per client in the current window.
// It runs on the writer goroutine under the Store mutex.
type suspectTracker struct {
	threshold uint64
	window    int64
	current   int64 // newest window start seen
	counts    map[suspectKey]*suspectWindow
	untracked uint64 // hits not counted because the map was full
}

func newSuspectTracker(o SuspectOptions) *suspectTracker {
	return &suspectTracker{threshold: o.Threshold, window: int64(o.Window), counts: make(map[suspectKey]*suspectWindow)}
}

// observe counts r and returns true with the event when r makes its client
// cross the threshold.
func (t *suspectTracker) observe(r *Record) (SuspectEvent, bool) {
	if !r.Client.IsValid() || !(isCategory(r.Category, CategoryC2) || isCategory(r.Category, CategoryMalware)) {
		return SuspectEvent{}, false
	}
	start := r.Time - mod(r.Time, t.window)
	if start > t.current {
		t.current = start
		for k, w := range t.counts {
			if w.start < start {
				delete(t.counts, k)
			}
		}
	}
	if start < t.current {
		return SuspectEvent{}, false // late record of a closed window
	}
	key := suspectKey{r.Tenant, r.Client.Unmap().WithZone("")}
	w := t.counts[key]
	if w == nil {
		if len(t.counts) >= maxSuspectWindows {
			t.untracked++
			return SuspectEvent{}, false
		}
		w = &suspectWindow{start: start}
		t.counts[key] = w
	}
	w.hits++
	if w.notified || w.hits < t.threshold {
		return SuspectEvent{}, false
	}
	w.notified = true
	return SuspectEvent{
		Tenant:      r.Tenant,
		Client:      key.client,
		Hits:        w.hits,
		WindowStart: time.Unix(0, start).UTC(),
		Window:      time.Duration(t.window),
		Time:        time.Unix(0, r.Time).UTC(),
		QName:       r.QName(),
		Category:    r.Category,
		Rule:        r.Rule,
	}, true
}

// mod is the non-negative remainder, so that windows align for any time.
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// runNotifier delivers events to fn until ch is closed. A panicking callback
// is logged and does not stop later notifications.
func runNotifier(ch <-chan SuspectEvent, fn func(SuspectEvent), log *slog.Logger) {
	for ev := range ch {
		func() {
			defer func() {
				if p := recover(); p != nil {
					log.Error("querylog: suspect notification callback panicked", "org_id", ev.Tenant, "client_ip", ev.Client, "panic", p)
				}
			}()
			fn(ev)
		}()
	}
}
