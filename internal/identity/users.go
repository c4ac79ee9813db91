package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/notify"
)

const userColumns = "id, email, name, status, totp_enabled, password_hash, totp_secret, totp_last_step, oidc_subject, time_zone, created_at, last_sign_in_at"

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var oidcSubject string
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Status, &u.TOTPEnabled, &u.passwordHash, &u.totpSecret, &u.totpLastStep, &oidcSubject, &u.TimeZone,
		(*db.Time)(&u.CreatedAt), (*db.Time)(&u.LastSignInAt))
	u.HasPassword = u.passwordHash != ""
	u.OIDCLinked = oidcSubject != ""
	return u, err
}

func getUser(ctx context.Context, q db.Queryer, userID string) (User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", userID))
	if errors.Is(err, sql.ErrNoRows) {
		return u, apperr.NotFoundf("User")
	}
	if err != nil {
		return u, fmt.Errorf("identity: get user: %w", err)
	}
	return u, nil
}

func userByEmail(ctx context.Context, q db.Queryer, email string) (User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE email = ?", normalizeEmail(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return u, apperr.NotFoundf("User")
	}
	if err != nil {
		return u, fmt.Errorf("identity: user by email: %w", err)
	}
	return u, nil
}

func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// validEmail checks an address typed by a person: one plain address, no
// display name.
func validEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " <>\r\n") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndexByte(s, '@'):], ".")
}

func validName(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= 120 && !strings.ContainsAny(s, "\r\n\t<>")
}

// memberships returns the user's roles in active organizations.
func memberships(ctx context.Context, q db.Queryer, userID string) ([]authz.Membership, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.org_id, o.kind, o.name, o.slug, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id
		WHERE m.user_id = ? AND o.status = 'active'
		ORDER BY CASE o.kind WHEN 'office' THEN 0 WHEN 'agency' THEN 1 ELSE 2 END, o.name, m.role`, userID)
	if err != nil {
		return nil, fmt.Errorf("identity: memberships: %w", err)
	}
	defer rows.Close()
	var out []authz.Membership
	for rows.Next() {
		var m authz.Membership
		var kind, role string
		if err := rows.Scan(&m.OrgID, &kind, &m.OrgName, &m.OrgSlug, &role); err != nil {
			return nil, err
		}
		m.OrgKind, m.Role = authz.OrgKind(kind), authz.Role(role)
		if m.Role.Valid() {
			out = append(out, m)
		}
	}
	return out, rows.Err()
}

// Memberships returns a user's roles, for the account page.
func (s *Service) Memberships(ctx context.Context, userID string) ([]authz.Membership, error) {
	return memberships(ctx, s.DB, userID)
}

// GetUser returns a user the principal may see: themselves, or a member of
// an organization where the principal can read users.
func (s *Service) GetUser(ctx context.Context, p *authz.Principal, userID string) (User, []authz.Membership, error) {
	u, err := getUser(ctx, s.DB, userID)
	if err != nil {
		return User{}, nil, err
	}
	ms, err := allMemberships(ctx, s.DB, userID)
	if err != nil {
		return User{}, nil, err
	}
	if p != nil && p.UserID == userID {
		return u, ms, nil
	}
	if err := s.checkUserAccess(ctx, p, authz.UserRead, ms); err != nil {
		return User{}, nil, err
	}
	// Show only the memberships the principal may see.
	var visible []authz.Membership
	for _, m := range ms {
		if s.Authz.Can(ctx, p, authz.UserRead, m.OrgID) {
			visible = append(visible, m)
		}
	}
	return u, visible, nil
}

// allMemberships includes suspended organizations, for administration.
func allMemberships(ctx context.Context, q db.Queryer, userID string) ([]authz.Membership, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.org_id, o.kind, o.name, o.slug, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id
		WHERE m.user_id = ? ORDER BY o.name, m.role`, userID)
	if err != nil {
		return nil, fmt.Errorf("identity: memberships: %w", err)
	}
	defer rows.Close()
	var out []authz.Membership
	for rows.Next() {
		var m authz.Membership
		var kind, role string
		if err := rows.Scan(&m.OrgID, &kind, &m.OrgName, &m.OrgSlug, &role); err != nil {
			return nil, err
		}
		m.OrgKind, m.Role = authz.OrgKind(kind), authz.Role(role)
		out = append(out, m)
	}
	return out, rows.Err()
}

// checkUserAccess allows perm on a user when the principal holds it in any
// of the user's organizations; a user in no visible organization is "not
// found".
func (s *Service) checkUserAccess(ctx context.Context, p *authz.Principal, perm authz.Permission, ms []authz.Membership) error {
	var firstErr error
	for _, m := range ms {
		err := s.Authz.Check(ctx, p, perm, m.OrgID)
		if err == nil {
			return nil
		}
		if firstErr == nil || apperr.Is(err, apperr.Forbidden) {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = apperr.NotFoundf("User")
	}
	if apperr.Is(firstErr, apperr.NotFound) {
		return apperr.NotFoundf("User")
	}
	return firstErr
}

// checkUserAdmin allows managing a user (suspend, reactivate) only when the
// principal can manage users in every organization the user belongs to, so
// an agency admin cannot lock out a person who also works elsewhere.
func (s *Service) checkUserAdmin(ctx context.Context, p *authz.Principal, ms []authz.Membership) error {
	if err := s.checkUserAccess(ctx, p, authz.UserRead, ms); err != nil {
		return err
	}
	for _, m := range ms {
		if err := s.Authz.Check(ctx, p, authz.UserManage, m.OrgID); err != nil {
			if apperr.Is(err, apperr.NotFound) {
				return apperr.New(apperr.Forbidden, "This person also belongs to organizations you do not manage; ask an office admin.")
			}
			return err
		}
	}
	return nil
}

// ListMembers returns an organization's users with their roles there.
func (s *Service) ListMembers(ctx context.Context, p *authz.Principal, orgID string) ([]Member, error) {
	if err := s.Authz.Check(ctx, p, authz.UserRead, orgID); err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT `+prefixed("u.", userColumns)+`, m.role FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = ? ORDER BY LOWER(u.name), u.id, m.role`, orgID)
	if err != nil {
		return nil, fmt.Errorf("identity: list members: %w", err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var u User
		var oidcSubject, role string
		if err := rows.Scan(&u.ID, &u.Email, &u.Name, &u.Status, &u.TOTPEnabled, &u.passwordHash, &u.totpSecret, &u.totpLastStep, &oidcSubject, &u.TimeZone,
			(*db.Time)(&u.CreatedAt), (*db.Time)(&u.LastSignInAt), &role); err != nil {
			return nil, err
		}
		u.HasPassword, u.OIDCLinked = u.passwordHash != "", oidcSubject != ""
		u.passwordHash, u.totpSecret = "", ""
		if n := len(out); n > 0 && out[n-1].ID == u.ID {
			out[n-1].Roles = append(out[n-1].Roles, authz.Role(role))
			continue
		}
		out = append(out, Member{User: u, Roles: []authz.Role{authz.Role(role)}})
	}
	return out, rows.Err()
}

func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = prefix + parts[i]
	}
	return strings.Join(parts, ", ")
}

// SetRoles replaces a member's roles in an organization. Granting or
// removing a role requires the right to grant it; the last office admin
// cannot lose the role. An empty list removes the person from the
// organization.
func (s *Service) SetRoles(ctx context.Context, p *authz.Principal, orgID, userID string, roles []authz.Role) error {
	if err := s.Authz.Check(ctx, p, authz.UserManage, orgID); err != nil {
		return err
	}
	roles = dedupeRoles(roles)
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		u, err := getUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		current, err := rolesIn(ctx, tx, userID, orgID)
		if err != nil {
			return err
		}
		if len(current) == 0 {
			return apperr.NotFoundf("Member")
		}
		add, remove := diffRoles(current, roles)
		for _, r := range append(append([]authz.Role{}, add...), remove...) {
			if err := s.Authz.CanGrant(ctx, p, r, orgID); err != nil {
				return err
			}
		}
		for _, r := range remove {
			if r == authz.OfficeAdmin {
				if err := ensureAnotherOfficeAdmin(ctx, tx, userID); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM memberships WHERE user_id = ? AND org_id = ? AND role = ?", userID, orgID, string(r)); err != nil {
				return fmt.Errorf("identity: remove role: %w", err)
			}
		}
		for _, r := range add {
			if _, err := tx.ExecContext(ctx, "INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?, ?, ?, ?)", userID, orgID, string(r), db.TS(tx.Now())); err != nil {
				return fmt.Errorf("identity: add role: %w", err)
			}
		}
		if len(add) == 0 && len(remove) == 0 {
			return nil
		}
		action, summary := "member.roles", fmt.Sprintf("Changed %s's roles", u.Email)
		if len(roles) == 0 {
			action, summary = "member.remove", fmt.Sprintf("Removed %s from the organization", u.Email)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: orgID, Action: action, TargetType: "user", TargetID: userID, Summary: summary,
			Before: map[string]any{"roles": current}, After: map[string]any{"roles": roles}})
	})
}

func dedupeRoles(in []authz.Role) []authz.Role {
	seen := map[authz.Role]bool{}
	var out []authz.Role
	for _, r := range in {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func diffRoles(current, want []authz.Role) (add, remove []authz.Role) {
	has := map[authz.Role]bool{}
	for _, r := range current {
		has[r] = true
	}
	wanted := map[authz.Role]bool{}
	for _, r := range want {
		wanted[r] = true
		if !has[r] {
			add = append(add, r)
		}
	}
	for _, r := range current {
		if !wanted[r] {
			remove = append(remove, r)
		}
	}
	return add, remove
}

func rolesIn(ctx context.Context, q db.Queryer, userID, orgID string) ([]authz.Role, error) {
	rows, err := q.QueryContext(ctx, "SELECT role FROM memberships WHERE user_id = ? AND org_id = ? ORDER BY role", userID, orgID)
	if err != nil {
		return nil, fmt.Errorf("identity: roles: %w", err)
	}
	defer rows.Close()
	var out []authz.Role
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, authz.Role(r))
	}
	return out, rows.Err()
}

func ensureAnotherOfficeAdmin(ctx context.Context, tx *db.Tx, userID string) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.role = 'office_admin' AND u.status = 'active' AND m.user_id <> ?`, userID).Scan(&n)
	if err != nil {
		return fmt.Errorf("identity: count office admins: %w", err)
	}
	if n == 0 {
		return apperr.New(apperr.Conflict, "This is the last active office admin; make someone else an office admin first.")
	}
	return nil
}

// SetUserStatus suspends or reactivates a user. Suspension signs the user
// out everywhere and stops their email.
func (s *Service) SetUserStatus(ctx context.Context, p *authz.Principal, userID string, active bool) (User, error) {
	ms, err := allMemberships(ctx, s.DB, userID)
	if err != nil {
		return User{}, err
	}
	if err := s.checkUserAdmin(ctx, p, ms); err != nil {
		return User{}, err
	}
	if p.UserID == userID && !active {
		return User{}, apperr.New(apperr.Conflict, "You cannot suspend yourself.")
	}
	var u User
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		before, err := getUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		u = before
		status, action := "suspended", "user.suspend"
		if active {
			status, action = "active", "user.reactivate"
			if before.Status == "invited" || (!before.HasPassword && !before.OIDCLinked) {
				return apperr.New(apperr.Conflict, "This person has not finished setting up their account yet.")
			}
		}
		if before.Status == status {
			return nil
		}
		if !active {
			for _, m := range ms {
				if m.Role == authz.OfficeAdmin {
					if err := ensureAnotherOfficeAdmin(ctx, tx, userID); err != nil {
						return err
					}
				}
			}
		}
		u.Status = status
		if _, err := tx.ExecContext(ctx, "UPDATE users SET status = ?, updated_at = ? WHERE id = ?", status, db.TS(tx.Now()), userID); err != nil {
			return fmt.Errorf("identity: set user status: %w", err)
		}
		if !active {
			if _, err := tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", db.TS(tx.Now()), userID); err != nil {
				return fmt.Errorf("identity: revoke sessions: %w", err)
			}
		}
		orgID := ""
		if len(ms) > 0 {
			orgID = ms[0].OrgID
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: orgID, Action: action, TargetType: "user", TargetID: userID,
			Summary: fmt.Sprintf("%s %s", map[bool]string{true: "Reactivated", false: "Suspended"}[active], u.Email),
			Before:  map[string]string{"status": before.Status}, After: map[string]string{"status": status}})
	})
	return u, err
}

// UpdateProfile changes the signed-in user's own name and time zone.
func (s *Service) UpdateProfile(ctx context.Context, p *authz.Principal, name, timeZone string) error {
	name = strings.TrimSpace(name)
	errs := map[string]string{}
	if !validName(name) {
		errs["name"] = "Enter your name (1 to 120 characters)."
	}
	if !validTimeZone(timeZone) {
		errs["time_zone"] = "Choose a time zone from the list."
	}
	if len(errs) > 0 {
		return apperr.Validation(errs)
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		u, err := getUser(ctx, tx, p.UserID)
		if err != nil {
			return err
		}
		if u.Name == name && u.TimeZone == timeZone {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET name = ?, time_zone = ?, updated_at = ? WHERE id = ?", name, timeZone, db.TS(tx.Now()), p.UserID); err != nil {
			return fmt.Errorf("identity: update profile: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: p.ActiveOrgID, Action: "user.profile", TargetType: "user", TargetID: p.UserID,
			Summary: "Updated their profile", Before: map[string]string{"name": u.Name, "time_zone": u.TimeZone}, After: map[string]string{"name": name, "time_zone": timeZone}})
	})
}

// notifyUser sends an in-app notification and email inside tx.
func (s *Service) notifyUser(ctx context.Context, tx *db.Tx, userID, orgID, subject, body, link string) error {
	return notify.Notify(ctx, tx, notify.Notification{UserID: userID, OrgID: orgID, Subject: subject, Body: body, Link: link}, s.PublicURL)
}
