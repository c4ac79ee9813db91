package pdns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// report writes the node's heartbeat and what it knows of each feed to the
// database (the office's feed page reads them), and refreshes the feed
// metrics.
func (n *Node) report(ctx context.Context) {
	if n.sched == nil {
		return
	}
	now := time.Now().UTC()
	current := map[string]FeedStatus{}
	for _, s := range n.sched.Status() {
		fs := FeedStatus{FeedID: s.Feed, NodeID: n.id, State: string(s.State), Entries: int64(s.Entries), Reason: s.Reason,
			Failures: int64(s.Failures), Duration: s.Duration, LastAttempt: s.LastAttempt, LastSuccess: s.LastSuccess, LastChange: s.LastChange}
		if s.Entries > 0 || s.State == "ok" {
			fs.Format = s.Format.String()
		}
		current[s.Feed] = fs
	}
	n.metrics.setFeeds(n.st.Feeds, current)
	if time.Since(n.lastBeat) >= heartbeatEvery || n.beatVersion != n.st.Version || n.beatNames != n.list.Len() {
		n.heartbeat(ctx)
	}
	for fid, fs := range current {
		if old, ok := n.written[fid]; ok && sameStatus(old, fs) {
			continue
		}
		if err := upsertFeedStatus(ctx, n.cfg.DB, fs, now); err != nil {
			if ctx.Err() == nil {
				n.log.Warn("dns: report feed status", "feed_id", fid, "err", err)
			}
			continue
		}
		n.written[fid] = fs
	}
	for fid := range n.written {
		if _, ok := current[fid]; ok {
			continue
		}
		// Turned off or removed: this node no longer fetches it.
		if _, err := n.cfg.DB.ExecContext(ctx, "DELETE FROM dns_feed_status WHERE feed_id = ? AND node_id = ?", fid, n.id); err == nil {
			delete(n.written, fid)
		}
	}
}

func sameStatus(a, b FeedStatus) bool {
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	return a == b
}

func upsertFeedStatus(ctx context.Context, d *db.DB, s FeedStatus, now time.Time) error {
	_, err := d.ExecContext(ctx, `INSERT INTO dns_feed_status (feed_id, node_id, state, entries, format, reason, failures, duration_ms, last_attempt, last_success, last_change, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (feed_id, node_id) DO UPDATE SET state = excluded.state, entries = excluded.entries, format = excluded.format,
			reason = excluded.reason, failures = excluded.failures, duration_ms = excluded.duration_ms, last_attempt = excluded.last_attempt,
			last_success = excluded.last_success, last_change = excluded.last_change, updated_at = excluded.updated_at`,
		s.FeedID, s.NodeID, s.State, s.Entries, s.Format, truncate(s.Reason, 2000), s.Failures, s.Duration.Milliseconds(),
		db.Time(s.LastAttempt), db.Time(s.LastSuccess), db.Time(s.LastChange), db.TS(now))
	if err != nil {
		return fmt.Errorf("pdns: upsert feed status: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// heartbeat records the node in dns_nodes.
func (n *Node) heartbeat(ctx context.Context) {
	now := time.Now().UTC()
	_, err := n.cfg.DB.ExecContext(ctx, `INSERT INTO dns_nodes (id, hostname, dns_addr, dot_addr, doh_url, version, policy_version, list_names, started_at, seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, dns_addr = excluded.dns_addr, dot_addr = excluded.dot_addr, doh_url = excluded.doh_url,
			version = excluded.version, policy_version = excluded.policy_version, list_names = excluded.list_names, started_at = excluded.started_at, seen_at = excluded.seen_at`,
		n.id, n.cfg.Hostname, n.engine.Addr(querylog.UDP), n.engine.Addr(querylog.DoT), n.cfg.DoHURL, n.cfg.Version, n.st.Version, int64(n.list.Len()),
		db.TS(n.startedAt), db.TS(now))
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("dns: node heartbeat", "err", err)
		}
		return
	}
	n.lastBeat, n.beatVersion, n.beatNames = now, n.st.Version, n.list.Len()
}

// nodeMetrics are the node's own Prometheus metrics: feeds, snapshot
// builds, the policy version and the query log writer.
type nodeMetrics struct {
	n                                                           *Node
	builds, failures                                            atomic.Uint64
	version                                                     atomic.Int64
	listSeconds                                                 atomic.Uint64 // float64 bits
	mu                                                          sync.Mutex
	feeds                                                       []feedMetric
	descFeedEntries, descFeedSuccess, descFeedUp, descFeedFails *prometheus.Desc
	descBuilds, descVersion, descListSecs                       *prometheus.Desc
	descWritten, descLost, descWriteErr                         *prometheus.Desc
}

type feedMetric struct {
	name        string
	entries     float64
	lastSuccess float64
	up          float64
	failures    float64
}

func newNodeMetrics(n *Node) *nodeMetrics {
	m := &nodeMetrics{n: n}
	m.descFeedEntries = prometheus.NewDesc("qsmo_dns_feed_entries", "Entries of the version of each feed in force.", []string{"feed"}, nil)
	m.descFeedSuccess = prometheus.NewDesc("qsmo_dns_feed_last_success_timestamp_seconds", "When each feed was last fetched or confirmed unchanged.", []string{"feed"}, nil)
	m.descFeedUp = prometheus.NewDesc("qsmo_dns_feed_up", "1 when the last attempt to fetch the feed succeeded, 0 when it failed or was rejected.", []string{"feed"}, nil)
	m.descFeedFails = prometheus.NewDesc("qsmo_dns_feed_consecutive_failures", "Attempts in a row that failed or were rejected.", []string{"feed"}, nil)
	m.descBuilds = prometheus.NewDesc("qsmo_dns_snapshot_builds_total", "Resolver snapshots built from the database, by result.", []string{"result"}, nil)
	m.descVersion = prometheus.NewDesc("qsmo_dns_policy_version", "Policy version of the snapshot in force.", nil, nil)
	m.descListSecs = prometheus.NewDesc("qsmo_dns_list_build_seconds", "Time the last rebuild of the shared list took.", nil, nil)
	m.descWritten = prometheus.NewDesc("qsmo_dns_querylog_written_total", "Query log records written to disk.", nil, nil)
	m.descLost = prometheus.NewDesc("qsmo_dns_querylog_lost_total", "Query log records given up after failed writes.", nil, nil)
	m.descWriteErr = prometheus.NewDesc("qsmo_dns_querylog_write_errors_total", "Failed query log writes (each retry counts).", nil, nil)
	return m
}

func (m *nodeMetrics) buildFailed() { m.failures.Add(1) }

func (m *nodeMetrics) built(version int64, listTime time.Duration) {
	m.builds.Add(1)
	m.version.Store(version)
	if listTime > 0 {
		m.listSeconds.Store(math.Float64bits(listTime.Seconds()))
	}
}

func (m *nodeMetrics) setFeeds(feeds []Feed, st map[string]FeedStatus) {
	var out []feedMetric
	for _, f := range feeds {
		s, ok := st[f.ID]
		if !ok {
			continue
		}
		fm := feedMetric{name: f.Name, entries: float64(s.Entries), failures: float64(s.Failures)}
		if !s.LastSuccess.IsZero() {
			fm.lastSuccess = float64(s.LastSuccess.Unix())
		}
		if s.State == "ok" {
			fm.up = 1
		}
		out = append(out, fm)
	}
	m.mu.Lock()
	m.feeds = out
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *nodeMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.descFeedEntries, m.descFeedSuccess, m.descFeedUp, m.descFeedFails, m.descBuilds, m.descVersion,
		m.descListSecs, m.descWritten, m.descLost, m.descWriteErr} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *nodeMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	feeds := m.feeds
	m.mu.Unlock()
	for _, f := range feeds {
		ch <- prometheus.MustNewConstMetric(m.descFeedEntries, prometheus.GaugeValue, f.entries, f.name)
		ch <- prometheus.MustNewConstMetric(m.descFeedSuccess, prometheus.GaugeValue, f.lastSuccess, f.name)
		ch <- prometheus.MustNewConstMetric(m.descFeedUp, prometheus.GaugeValue, f.up, f.name)
		ch <- prometheus.MustNewConstMetric(m.descFeedFails, prometheus.GaugeValue, f.failures, f.name)
	}
	ch <- prometheus.MustNewConstMetric(m.descBuilds, prometheus.CounterValue, float64(m.builds.Load()), "ok")
	ch <- prometheus.MustNewConstMetric(m.descBuilds, prometheus.CounterValue, float64(m.failures.Load()), "error")
	ch <- prometheus.MustNewConstMetric(m.descVersion, prometheus.GaugeValue, float64(m.version.Load()))
	ch <- prometheus.MustNewConstMetric(m.descListSecs, prometheus.GaugeValue, math.Float64frombits(m.listSeconds.Load()))
	if w := m.n.writer; w != nil {
		st := w.Stats()
		ch <- prometheus.MustNewConstMetric(m.descWritten, prometheus.CounterValue, float64(st.Written))
		ch <- prometheus.MustNewConstMetric(m.descLost, prometheus.CounterValue, float64(st.Lost))
		ch <- prometheus.MustNewConstMetric(m.descWriteErr, prometheus.CounterValue, float64(st.SinkErrors))
	}
}
