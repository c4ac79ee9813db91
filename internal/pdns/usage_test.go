package pdns

import (
	"net/netip"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// TestMonthlyUsage: chargeback counts every query of an agency in the
// month, blocked or not, and leaves out unknown clients.
func TestMonthlyUsage(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	store, err := querylog.OpenStore(dir, querylog.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var recs []querylog.Record
	add := func(tenant string, action querylog.Action, n int) {
		for i := 0; i < n; i++ {
			r := querylog.Record{Time: now.Add(-time.Duration(i) * time.Millisecond).UnixNano(), Tenant: tenant, Client: netip.MustParseAddr("192.0.2.1"), Action: action}
			r.SetQNameString("www.example.com")
			recs = append(recs, r)
		}
	}
	add("org_a", querylog.Allowed, 7)
	add("org_a", querylog.Blocked, 3)
	add("org_b", querylog.Sinkholed, 2)
	add("", querylog.Refused, 5)
	if err := store.WriteBatch(recs); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil { // sealing books the month
		t.Fatal(err)
	}
	store, err = querylog.OpenStore(dir, querylog.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := &Service{QueryLog: store}
	got, err := svc.MonthlyUsage(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["org_a"] != 10 || got["org_b"] != 2 {
		t.Fatalf("usage %v", got)
	}
	if last, _ := svc.MonthlyUsage(now.AddDate(0, -1, 0)); len(last) != 0 {
		t.Fatalf("last month %v", last)
	}
	if _, err := (&Service{}).MonthlyUsage(now); err != ErrNoQueryLog {
		t.Fatalf("without a query log: %v", err)
	}
}
