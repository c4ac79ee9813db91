package audit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
)

func appendN(t *testing.T, d *db.DB, n int, org string) {
	t.Helper()
	ctx := audit.WithActor(context.Background(), audit.Actor{UserID: "usr_1", Label: "ada@example.gov", IP: "127.0.0.1"})
	for i := range n {
		err := d.InTx(ctx, func(tx *db.Tx) error {
			return audit.Append(ctx, tx, audit.Event{OrgID: org, Action: "thing.update", TargetType: "thing", TargetID: fmt.Sprint("t", i),
				Summary: "changed a thing", Before: map[string]int{"v": i}, After: map[string]int{"v": i + 1}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// tamper runs a statement with the append-only guard lifted, as an attacker
// with direct database access could.
func tamper(t *testing.T, d *db.DB, stmt string) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch d.Dialect {
	case db.SQLite:
		_, err = d.ExecContext(ctx, "DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete; "+stmt)
	case db.Postgres:
		_, err = d.ExecContext(ctx, "ALTER TABLE audit_events DISABLE TRIGGER USER; "+stmt)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestChain(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		t.Run("intact chain verifies", func(t *testing.T) {
			appendN(t, d, 5, "org_a")
			res, err := audit.Verify(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK() || res.Count != 5 || res.HeadSeq != 5 || res.HeadHash == "" {
				t.Fatalf("Verify = %+v", res)
			}
		})
		t.Run("actor and states are recorded", func(t *testing.T) {
			recs, _, err := audit.List(ctx, d, audit.Filter{Limit: 1})
			if err != nil || len(recs) != 1 {
				t.Fatalf("List = %v, %v", recs, err)
			}
			r := recs[0]
			if r.Actor.Label != "ada@example.gov" || r.Actor.IP != "127.0.0.1" || r.BeforeJSON != `{"v":4}` || r.AfterJSON != `{"v":5}` {
				t.Fatalf("record = %+v", r)
			}
		})
		t.Run("concurrent appends never fork the chain", func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 10 {
						errs <- d.InTx(ctx, func(tx *db.Tx) error {
							return audit.Append(ctx, tx, audit.Event{OrgID: "org_b", Action: "x.y", TargetID: fmt.Sprint(g, i)})
						})
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			res, err := audit.Verify(ctx, d)
			if err != nil || !res.OK() || res.Count != 45 {
				t.Fatalf("Verify = %+v, %v", res, err)
			}
		})
		t.Run("filters", func(t *testing.T) {
			recs, _, err := audit.List(ctx, d, audit.Filter{OrgIDs: []string{"org_a"}, Limit: 100})
			if err != nil || len(recs) != 5 {
				t.Fatalf("org filter: %d records, %v", len(recs), err)
			}
			recs, _, _ = audit.List(ctx, d, audit.Filter{OrgIDs: []string{}})
			if len(recs) != 0 {
				t.Fatal("empty org list must match nothing")
			}
			recs, _, _ = audit.List(ctx, d, audit.Filter{Action: "thing.", Limit: 100})
			if len(recs) != 5 {
				t.Fatalf("action prefix: %d records", len(recs))
			}
			recs, _, _ = audit.List(ctx, d, audit.Filter{Action: "thing_", Limit: 100})
			if len(recs) != 0 {
				t.Fatal("underscore must be literal in action filter")
			}
			recs, _, _ = audit.List(ctx, d, audit.Filter{Actor: "ADA@", Limit: 100})
			if len(recs) != 5 {
				t.Fatalf("actor filter: %d records", len(recs))
			}
		})
		t.Run("paging walks every record once", func(t *testing.T) {
			seen := map[int64]bool{}
			var cursor int64
			for {
				recs, next, err := audit.List(ctx, d, audit.Filter{Limit: 7, BeforeSeq: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs {
					if seen[r.Seq] {
						t.Fatalf("seq %d twice", r.Seq)
					}
					seen[r.Seq] = true
				}
				if next == 0 {
					break
				}
				cursor = next
			}
			if len(seen) != 45 {
				t.Fatalf("paged %d records, want 45", len(seen))
			}
		})
		t.Run("edited record is detected", func(t *testing.T) {
			tamper(t, d, "UPDATE audit_events SET summary = 'nothing happened' WHERE seq = 3")
			res, err := audit.Verify(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK() || !strings.Contains(strings.Join(res.Problems, ";"), "seq 3") {
				t.Fatalf("tampering not detected: %+v", res)
			}
		})
		t.Run("deleted record is detected", func(t *testing.T) {
			tamper(t, d, "DELETE FROM audit_events WHERE seq = 10")
			res, _ := audit.Verify(ctx, d)
			if !strings.Contains(strings.Join(res.Problems, ";"), "missing") {
				t.Fatalf("deletion not detected: %+v", res.Problems)
			}
		})
	})
}
