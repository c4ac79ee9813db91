package querylog

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// FuzzSegmentDecode feeds arbitrary bytes to the segment reader. Whatever
// the input, decoding must not panic or loop, must not return more records
// than the bytes can hold, must return only well-formed records, and those
// records must survive a re-encode/decode round trip unchanged.
func FuzzSegmentDecode(f *testing.F) {
	recs := sampleRecords(40)
	valid := buildSegment(f, recs[:25], recs[25:])
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	f.Add(valid[:segHeaderLen+blockHeaderLen+3])
	f.Add(segHeader{part: 1, hour: testHour}.encode())
	f.Add([]byte("QSMOQLOG"))
	mut := bytes.Clone(valid)
	mut[segHeaderLen+blockHeaderLen+5] ^= 0xff
	f.Add(mut)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeAll(data)
		if err != nil && !errors.Is(err, errCorrupt) {
			t.Fatalf("decode error does not wrap errCorrupt: %v", err)
		}
		if len(got) > len(data)/minRecordLen {
			t.Fatalf("%d records from %d bytes", len(got), len(data))
		}
		for i := range got {
			r := &got[i]
			if !r.Transport.Valid() || !r.Action.Valid() || !r.Cache.Valid() {
				t.Fatalf("record %d has an enum out of range: %+v", i, r)
			}
			if int(r.qlen) > MaxQNameLen || (r.Client.IsValid() && r.Client.Is4In6()) {
				t.Fatalf("record %d malformed: %+v", i, r)
			}
		}
		if len(got) == 0 || len(got) > maxBlockRecords {
			return
		}
		again := buildSegment(t, got)
		back, err := decodeAll(again)
		if err != nil || len(back) != len(got) {
			t.Fatalf("re-encoded records decode to %d records, %v", len(back), err)
		}
		for i := range got {
			if !sameRecord(&back[i], &got[i]) {
				t.Fatalf("record %d changed in a round trip:\n%+v\n%+v", i, got[i], back[i])
			}
		}
	})
}

// FuzzRollupFile: a damaged rollup file is an error, never a panic; what
// decodes re-encodes to a file that decodes to the same thing, and the
// section counts agree with their action split.
func FuzzRollupFile(f *testing.F) {
	ro := newRollup(testHour)
	for _, r := range sampleRecords(200) {
		r := r
		r.Time = testHour + int64(r.Latency)*1e6
		if r.Category == "phishing" {
			r.Category = CategoryMalware
		}
		ro.add(&r, ro.tenant(r.Tenant))
	}
	good := encodeSummary(3, 12345, ro)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(sumMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeRollupFile(data)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error does not wrap errCorrupt: %v", err)
			}
			return
		}
		for _, tr := range got.tenants {
			for _, m := range tr.minutes {
				var sum uint64
				for _, v := range m.ByAction {
					sum += v
				}
				if sum != m.Queries {
					t.Fatalf("minute queries %d != sum of actions %d", m.Queries, sum)
				}
			}
		}
		once := encodeSummary(3, 12345, got)
		again, err := decodeRollupFile(once)
		if err != nil {
			t.Fatalf("re-encoded rollup file does not decode: %v", err)
		}
		if !bytes.Equal(encodeSummary(3, 12345, again), once) {
			t.Fatal("rollup file encoding is not stable")
		}
	})
}

// decodeRollupFile reads a whole rollup file into a rollup.
func decodeRollupFile(data []byte) (*rollup, error) {
	ps, err := readSummary(readerAt(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	ro := newRollup(ps.hour)
	ro.records = ps.records
	for name, ts := range ps.tenants {
		tr, err := readSection(readerAt(data), ps, ts)
		if err != nil {
			return nil, err
		}
		ro.tenants[name] = tr
	}
	return ro, nil
}

// FuzzCursor: any string is either a valid cursor that encodes back to
// itself or an ErrInvalid error.
func FuzzCursor(f *testing.F) {
	f.Add(position{time: testHour, part: 2, pos: 77<<16 | 3}.cursor())
	f.Add(position{time: -1}.cursor())
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseCursor(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		if p2, err := parseCursor(p.cursor()); err != nil || p2 != p {
			t.Fatalf("cursor %q -> %+v does not round-trip: %+v, %v", s, p, p2, err)
		}
	})
}

// FuzzSetQName: any input stores at most MaxQNameLen bytes without upper
// case ASCII, and setting the stored name again changes nothing.
func FuzzSetQName(f *testing.F) {
	f.Add([]byte("WWW.Example.COM."))
	f.Add([]byte(`a\.`))
	f.Add([]byte("."))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Record
		r.SetQName(in)
		got := r.QName()
		if len(got) > MaxQNameLen || bytes.ContainsAny([]byte(got), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Fatalf("SetQName(%q) stored %q", in, got)
		}
		var s Record
		s.SetQNameString(string(in))
		if s.QName() != got {
			t.Fatalf("SetQName and SetQNameString disagree: %q vs %q", got, s.QName())
		}
		_ = netip.Addr{}
	})
}
