package identity

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/notify"
)

// hashSecret is how one-time link tokens and API token secrets are stored:
// they carry 160+ random bits, so a plain SHA-256 is enough and lets the
// lookup be an indexed equality.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// InviteInput is who to invite and with which role.
type InviteInput struct {
	OrgID string
	Email string
	Name  string
	Role  authz.Role
}

// InviteResult tells the caller what happened: a new person gets an
// invitation link by email; a person who already has an account simply gets
// the role (and a notification).
type InviteResult struct {
	Invitation Invitation
	// Link is the one-time link (also emailed); empty when an existing
	// user got the role directly.
	Link          string
	ExistingUser  bool
	ExistingEmail string
}

// Invite invites a person to an organization with a role.
func (s *Service) Invite(ctx context.Context, p *authz.Principal, in InviteInput) (InviteResult, error) {
	in.Email = normalizeEmail(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	errs := map[string]string{}
	if !validEmail(in.Email) {
		errs["email"] = "Enter an email address in the correct format, like name@agency.gov."
	}
	if in.Name != "" && !validName(in.Name) {
		errs["name"] = "Enter a name of up to 120 characters."
	}
	if !in.Role.Valid() {
		errs["role"] = "Choose a role: " + roleNames(authz.AllRoles()) + "."
	}
	if err := s.Authz.Check(ctx, p, authz.UserManage, in.OrgID); err != nil {
		return InviteResult{}, err
	}
	if len(errs) > 0 {
		return InviteResult{}, apperr.Validation(errs)
	}
	if err := s.Authz.CanGrant(ctx, p, in.Role, in.OrgID); err != nil {
		return InviteResult{}, err
	}
	var res InviteResult
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		org, err := getOrg(ctx, tx, in.OrgID)
		if err != nil {
			return err
		}
		u, err := userByEmail(ctx, tx, in.Email)
		switch {
		case err == nil:
			roles, err := rolesIn(ctx, tx, u.ID, in.OrgID)
			if err != nil {
				return err
			}
			for _, r := range roles {
				if r == in.Role {
					return apperr.New(apperr.Conflict, "%s already has the role %s in %s.", u.Email, r.Label(), org.Name)
				}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?, ?, ?, ?)", u.ID, in.OrgID, string(in.Role), db.TS(tx.Now())); err != nil {
				return fmt.Errorf("identity: add membership: %w", err)
			}
			res = InviteResult{ExistingUser: true, ExistingEmail: u.Email}
			if err := s.notifyUser(ctx, tx, u.ID, in.OrgID, fmt.Sprintf("You are now %s in %s", in.Role.Label(), org.Name),
				fmt.Sprintf("%s gave you the role %s in %s on qsmo.", p.Label(), in.Role.Label(), org.Name), "/account"); err != nil {
				return err
			}
			return audit.Append(ctx, tx, audit.Event{OrgID: in.OrgID, Action: "member.add", TargetType: "user", TargetID: u.ID,
				Summary: fmt.Sprintf("Gave %s the role %s", u.Email, in.Role.Label()), After: map[string]any{"role": in.Role}})
		case !apperr.Is(err, apperr.NotFound):
			return err
		}
		inv, link, err := s.createInvitation(ctx, tx, in, "invite", p.UserID, s.InviteTTL)
		if err != nil {
			return err
		}
		res = InviteResult{Invitation: inv, Link: link}
		body := fmt.Sprintf("Hello%s,\n\n%s invited you to join %s on qsmo, the %s portal, as %s.\n\nOpen this link to set up your account (it works once and expires on %s UTC):\n\n%s\n\nIf you did not expect this invitation, you can ignore this message.",
			greetingName(in.Name), p.Label(), org.Name, s.OfficeName, in.Role.Label(), inv.ExpiresAt.UTC().Format("Jan 2, 2006 15:04"), link)
		if err := notify.Enqueue(ctx, tx, notify.Message{OrgID: in.OrgID, To: in.Email, Subject: "You are invited to " + org.Name + " on qsmo", Body: body, Kind: "invite"}); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: in.OrgID, Action: "user.invite", TargetType: "invitation", TargetID: inv.ID,
			Summary: fmt.Sprintf("Invited %s as %s", in.Email, in.Role.Label()), After: map[string]any{"email": in.Email, "role": in.Role, "expires_at": inv.ExpiresAt}})
	})
	return res, err
}

func greetingName(n string) string {
	if n == "" {
		return ""
	}
	return " " + n
}

func (s *Service) createInvitation(ctx context.Context, tx *db.Tx, in InviteInput, purpose, by string, ttl time.Duration) (Invitation, string, error) {
	secret := id.Secret(24)
	now := tx.Now()
	inv := Invitation{ID: id.New("inv"), Email: in.Email, Name: in.Name, OrgID: in.OrgID, Role: in.Role, Purpose: purpose, InvitedBy: by,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	_, err := tx.ExecContext(ctx, `INSERT INTO invitations (id, token_hash, email, name, org_id, role, purpose, invited_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, inv.ID, hashSecret(secret), inv.Email, inv.Name, inv.OrgID, string(inv.Role), purpose, by, db.TS(now), db.TS(inv.ExpiresAt))
	if err != nil {
		return inv, "", fmt.Errorf("identity: insert invitation: %w", err)
	}
	return inv, s.PublicURL + "/invite/" + secret, nil
}

// CreateSetupLink makes the one-time link for the first office admin (or,
// from the CLI, for any role): the person opens it, enters their name,
// email if not given, and password.
func (s *Service) CreateSetupLink(ctx context.Context, orgID string, role authz.Role, email, name string) (Invitation, string, error) {
	email = normalizeEmail(email)
	if email != "" && !validEmail(email) {
		return Invitation{}, "", apperr.Validation(map[string]string{"email": "Enter an email address in the correct format, like name@agency.gov."})
	}
	var inv Invitation
	var link string
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		org, err := getOrg(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if !role.Valid() || role.Kind() != org.Kind {
			return apperr.Validation(map[string]string{"role": fmt.Sprintf("Choose a role for %s organization: %s.", org.Kind.Article(), roleNames(authz.RolesFor(org.Kind)))})
		}
		if email != "" {
			if u, err := userByEmail(ctx, tx, email); err == nil {
				roles, _ := rolesIn(ctx, tx, u.ID, orgID)
				for _, r := range roles {
					if r == role {
						return apperr.New(apperr.Conflict, "%s already has the role %s in %s.", email, role.Label(), org.Name)
					}
				}
			}
		}
		inv, link, err = s.createInvitation(ctx, tx, InviteInput{OrgID: orgID, Email: email, Name: strings.TrimSpace(name), Role: role}, "setup", "", s.SetupTTL)
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: orgID, Action: "user.setup_link", TargetType: "invitation", TargetID: inv.ID,
			Summary: fmt.Sprintf("Created a one-time setup link for %s in %s", role.Label(), org.Name),
			After:   map[string]any{"email": email, "role": role, "expires_at": inv.ExpiresAt}})
	})
	return inv, link, err
}

func roleNames(rs []authz.Role) string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r))
	}
	return strings.Join(out, ", ")
}

// PendingInvitation looks up an invitation by its link secret, for the
// accept page. Used, expired and revoked links are "not found" with a clear
// message.
func (s *Service) PendingInvitation(ctx context.Context, secret string) (Invitation, Org, error) {
	inv, err := invitationBySecret(ctx, s.DB, secret)
	if err != nil {
		return Invitation{}, Org{}, err
	}
	if !inv.AcceptedAt.IsZero() || !inv.RevokedAt.IsZero() || !s.DB.Now().Before(inv.ExpiresAt) {
		return Invitation{}, Org{}, apperr.New(apperr.NotFound, "This link has expired or was already used. Ask the person who invited you for a new one.")
	}
	org, err := getOrg(ctx, s.DB, inv.OrgID)
	return inv, org, err
}

func invitationBySecret(ctx context.Context, q db.Queryer, secret string) (Invitation, error) {
	var inv Invitation
	var role string
	if len(secret) < 20 || len(secret) > 100 {
		return inv, apperr.New(apperr.NotFound, "This link is not valid. Check that you copied all of it.")
	}
	err := q.QueryRowContext(ctx, `SELECT id, email, name, org_id, role, purpose, invited_by, created_at, expires_at, accepted_at, revoked_at
		FROM invitations WHERE token_hash = ?`, hashSecret(secret)).Scan(&inv.ID, &inv.Email, &inv.Name, &inv.OrgID, &role, &inv.Purpose, &inv.InvitedBy,
		(*db.Time)(&inv.CreatedAt), (*db.Time)(&inv.ExpiresAt), (*db.Time)(&inv.AcceptedAt), (*db.Time)(&inv.RevokedAt))
	inv.Role = authz.Role(role)
	if errors.Is(err, sql.ErrNoRows) {
		return inv, apperr.New(apperr.NotFound, "This link is not valid. Check that you copied all of it.")
	}
	if err != nil {
		return inv, fmt.Errorf("identity: invitation: %w", err)
	}
	return inv, nil
}

// AcceptInput is what the invited person enters.
type AcceptInput struct {
	Secret   string
	Email    string // only for setup links without an email
	Name     string
	Password string
}

// AcceptInvitation creates the person's account (or adds the role to their
// existing account, which then needs their current password) and returns
// the user ID. The link works once.
func (s *Service) AcceptInvitation(ctx context.Context, in AcceptInput) (string, error) {
	in.Name = strings.TrimSpace(in.Name)
	var userID string
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		inv, err := invitationBySecret(ctx, tx, in.Secret)
		if err != nil {
			return err
		}
		if !inv.AcceptedAt.IsZero() || !inv.RevokedAt.IsZero() || !tx.Now().Before(inv.ExpiresAt) {
			return apperr.New(apperr.NotFound, "This link has expired or was already used. Ask the person who invited you for a new one.")
		}
		email := inv.Email
		errs := map[string]string{}
		if email == "" {
			email = normalizeEmail(in.Email)
			if !validEmail(email) {
				errs["email"] = "Enter an email address in the correct format, like name@agency.gov."
			}
		}
		existing, err := userByEmail(ctx, tx, email)
		isExisting := err == nil
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return err
		}
		if isExisting {
			if existing.Status == "suspended" {
				return apperr.New(apperr.Conflict, "This account is suspended. Contact your administrator.")
			}
			ok, _, verr := s.Hasher.Verify(ctx, in.Password, existing.passwordHash)
			if verr != nil || !ok {
				errs["password"] = "You already have an account with this email: enter its current password to accept."
			}
		} else {
			if !validName(in.Name) {
				errs["name"] = "Enter your full name."
			}
			if err := s.Policy.Check(in.Password, email, in.Name); err != nil {
				errs["password"] = err.Error()
			}
		}
		if len(errs) > 0 {
			return apperr.Validation(errs)
		}
		now := tx.Now()
		if isExisting {
			userID = existing.ID
		} else {
			hash, err := s.Hasher.Hash(ctx, in.Password)
			if err != nil {
				return apperr.Wrap(err, "identity: hash password")
			}
			userID = id.New("usr")
			_, err = tx.ExecContext(ctx, `INSERT INTO users (id, email, name, password_hash, status, password_changed_at, created_at, updated_at)
				VALUES (?, ?, ?, ?, 'active', ?, ?, ?)`, userID, email, in.Name, hash, db.TS(now), db.TS(now), db.TS(now))
			if db.IsUniqueViolation(err) {
				return apperr.Validation(map[string]string{"email": "An account with this email already exists."})
			}
			if err != nil {
				return fmt.Errorf("identity: insert user: %w", err)
			}
		}
		has, err := rolesIn(ctx, tx, userID, inv.OrgID)
		if err != nil {
			return err
		}
		already := false
		for _, r := range has {
			already = already || r == inv.Role
		}
		if !already {
			if _, err := tx.ExecContext(ctx, "INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?, ?, ?, ?)", userID, inv.OrgID, string(inv.Role), db.TS(now)); err != nil {
				return fmt.Errorf("identity: add membership: %w", err)
			}
		}
		res, err := tx.ExecContext(ctx, "UPDATE invitations SET accepted_at = ? WHERE id = ? AND accepted_at IS NULL", db.TS(now), inv.ID)
		if err != nil {
			return fmt.Errorf("identity: mark invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "This link was just used. Sign in instead.")
		}
		ctx := audit.WithActor(ctx, audit.Actor{UserID: userID, Label: email, IP: audit.ActorFrom(ctx).IP, UserAgent: audit.ActorFrom(ctx).UserAgent})
		return audit.Append(ctx, tx, audit.Event{OrgID: inv.OrgID, Action: "invitation.accept", TargetType: "user", TargetID: userID,
			Summary: fmt.Sprintf("%s accepted the invitation as %s", email, inv.Role.Label()), After: map[string]any{"role": inv.Role, "new_account": !isExisting}})
	})
	return userID, err
}

// ListInvitations returns an organization's pending invitations.
func (s *Service) ListInvitations(ctx context.Context, p *authz.Principal, orgID string) ([]Invitation, error) {
	if err := s.Authz.Check(ctx, p, authz.UserRead, orgID); err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT id, email, name, org_id, role, purpose, invited_by, created_at, expires_at
		FROM invitations WHERE org_id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC`, orgID, db.TS(s.DB.Now()))
	if err != nil {
		return nil, fmt.Errorf("identity: list invitations: %w", err)
	}
	defer rows.Close()
	var out []Invitation
	for rows.Next() {
		var inv Invitation
		var role string
		if err := rows.Scan(&inv.ID, &inv.Email, &inv.Name, &inv.OrgID, &role, &inv.Purpose, &inv.InvitedBy, (*db.Time)(&inv.CreatedAt), (*db.Time)(&inv.ExpiresAt)); err != nil {
			return nil, err
		}
		inv.Role = authz.Role(role)
		out = append(out, inv)
	}
	return out, rows.Err()
}

// RevokeInvitation cancels a pending invitation.
func (s *Service) RevokeInvitation(ctx context.Context, p *authz.Principal, invitationID string) error {
	var orgID, email string
	err := s.DB.QueryRowContext(ctx, "SELECT org_id, email FROM invitations WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL", invitationID).Scan(&orgID, &email)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.NotFoundf("Invitation")
	}
	if err != nil {
		return fmt.Errorf("identity: revoke invitation: %w", err)
	}
	if err := s.Authz.Check(ctx, p, authz.UserManage, orgID); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE invitations SET revoked_at = ? WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL", db.TS(tx.Now()), invitationID)
		if err != nil {
			return fmt.Errorf("identity: revoke invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.NotFoundf("Invitation")
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: orgID, Action: "invitation.revoke", TargetType: "invitation", TargetID: invitationID,
			Summary: "Revoked the invitation for " + email})
	})
}
