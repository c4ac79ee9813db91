package querylog

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

const testHour = int64(1_767_225_600) * 1e9 // 2026-01-01T00:00:00Z

// sampleRecords returns n varied records inside the test hour.
func sampleRecords(n int) []Record {
	tenants := []string{"org-a", "org-b", "", "org-c"}
	cats := []string{"", "malware", "c2", "phishing"}
	out := make([]Record, n)
	for i := range out {
		r := &out[i]
		r.Time = testHour + int64(i)*1e6 + int64(i%7)*1e3
		r.Tenant = tenants[i%len(tenants)]
		switch i % 3 {
		case 0:
			r.Client = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		case 1:
			r.Client = netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1))
		}
		r.Transport = Transport(i % int(numTransports))
		r.Action = Action(i % int(NumActions))
		r.Cache = CacheStatus(i % int(numCacheStatuses))
		r.QType = uint16(1 + i%300)
		r.QClass = 1
		r.RCode = uint16(i % 24)
		if r.Action.IsBlock() {
			r.Rule = "evil.example"
			r.Feed = "agency deny list"
			r.Category = cats[i%len(cats)]
		}
		if r.Cache == Miss {
			r.Upstream = "quad9"
		}
		r.Latency = uint32(i * 13)
		r.SetQNameString(fmt.Sprintf("host%d.Example.com.", i%50))
	}
	return out
}

func ptrs(recs []Record) []*Record {
	p := make([]*Record, len(recs))
	for i := range recs {
		p[i] = &recs[i]
	}
	return p
}

// buildSegment encodes blocks of records as one part file.
func buildSegment(t testing.TB, blocks ...[]Record) []byte {
	t.Helper()
	e := newSegEncoder()
	data := segHeader{part: 1, hour: testHour}.encode()
	for _, b := range blocks {
		data = e.appendBlock(data, ptrs(b))
	}
	return data
}

func sameRecord(a, b *Record) bool {
	return a.Time == b.Time && a.Tenant == b.Tenant && a.Client == b.Client.Unmap().WithZone("") &&
		a.Transport == b.Transport && a.QType == b.QType && a.QClass == b.QClass && a.RCode == b.RCode &&
		a.Action == b.Action && a.Cache == b.Cache && a.Rule == b.Rule && a.Feed == b.Feed &&
		a.Category == b.Category && a.Upstream == b.Upstream && a.Latency == b.Latency && a.QName() == b.QName()
}

func TestSegmentRoundTrip(t *testing.T) {
	recs := sampleRecords(500)
	recs[3].Tenant = strings.Repeat("t", maxDictString+10)  // cut to maxDictString
	recs[4].Client = netip.MustParseAddr("::ffff:10.1.2.3") // stored unmapped
	recs[5].SetQNameString(strings.Repeat("a", 300))        // cut to MaxQNameLen
	recs[6].SetQNameString("")
	data := buildSegment(t, recs[:100], recs[100:101], recs[101:])
	got, err := decodeAll(data)
	if err != nil {
		t.Fatalf("decodeAll: %v", err)
	}
	if len(got) != len(recs) {
		t.Fatalf("decoded %d records, want %d", len(got), len(recs))
	}
	recs[3].Tenant = recs[3].Tenant[:maxDictString]
	for i := range recs {
		if !sameRecord(&got[i], &recs[i]) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], recs[i])
		}
	}
}

func TestSegmentQNamesBeyondDictionaryAreInline(t *testing.T) {
	e := newSegEncoder()
	e.qnames = maxQNameDict // dictionary full
	recs := sampleRecords(10)
	data := e.appendBlock(segHeader{part: 1, hour: testHour}.encode(), ptrs(recs))
	got, err := decodeAll(data)
	if err != nil || len(got) != 10 {
		t.Fatalf("decodeAll = %d records, %v", len(got), err)
	}
	for i := range recs {
		if !sameRecord(&got[i], &recs[i]) {
			t.Errorf("record %d differs", i)
		}
	}
	if _, ok := e.dict[recs[0].QName()]; ok {
		t.Error("query name entered a full dictionary")
	}
}

// TestSegmentTornTail cuts a part at every byte: the reader returns the
// records of the whole blocks before the cut, in order, and nothing else.
func TestSegmentTornTail(t *testing.T) {
	recs := sampleRecords(30)
	blocks := [][]Record{recs[:10], recs[10:11], recs[11:30]}
	data := buildSegment(t, blocks...)
	ends := []int{}
	e := newSegEncoder()
	acc := segHeader{part: 1, hour: testHour}.encode()
	for _, b := range blocks {
		acc = e.appendBlock(acc, ptrs(b))
		ends = append(ends, len(acc))
	}
	for cut := 0; cut <= len(data); cut++ {
		got, err := decodeAll(data[:cut])
		if cut < segHeaderLen {
			if err == nil {
				t.Fatalf("cut %d: no error for a missing file header", cut)
			}
			continue
		}
		want := 0
		for i, end := range ends {
			if cut >= end {
				want += len(blocks[i])
			}
		}
		if len(got) != want {
			t.Fatalf("cut %d: %d records, want %d (err %v)", cut, len(got), want, err)
		}
		for i := range got {
			if !sameRecord(&got[i], &recs[i]) {
				t.Fatalf("cut %d: record %d differs", cut, i)
			}
		}
		complete := cut == len(data) || cut == segHeaderLen || containsInt(ends, cut)
		if complete && err != nil {
			t.Fatalf("cut %d at a block boundary: unexpected error %v", cut, err)
		}
		if !complete && !errors.Is(err, errCorrupt) {
			t.Fatalf("cut %d inside a block: err = %v, want a corrupt-segment error", cut, err)
		}
	}
}

func containsInt(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// TestSegmentCorruptByte flips each byte of a small part: decoding never
// panics and never returns more records than were written; records it does
// return from intact blocks are the originals.
func TestSegmentCorruptByte(t *testing.T) {
	recs := sampleRecords(12)
	data := buildSegment(t, recs[:6], recs[6:])
	for i := range data {
		mut := bytes.Clone(data)
		mut[i] ^= 0x5a
		got, _ := decodeAll(mut)
		if len(got) > len(recs) {
			t.Fatalf("flip at %d: %d records from %d written", i, len(got), len(recs))
		}
		for k := range got {
			if !sameRecord(&got[k], &recs[k]) {
				t.Fatalf("flip at %d: record %d returned altered", i, k)
			}
		}
	}
}

func TestSegmentEncoderRollback(t *testing.T) {
	e := newSegEncoder()
	recs := sampleRecords(20)
	data := e.appendBlock(segHeader{part: 1, hour: testHour}.encode(), ptrs(recs[:10]))
	e.checkpoint()
	_ = e.appendBlock(nil, ptrs(recs[10:])) // pretend this write failed
	e.rollback()
	data = e.appendBlock(data, ptrs(recs[10:]))
	got, err := decodeAll(data)
	if err != nil || len(got) != 20 {
		t.Fatalf("after rollback: %d records, %v", len(got), err)
	}
	for i := range recs {
		if !sameRecord(&got[i], &recs[i]) {
			t.Fatalf("record %d differs after rollback", i)
		}
	}
}
