package cx

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
)

// Settings are the office's choices for the survey instrument. They apply
// to surveys sent after a change; sent surveys keep the wording they were
// asked with.
type Settings struct {
	// TrustQuestion is the trust statement; [office] is replaced by the
	// office's name.
	TrustQuestion string
	// Classic adds the seven classic five-point items.
	Classic bool
}

const (
	settingTrust   = "cx.trust_question"
	settingClassic = "cx.classic_items"
)

// Settings returns the current settings, defaults for anything unset.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	return loadSettings(ctx, s.DB)
}

func loadSettings(ctx context.Context, q db.Queryer) (Settings, error) {
	st := Settings{TrustQuestion: a11.DefaultTrustQuestion}
	rows, err := q.QueryContext(ctx, "SELECT key, value FROM settings WHERE key IN (?, ?)", settingTrust, settingClassic)
	if err != nil {
		return st, fmt.Errorf("cx: load settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return st, fmt.Errorf("cx: scan settings: %w", err)
		}
		switch k {
		case settingTrust:
			st.TrustQuestion = v
		case settingClassic:
			st.Classic = v == "true"
		}
	}
	return st, rows.Err()
}

func (st *Settings) normalize() map[string]string {
	st.TrustQuestion = strings.Join(strings.Fields(st.TrustQuestion), " ")
	errs := map[string]string{}
	if n := utf8.RuneCountInString(st.TrustQuestion); n < 10 || n > 300 {
		errs["trust_question"] = "Write the trust statement in 10 to 300 characters."
	}
	if strings.Count(st.TrustQuestion, "[") != strings.Count(st.TrustQuestion, "]") {
		errs["trust_question"] = "Use [office] for the office's name; other brackets are not allowed."
	}
	if rest := strings.ReplaceAll(st.TrustQuestion, "[office]", ""); strings.ContainsAny(rest, "[]<>") {
		errs["trust_question"] = "Use [office] for the office's name; brackets and angle brackets are not allowed otherwise."
	}
	return errs
}

// UpdateSettings changes the survey settings (office admins).
func (s *Service) UpdateSettings(ctx context.Context, p *authz.Principal, st Settings) (Settings, error) {
	if err := s.checkOffice(ctx, p, authz.CXSettings); err != nil {
		return Settings{}, err
	}
	if errs := st.normalize(); len(errs) > 0 {
		return Settings{}, apperr.Validation(errs)
	}
	oid, err := s.officeID(ctx, s.DB)
	if err != nil {
		return Settings{}, err
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		before, err := loadSettings(ctx, tx)
		if err != nil {
			return err
		}
		for k, v := range map[string]string{settingTrust: st.TrustQuestion, settingClassic: fmt.Sprint(st.Classic)} {
			if _, err := tx.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", k, v); err != nil {
				return fmt.Errorf("cx: save setting: %w", err)
			}
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: oid, Action: "cx.settings.update", TargetType: "cx_settings", TargetID: "survey",
			Summary: "Changed the customer-experience survey settings",
			Before:  map[string]any{"trust_question": before.TrustQuestion, "classic_items": before.Classic},
			After:   map[string]any{"trust_question": st.TrustQuestion, "classic_items": st.Classic}})
	})
	if err != nil {
		return Settings{}, err
	}
	return st, nil
}
