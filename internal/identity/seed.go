package identity

import (
	"context"
	"fmt"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
)

// SeedUser is an account created directly by the system (demo data).
type SeedUser struct {
	Email        string
	Name         string
	PasswordHash string
	Roles        []SeedRole
}

// SeedRole is one role of a seeded user.
type SeedRole struct {
	OrgID string
	Role  authz.Role
}

// CreateSeedUser creates an active user with roles, bypassing invitations.
// Only the demo loader uses it; the change is audited like any other.
func (s *Service) CreateSeedUser(ctx context.Context, in SeedUser) (string, error) {
	in.Email = normalizeEmail(in.Email)
	if !validEmail(in.Email) || !validName(in.Name) {
		return "", apperr.New(apperr.Invalid, "seed user %q: bad email or name", in.Email)
	}
	userID := id.New("usr")
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, name, password_hash, status, password_changed_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'active', ?, ?, ?)`, userID, in.Email, in.Name, in.PasswordHash, db.TS(now), db.TS(now), db.TS(now)); err != nil {
			return fmt.Errorf("identity: seed user: %w", err)
		}
		orgID := ""
		for _, r := range in.Roles {
			if _, err := tx.ExecContext(ctx, "INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?, ?, ?, ?)", userID, r.OrgID, string(r.Role), db.TS(now)); err != nil {
				return fmt.Errorf("identity: seed membership: %w", err)
			}
			if orgID == "" {
				orgID = r.OrgID
			}
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: orgID, Action: "user.create", TargetType: "user", TargetID: userID,
			Summary: "Created demo user " + in.Email, After: map[string]any{"email": in.Email, "roles": in.Roles}})
	})
	return userID, err
}

// CountUsers returns how many accounts exist.
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n)
	return n, err
}

// HasActiveOfficeAdmin reports whether someone can administer the office.
func (s *Service) HasActiveOfficeAdmin(ctx context.Context) (bool, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.role = 'office_admin' AND u.status = 'active'`).Scan(&n)
	return n > 0, err
}
