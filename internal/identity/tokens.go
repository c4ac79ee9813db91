package identity

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
)

// TokenPrefix starts every API token, so secret scanners and people can
// recognise one: qsmo_<token id>_<secret>.
const TokenPrefix = "qsmo_"

// TokenInput describes a new API token.
type TokenInput struct {
	OrgID     string
	Role      authz.Role
	Name      string
	ExpiresIn time.Duration // zero: never expires
}

// NewToken is a created token; Secret is shown once and never stored.
type NewToken struct {
	Token
	Secret string
}

// ParseToken splits a bearer token into its ID and secret.
func ParseToken(s string) (tokenID, secret string, ok bool) {
	rest, found := strings.CutPrefix(s, TokenPrefix)
	if !found || len(rest) > 200 {
		return "", "", false
	}
	body, secret, found := strings.Cut(rest, "_")
	if !found || len(secret) < 40 {
		return "", "", false
	}
	tokenID = "tok_" + body
	if !id.Valid("tok", tokenID) {
		return "", "", false
	}
	return tokenID, secret, true
}

// CreateToken creates an API token for an organization with one role. The
// creator may only mint a role they could grant to a person.
func (s *Service) CreateToken(ctx context.Context, p *authz.Principal, in TokenInput) (NewToken, error) {
	if err := s.Authz.Check(ctx, p, authz.TokenManage, in.OrgID); err != nil {
		return NewToken{}, err
	}
	if err := validateTokenInput(&in); err != nil {
		return NewToken{}, err
	}
	if err := s.Authz.CanGrant(ctx, p, in.Role, in.OrgID); err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Forbidden) {
			return NewToken{}, apperr.Validation(map[string]string{"role": "Choose a role you could give a person in this organization."})
		}
		return NewToken{}, err
	}
	return s.createToken(ctx, in, p.UserID)
}

// CreateTokenSystem creates a token from the command line (an operator with
// access to the server), checking only that the role fits the organization.
func (s *Service) CreateTokenSystem(ctx context.Context, in TokenInput) (NewToken, error) {
	if err := validateTokenInput(&in); err != nil {
		return NewToken{}, err
	}
	org, err := getOrg(ctx, s.DB, in.OrgID)
	if err != nil {
		return NewToken{}, err
	}
	if in.Role.Kind() != org.Kind {
		return NewToken{}, apperr.Validation(map[string]string{"role": fmt.Sprintf("Role %s does not fit %s organization; choose one of: %s.", in.Role, org.Kind.Article(), roleNames(authz.RolesFor(org.Kind)))})
	}
	return s.createToken(ctx, in, "")
}

func validateTokenInput(in *TokenInput) error {
	in.Name = strings.TrimSpace(in.Name)
	errs := map[string]string{}
	if n := utf8.RuneCountInString(in.Name); n < 1 || n > 100 {
		errs["name"] = "Name the token after what uses it, such as “Ticketing integration” (up to 100 characters)."
	}
	if !in.Role.Valid() {
		errs["role"] = "Choose a role: " + roleNames(authz.AllRoles()) + "."
	}
	if in.ExpiresIn < 0 || in.ExpiresIn > 3*365*24*time.Hour {
		errs["expires_in"] = "Choose an expiry of up to three years, or none."
	}
	if len(errs) > 0 {
		return apperr.Validation(errs)
	}
	return nil
}

func (s *Service) createToken(ctx context.Context, in TokenInput, by string) (NewToken, error) {
	tokID := id.New("tok")
	secret := id.Secret(30)
	now := s.DB.Now()
	t := NewToken{Token: Token{ID: tokID, OrgID: in.OrgID, Role: in.Role, Name: in.Name, CreatedBy: by, CreatedAt: now},
		Secret: TokenPrefix + strings.TrimPrefix(tokID, "tok_") + "_" + secret}
	if in.ExpiresIn > 0 {
		t.ExpiresAt = now.Add(in.ExpiresIn)
	}
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (id, org_id, role, name, secret_hash, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, t.OrgID, string(t.Role), t.Name, hashSecret(secret), by, db.TS(now), db.Time(t.ExpiresAt))
		if err != nil {
			return fmt.Errorf("identity: insert token: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: t.OrgID, Action: "token.create", TargetType: "token", TargetID: t.ID,
			Summary: fmt.Sprintf("Created API token “%s” (%s)", t.Name, t.Role.Label()), After: map[string]any{"name": t.Name, "role": t.Role, "expires_at": t.ExpiresAt}})
	})
	return t, err
}

// ListTokens returns an organization's tokens, newest first, revoked ones
// included so the history stays visible.
func (s *Service) ListTokens(ctx context.Context, p *authz.Principal, orgID string) ([]Token, error) {
	if err := s.Authz.Check(ctx, p, authz.TokenRead, orgID); err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE org_id = ? ORDER BY revoked_at IS NOT NULL, created_at DESC`, orgID)
	if err != nil {
		return nil, fmt.Errorf("identity: list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

const tokenColumns = "id, org_id, role, name, created_by, created_at, expires_at, last_used_at, revoked_at"

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var role string
	err := row.Scan(&t.ID, &t.OrgID, &role, &t.Name, &t.CreatedBy, (*db.Time)(&t.CreatedAt), (*db.Time)(&t.ExpiresAt), (*db.Time)(&t.LastUsedAt), (*db.Time)(&t.RevokedAt))
	t.Role = authz.Role(role)
	return t, err
}

// GetToken returns a token's record.
func (s *Service) GetToken(ctx context.Context, p *authz.Principal, tokenID string) (Token, error) {
	t, err := scanToken(s.DB.QueryRowContext(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE id = ?", tokenID))
	if errors.Is(err, sql.ErrNoRows) {
		return t, apperr.NotFoundf("Token")
	}
	if err != nil {
		return t, fmt.Errorf("identity: get token: %w", err)
	}
	if err := s.Authz.Check(ctx, p, authz.TokenRead, t.OrgID); err != nil {
		return Token{}, err
	}
	return t, nil
}

// RevokeToken stops a token from working, immediately.
func (s *Service) RevokeToken(ctx context.Context, p *authz.Principal, tokenID string) error {
	t, err := s.GetToken(ctx, p, tokenID)
	if err != nil {
		return err
	}
	if err := s.Authz.Check(ctx, p, authz.TokenManage, t.OrgID); err != nil {
		return err
	}
	if !t.RevokedAt.IsZero() {
		return apperr.New(apperr.Conflict, "This token was already revoked.")
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", db.TS(tx.Now()), t.ID); err != nil {
			return fmt.Errorf("identity: revoke token: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: t.OrgID, Action: "token.revoke", TargetType: "token", TargetID: t.ID,
			Summary: fmt.Sprintf("Revoked API token “%s”", t.Name)})
	})
}

// AuthenticateToken turns a bearer token into a principal acting for its
// organization with its role. Last use is recorded at most once a minute.
func (s *Service) AuthenticateToken(ctx context.Context, bearer string) (*authz.Principal, error) {
	unauth := apperr.New(apperr.Unauthorized, "The API token is missing, malformed, revoked or expired.")
	tokenID, secret, ok := ParseToken(bearer)
	if !ok {
		return nil, unauth
	}
	var t Token
	var hash, orgStatus, orgKind, orgName, orgSlug string
	var role string
	err := s.DB.QueryRowContext(ctx, `SELECT t.id, t.org_id, t.role, t.name, t.secret_hash, t.expires_at, t.last_used_at, t.revoked_at, o.status, o.kind, o.name, o.slug
		FROM api_tokens t JOIN orgs o ON o.id = t.org_id WHERE t.id = ?`, tokenID).Scan(&t.ID, &t.OrgID, &role, &t.Name, &hash,
		(*db.Time)(&t.ExpiresAt), (*db.Time)(&t.LastUsedAt), (*db.Time)(&t.RevokedAt), &orgStatus, &orgKind, &orgName, &orgSlug)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unauth
	}
	if err != nil {
		return nil, fmt.Errorf("identity: token: %w", err)
	}
	now := s.DB.Now()
	if subtle.ConstantTimeCompare([]byte(hash), []byte(hashSecret(secret))) != 1 || !t.RevokedAt.IsZero() ||
		(!t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)) || orgStatus != "active" {
		return nil, unauth
	}
	if now.Sub(t.LastUsedAt) > time.Minute {
		if _, err := s.DB.ExecContext(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", db.TS(now), t.ID); err != nil {
			s.Log.Warn("token: record last use", "token_id", t.ID, "err", err)
		}
	}
	return &authz.Principal{TokenID: t.ID, Name: t.Name, ActiveOrgID: t.OrgID, MFA: true,
		Memberships: []authz.Membership{{OrgID: t.OrgID, OrgKind: authz.OrgKind(orgKind), OrgName: orgName, OrgSlug: orgSlug, Role: authz.Role(role)}}}, nil
}
