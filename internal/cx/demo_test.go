package cx

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/demo"
	"github.com/qsmo/qsmo/internal/identity"
	"github.com/qsmo/qsmo/internal/identity/password"
)

// TestDemo loads the demo on both engines and checks what a newcomer should
// find: history in every quarter and stage, surveys waiting now, feedback
// in every state, "you said, we did" entries, and totals that match.
func TestDemo(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		ids := identity.New(d, log)
		h, err := password.NewHasher(password.Options{Params: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
		if err != nil {
			t.Fatal(err)
		}
		ids.Hasher = h
		s := New(d, ids.Authz, log)
		if _, _, err := demo.Seed(ctx, ids, "demo password 4242", log, DemoLoader(s)); err != nil {
			t.Fatal(err)
		}
		checkTallies(t, s)
		count := func(q string) int {
			var n int
			if err := d.QueryRowContext(ctx, q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count("SELECT COUNT(DISTINCT quarter) FROM cx_responses"); n < 4 {
			t.Errorf("responses in %d quarters", n)
		}
		if n := count("SELECT COUNT(DISTINCT stage) FROM cx_surveys"); n != 4 {
			t.Errorf("surveys at %d stages", n)
		}
		if n := count("SELECT COUNT(DISTINCT state) FROM cx_feedback"); n != len(FeedbackStates) {
			t.Errorf("feedback in %d states", n)
		}
		if n := count("SELECT COUNT(*) FROM cx_changes"); n < 3 {
			t.Errorf("%d entries", n)
		}
		if n := count("SELECT COUNT(*) FROM outbox WHERE body LIKE '%/cx/answer/%'"); n == 0 {
			t.Error("no survey waiting in anyone's inbox")
		}
		if n := count("SELECT COUNT(DISTINCT channel) FROM cx_responses"); n != 3 {
			t.Errorf("responses over %d channels", n)
		}
	})
}
