package querylog

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// benchRecords returns n realistic records: a few tenants, a Zipf-like mix
// of names, one query in twenty blocked.
func benchRecords(n int, start time.Time) []Record {
	tenants := []string{"org-0001", "org-0002", "org-0003", "org-0004"}
	out := make([]Record, n)
	for i := range out {
		r := &out[i]
		r.Time = start.UnixNano() + int64(i)*int64(time.Hour)/int64(n+1)
		r.Tenant = tenants[i%len(tenants)]
		r.Client = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		r.QType = 1
		r.QClass = 1
		r.Latency = uint32(200 + i%5000)
		name := i % 997
		if i%7 == 0 {
			name = i // long tail of unique names
		}
		r.SetQNameString(fmt.Sprintf("host%d.service%d.example.com.", name, name%31))
		if i%20 == 0 {
			r.Action, r.Cache = Blocked, None
			r.Rule, r.Feed, r.Category = "service3.example.com", "threat feed", "malware"
		} else {
			r.Cache = CacheStatus(i % 2)
			if r.Cache == Miss {
				r.Upstream = "upstream-a"
			}
		}
	}
	return out
}

// BenchmarkPush measures the query-path cost of logging. No record may be
// dropped, or the cheaper drop path would flatter the figure: a producer
// whose Push is refused drains a batch itself (as the Writer would) and
// retries, so ns/op is Push plus its share of draining.
func BenchmarkPush(b *testing.B) {
	r := benchRecords(1, time.Now())[0]
	b.Run("push-only", func(b *testing.B) {
		// The producer's cost alone: draining is paused out of the timer.
		q := NewQueue(DefaultQueueCapacity)
		buf := make([]Record, 4096)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if !q.Push(&r) {
				b.StopTimer()
				for q.Drain(buf) > 0 {
				}
				b.StartTimer()
				q.Push(&r)
			}
		}
	})
	b.Run("producers=1", func(b *testing.B) {
		q := NewQueue(DefaultQueueCapacity)
		buf := make([]Record, 1024)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for !q.Push(&r) {
				q.Drain(buf)
			}
		}
	})
	b.Run("producers=16", func(b *testing.B) {
		q := NewQueue(DefaultQueueCapacity)
		b.ReportAllocs()
		b.SetParallelism(16 / runtime.GOMAXPROCS(0))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := r
			buf := make([]Record, 1024)
			for pb.Next() {
				for !q.Push(&r) {
					q.Drain(buf)
				}
			}
		})
	})
	b.Run("full-queue-drop", func(b *testing.B) {
		q := NewQueue(1024)
		for q.Push(&r) {
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			q.Push(&r)
		}
	})
}

// BenchmarkStoreWriteBatch measures records per second written to disk by
// the default sink (batches of 8192 and of 512, rollups included), next to the naive
// alternative of one JSON line per record through a buffered file, in the
// same run.
func BenchmarkStoreWriteBatch(b *testing.B) {
	start := time.Now().Truncate(time.Hour)
	recs := benchRecords(1<<17, start)
	for _, size := range []int{8192, 512} {
		b.Run(fmt.Sprintf("segment-%d", size), func(b *testing.B) { benchmarkWriteBatch(b, recs, start, size) })
	}
	b.Run("ndjson-baseline", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "log.ndjson"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		type line struct {
			Time      int64  `json:"time"`
			Tenant    string `json:"tenant"`
			Client    string `json:"client"`
			QName     string `json:"qname"`
			QType     uint16 `json:"qtype"`
			RCode     uint16 `json:"rcode"`
			Action    string `json:"action"`
			Rule      string `json:"rule,omitempty"`
			Category  string `json:"category,omitempty"`
			Upstream  string `json:"upstream,omitempty"`
			LatencyUS uint32 `json:"latency_us"`
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		enc := json.NewEncoder(bw)
		var written int64
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r := &recs[i%len(recs)]
			enc.Encode(line{r.Time, r.Tenant, r.Client.String(), r.QName(), r.QType, r.RCode, r.Action.String(), r.Rule, r.Category, r.Upstream, r.Latency})
			if bw.Buffered() > 1<<19 {
				written += int64(bw.Buffered())
				bw.Flush()
			}
		}
		written += int64(bw.Buffered())
		bw.Flush()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(float64(written)/float64(b.N), "bytes/record")
	})
}

// BenchmarkPipeline runs the whole path: producers push, the Writer drains
// into a Store. Producers retry a refused Push (instead of dropping) so the
// figure is the sustained rate the writer side absorbs.
func BenchmarkPipeline(b *testing.B) {
	start := time.Now().Truncate(time.Hour)
	recs := benchRecords(1<<16, start)
	s, err := OpenStore(b.TempDir(), StoreOptions{Logger: quietLog, Now: func() time.Time { return start.Add(30 * time.Minute) }})
	if err != nil {
		b.Fatal(err)
	}
	q := NewQueue(DefaultQueueCapacity)
	w := NewWriter(q, s, WriterOptions{Logger: quietLog, PollInterval: time.Millisecond})
	w.Start(context.Background())
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := &recs[next.Add(1)%int64(len(recs))]
			for !q.Push(r) {
				runtime.Gosched()
			}
		}
	})
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(w.Stats().Written)/b.Elapsed().Seconds(), "records/s")
	s.Close()
}

// BenchmarkSearchNewest measures the portal's most common query: the newest
// 100 records of one tenant in a full hour of 1M records.
func BenchmarkSearchNewest(b *testing.B) {
	start := time.Now().Truncate(time.Hour)
	s, err := OpenStore(b.TempDir(), StoreOptions{Logger: quietLog, Now: func() time.Time { return start.Add(59 * time.Minute) }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	recs := benchRecords(1<<20, start)
	for i := 0; i < len(recs); i += 8192 {
		if err := s.WriteBatch(recs[i:min(i+8192, len(recs))]); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		f    Filter
	}{
		{"tenant", Filter{Tenant: "org-0002", Limit: 100}},
		{"tenant+domain-suffix", Filter{Tenant: "org-0002", Domain: "service3.example.com", Match: MatchSuffix, Limit: 100}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p, err := s.Search(context.Background(), tc.f)
				if err != nil || len(p.Records) != 100 {
					b.Fatalf("%d records, %v", len(p.Records), err)
				}
			}
		})
	}
}

func BenchmarkOCSFEncode(b *testing.B) {
	r := ocsfSamples()[1]
	enc := NewNDJSONEncoder(discard{})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		enc.Encode(&r)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func benchmarkWriteBatch(b *testing.B, recs []Record, start time.Time, size int) {
	dir := b.TempDir()
	s, err := OpenStore(dir, StoreOptions{Logger: quietLog, Now: func() time.Time { return start.Add(30 * time.Minute) }})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]Record, size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		n := min(len(batch), b.N-i)
		for k := 0; k < n; k++ {
			batch[k] = recs[(i+k)%len(recs)]
		}
		if err := s.WriteBatch(batch[:n]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(st.Bytes)/float64(b.N), "bytes/record")
	s.Close()
}
