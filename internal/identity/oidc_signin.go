package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/identity/oidc"
)

// StartOIDC begins a single sign-on: it stores the state, nonce and PKCE
// verifier server-side under a random login ID (kept in a short-lived
// cookie) and returns the identity provider's authorization URL.
func (s *Service) StartOIDC(ctx context.Context, rp *oidc.RelyingParty) (authURL, loginID string, err error) {
	authURL, st := rp.Start()
	data, err := json.Marshal(st)
	if err != nil {
		return "", "", apperr.Wrap(err, "identity: oidc state")
	}
	loginID = id.Secret(24)
	now := s.DB.Now()
	// Old, abandoned attempts are cleared as new ones start.
	if _, err := s.DB.ExecContext(ctx, "DELETE FROM oidc_logins WHERE expires_at < ?", db.TS(now)); err != nil {
		s.Log.Warn("oidc: clear expired logins", "err", err)
	}
	_, err = s.DB.ExecContext(ctx, "INSERT INTO oidc_logins (id, state, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		hashSecret(loginID), hashSecret(st.State), string(data), db.TS(now), db.TS(now.Add(10*time.Minute)))
	if err != nil {
		return "", "", fmt.Errorf("identity: store oidc login: %w", err)
	}
	return authURL, loginID, nil
}

// FinishOIDC completes single sign-on from the provider's callback: the
// stored attempt is used once, the code is exchanged and the ID token
// verified, and the person is matched to an existing account by the
// provider's subject, or on first use by verified email (then linked).
// Nobody gets an account just by signing in at the provider.
func (s *Service) FinishOIDC(ctx context.Context, rp *oidc.RelyingParty, loginID string, callback url.Values, c Client) (SignInResult, error) {
	retry := apperr.New(apperr.Unauthorized, "This sign-in link is not valid for this browser. Please sign in again from the start.")
	if loginID == "" {
		return SignInResult{}, retry
	}
	var data string
	err := s.DB.QueryRowContext(ctx, "SELECT data FROM oidc_logins WHERE id = ? AND expires_at > ?", hashSecret(loginID), db.TS(s.DB.Now())).Scan(&data)
	if err != nil {
		return SignInResult{}, retry
	}
	res, err := s.DB.ExecContext(ctx, "DELETE FROM oidc_logins WHERE id = ?", hashSecret(loginID))
	if err != nil {
		return SignInResult{}, fmt.Errorf("identity: consume oidc login: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return SignInResult{}, retry
	}
	var st oidc.State
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		return SignInResult{}, retry
	}
	claims, err := rp.Finish(ctx, st, callback)
	if err != nil {
		s.Log.Info("oidc sign-in failed", "err", err, "client_ip", c.IP)
		return SignInResult{}, apperr.New(apperr.Unauthorized, "%s", oidc.Message(err))
	}
	u, err := s.userForClaims(ctx, claims)
	if err != nil {
		s.Log.Info("oidc sign-in refused", "reason", "no matching account", "issuer", claims.Issuer, "client_ip", c.IP)
		return SignInResult{}, err
	}
	return s.openSession(ctx, u, c, "oidc", false)
}

func (s *Service) userForClaims(ctx context.Context, cl *oidc.Claims) (User, error) {
	none := apperr.New(apperr.Forbidden, "There is no qsmo account for this sign-in. Ask your organization's administrator to invite you with the email address your identity provider uses.")
	u, err := scanUser(s.DB.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE oidc_issuer = ? AND oidc_subject = ?", cl.Issuer, cl.Subject))
	if err == nil {
		if u.Status != "active" {
			return User{}, none
		}
		return u, nil
	}
	if cl.Email == "" || !cl.EmailVerified {
		return User{}, none
	}
	u, err = userByEmail(ctx, s.DB, cl.Email)
	if err != nil || u.Status != "active" || u.OIDCLinked {
		return User{}, none
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE users SET oidc_issuer = ?, oidc_subject = ?, updated_at = ? WHERE id = ?", cl.Issuer, cl.Subject, db.TS(tx.Now()), u.ID); err != nil {
			return err
		}
		actx := audit.WithActor(ctx, audit.Actor{UserID: u.ID, Label: u.Email, IP: audit.ActorFrom(ctx).IP})
		return audit.Append(actx, tx, audit.Event{Action: "user.oidc_link", TargetType: "user", TargetID: u.ID,
			Summary: "Linked single sign-on from " + cl.Issuer, After: map[string]string{"issuer": cl.Issuer}})
	})
	if err != nil {
		return User{}, fmt.Errorf("identity: link oidc: %w", err)
	}
	u.OIDCLinked = true
	return u, nil
}
