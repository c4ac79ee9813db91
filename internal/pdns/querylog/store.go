package querylog

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// StoreOptions configures a Store. The zero value selects the defaults.
type StoreOptions struct {
	// Retention is how long segments are kept, counted from the end of
	// their hour. Default 30 days. Monthly counts are kept longer (MonthsKept).
	Retention time.Duration
	// SealGrace is how long after its hour ends a part stays open for late
	// records before it is synced, summarized and closed. Default 2 minutes.
	SealGrace time.Duration
	// SyncEvery bounds how long written records stay in the page cache
	// before fsync (what a power loss can take). Default 5 seconds.
	SyncEvery time.Duration
	// MonthsKept is how many months of monthly counts are kept. Default 36.
	MonthsKept int
	// Suspect configures the suspected-infected-client notification.
	Suspect SuspectOptions
	// Logger receives errors and lifecycle messages. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock, replaced in tests. Default time.Now.
	Now func() time.Time
}

func (o *StoreOptions) setDefaults() {
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.SealGrace <= 0 {
		o.SealGrace = 2 * time.Minute
	}
	if o.SyncEvery <= 0 {
		o.SyncEvery = 5 * time.Second
	}
	if o.MonthsKept <= 0 {
		o.MonthsKept = 36
	}
	if o.Suspect.Threshold == 0 {
		o.Suspect.Threshold = 5
	}
	if o.Suspect.Window <= 0 {
		o.Suspect.Window = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// StoreStats are counters for monitoring.
type StoreStats struct {
	Records        uint64 // records written since the store was opened
	Blocks         uint64 // blocks written
	Bytes          uint64 // segment bytes written
	WriteErrors    uint64 // failed WriteBatch calls
	ClampedTimes   uint64 // records whose time was outside [now-retention, now+1h] and was set to now
	OpenParts      int    // parts being written
	Parts          int    // parts on disk, open and sealed
	DeletedParts   uint64 // parts removed by retention
	SuspectEvents  uint64 // suspected-client notifications queued
	SuspectDropped uint64 // notifications dropped because the callback fell behind
}

const (
	hourNs         = int64(time.Hour)
	maxOpenParts   = 4 // hours written at once (current, previous, a few late or skewed ones)
	retentionEvery = 10 * time.Minute
	maintainEvery  = time.Second
)

// Store is the default Sink: hourly append-only segment files of compact
// binary records in one directory, with per-tenant rollups beside them. It
// serves Search and the rollup queries. All methods are safe for concurrent
// use; WriteBatch is meant to be called by one Writer.
type Store struct {
	dir string
	opt StoreOptions
	log *slog.Logger

	mu            sync.Mutex
	closed        bool
	parts         map[partKey]*partMeta
	open          map[int64]*openPart // by hour
	lastPart      map[int64]uint32    // highest part number per hour
	book          *monthlyBook
	tracker       *suspectTracker
	lastRetention time.Time
	stats         StoreStats
	groups        []hourGroup // WriteBatch scratch
	touched       []*openPart // WriteBatch scratch

	sections *lru[sectionKey, *tenantRoll] // decoded rollup sections of sealed parts
	indexes  *lru[partKey, *indexEntry]    // block index and dictionary of parts

	notify     chan SuspectEvent
	notifyDone chan struct{}
	stop       chan struct{}
	done       chan struct{}
}

type partKey struct {
	hour int64 // unix ns of the hour start
	part uint32
}

func (k partKey) name() string {
	return fmt.Sprintf("qlog-%s-%04d", time.Unix(0, k.hour).UTC().Format("20060102T15"), k.part)
}

// parsePartName is the inverse of partKey.name.
func parsePartName(base string) (partKey, bool) {
	rest, ok := strings.CutPrefix(base, "qlog-")
	if !ok || len(rest) < len("20060102T15-0") || rest[11] != '-' {
		return partKey{}, false
	}
	t, err := time.Parse("20060102T15", rest[:11])
	if err != nil {
		return partKey{}, false
	}
	var n uint32
	for _, c := range rest[12:] {
		if c < '0' || c > '9' || n > (1<<32-1)/10-9 {
			return partKey{}, false
		}
		n = n*10 + uint32(c-'0')
	}
	if n == 0 {
		return partKey{}, false
	}
	return partKey{hour: t.UnixNano(), part: n}, true
}

type partMeta struct {
	key    partKey
	name   string
	size   int64 // valid bytes: written so far (open) or summarized (sealed)
	sealed bool
	sum    *partSummary // rollup index of a sealed part
	open   *openPart
}

type openPart struct {
	meta      *partMeta
	f         *os.File
	enc       *segEncoder
	roll      *rollup
	buf       []byte
	pre       int64 // size before the batch being written
	lastWrite time.Time
	lastSync  time.Time
	dirty     bool
	lastT     *byte // tenant string of the previous record, by address
	lastTN    int
	lastTR    *tenantRoll
}

type hourGroup struct {
	hour int64
	recs []*Record
}

// OpenStore opens (creating if needed) the query log in dir. Parts left
// open by a crash are checked, their torn tails ignored, and their rollups
// rebuilt before OpenStore returns. Close the Store to stop its maintenance
// goroutine and seal the open parts.
func OpenStore(dir string, opt StoreOptions) (*Store, error) {
	opt.setDefaults()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("querylog: create directory: %w", err)
	}
	book, err := loadMonthly(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir:      dir,
		opt:      opt,
		log:      opt.Logger,
		parts:    make(map[partKey]*partMeta),
		open:     make(map[int64]*openPart),
		lastPart: make(map[int64]uint32),
		book:     book,
		tracker:  newSuspectTracker(opt.Suspect),
		sections: newLRU[sectionKey, *tenantRoll](2048),
		indexes:  newLRU[partKey, *indexEntry](32),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if err := s.loadParts(); err != nil {
		return nil, err
	}
	if opt.Suspect.Notify != nil {
		s.notify = make(chan SuspectEvent, suspectBacklog)
		s.notifyDone = make(chan struct{})
		go func() {
			defer close(s.notifyDone)
			runNotifier(s.notify, opt.Suspect.Notify, s.log)
		}()
	}
	go s.maintainLoop()
	return s, nil
}

// loadParts lists the segment files, recovers the ones without a valid
// sidecar, and books sealed parts into the monthly counts.
func (s *Store) loadParts() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("querylog: list %s: %w", s.dir, err)
	}
	changed := false
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(s.dir, name)) // left by a crash during an atomic write
			continue
		}
		base, ok := strings.CutSuffix(name, ".seg")
		if !ok {
			continue
		}
		key, ok := parsePartName(base)
		if !ok {
			continue
		}
		meta := &partMeta{key: key, name: base, sealed: true}
		s.lastPart[key.hour] = max(s.lastPart[key.hour], key.part)
		err := s.readSummary(meta)
		if err != nil {
			err = s.recoverPart(meta)
			if err != nil {
				s.log.Error("querylog: unreadable segment set aside", "file", name, "err", err)
				os.Rename(filepath.Join(s.dir, name), filepath.Join(s.dir, name+".corrupt"))
				continue
			}
			if meta.sum == nil {
				continue // empty part removed
			}
		}
		s.parts[key] = meta
		if s.book.add(base, key.hour, meta.sum.totals()) {
			changed = true
		}
	}
	if changed {
		if err := s.book.save(s.dir); err != nil {
			return err
		}
	}
	return nil
}

// readSummary loads the rollup index of a sealed part into meta.
func (s *Store) readSummary(meta *partMeta) error {
	ps, err := readSummaryFile(filepath.Join(s.dir, meta.name+".sum"))
	if err != nil {
		return err
	}
	if ps.part != meta.key.part || ps.hour != meta.key.hour {
		return corruptf("rollup file belongs to another part")
	}
	meta.size = ps.validLen
	meta.sum = ps
	return nil
}

// recoverPart summarizes a part that was not sealed (crash, failed rollup
// file write): the records of its valid prefix of blocks are counted again
// and its rollup file is written. A part without records is removed and
// meta.sum left nil.
func (s *Store) recoverPart(meta *partMeta) error {
	path := filepath.Join(s.dir, meta.name+".seg")
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("querylog: open %s: %w", meta.name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("querylog: stat %s: %w", meta.name, err)
	}
	limit := fi.Size()
	if meta.size > 0 {
		// A part sealed before (its rollup file is being rebuilt): bytes past
		// its sealed length belong to a write that was undone and retried.
		limit = min(limit, meta.size)
	}
	seg, err := openSegment(f, limit)
	if err != nil {
		return err
	}
	if seg.hdr.hour != meta.key.hour || seg.hdr.part != meta.key.part {
		return corruptf("%s: header names another part", meta.name)
	}
	ro := newRollup(meta.key.hour)
	valid := int64(segHeaderLen)
	var buf []byte
	for i := range seg.blocks {
		tmp := newRollup(meta.key.hour)
		buf, err = seg.readBlock(i, buf, func(_ int, r *Record) bool {
			if r.Time < meta.key.hour || r.Time >= meta.key.hour+hourNs {
				return true // not written by this package; skip rather than miscount
			}
			tmp.add(r, tmp.tenant(r.Tenant))
			return true
		})
		if err != nil {
			s.log.Warn("querylog: segment ends with a damaged block; later data ignored", "file", meta.name, "offset", seg.blocks[i].off, "err", err)
			break
		}
		ro.merge(tmp)
		valid = seg.blocks[i].recsOff + int64(seg.blocks[i].recsLen)
	}
	if seg.stop != nil {
		s.log.Warn("querylog: torn or damaged tail ignored", "file", meta.name, "valid_bytes", valid, "file_bytes", limit, "err", seg.stop)
	}
	if ro.records == 0 {
		os.Remove(path)
		os.Remove(filepath.Join(s.dir, meta.name+".sum"))
		meta.sum = nil
		return nil
	}
	meta.size = valid
	s.writeSummary(meta, ro)
	s.log.Info("querylog: recovered unsealed segment", "file", meta.name, "records", ro.records)
	return nil
}

// writeSummary writes the rollup file of a sealed part and indexes it in
// meta. If the file cannot be written the rollup is kept in memory and the
// next start rebuilds the file from the segment.
func (s *Store) writeSummary(meta *partMeta, ro *rollup) {
	ro.cutTop()
	data := encodeSummary(meta.key.part, meta.size, ro)
	ps, err := readSummary(readerAt(data), int64(len(data)))
	if err == nil {
		err = writeFileAtomic(s.dir, meta.name+".sum", data)
	}
	if err != nil {
		s.log.Error("querylog: write rollup", "file", meta.name, "err", err)
		meta.sum = summaryOf(meta.key.part, meta.size, ro)
		return
	}
	meta.sum = ps
	for t, tr := range ro.tenants {
		s.sections.put(sectionKey{meta.key, t}, tr)
	}
}

// merge adds o (a rollup of the same hour) into ro.
func (ro *rollup) merge(o *rollup) {
	ro.records += o.records
	for t, otr := range o.tenants {
		tr := ro.tenant(t)
		for i := range otr.minutes {
			tr.minutes[i].Add(otr.minutes[i])
		}
		tr.topOther += otr.topOther
		for k, e := range otr.top {
			if cur := tr.top[k]; cur != nil {
				cur.count += e.count
				cur.category = e.category
			} else if len(tr.top) < maxTrackedBlocked {
				tr.top[k] = &topEntry{count: e.count, category: e.category}
			} else {
				tr.topOther += e.count
			}
		}
		for a, st := range otr.suspects {
			if cur := tr.suspects[a]; cur != nil {
				cur.c2 += st.c2
				cur.malware += st.malware
				cur.first = min(cur.first, st.first)
				cur.last = max(cur.last, st.last)
			} else if len(tr.suspects) < maxTrackedSuspects {
				c := *st
				tr.suspects[a] = &c
			}
		}
	}
}

// WriteBatch appends records to the parts of their hours. It returns after
// the data is written to the files (the page cache); fsync follows within
// SyncEvery and at seal. Either the whole batch is stored and counted, or an
// error is returned and nothing of it is visible, so the batch can be
// retried. A record whose Time lies outside [now-Retention, now+1h] is
// stored with Time set to now (counted in StoreStats.ClampedTimes), which
// modifies recs. WriteBatch keeps no reference to recs.
func (s *Store) WriteBatch(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	now := s.opt.Now()
	s.groupByHour(recs, now)
	defer s.forgetBatch()
	s.touched = s.touched[:0]
	for _, g := range s.groups {
		p, err := s.partFor(g.hour, now)
		if err != nil {
			s.rollback()
			s.stats.WriteErrors++
			return err
		}
		p.enc.checkpoint()
		p.pre = p.meta.size
		p.buf = p.buf[:0]
		for i := 0; i < len(g.recs); i += maxBlockRecords {
			p.buf = p.enc.appendBlock(p.buf, g.recs[i:min(i+maxBlockRecords, len(g.recs))])
		}
		s.touched = append(s.touched, p)
		if _, err := p.f.Write(p.buf); err != nil {
			s.rollback()
			s.stats.WriteErrors++
			return fmt.Errorf("querylog: write %s: %w", p.meta.name, err)
		}
	}
	for i, g := range s.groups {
		p := s.touched[i]
		p.meta.size += int64(len(p.buf))
		p.lastWrite = now
		p.dirty = true
		s.stats.Bytes += uint64(len(p.buf))
		s.stats.Blocks += uint64((len(g.recs) + maxBlockRecords - 1) / maxBlockRecords)
		for _, r := range g.recs {
			p.roll.add(r, p.tenantRoll(r.Tenant))
			if ev, ok := s.tracker.observe(r); ok {
				s.emit(ev)
			}
		}
		if cap(p.buf) > 8<<20 {
			p.buf = nil // do not keep a buffer sized for a burst
		}
	}
	s.stats.Records += uint64(len(recs))
	return nil
}

// forgetBatch drops the scratch pointers into the caller's batch.
func (s *Store) forgetBatch() {
	for i := range s.groups {
		clear(s.groups[i].recs)
		s.groups[i].recs = s.groups[i].recs[:0]
	}
}

func (s *Store) groupByHour(recs []Record, now time.Time) {
	lo, hi := now.Add(-s.opt.Retention).UnixNano(), now.Add(time.Hour).UnixNano()
	for i := range s.groups {
		s.groups[i].recs = s.groups[i].recs[:0]
	}
	s.groups = s.groups[:0]
	for i := range recs {
		r := &recs[i]
		if r.Time < lo || r.Time > hi {
			r.Time = now.UnixNano()
			s.stats.ClampedTimes++
		}
		h := r.Time - mod(r.Time, hourNs)
		k := 0
		for k < len(s.groups) && s.groups[k].hour != h {
			k++
		}
		if k == len(s.groups) {
			if k < cap(s.groups) {
				s.groups = s.groups[:k+1]
				s.groups[k].hour = h
			} else {
				s.groups = append(s.groups, hourGroup{hour: h})
			}
		}
		s.groups[k].recs = append(s.groups[k].recs, r)
	}
}

// rollback undoes the partial writes of the current batch so that a retry
// does not store records twice. A part whose file cannot be cut back is
// sealed at its last good length and a new part takes its place.
func (s *Store) rollback() {
	for _, p := range s.touched {
		p.enc.rollback()
		if err := p.f.Truncate(p.pre); err != nil {
			s.log.Error("querylog: cannot undo a partial write; sealing the part", "file", p.meta.name, "err", err)
			p.meta.size = p.pre
			s.seal(p)
		}
	}
	s.touched = s.touched[:0]
}

func (p *openPart) tenantRoll(t string) *tenantRoll {
	ptr := unsafe.StringData(t)
	if p.lastTR != nil && ptr == p.lastT && len(t) == p.lastTN {
		return p.lastTR
	}
	tr := p.roll.tenant(t)
	p.lastT, p.lastTN, p.lastTR = ptr, len(t), tr
	return tr
}

func (s *Store) emit(ev SuspectEvent) {
	if s.notify == nil {
		return
	}
	select {
	case s.notify <- ev:
		s.stats.SuspectEvents++
	default:
		s.stats.SuspectDropped++
	}
}

// partFor returns the open part of an hour, creating a new part file when
// there is none.
func (s *Store) partFor(hour int64, now time.Time) (*openPart, error) {
	if p := s.open[hour]; p != nil {
		return p, nil
	}
	for len(s.open) >= maxOpenParts {
		// Seal the least recently written part, but never one holding an
		// uncommitted block of the current batch; a batch spanning more
		// hours than maxOpenParts briefly keeps more parts open.
		var oldest *openPart
		for _, p := range s.open {
			if !slices.Contains(s.touched, p) && (oldest == nil || p.lastWrite.Before(oldest.lastWrite)) {
				oldest = p
			}
		}
		if oldest == nil {
			break
		}
		s.seal(oldest)
	}
	key := partKey{hour: hour, part: s.lastPart[hour] + 1}
	meta := &partMeta{key: key, name: key.name()}
	path := filepath.Join(s.dir, meta.name+".seg")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("querylog: create %s: %w", meta.name, err)
	}
	hdr := segHeader{part: key.part, hour: hour}.encode()
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("querylog: write %s: %w", meta.name, err)
	}
	s.lastPart[hour] = key.part
	meta.size = segHeaderLen
	p := &openPart{meta: meta, f: f, enc: newSegEncoder(), roll: newRollup(hour), lastWrite: now, lastSync: now}
	meta.open = p
	s.parts[key] = meta
	s.open[hour] = p
	return p, nil
}

// seal syncs and closes a part and writes its rollup beside it.
func (s *Store) seal(p *openPart) {
	meta := p.meta
	if err := p.f.Sync(); err != nil {
		s.log.Error("querylog: sync segment", "file", meta.name, "err", err)
	}
	if err := p.f.Close(); err != nil {
		s.log.Error("querylog: close segment", "file", meta.name, "err", err)
	}
	delete(s.open, meta.key.hour)
	meta.open = nil
	meta.sealed = true
	s.writeSummary(meta, p.roll)
	if s.book.add(meta.name, meta.key.hour, meta.sum.totals()) {
		if err := s.book.save(s.dir); err != nil {
			s.log.Error("querylog: save monthly counts", "err", err)
		}
	}
}

func (s *Store) maintainLoop() {
	defer close(s.done)
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.maintain(s.opt.Now())
		}
	}
}

// maintain syncs dirty parts, seals parts whose hour is over and applies
// retention. It runs every second on the maintenance goroutine.
func (s *Store) maintain(now time.Time) {
	s.syncDue(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for hour, p := range s.open {
		end := time.Unix(0, hour+hourNs)
		if now.Sub(end) >= s.opt.SealGrace && now.Sub(p.lastWrite) >= s.opt.SealGrace {
			s.seal(p)
		}
	}
	if s.lastRetention.IsZero() || now.Sub(s.lastRetention) >= retentionEvery {
		s.lastRetention = now
		s.applyRetention(now)
	}
}

// syncDue fsyncs the parts written since their last sync SyncEvery ago. The
// fsync runs outside the store lock: a slow disk must not hold up
// WriteBatch, or the queue would fill and drop records. A part sealed
// meanwhile was synced by seal; its closed file is not an error here.
func (s *Store) syncDue(now time.Time) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	var files []*os.File
	for _, p := range s.open {
		if p.dirty && now.Sub(p.lastSync) >= s.opt.SyncEvery {
			files = append(files, p.f)
			p.dirty = false
			p.lastSync = now
		}
	}
	s.mu.Unlock()
	for _, f := range files {
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			s.log.Error("querylog: sync segment", "file", filepath.Base(f.Name()), "err", err)
		}
	}
}

// applyRetention deletes the parts whose hour ended more than Retention ago.
func (s *Store) applyRetention(now time.Time) {
	cutoff := now.Add(-s.opt.Retention).UnixNano()
	deleted := 0
	for key, meta := range s.parts {
		if key.hour+hourNs > cutoff {
			continue
		}
		if meta.open != nil {
			s.seal(meta.open)
		}
		for _, ext := range []string{".seg", ".sum"} {
			if err := os.Remove(filepath.Join(s.dir, meta.name+ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.log.Error("querylog: retention: remove", "file", meta.name+ext, "err", err)
			}
		}
		delete(s.parts, key)
		if meta.sum != nil {
			for t := range meta.sum.tenants {
				s.sections.remove(sectionKey{key, t})
			}
		}
		s.indexes.remove(key)
		s.book.forget(meta.name)
		deleted++
	}
	for h := range s.lastPart {
		if h+hourNs <= cutoff {
			delete(s.lastPart, h)
		}
	}
	s.stats.DeletedParts += uint64(deleted)
	before := len(s.book.Months)
	s.book.prune(now, s.opt.MonthsKept)
	if deleted > 0 || len(s.book.Months) != before {
		if err := s.book.save(s.dir); err != nil {
			s.log.Error("querylog: save monthly counts", "err", err)
		}
		s.log.Info("querylog: retention applied", "deleted_parts", deleted)
	}
}

// Stats returns the store's counters.
func (s *Store) Stats() StoreStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.OpenParts = len(s.open)
	st.Parts = len(s.parts)
	return st
}

// Close seals the open parts (fsync, rollup), saves the monthly counts and
// stops the maintenance and notification goroutines. Stop the Writer first:
// WriteBatch after Close returns ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done

	s.mu.Lock()
	for _, p := range s.open {
		s.seal(p)
	}
	err := s.book.save(s.dir)
	s.mu.Unlock()
	if s.notify != nil {
		close(s.notify)
		<-s.notifyDone
	}
	return err
}
