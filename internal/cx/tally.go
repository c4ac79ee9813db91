package cx

import (
	"context"
	"fmt"
	"strings"

	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
)

// Reports read running totals kept per cell (quarter, stage, service,
// provider, offering) in cx_tallies rather than every invitation and
// response: a cell's offered count grows in the same transaction that
// sends a survey, and its counters in the same transaction as each
// response, so the totals cannot drift from the rows they count.
// checkTallies (in the tests) compares them with a count of the raw rows.

// tallyColumns are the counters of cx_tallies after offered, in the order
// of tallyFields.
var tallyColumns = func() []string {
	cols := []string{"responses", "trust_up", "trust_down", "went_well_n", "not_well_n"}
	for _, d := range a11.Drivers {
		cols = append(cols, "went_well_"+d.Key())
	}
	for _, d := range a11.Drivers {
		cols = append(cols, "not_well_"+d.Key())
	}
	for _, c := range a11.ClassicItems {
		cols = append(cols, "classic_"+c.Key+"_n", "classic_"+c.Key+"_sum", "classic_"+c.Key+"_agree")
	}
	return cols
}()

// tallyFields returns pointers to t's counters in the order of
// tallyColumns.
func tallyFields(t *a11.Tally) []*int {
	f := []*int{&t.Responses, &t.TrustUp, &t.TrustDown, &t.WentWellN, &t.NotWellN}
	for i := range t.WentWell {
		f = append(f, &t.WentWell[i])
	}
	for i := range t.NotWell {
		f = append(f, &t.NotWell[i])
	}
	for i := range t.Classic {
		f = append(f, &t.Classic[i].N, &t.Classic[i].Sum, &t.Classic[i].Agree)
	}
	return f
}

// tallyDest returns scan destinations for t's counters.
func tallyDest(t *a11.Tally) []any {
	var out []any
	for _, p := range tallyFields(t) {
		out = append(out, p)
	}
	return out
}

// prefixed returns the names with a table alias in front.
func prefixed(alias string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = alias + n
	}
	return out
}

// tallySums sums the counters of the tallies table aliased alias.
func tallySums(alias string) string {
	parts := make([]string, len(tallyColumns))
	for i, c := range tallyColumns {
		parts[i] = "COALESCE(SUM(" + alias + "." + c + "), 0)"
	}
	return strings.Join(parts, ", ")
}

// cellKey is where a survey's answers are counted.
func cellKey(sv Survey) []any {
	return []any{sv.Quarter.String(), string(sv.Stage), sv.ServiceArea, sv.ProviderID, sv.OfferingID}
}

const cellWhere = "quarter = ? AND stage = ? AND service_area = ? AND provider_id = ? AND offering_id = ?"

// startTally counts the people a new survey was offered to in its cell.
func startTally(ctx context.Context, tx *db.Tx, sv Survey, offered int) error {
	tallyWrites.Add(1)
	_, err := tx.ExecContext(ctx, `INSERT INTO cx_tallies (quarter, stage, service_area, provider_id, offering_id, service_name, offering_name, offered)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (quarter, stage, service_area, provider_id, offering_id) DO UPDATE SET offered = cx_tallies.offered + excluded.offered,
			service_name = excluded.service_name, offering_name = CASE WHEN excluded.offering_name = '' THEN cx_tallies.offering_name ELSE excluded.offering_name END`,
		append(cellKey(sv), sv.ServiceName, sv.OfferingName, offered)...)
	if err != nil {
		return fmt.Errorf("cx: start tally: %w", err)
	}
	return nil
}

// addToTally counts one answer to sv in its cell.
func addToTally(ctx context.Context, tx *db.Tx, sv Survey, a a11.Answer) error {
	tallyWrites.Add(1)
	var t a11.Tally
	t.Add(a)
	sets := make([]string, len(tallyColumns))
	args := make([]any, 0, len(tallyColumns)+5)
	for i, c := range tallyColumns {
		sets[i] = c + " = " + c + " + ?"
	}
	for _, p := range tallyFields(&t) {
		args = append(args, *p)
	}
	res, err := tx.ExecContext(ctx, "UPDATE cx_tallies SET "+strings.Join(sets, ", ")+" WHERE "+cellWhere, append(args, cellKey(sv)...)...)
	if err != nil {
		return fmt.Errorf("cx: add to tally: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("cx: add to tally: survey %s has no totals", sv.ID)
	}
	return nil
}
