// Command load fills a qsmo database that already holds the demo data with
// a large marketplace for the benchmark: agencies, providers, offerings
// with tiers, prices and conformance answers, orders in every state with
// their timelines, subscriptions with rates, assessments and three months
// of statements. It writes with batched SQL (no audit records): it makes
// benchmark data, not history.
//
//	load -data-dir DIR -agencies 500 -offerings 200 -orders 20000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/marketplace"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
)

func main() {
	dataDir := flag.String("data-dir", "", "qsmo data directory holding qsmo.db")
	agencies := flag.Int("agencies", 500, "agencies in total")
	providers := flag.Int("providers", 20, "providers in total")
	offerings := flag.Int("offerings", 200, "offerings in total")
	orders := flag.Int("orders", 20000, "orders in total")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "usage: load -data-dir DIR [-agencies N] [-offerings N] [-orders N]")
		os.Exit(2)
	}
	ctx := context.Background()
	d, err := db.Open(ctx, "", *dataDir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	l := &loader{ctx: ctx, d: d, r: rand.New(rand.NewPCG(*seed, 7)), now: time.Now().UTC()}
	start := time.Now()
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{"organizations", func() error { return l.orgs(*agencies, *providers) }},
		{"offerings", func() error { return l.offerings(*offerings) }},
		{"orders", func() error { return l.orders(*orders) }},
		{"assessments", l.assessments},
		{"statements", l.statements},
	} {
		t := time.Now()
		if err := step.fn(); err != nil {
			log.Fatalf("%s: %v", step.name, err)
		}
		log.Printf("%-13s %v", step.name, time.Since(t).Round(time.Millisecond))
	}
	log.Printf("loaded in %v", time.Since(start).Round(time.Millisecond))
}

type loader struct {
	ctx       context.Context
	d         *db.DB
	r         *rand.Rand
	now       time.Time
	agencies  []string
	providers []string
	offers    []offer
	areas     []string
}

type offer struct {
	id, provider, area, status string
	tiers                      []string
}

// batch runs fn in transactions of up to 2,000 rows each.
func (l *loader) batch(n int, fn func(tx *db.Tx, i int) error) error {
	for lo := 0; lo < n; lo += 2000 {
		err := l.d.InTx(l.ctx, func(tx *db.Tx) error {
			for i := lo; i < min(n, lo+2000); i++ {
				if err := fn(tx, i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) ids(query string) ([]string, error) {
	rows, err := l.d.QueryContext(l.ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (l *loader) orgs(agencies, providers int) error {
	var err error
	if l.agencies, err = l.ids("SELECT id FROM orgs WHERE kind = 'agency'"); err != nil {
		return err
	}
	if l.providers, err = l.ids("SELECT id FROM orgs WHERE kind IN ('provider', 'office')"); err != nil {
		return err
	}
	if l.areas, err = l.ids("SELECT id FROM market_service_areas ORDER BY sort_order"); err != nil {
		return err
	}
	ts := db.TS(l.now)
	addAg := max(0, agencies-len(l.agencies))
	if err := l.batch(addAg, func(tx *db.Tx, i int) error {
		oid := id.New("org")
		l.agencies = append(l.agencies, oid)
		_, err := tx.ExecContext(l.ctx, `INSERT INTO orgs (id, slug, name, kind, agency_code, alc, status, created_at, updated_at) VALUES (?, ?, ?, 'agency', ?, ?, 'active', ?, ?)`,
			oid, fmt.Sprintf("bench-agency-%03d", i), fmt.Sprintf("Bench Agency %03d", i), fmt.Sprintf("%03d", 100+i%800), fmt.Sprintf("%08d", 10000000+i), ts, ts)
		return err
	}); err != nil {
		return err
	}
	addPr := max(0, providers-len(l.providers))
	return l.batch(addPr, func(tx *db.Tx, i int) error {
		oid := id.New("org")
		l.providers = append(l.providers, oid)
		_, err := tx.ExecContext(l.ctx, `INSERT INTO orgs (id, slug, name, kind, status, created_at, updated_at) VALUES (?, ?, ?, 'provider', 'active', ?, ?)`,
			oid, fmt.Sprintf("bench-provider-%02d", i), fmt.Sprintf("Bench Provider %02d", i), ts, ts)
		return err
	})
}

var words = []string{"managed", "detection", "response", "resolver", "filtering", "scanning", "monitoring", "threat", "intelligence", "identity",
	"backup", "mobile", "network", "sensors", "forensics", "supply", "chain", "asset", "discovery", "zero", "trust", "cloud", "endpoint", "logging"}

func (l *loader) phrase(n int) string {
	var w []string
	for range n {
		w = append(w, words[l.r.IntN(len(words))])
	}
	return strings.Join(w, " ")
}

func (l *loader) offerings(total int) error {
	existing, err := l.ids("SELECT id || '|' || provider_org_id || '|' || service_area_id || '|' || status FROM market_offerings")
	if err != nil {
		return err
	}
	for _, e := range existing {
		p := strings.Split(e, "|")
		tiers, err := l.ids("SELECT tier FROM market_offering_tiers WHERE offering_id = '" + p[0] + "' AND listed")
		if err != nil {
			return err
		}
		l.offers = append(l.offers, offer{id: p[0], provider: p[1], area: p[2], status: p[3], tiers: tiers})
	}
	add := max(0, total-len(l.offers))
	statuses := []string{"listed", "listed", "listed", "listed", "listed", "listed", "listed", "paused", "retired", "draft", "in_review"}
	ts := db.TS(l.now.AddDate(-2, 0, 0))
	return l.batch(add, func(tx *db.Tx, i int) error {
		o := offer{id: id.New("off"), provider: l.providers[l.r.IntN(len(l.providers))], area: l.areas[l.r.IntN(len(l.areas))], status: statuses[l.r.IntN(len(statuses))]}
		all := maturity.Tiers()
		first := l.r.IntN(3)
		for _, t := range all[first:min(3, first+1+l.r.IntN(3))] {
			o.tiers = append(o.tiers, string(t))
		}
		p := l.phrase(2)
		name := fmt.Sprintf("Bench %s%s %03d", strings.ToUpper(p[:1]), p[1:], i)
		summary := "A " + l.phrase(5) + " service."
		model := []string{"flat", "per_unit", "tiered"}[l.r.IntN(3)]
		from := int64(50_000 + l.r.IntN(40)*25_000)
		ptype := []string{"federal_ssp", "commercial"}[l.r.IntN(2)]
		_, err := tx.ExecContext(l.ctx, `INSERT INTO market_offerings (id, provider_org_id, service_area_id, name, summary, description, provider_type, contract_vehicle,
			onboarding_days, status, pricing_model, price_from_cents, search_text, status_changed_at, listed_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, o.id, o.provider, o.area, name, summary, summary, ptype, map[bool]string{true: "GSA MAS", false: ""}[ptype == "commercial"],
			7+l.r.IntN(40), o.status, model, from, strings.ToLower(name+" "+summary), ts, ts, ts, ts)
		if err != nil {
			return err
		}
		for k, t := range o.tiers {
			listed := o.status == "listed" || o.status == "paused"
			if _, err := tx.ExecContext(l.ctx, `INSERT INTO market_offering_tiers (offering_id, tier, description, availability_bp, response_minutes, support_hours, listed)
				VALUES (?, ?, '', ?, ?, '24x7', ?)`, o.id, t, 9900+30*k, 240/(k+1), listed); err != nil {
				return err
			}
			if _, err := tx.ExecContext(l.ctx, `INSERT INTO market_prices (offering_id, tier, seq, kind, unit, quantity, from_units, unit_price_cents) VALUES (?, ?, 1, 'recurring', 'month', 1, 0, ?)`,
				o.id, t, from*int64(k+1)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(l.ctx, `INSERT INTO market_prices (offering_id, tier, seq, kind, unit, quantity, from_units, unit_price_cents) VALUES (?, ?, 2, 'usage', 'reports', 1, 0, 15000)`,
				o.id, t); err != nil {
				return err
			}
		}
		if o.status == "listed" || o.status == "paused" {
			if _, err := tx.ExecContext(l.ctx, `INSERT INTO market_answers (offering_id, requirement_id, status, evidence, review_status, answered_at)
				SELECT ?, r.id, 'met', 'See the service description.', 'accepted', ? FROM market_requirements r JOIN market_standards s ON s.id = r.standard_id
				WHERE s.service_area_id = ? AND s.status = 'published'`, o.id, ts, o.area); err != nil {
				return err
			}
		} else {
			o.tiers = nil
		}
		l.offers = append(l.offers, o)
		return nil
	})
}

var stateMix = []struct {
	state string
	share int // per 100
}{{"active", 45}, {"cancelled", 10}, {"declined", 8}, {"withdrawn", 7}, {"requested", 5}, {"approved", 5}, {"quoted", 5}, {"agreement_draft", 5}, {"signing", 5}, {"provisioning", 5}}

var steps = []string{"requested", "approved", "quoted", "agreement_draft", "signing", "provisioning", "active"}

func (l *loader) orders(total int) error {
	var orderable []offer
	for _, o := range l.offers {
		if len(o.tiers) > 0 {
			orderable = append(orderable, o)
		}
	}
	var existing int
	if err := l.d.QueryRowContext(l.ctx, "SELECT COUNT(*) FROM market_orders").Scan(&existing); err != nil {
		return err
	}
	used := map[[2]int]bool{}
	add := max(0, total-existing)
	return l.batch(add, func(tx *db.Tx, i int) error {
		var ag, of int
		for {
			ag, of = l.r.IntN(len(l.agencies)), l.r.IntN(len(orderable))
			if !used[[2]int{ag, of}] {
				used[[2]int{ag, of}] = true
				break
			}
		}
		o := orderable[of]
		state := "active"
		n := l.r.IntN(100)
		for _, m := range stateMix {
			if n < m.share {
				state = m.state
				break
			}
			n -= m.share
		}
		tier := o.tiers[l.r.IntN(len(o.tiers))]
		oid := id.New("ord")
		requested := l.now.Add(-time.Duration(l.r.IntN(700*24)) * time.Hour)
		if state != "active" && state != "cancelled" && state != "declined" && state != "withdrawn" {
			requested = l.now.Add(-time.Duration(l.r.IntN(30*24)) * time.Hour)
		}
		// Walk the steps to the final state, each taking 1 to 8 days.
		at := requested
		last := "requested"
		type ev struct {
			from, to string
			at, due  time.Time
		}
		evs := []ev{{"", "requested", at, time.Time{}}}
		due := at.Add(3 * 24 * time.Hour)
		target := state
		switch state {
		case "cancelled":
			target = "active"
		case "declined", "withdrawn":
			target = "requested"
		}
		for _, st := range steps[1:] {
			if last == target {
				break
			}
			at = at.Add(time.Duration(24+l.r.IntN(8*24)) * time.Hour)
			if at.After(l.now) {
				at = l.now.Add(-time.Hour)
			}
			evs = append(evs, ev{last, st, at, due})
			last = st
			due = at.Add(5 * 24 * time.Hour)
		}
		var closed, activated any
		if state == "declined" || state == "withdrawn" {
			at = at.Add(48 * time.Hour)
			evs = append(evs, ev{last, state, at, due})
			closed = db.TS(at)
		}
		if last == "active" {
			activated = db.TS(at)
		}
		if state == "cancelled" {
			at = at.Add(time.Duration(24*(30+l.r.IntN(200))) * time.Hour)
			if at.After(l.now) {
				at = l.now.Add(-time.Minute)
			}
			evs = append(evs, ev{"active", "cancelled", at, time.Time{}})
			closed = db.TS(at)
		}
		var dueAt any
		if state != "active" && state != "cancelled" && state != "declined" && state != "withdrawn" {
			dueAt = db.TS(due)
		}
		_, err := tx.ExecContext(l.ctx, `INSERT INTO market_orders (id, agency_org_id, provider_org_id, offering_id, service_area_id, tier, quantity, needs, state, state_since, due_at,
			requested_by_label, requested_at, activated_at, closed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, 'Benchmark order.', ?, ?, ?, 'bench', ?, ?, ?, ?)`,
			oid, l.agencies[ag], o.provider, o.id, o.area, tier, state, db.TS(at), dueAt, db.TS(requested), activated, closed, db.TS(at))
		if err != nil {
			return err
		}
		for k, e := range evs {
			var onTime any
			if !e.due.IsZero() {
				onTime = !e.at.After(e.due)
			}
			if _, err := tx.ExecContext(l.ctx, `INSERT INTO market_order_events (id, order_id, seq, action, from_state, to_state, party, actor_label, at, due_at, on_time)
				VALUES (?, ?, ?, 'bench', ?, ?, 'system', 'bench', ?, ?, ?)`, id.New("oev"), oid, k+1, e.from, e.to, db.TS(e.at), nullTS(e.due), onTime); err != nil {
				return err
			}
		}
		if state == "active" || state == "cancelled" {
			sid := id.New("sub")
			status := map[bool]string{true: "active", false: "cancelled"}[state == "active"]
			if _, err := tx.ExecContext(l.ctx, `INSERT INTO market_subscriptions (id, order_id, agency_org_id, provider_org_id, offering_id, service_area_id, tier, quantity, status, started_at, ended_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`, sid, oid, l.agencies[ag], o.provider, o.id, o.area, tier, status, activated, closed, db.TS(at)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(l.ctx, `INSERT INTO market_rates (subscription_id, seq, kind, unit, quantity, from_units, unit_price_cents)
				SELECT ?, seq, kind, unit, quantity, from_units, unit_price_cents FROM market_prices WHERE offering_id = ? AND tier = ?`, sid, o.id, tier); err != nil {
				return err
			}
		}
		return nil
	})
}

func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return db.TS(t)
}

func (l *loader) assessments() error {
	tiers := maturity.Tiers()
	return l.batch(len(l.agencies), func(tx *db.Tx, i int) error {
		for _, area := range []string{"protective-dns", "soc", "vulnerability-management"} {
			t := tiers[l.r.IntN(3)]
			if _, err := tx.ExecContext(l.ctx, `INSERT INTO market_assessments (id, agency_org_id, service_area_id, questionnaire_version, answers, score, max_score, tier, reasons, taken_by_label, taken_at)
				VALUES (?, ?, ?, 1, '{}', ?, 10, ?, '[]', 'bench', ?)`, id.New("asm"), l.agencies[i], area, 3*t.Rank(), string(t), db.TS(l.now.AddDate(0, -l.r.IntN(12), 0))); err != nil {
				return err
			}
		}
		return nil
	})
}

// statements issues the last three months' statements from the
// subscriptions' recurring rates (no usage), enough for the cost-avoidance
// figures.
func (l *loader) statements() error {
	for m := 1; m <= 3; m++ {
		start := time.Date(l.now.Year(), l.now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -m, 0)
		end := start.AddDate(0, 1, 0)
		period := start.Format("2006-01")
		days := int(end.Sub(start).Hours() / 24)
		err := l.d.InTx(l.ctx, func(tx *db.Tx) error {
			rows, err := tx.QueryContext(l.ctx, `SELECT s.id, s.agency_org_id, s.offering_id, o.name, p.name, s.service_area_id, s.tier,
				COALESCE((SELECT SUM(r.unit_price_cents * r.quantity) FROM market_rates r WHERE r.subscription_id = s.id AND r.kind = 'recurring'), 0)
				FROM market_subscriptions s JOIN market_offerings o ON o.id = s.offering_id JOIN orgs p ON p.id = s.provider_org_id
				WHERE s.started_at < ? AND (s.ended_at IS NULL OR s.ended_at >= ?)
				AND NOT EXISTS (SELECT 1 FROM market_statements st WHERE st.agency_org_id = s.agency_org_id AND st.period = ?)`, db.TS(end), db.TS(start), period)
			if err != nil {
				return err
			}
			type sec struct {
				sub, agency, off, offName, prov, area, tier string
				monthly                                     int64
			}
			var secs []sec
			for rows.Next() {
				var s sec
				if err := rows.Scan(&s.sub, &s.agency, &s.off, &s.offName, &s.prov, &s.area, &s.tier, &s.monthly); err != nil {
					rows.Close()
					return err
				}
				secs = append(secs, s)
			}
			rows.Close()
			stm := map[string]string{}
			totals := map[string]int64{}
			for _, s := range secs {
				if stm[s.agency] == "" {
					stm[s.agency] = id.New("stm")
				}
				totals[s.agency] += s.monthly
			}
			for agency, sid := range stm {
				if _, err := tx.ExecContext(l.ctx, `INSERT INTO market_statements (id, agency_org_id, period, total_cents, issued_at, issued_by) VALUES (?, ?, ?, ?, ?, 'bench')`,
					sid, agency, period, totals[agency], db.TS(end)); err != nil {
					return err
				}
			}
			for _, s := range secs {
				if _, err := tx.ExecContext(l.ctx, `INSERT INTO market_statement_subs (statement_id, subscription_id, offering_id, offering_name, provider_name, service_area_id, tier, active_days, month_days, amount_cents)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, stm[s.agency], s.sub, s.off, s.offName, s.prov, s.area, s.tier, days, days, s.monthly); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	_, err := l.d.ExecContext(l.ctx, `UPDATE market_offerings SET agencies_using = (SELECT COUNT(DISTINCT agency_org_id) FROM market_subscriptions s
		WHERE s.offering_id = market_offerings.id AND s.status = 'active')`)
	if err != nil {
		return err
	}
	// Tell a running server's storefront index the catalog changed.
	return marketplace.BumpCatalog(l.ctx, l.d)
}
