package pdns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/pdns/dnsname"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// FuzzQueryFilter: any query string gives either per-parameter problems or
// a filter the query log accepts (a bad cursor aside), with a bounded page,
// a start time, an end after it and a canonical name.
func FuzzQueryFilter(f *testing.F) {
	for _, s := range []string{"domain=Evil.Example.&match=exact&action=blocked&qtype=AAAA", "client=192.0.2.0/24&from=2026-11-22T08:00&to=2026-11-22T09:00",
		"domain=ads&match=contains&limit=500", "from=2026-11-22T10:00:00Z&to=2026-11-22T09:00:00Z", "limit=0", "action=nope&qtype=BOGUS", "cursor=abc"} {
		f.Add(s)
	}
	store, err := querylog.OpenStore(f.TempDir(), querylog.StoreOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, errs := ParseQueryFilter(v, time.UTC, now, MaxPageSize)
		if len(errs) > 0 {
			for k, msg := range errs {
				if k == "" || msg == "" {
					t.Fatalf("empty problem %q: %q", k, msg)
				}
			}
			return
		}
		if flt.Limit < 1 || flt.Limit > MaxPageSize || flt.From.IsZero() || (!flt.To.IsZero() && !flt.To.After(flt.From)) {
			t.Fatalf("filter %+v", flt)
		}
		if flt.Domain != "" && flt.Match != querylog.MatchSubstring && !dnsname.IsNormalized(flt.Domain) {
			t.Fatalf("domain %q not canonical", flt.Domain)
		}
		for _, a := range flt.Actions {
			if !a.Valid() {
				t.Fatalf("action %d", a)
			}
		}
		flt.Tenant = "org_x"
		if _, err := store.Search(context.Background(), flt); err != nil && (flt.Cursor == "" || !errors.Is(err, querylog.ErrInvalid)) {
			t.Fatalf("the query log refuses %+v: %v", flt, err)
		}
	})
}

// FuzzPolicyUpdateJSON: a PATCH body is refused as JSON, refused with
// per-field messages, or gives canonical settings that a second save
// leaves as they are.
func FuzzPolicyUpdateJSON(f *testing.F) {
	for _, s := range []string{`{"deny_list":["evil.example","*.ads.example"]}`, `{"egress_networks":["198.51.100.0/24","10.0.0.300"]}`,
		`{"block_mode":"sinkhole","cname_inspection":false}`, `{"categories":["malware","c2","malware"]}`, `{"allow_list":null}`, `{"nope":1}`, `[]`} {
		f.Add([]byte(s))
	}
	base := PolicyInput{Categories: DefaultCategories, Mode: ModeNXDomain, CNAMEInspection: true, Egress: []string{"192.0.2.0/24"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var u DNSPolicyUpdateJSON
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&u) != nil {
			return
		}
		in := u.Apply(base)
		pol, errs := in.validate()
		if len(errs) > 0 {
			for k, msg := range errs {
				if msg == "" {
					t.Fatalf("empty message for %s", k)
				}
			}
			return
		}
		switch pol.Mode {
		case ModeNXDomain, ModeRefused, ModeNoData, ModeSinkhole:
		default:
			t.Fatalf("mode %q", pol.Mode)
		}
		for _, c := range pol.Categories {
			if _, ok := CategoryByName(c); !ok {
				t.Fatalf("category %q", c)
			}
		}
		again, errs := InputOf(pol).validate()
		if len(errs) > 0 || !reflect.DeepEqual(again, pol) {
			t.Fatalf("second save changed %+v into %+v (%v)", pol, again, errs)
		}
	})
}
