package cx

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/identity"
)

// seedBulk writes surveys, invitations and responses straight to the
// tables: n surveys of 10 invitations each over the last four quarters,
// half of them answered.
func seedBulk(b *testing.B, d *db.DB, n int) *Service {
	b.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ids := identity.New(d, log)
	office, err := ids.CreateOffice(ctx, "Office")
	if err != nil {
		b.Fatal(err)
	}
	system := &authz.Principal{Memberships: []authz.Membership{{OrgID: office.ID, OrgKind: authz.Office, Role: authz.OfficeAdmin}}}
	agency, err := ids.CreateOrg(ctx, system, identity.OrgInput{Name: "Agency", Kind: authz.Agency})
	if err != nil {
		b.Fatal(err)
	}
	var providers []string
	for i := range 5 {
		p, err := ids.CreateOrg(ctx, system, identity.OrgInput{Name: fmt.Sprintf("Provider %d", i), Kind: authz.Provider})
		if err != nil {
			b.Fatal(err)
		}
		providers = append(providers, p.ID)
	}
	var users []string
	for i := range 10 {
		uid, err := ids.CreateSeedUser(ctx, identity.SeedUser{Email: fmt.Sprintf("p%d@agency.example.gov", i), Name: "Person", Roles: []identity.SeedRole{{OrgID: agency.ID, Role: authz.AgencyAdmin}}})
		if err != nil {
			b.Fatal(err)
		}
		users = append(users, uid)
	}
	rnd := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- benchmark data
	now := d.Now()
	err = d.InTx(ctx, func(tx *db.Tx) error {
		for i := range n {
			q := a11.QuarterOf(now)
			for range rnd.IntN(DefaultRange) {
				q = q.Prev()
			}
			sid := id.New("svy")
			area := StandardServiceAreas[rnd.IntN(len(StandardServiceAreas))]
			if _, err := tx.ExecContext(ctx, `INSERT INTO cx_surveys (id, org_id, stage, service_area, service_name, offering_id, provider_id, trust_question, source, quarter, created_at, closes_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, 'I trust it.', 'office', ?, ?, ?)`, sid, agency.ID, string(Stages[i%4]), area.Key, area.Name, fmt.Sprintf("off_%d", i%40),
				providers[i%len(providers)], q.String(), db.TS(q.Start()), db.TS(q.End())); err != nil {
				return err
			}
			sv := Survey{ID: sid, Quarter: q, Stage: Stages[i%4], ServiceArea: area.Key, ServiceName: area.Name, ProviderID: providers[i%len(providers)],
				OfferingID: fmt.Sprintf("off_%d", i%40)}
			if err := startTally(ctx, tx, sv, 10); err != nil {
				return err
			}
			for j := range 10 {
				iid := id.New("cxi")
				if _, err := tx.ExecContext(ctx, `INSERT INTO cx_invitations (id, survey_id, org_id, user_id, token_hash, quarter, created_at, expires_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, iid, sid, agency.ID, users[j], iid, q.String(), db.TS(q.Start()), db.TS(q.End())); err != nil {
					return err
				}
				if j%2 == 1 {
					continue
				}
				a := a11.Answer{Trust: a11.Thumb(1 + rnd.IntN(2)), WentWell: a11.DriverSet(rnd.IntN(128)), NotWell: a11.DriverSet(rnd.IntN(128))}
				trust := map[a11.Thumb]int{a11.ThumbsUp: 1, a11.ThumbsDown: 0}[a.Trust]
				if _, err := tx.ExecContext(ctx, `INSERT INTO cx_responses (id, invitation_id, survey_id, org_id, channel, trust, went_well, not_well, quarter, submitted_at)
					VALUES (?, ?, ?, ?, 'email', ?, ?, ?, ?, ?)`, id.New("rsp"), iid, sid, agency.ID, trust, int(a.WentWell), int(a.NotWell), q.String(), db.TS(q.Start())); err != nil {
					return err
				}
				if err := addToTally(ctx, tx, sv, a); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	s := New(d, ids.Authz, log)
	return s
}

// BenchmarkReport measures the dashboard's report over four quarters of
// 5,000 surveys (50,000 invitations, 25,000 responses) spread over 1,786
// cells of quarter, stage, service, provider and offering, on SQLite.
func BenchmarkReport(b *testing.B) {
	d := dbtest.SQLite(b)
	s := seedBulk(b, d, 5000)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		r, err := s.report(ctx, ReportFilter{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if r.Total().Tally.Responses != 25000 {
			b.Fatalf("%d responses", r.Total().Tally.Responses)
		}
		_ = r.Series(ByStage)
		_ = r.By(ByService)
		_ = r.By(ByProvider)
	}
}
