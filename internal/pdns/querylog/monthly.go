package querylog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

const monthlyFile = "monthly.json"

// monthlyBook keeps the query counts per tenant per calendar month (UTC) for
// chargeback. It outlives the segments it was computed from: retention
// deletes segments after 30 days, but a month is billed after it ends.
//
// A part is added exactly once, when it is sealed; Accounted lists the parts
// already added so that a restart after a crash neither misses nor repeats
// one.
type monthlyBook struct {
	Version   int                          `json:"version"`
	Months    map[string]map[string]Counts `json:"months"` // "2026-01" -> tenant -> counts
	Accounted []string                     `json:"accounted"`

	accounted map[string]bool
}

func monthKey(t time.Time) string { return t.UTC().Format("2006-01") }

func loadMonthly(dir string) (*monthlyBook, error) {
	b := &monthlyBook{Version: 1, Months: make(map[string]map[string]Counts), accounted: make(map[string]bool)}
	data, err := os.ReadFile(filepath.Join(dir, monthlyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("querylog: read monthly counts: %w", err)
	}
	if err := json.Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("querylog: monthly counts file %s is damaged (restore it from backup): %w", filepath.Join(dir, monthlyFile), err)
	}
	if b.Version != 1 {
		return nil, fmt.Errorf("querylog: monthly counts file version %d not supported", b.Version)
	}
	if b.Months == nil {
		b.Months = make(map[string]map[string]Counts)
	}
	b.accounted = make(map[string]bool, len(b.Accounted))
	for _, p := range b.Accounted {
		b.accounted[p] = true
	}
	return b, nil
}

// add books the totals of a sealed part, once.
func (b *monthlyBook) add(part string, hour int64, totals map[string]Counts) bool {
	if b.accounted[part] {
		return false
	}
	m := monthKey(time.Unix(0, hour))
	tm := b.Months[m]
	if tm == nil {
		tm = make(map[string]Counts)
		b.Months[m] = tm
	}
	for t, c := range totals {
		cur := tm[t]
		cur.Add(c)
		tm[t] = cur
	}
	b.accounted[part] = true
	return true
}

// forget drops a deleted part from the accounted list; its counts stay.
func (b *monthlyBook) forget(part string) { delete(b.accounted, part) }

// prune drops months older than keep months before now.
func (b *monthlyBook) prune(now time.Time, keep int) {
	oldest := monthKey(time.Date(now.UTC().Year(), now.UTC().Month()-time.Month(keep), 1, 0, 0, 0, 0, time.UTC))
	for m := range b.Months {
		if m < oldest {
			delete(b.Months, m)
		}
	}
}

// save writes the book atomically: a crash leaves the old or the new file.
func (b *monthlyBook) save(dir string) error {
	b.Accounted = b.Accounted[:0]
	for p := range b.accounted {
		b.Accounted = append(b.Accounted, p)
	}
	slices.Sort(b.Accounted)
	data, err := json.MarshalIndent(b, "", " ")
	if err != nil {
		return fmt.Errorf("querylog: encode monthly counts: %w", err)
	}
	return writeFileAtomic(dir, monthlyFile, data)
}

// writeFileAtomic writes name in dir through a temporary file, fsync and
// rename, then syncs the directory so the rename survives a power loss.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		return fmt.Errorf("querylog: write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("querylog: write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("querylog: sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("querylog: close %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("querylog: rename %s: %w", name, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("querylog: open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("querylog: sync directory: %w", err)
	}
	return nil
}
