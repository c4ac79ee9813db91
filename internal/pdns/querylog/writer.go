package querylog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Sink receives batches of records from a Writer.
type Sink interface {
	// WriteBatch stores recs. It is called from the Writer goroutine only,
	// one batch at a time. A nil error acknowledges the whole batch; on
	// error the Writer retries the same batch, so a Sink must either store
	// all of it or none of it. recs is reused after the call returns: a
	// Sink must not keep the slice (copy what it needs).
	WriteBatch(recs []Record) error
}

// WriterOptions configures a Writer. The zero value selects the defaults.
type WriterOptions struct {
	// BatchSize is the most records passed to one WriteBatch. Default 512:
	// the Store writes 512 records as fast per record as 8192, and a batch
	// that takes a fraction of a millisecond never holds up the queries
	// sharing the processor with the writer (with GOMAXPROCS=1, a batch of
	// 8192 kept them waiting for 3 to 5 ms several times a second).
	BatchSize int
	// FlushInterval is the longest a record waits in a partial batch.
	// Default one second.
	FlushInterval time.Duration
	// PollInterval is how long the writer sleeps when the queue is empty.
	// Producers do not wake it (that would cost them); the queue must hold
	// PollInterval worth of queries. Default 10 ms.
	PollInterval time.Duration
	// MaxRetries is how many times a failed batch is retried before its
	// records are counted as lost. Default 5.
	MaxRetries int
	// RetryBackoff is the first wait between retries, doubled each time up
	// to MaxBackoff. Defaults 100 ms and 5 s.
	RetryBackoff time.Duration
	MaxBackoff   time.Duration
	// Logger receives sink errors. Default slog.Default().
	Logger *slog.Logger
}

func (o *WriterOptions) setDefaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 10 * time.Millisecond
	}
	if o.MaxRetries < 0 {
		o.MaxRetries = 0
	} else if o.MaxRetries == 0 {
		o.MaxRetries = 5
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// WriterStats are counters for monitoring.
type WriterStats struct {
	Written    uint64 // records acknowledged by the sink
	Batches    uint64 // successful WriteBatch calls
	SinkErrors uint64 // failed WriteBatch calls (each retry counts)
	Lost       uint64 // records given up after MaxRetries
	Dropped    uint64 // records refused by the queue because it was full
}

// Writer is the single consumer of a Queue: its goroutine drains the queue
// in batches bounded by size and time and hands them to a Sink.
type Writer struct {
	q    *Queue
	sink Sink
	opt  WriterOptions
	log  *slog.Logger

	mu      sync.Mutex
	started bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}

	written, batches, sinkErrors, lost atomic.Uint64
}

// NewWriter returns a Writer that moves records from q to sink. Call Start
// to run it and Close to stop it.
func NewWriter(q *Queue, sink Sink, opt WriterOptions) *Writer {
	opt.setDefaults()
	return &Writer{q: q, sink: sink, opt: opt, log: opt.Logger, stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs the writer goroutine. Cancelling ctx stops it like Close,
// after it has written what the queue holds.
func (w *Writer) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.started {
		return errors.New("querylog: writer already started")
	}
	w.started = true
	go w.run(ctx)
	return nil
}

// Close stops the writer after writing every record the queue holds, so
// that nothing acknowledged by Push is lost on a clean shutdown. Stop the
// producers first: a record pushed after the final drain stays in the
// queue. Close returns an error when records were lost over the writer's
// life (see Stats). It is safe to call more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return w.lostErr()
	}
	w.closed = true
	started := w.started
	close(w.stop)
	w.mu.Unlock()
	if started {
		<-w.done
	} else {
		w.drainAll(make([]Record, w.opt.BatchSize))
		close(w.done)
	}
	return w.lostErr()
}

func (w *Writer) lostErr() error {
	if n := w.lost.Load(); n > 0 {
		return fmt.Errorf("querylog: %d records lost after sink errors", n)
	}
	return nil
}

// Stats returns the writer's counters and the queue's dropped count.
func (w *Writer) Stats() WriterStats {
	return WriterStats{
		Written:    w.written.Load(),
		Batches:    w.batches.Load(),
		SinkErrors: w.sinkErrors.Load(),
		Lost:       w.lost.Load(),
		Dropped:    w.q.Dropped(),
	}
}

func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	batch := make([]Record, w.opt.BatchSize)
	n := 0
	var first time.Time // when the oldest record of the partial batch was taken
	timer := time.NewTimer(w.opt.PollInterval)
	defer timer.Stop()
	for {
		got := w.q.Drain(batch[n:])
		if got > 0 && n == 0 {
			first = time.Now()
		}
		n += got
		if n == len(batch) || (n > 0 && time.Since(first) >= w.opt.FlushInterval) {
			w.flush(batch[:n])
			n = 0
			continue
		}
		if got > 0 {
			continue // more may be waiting
		}
		timer.Reset(w.opt.PollInterval)
		select {
		case <-w.stop:
			w.flush(batch[:n])
			w.drainAll(batch)
			return
		case <-ctx.Done():
			w.flush(batch[:n])
			w.drainAll(batch)
			w.mu.Lock()
			w.closed = true
			w.mu.Unlock()
			return
		case <-timer.C:
		}
	}
}

// drainAll writes everything the queue holds.
func (w *Writer) drainAll(batch []Record) {
	for {
		n := w.q.Drain(batch)
		if n == 0 {
			return
		}
		w.flush(batch[:n])
	}
}

// flush hands a batch to the sink, retrying with backoff. Errors are logged
// without record contents: a failing disk must not copy query names into
// the application log.
func (w *Writer) flush(batch []Record) {
	if len(batch) == 0 {
		return
	}
	backoff := w.opt.RetryBackoff
	for attempt := 0; ; attempt++ {
		err := w.sink.WriteBatch(batch)
		if err == nil {
			w.written.Add(uint64(len(batch)))
			w.batches.Add(1)
			return
		}
		w.sinkErrors.Add(1)
		if attempt >= w.opt.MaxRetries {
			w.lost.Add(uint64(len(batch)))
			w.log.Error("querylog: batch lost after retries", "records", len(batch), "attempts", attempt+1, "err", err)
			return
		}
		w.log.Warn("querylog: sink write failed; retrying", "records", len(batch), "attempt", attempt+1, "retry_in", backoff, "err", err)
		time.Sleep(backoff)
		backoff = min(2*backoff, w.opt.MaxBackoff)
	}
}
