package querylog

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memSink records what it receives; failures makes the next calls fail.
type memSink struct {
	mu       sync.Mutex
	recs     []Record
	batches  int
	maxBatch int
	failures int
	calls    atomic.Int64
}

func (m *memSink) WriteBatch(recs []Record) error {
	m.calls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failures > 0 {
		m.failures--
		return errors.New("disk on fire")
	}
	m.recs = append(m.recs, recs...)
	m.batches++
	m.maxBatch = max(m.maxBatch, len(recs))
	return nil
}

func (m *memSink) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}

func fastWriterOptions() WriterOptions {
	return WriterOptions{
		BatchSize:     64,
		FlushInterval: 20 * time.Millisecond,
		PollInterval:  time.Millisecond,
		RetryBackoff:  time.Millisecond,
		MaxBackoff:    2 * time.Millisecond,
		Logger:        quietLog,
	}
}

func TestWriterCloseLosesNothingAcknowledged(t *testing.T) {
	q := NewQueue(4096)
	sink := &memSink{}
	w := NewWriter(q, sink, fastWriterOptions())
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Uint64
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			r := testRecord(p)
			for i := 0; i < 3000; i++ {
				r.Latency = uint32(i)
				if q.Push(&r) {
					accepted.Add(1)
				}
			}
		}(p)
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if uint64(sink.count()) != accepted.Load() || st.Written != accepted.Load() {
		t.Errorf("sink got %d records, writer wrote %d, producers had %d accepted", sink.count(), st.Written, accepted.Load())
	}
	if accepted.Load()+st.Dropped != 8*3000 {
		t.Errorf("accepted %d + dropped %d != pushed %d", accepted.Load(), st.Dropped, 8*3000)
	}
	if sink.maxBatch > 64 {
		t.Errorf("batch of %d records exceeds BatchSize 64", sink.maxBatch)
	}
}

func TestWriterCloseWithoutStartDrains(t *testing.T) {
	q := NewQueue(256)
	sink := &memSink{}
	w := NewWriter(q, sink, fastWriterOptions())
	r := testRecord(1)
	for i := 0; i < 100; i++ {
		q.Push(&r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if sink.count() != 100 {
		t.Errorf("sink got %d records, want 100", sink.count())
	}
	if err := w.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

func TestWriterFlushesPartialBatchInTime(t *testing.T) {
	q := NewQueue(256)
	sink := &memSink{}
	w := NewWriter(q, sink, fastWriterOptions())
	w.Start(context.Background())
	defer w.Close()
	r := testRecord(1)
	q.Push(&r) // far below BatchSize
	deadline := time.Now().Add(10 * time.Second)
	for sink.count() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a partial batch was never flushed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWriterRetriesThenSucceeds(t *testing.T) {
	q := NewQueue(256)
	sink := &memSink{failures: 2}
	w := NewWriter(q, sink, fastWriterOptions())
	r := testRecord(1)
	for i := 0; i < 10; i++ {
		q.Push(&r)
	}
	w.Start(context.Background())
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := w.Stats()
	if sink.count() != 10 || st.Lost != 0 || st.SinkErrors != 2 || st.Written != 10 {
		t.Errorf("after two failures: sink %d records, stats %+v", sink.count(), st)
	}
}

func TestWriterGivesUpAfterRetries(t *testing.T) {
	q := NewQueue(256)
	sink := &memSink{failures: 1 << 30}
	opt := fastWriterOptions()
	opt.MaxRetries = 3
	w := NewWriter(q, sink, opt)
	r := testRecord(1)
	for i := 0; i < 10; i++ {
		q.Push(&r)
	}
	w.Start(context.Background())
	err := w.Close()
	if err == nil {
		t.Fatal("Close reported no loss")
	}
	st := w.Stats()
	if st.Lost != 10 || sink.calls.Load() != 4 {
		t.Errorf("stats %+v after %d calls; want 10 lost after 4 calls", st, sink.calls.Load())
	}
}

func TestWriterStopsOnContextCancel(t *testing.T) {
	q := NewQueue(256)
	sink := &memSink{}
	w := NewWriter(q, sink, fastWriterOptions())
	ctx, cancel := context.WithCancel(context.Background())
	w.Start(ctx)
	r := testRecord(1)
	for i := 0; i < 50; i++ {
		q.Push(&r)
	}
	cancel()
	done := make(chan error)
	go func() { done <- w.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writer did not stop after its context was cancelled")
	}
	if sink.count() != 50 {
		t.Errorf("sink got %d of 50 records", sink.count())
	}
}

// TestWriterIntoStore runs producers, the writer and the store together
// (meant for -race) and checks every accepted record is counted and found.
func TestWriterIntoStore(t *testing.T) {
	clk := &fakeClock{t: t0.Add(30 * time.Minute)}
	s := openTestStore(t, t.TempDir(), clk, StoreOptions{})
	q := NewQueue(1 << 12)
	w := NewWriter(q, s, fastWriterOptions())
	w.Start(context.Background())
	var accepted atomic.Uint64
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				r := rec(time.Duration(i)*time.Millisecond, "org-a", "10.0.0.1", "www.example.com", Action(i%int(NumActions)))
				if q.Push(&r) {
					accepted.Add(1)
				}
			}
		}(p)
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tot, err := s.Totals(t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(tot) != 1 || tot[0].Counts.Queries != accepted.Load() {
		t.Errorf("totals %+v, accepted %d", tot, accepted.Load())
	}
	if n := len(searchAll(t, s, Filter{Tenant: "org-a", Limit: MaxSearchLimit})); uint64(n) != accepted.Load() {
		t.Errorf("search finds %d records, accepted %d", n, accepted.Load())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
