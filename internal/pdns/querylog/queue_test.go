package querylog

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testRecord(i int) Record {
	var r Record
	r.Time = int64(1_700_000_000_000_000_000 + i)
	r.Tenant = "org-a"
	r.Client = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	r.QType = 1
	r.Latency = uint32(i)
	r.SetQNameString("www.example.com.")
	return r
}

func TestQueueFullDropsAndCounts(t *testing.T) {
	q := NewQueue(1000)
	if q.Cap() < 1000 {
		t.Fatalf("Cap() = %d, want at least the requested 1000", q.Cap())
	}
	r := testRecord(1)
	for i := 0; i < q.Cap(); i++ {
		if !q.Push(&r) {
			t.Fatalf("Push %d of %d refused before the queue was full", i, q.Cap())
		}
	}
	if q.Len() != q.Cap() {
		t.Errorf("Len() = %d, want %d", q.Len(), q.Cap())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			if q.Push(&r) {
				t.Errorf("Push into a full queue succeeded")
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Push into a full queue blocked")
	}
	if got := q.Dropped(); got != 100 {
		t.Errorf("Dropped() = %d, want 100", got)
	}
	// Draining one record makes room for exactly one more.
	buf := make([]Record, 1)
	if n := q.Drain(buf); n != 1 {
		t.Fatalf("Drain = %d, want 1", n)
	}
	if !q.Push(&r) {
		t.Error("Push after Drain refused")
	}
	if q.Push(&r) {
		t.Error("second Push after draining one record succeeded")
	}
}

func TestQueueKeepsRecordsIntact(t *testing.T) {
	q := NewQueue(64)
	want := make(map[uint32]Record)
	for i := 0; i < 50; i++ {
		r := testRecord(i)
		r.Rule = "evil.example"
		r.Action = Blocked
		if !q.Push(&r) {
			t.Fatalf("Push %d refused", i)
		}
		want[r.Latency] = r
	}
	buf := make([]Record, 100)
	n := q.Drain(buf)
	if n != 50 {
		t.Fatalf("Drain = %d, want 50", n)
	}
	for _, got := range buf[:n] {
		w, ok := want[got.Latency]
		if !ok {
			t.Fatalf("drained unknown record %+v", got)
		}
		if got.Time != w.Time || got.Client != w.Client || got.QName() != w.QName() || got.Rule != w.Rule || got.Action != w.Action {
			t.Errorf("record changed in the queue: got %+v want %+v", got, w)
		}
		delete(want, got.Latency)
	}
	if q.Len() != 0 {
		t.Errorf("Len() = %d after draining everything", q.Len())
	}
}

func TestQueuePushAllocatesNothing(t *testing.T) {
	q := NewQueue(1 << 10)
	r := testRecord(7)
	buf := make([]Record, 64)
	allocs := testing.AllocsPerRun(1000, func() {
		q.Push(&r)
		if q.Len() > 512 {
			q.Drain(buf)
		}
	})
	if allocs != 0 {
		t.Errorf("Push allocates %.1f times per call, want 0", allocs)
	}
}

// TestQueueConcurrentProducers runs many producers against one consumer
// (meant for -race): every accepted record comes out exactly once and
// accepted + dropped equals attempted.
func TestQueueConcurrentProducers(t *testing.T) {
	const producers = 16
	const perProducer = 5000
	q := NewQueue(512) // small, so that drops happen
	var accepted atomic.Uint64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	seen := make(map[uint64]bool)
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		buf := make([]Record, 128)
		for {
			n := q.Drain(buf)
			for _, r := range buf[:n] {
				key := uint64(r.Time)<<20 | uint64(r.Latency)
				if seen[key] {
					t.Errorf("record %d/%d came out twice", r.Time, r.Latency)
				}
				seen[key] = true
				if r.QName() != "p.example" {
					t.Errorf("qname corrupted: %q", r.QName())
				}
			}
			if n == 0 {
				select {
				case <-stop:
					if q.Len() == 0 {
						return
					}
				default:
					time.Sleep(50 * time.Microsecond)
				}
			}
		}
	}()
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			var r Record
			r.SetQNameString("P.Example.")
			for i := 0; i < perProducer; i++ {
				r.Time = int64(p)
				r.Latency = uint32(i)
				if q.Push(&r) {
					accepted.Add(1)
				}
			}
		}(p)
	}
	wg.Wait()
	close(stop)
	<-consumerDone
	if got := uint64(len(seen)); got != accepted.Load() {
		t.Errorf("consumer saw %d records, producers had %d accepted", got, accepted.Load())
	}
	if total := accepted.Load() + q.Dropped(); total != producers*perProducer {
		t.Errorf("accepted %d + dropped %d = %d, want %d", accepted.Load(), q.Dropped(), total, producers*perProducer)
	}
}

func TestSetQNameNormalizes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"www.Example.COM.", "www.example.com"},
		{"www.example.com", "www.example.com"},
		{".", "."},
		{"", ""},
		{`a\.`, `a\.`},
		{`a\\.`, `a\\`},
	}
	for _, tt := range tests {
		var r, s Record
		r.SetQName([]byte(tt.in))
		s.SetQNameString(tt.in)
		if r.QName() != tt.want || s.QName() != tt.want {
			t.Errorf("SetQName(%q) = %q / %q, want %q", tt.in, r.QName(), s.QName(), tt.want)
		}
	}
	long := make([]byte, 400)
	for i := range long {
		long[i] = 'a'
	}
	var r Record
	r.SetQName(long)
	if len(r.QName()) != MaxQNameLen {
		t.Errorf("long name stored with %d bytes, want %d", len(r.QName()), MaxQNameLen)
	}
}

func TestEnumsRoundTrip(t *testing.T) {
	for a := Action(0); a < NumActions; a++ {
		got, err := ParseAction(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAction(%q) = %v, %v", a.String(), got, err)
		}
	}
	for tr := Transport(0); tr.Valid(); tr++ {
		got, err := ParseTransport(tr.String())
		if err != nil || got != tr {
			t.Errorf("ParseTransport(%q) = %v, %v", tr.String(), got, err)
		}
	}
	if _, err := ParseAction("nope"); err == nil {
		t.Error("ParseAction accepted an unknown name")
	}
	if DoQ.String() != "doq" || Transport(9).Valid() {
		t.Error("transport names wrong")
	}
}
