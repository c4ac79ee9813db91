package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/identity/totp"
	"github.com/qsmo/qsmo/internal/notify"
)

// Client is where a request comes from, recorded on sessions.
type Client struct {
	IP        string
	UserAgent string
}

// errBadCredentials is the one answer to every failed sign-in, whatever
// failed, so the page never reveals whether an account exists.
var errBadCredentials = apperr.New(apperr.Unauthorized, "The email or password is not right. Check them and try again, or reset your password.")

// SignInResult is a new session. When MFAPending is set the session only
// lets the user enter their second factor.
type SignInResult struct {
	Token      string // cookie value; shown to nobody else
	Session    Session
	MFAPending bool
}

// SignIn checks an email and password and opens a session. Failures are
// throttled per account and per address with the same message for unknown
// and known accounts.
func (s *Service) SignIn(ctx context.Context, email, password string, c Client) (SignInResult, error) {
	email = normalizeEmail(email)
	if blocked, wait := s.Throttle.Blocked(email, c.IP); blocked {
		return SignInResult{}, apperr.New(apperr.TooMany, "Too many failed sign-in attempts. Wait %s and try again, or reset your password.", roundWait(wait))
	}
	u, err := userByEmail(ctx, s.DB, email)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return SignInResult{}, err
	}
	if err != nil || u.passwordHash == "" {
		_ = s.Hasher.VerifyAbsent(ctx, password) // same work as a real check
		s.Throttle.Fail(email, c.IP)
		s.Log.Info("sign-in failed", "reason", "unknown account or no password", "client_ip", c.IP)
		return SignInResult{}, errBadCredentials
	}
	ok, rehash, err := s.Hasher.Verify(ctx, password, u.passwordHash)
	if err != nil && !ok {
		s.Log.Warn("sign-in: verify password", "user_id", u.ID, "err", err)
	}
	if !ok {
		s.Throttle.Fail(email, c.IP)
		s.Log.Info("sign-in failed", "reason", "wrong password", "user_id", u.ID, "client_ip", c.IP)
		return SignInResult{}, errBadCredentials
	}
	if u.Status != "active" {
		s.Throttle.Fail(email, c.IP)
		s.Log.Info("sign-in refused", "reason", "user "+u.Status, "user_id", u.ID, "client_ip", c.IP)
		return SignInResult{}, errBadCredentials
	}
	s.Throttle.Succeed(email)
	if rehash {
		if h, err := s.Hasher.Hash(ctx, password); err == nil {
			_, _ = s.DB.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", h, u.ID)
		}
	}
	method := "password"
	if u.TOTPEnabled {
		method = "password+totp"
	}
	return s.openSession(ctx, u, c, method, u.TOTPEnabled)
}

func roundWait(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// openSession creates a session for u and audits the sign-in.
func (s *Service) openSession(ctx context.Context, u User, c Client, method string, mfaPending bool) (SignInResult, error) {
	ms, err := memberships(ctx, s.DB, u.ID)
	if err != nil {
		return SignInResult{}, err
	}
	if len(ms) == 0 {
		s.Log.Info("sign-in refused", "reason", "no active memberships", "user_id", u.ID, "client_ip", c.IP)
		return SignInResult{}, apperr.New(apperr.Forbidden, "Your account has no active role in any organization. Ask your administrator to add you.")
	}
	secret := id.Secret(32)
	now := s.DB.Now()
	sess := Session{ID: id.New("ses"), UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.SessionAbsolute),
		IP: c.IP, UserAgent: truncateUA(c.UserAgent), MFAPending: mfaPending, Method: method, ActiveOrgID: ms[0].OrgID}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent, mfa_pending, method, active_org_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, sess.ID, hashSecret(secret), u.ID, db.TS(now), db.TS(now), db.TS(sess.ExpiresAt), sess.IP, sess.UserAgent, mfaPending, method, sess.ActiveOrgID)
		if err != nil {
			return fmt.Errorf("identity: insert session: %w", err)
		}
		if mfaPending {
			return nil // audited when the second factor succeeds
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET last_sign_in_at = ? WHERE id = ?", db.TS(now), u.ID); err != nil {
			return err
		}
		actx := audit.WithActor(ctx, audit.Actor{UserID: u.ID, Label: u.Email, IP: c.IP, UserAgent: c.UserAgent})
		return audit.Append(actx, tx, audit.Event{OrgID: sess.ActiveOrgID, Action: "session.sign_in", TargetType: "session", TargetID: sess.ID,
			Summary: "Signed in (" + method + ")", After: map[string]string{"method": method, "ip": c.IP}})
	})
	if err != nil {
		return SignInResult{}, err
	}
	s.Log.Info("signed in", "user_id", u.ID, "session_id", sess.ID, "method", method, "mfa_pending", mfaPending, "client_ip", c.IP)
	return SignInResult{Token: secret, Session: sess, MFAPending: mfaPending}, nil
}

func truncateUA(ua string) string {
	if len(ua) > 300 {
		return ua[:300]
	}
	return ua
}

// CompleteMFA checks the second factor (a TOTP code or a recovery code) of a
// pending session and replaces it with a full session (a new token, so the
// pre-MFA cookie is useless afterwards).
func (s *Service) CompleteMFA(ctx context.Context, pendingToken, code string, c Client) (SignInResult, error) {
	sess, u, err := s.sessionByToken(ctx, pendingToken)
	if err != nil || !sess.MFAPending {
		return SignInResult{}, apperr.New(apperr.Unauthorized, "Your sign-in expired. Sign in again.")
	}
	if blocked, wait := s.Throttle.Blocked(u.Email, c.IP); blocked {
		return SignInResult{}, apperr.New(apperr.TooMany, "Too many wrong codes. Wait %s and sign in again.", roundWait(wait))
	}
	code = strings.TrimSpace(code)
	ok, usedRecovery, err := s.checkSecondFactor(ctx, u, code)
	if err != nil {
		return SignInResult{}, err
	}
	if !ok {
		s.Throttle.Fail(u.Email, c.IP)
		return SignInResult{}, apperr.Validation(map[string]string{"code": "That code is not right. Enter the 6-digit code your authenticator app shows now, or a recovery code."})
	}
	s.Throttle.Succeed(u.Email)
	if _, err := s.DB.ExecContext(ctx, "UPDATE sessions SET revoked_at = ? WHERE id = ?", db.TS(s.DB.Now()), sess.ID); err != nil {
		return SignInResult{}, fmt.Errorf("identity: end pending session: %w", err)
	}
	method := "password+totp"
	if usedRecovery {
		method = "password+recovery_code"
	}
	return s.openSession(ctx, u, c, method, false)
}

// checkSecondFactor validates a TOTP code (refusing replays) or consumes a
// recovery code.
func (s *Service) checkSecondFactor(ctx context.Context, u User, code string) (ok, recovery bool, err error) {
	secret, derr := totp.DecodeSecret(u.totpSecret)
	if derr == nil {
		if step, ok := totp.Validate(secret, code, s.DB.Now(), u.totpLastStep); ok {
			res, err := s.DB.ExecContext(ctx, "UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?", step, u.ID, step)
			if err != nil {
				return false, false, fmt.Errorf("identity: record totp step: %w", err)
			}
			n, _ := res.RowsAffected()
			return n == 1, false, nil
		}
	}
	if len(code) < 8 {
		return false, false, nil
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT code_hash FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", u.ID)
	if err != nil {
		return false, false, fmt.Errorf("identity: recovery codes: %w", err)
	}
	var hashes []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return false, false, err
		}
		hashes = append(hashes, h)
	}
	rows.Close()
	i, ok := totp.VerifyRecoveryCode(code, hashes)
	if !ok {
		return false, false, nil
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL", db.TS(tx.Now()), u.ID, hashes[i])
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.Validation(map[string]string{"code": "That recovery code was already used."})
		}
		actx := audit.WithActor(ctx, audit.Actor{UserID: u.ID, Label: u.Email, IP: audit.ActorFrom(ctx).IP})
		return audit.Append(actx, tx, audit.Event{Action: "mfa.recovery_code_used", TargetType: "user", TargetID: u.ID, Summary: "Used a recovery code to sign in"})
	})
	return err == nil, true, err
}

// sessionByToken loads a live (not revoked, not expired) session and its
// active user.
func (s *Service) sessionByToken(ctx context.Context, token string) (Session, User, error) {
	var sess Session
	if len(token) < 40 || len(token) > 80 {
		return sess, User{}, apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	var revoked db.Time
	err := s.DB.QueryRowContext(ctx, `SELECT id, user_id, created_at, last_seen_at, expires_at, ip, user_agent, mfa_pending, method, active_org_id, revoked_at
		FROM sessions WHERE token_hash = ?`, hashSecret(token)).Scan(&sess.ID, &sess.UserID, (*db.Time)(&sess.CreatedAt), (*db.Time)(&sess.LastSeenAt),
		(*db.Time)(&sess.ExpiresAt), &sess.IP, &sess.UserAgent, &sess.MFAPending, &sess.Method, &sess.ActiveOrgID, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, User{}, apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	if err != nil {
		return sess, User{}, fmt.Errorf("identity: session: %w", err)
	}
	now := s.DB.Now()
	idle := s.SessionIdle
	if sess.MFAPending {
		idle = 10 * time.Minute
	}
	if !time.Time(revoked).IsZero() || !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > idle {
		return sess, User{}, apperr.New(apperr.Unauthorized, "Your session ended. Sign in again.")
	}
	u, err := getUser(ctx, s.DB, sess.UserID)
	if err != nil || u.Status != "active" {
		return sess, User{}, apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	return sess, u, nil
}

// Authenticate turns a session cookie into a principal. It refreshes the
// idle timer (at most once a minute, to spare the database).
func (s *Service) Authenticate(ctx context.Context, token string) (*authz.Principal, Session, error) {
	sess, u, err := s.sessionByToken(ctx, token)
	if err != nil {
		return nil, sess, err
	}
	ms, err := memberships(ctx, s.DB, u.ID)
	if err != nil {
		return nil, sess, err
	}
	if len(ms) == 0 {
		return nil, sess, apperr.New(apperr.Unauthorized, "Your account has no active role. Ask your administrator.")
	}
	sess.TimeZone = u.TimeZone
	now := s.DB.Now()
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if _, err := s.DB.ExecContext(ctx, "UPDATE sessions SET last_seen_at = ? WHERE id = ?", db.TS(now), sess.ID); err != nil {
			s.Log.Warn("session: refresh idle timer", "session_id", sess.ID, "err", err)
		}
		sess.LastSeenAt = now
	}
	p := &authz.Principal{UserID: u.ID, Email: u.Email, Name: u.Name, Memberships: ms, ActiveOrgID: sess.ActiveOrgID, MFA: strings.Contains(sess.Method, "+") || sess.Method == "oidc"}
	if _, ok := activeIn(ms, sess.ActiveOrgID); !ok {
		p.ActiveOrgID = ms[0].OrgID
	}
	return p, sess, nil
}

func activeIn(ms []authz.Membership, orgID string) (authz.Membership, bool) {
	for _, m := range ms {
		if m.OrgID == orgID {
			return m, true
		}
	}
	return authz.Membership{}, false
}

// SwitchOrg changes the organization the user works in.
func (s *Service) SwitchOrg(ctx context.Context, p *authz.Principal, sessionID, orgID string) error {
	if _, ok := activeIn(p.Memberships, orgID); !ok {
		return apperr.NotFoundf("Organization")
	}
	_, err := s.DB.ExecContext(ctx, "UPDATE sessions SET active_org_id = ? WHERE id = ? AND user_id = ?", orgID, sessionID, p.UserID)
	return err
}

// SignOut ends the session behind token.
func (s *Service) SignOut(ctx context.Context, token string) error {
	sess, u, err := s.sessionByToken(ctx, token)
	if err != nil {
		return nil // already gone
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = ? WHERE id = ?", db.TS(tx.Now()), sess.ID); err != nil {
			return fmt.Errorf("identity: sign out: %w", err)
		}
		if sess.MFAPending {
			return nil
		}
		actx := audit.WithActor(ctx, audit.Actor{UserID: u.ID, Label: u.Email, IP: audit.ActorFrom(ctx).IP, UserAgent: audit.ActorFrom(ctx).UserAgent})
		return audit.Append(actx, tx, audit.Event{OrgID: sess.ActiveOrgID, Action: "session.sign_out", TargetType: "session", TargetID: sess.ID, Summary: "Signed out"})
	})
}

// ListSessions returns the user's live sessions, newest first.
func (s *Service) ListSessions(ctx context.Context, userID string) ([]Session, error) {
	now := s.DB.Now()
	rows, err := s.DB.QueryContext(ctx, `SELECT id, user_id, created_at, last_seen_at, expires_at, ip, user_agent, mfa_pending, method, active_org_id
		FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND last_seen_at > ? AND mfa_pending = ? ORDER BY last_seen_at DESC`,
		userID, db.TS(now), db.TS(now.Add(-s.SessionIdle)), false)
	if err != nil {
		return nil, fmt.Errorf("identity: list sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var x Session
		if err := rows.Scan(&x.ID, &x.UserID, (*db.Time)(&x.CreatedAt), (*db.Time)(&x.LastSeenAt), (*db.Time)(&x.ExpiresAt), &x.IP, &x.UserAgent, &x.MFAPending, &x.Method, &x.ActiveOrgID); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// RevokeSession ends one of the principal's own sessions.
func (s *Service) RevokeSession(ctx context.Context, p *authz.Principal, sessionID string) error {
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL", db.TS(tx.Now()), sessionID, p.UserID)
		if err != nil {
			return fmt.Errorf("identity: revoke session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.NotFoundf("Session")
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: p.ActiveOrgID, Action: "session.revoke", TargetType: "session", TargetID: sessionID, Summary: "Signed out a session"})
	})
}

// ChangePassword replaces the user's password after checking the current
// one, signs out their other sessions and tells them by email.
func (s *Service) ChangePassword(ctx context.Context, p *authz.Principal, currentSessionID, current, next string) error {
	u, err := getUser(ctx, s.DB, p.UserID)
	if err != nil {
		return err
	}
	errs := map[string]string{}
	if u.passwordHash != "" {
		ok, _, _ := s.Hasher.Verify(ctx, current, u.passwordHash)
		if !ok {
			errs["current_password"] = "Your current password is not right."
		}
	}
	if err := s.Policy.Check(next, u.Email, u.Name); err != nil {
		errs["new_password"] = err.Error()
	} else if current == next {
		errs["new_password"] = "Choose a password different from your current one."
	}
	if len(errs) > 0 {
		return apperr.Validation(errs)
	}
	hash, err := s.Hasher.Hash(ctx, next)
	if err != nil {
		return apperr.Wrap(err, "identity: hash password")
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		if _, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?", hash, db.TS(now), db.TS(now), u.ID); err != nil {
			return fmt.Errorf("identity: change password: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL", db.TS(now), u.ID, currentSessionID); err != nil {
			return fmt.Errorf("identity: revoke other sessions: %w", err)
		}
		if err := notify.Enqueue(ctx, tx, notify.Message{To: u.Email, Subject: "Your qsmo password was changed",
			Body: "Your password was changed and your other sessions were signed out. If this was not you, reset your password now and tell your administrator.", Kind: "security"}); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: p.ActiveOrgID, Action: "user.password_change", TargetType: "user", TargetID: u.ID, Summary: "Changed their password"})
	})
}

// RequestPasswordReset emails a one-time reset link if an active account
// with a password has this email. The caller shows the same message either
// way, so the form cannot be used to find accounts.
func (s *Service) RequestPasswordReset(ctx context.Context, email string, c Client) error {
	email = normalizeEmail(email)
	if !validEmail(email) {
		return apperr.Validation(map[string]string{"email": "Enter an email address in the correct format, like name@agency.gov."})
	}
	if blocked, _ := s.Throttle.Blocked("reset:"+email, c.IP); blocked {
		return nil // silently: the answer must not differ
	}
	s.Throttle.Fail("reset:"+email, c.IP) // counts requests, limiting mail floods
	u, err := userByEmail(ctx, s.DB, email)
	if err != nil || u.Status != "active" {
		return nil
	}
	secret := id.Secret(24)
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		if _, err := tx.ExecContext(ctx, "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
			hashSecret(secret), u.ID, db.TS(now), db.TS(now.Add(s.ResetTTL))); err != nil {
			return fmt.Errorf("identity: insert reset: %w", err)
		}
		link := s.PublicURL + "/reset/" + secret
		if err := notify.Enqueue(ctx, tx, notify.Message{To: u.Email, Subject: "Reset your qsmo password",
			Body: fmt.Sprintf("Someone asked to reset the password of your qsmo account. Open this link within %d minutes to choose a new password:\n\n%s\n\nIf it was not you, ignore this message; your password stays as it is.", int(s.ResetTTL.Minutes()), link),
			Kind: "password_reset"}); err != nil {
			return err
		}
		actx := audit.WithActor(ctx, audit.Actor{Label: "anonymous", IP: c.IP, UserAgent: c.UserAgent})
		return audit.Append(actx, tx, audit.Event{Action: "user.password_reset_request", TargetType: "user", TargetID: u.ID, Summary: "Password reset requested"})
	})
}

// CheckResetToken reports whether a reset link is usable, for the page.
func (s *Service) CheckResetToken(ctx context.Context, secret string) error {
	_, err := s.resetUser(ctx, s.DB, secret)
	return err
}

func (s *Service) resetUser(ctx context.Context, q db.Queryer, secret string) (User, error) {
	bad := apperr.New(apperr.NotFound, "This reset link has expired or was already used. Ask for a new one.")
	if len(secret) < 20 || len(secret) > 100 {
		return User{}, bad
	}
	var userID string
	var expires, used db.Time
	err := q.QueryRowContext(ctx, "SELECT user_id, expires_at, used_at FROM password_resets WHERE token_hash = ?", hashSecret(secret)).Scan(&userID, &expires, &used)
	if err != nil || !time.Time(used).IsZero() || !s.DB.Now().Before(time.Time(expires)) {
		return User{}, bad
	}
	u, err := getUser(ctx, q, userID)
	if err != nil || u.Status != "active" {
		return User{}, bad
	}
	return u, nil
}

// ResetPassword sets a new password from a reset link and signs the user
// out everywhere.
func (s *Service) ResetPassword(ctx context.Context, secret, next string) error {
	u, err := s.resetUser(ctx, s.DB, secret)
	if err != nil {
		return err
	}
	if err := s.Policy.Check(next, u.Email, u.Name); err != nil {
		return apperr.Validation(map[string]string{"new_password": err.Error()})
	}
	hash, err := s.Hasher.Hash(ctx, next)
	if err != nil {
		return apperr.Wrap(err, "identity: hash password")
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		res, err := tx.ExecContext(ctx, "UPDATE password_resets SET used_at = ? WHERE token_hash = ? AND used_at IS NULL", db.TS(now), hashSecret(secret))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.NotFound, "This reset link was already used. Ask for a new one.")
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?", hash, db.TS(now), db.TS(now), u.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", db.TS(now), u.ID); err != nil {
			return err
		}
		s.Throttle.Succeed(u.Email)
		actx := audit.WithActor(ctx, audit.Actor{UserID: u.ID, Label: u.Email, IP: audit.ActorFrom(ctx).IP})
		return audit.Append(actx, tx, audit.Event{Action: "user.password_reset", TargetType: "user", TargetID: u.ID, Summary: "Reset their password with an emailed link"})
	})
}

// validTimeZone accepts the zones offered on the profile page.
func validTimeZone(tz string) bool {
	for _, z := range TimeZones {
		if z.ID == tz {
			return true
		}
	}
	return false
}

// TimeZones are the zones people choose from; times are stored in UTC and
// shown in the viewer's zone.
var TimeZones = []struct{ ID, Label string }{
	{"America/New_York", "Eastern"}, {"America/Chicago", "Central"}, {"America/Denver", "Mountain"},
	{"America/Phoenix", "Arizona"}, {"America/Los_Angeles", "Pacific"}, {"America/Anchorage", "Alaska"},
	{"Pacific/Honolulu", "Hawaii"}, {"America/Puerto_Rico", "Atlantic (Puerto Rico, U.S. Virgin Islands)"},
	{"Pacific/Guam", "Chamorro (Guam, Northern Mariana Islands)"}, {"Pacific/Pago_Pago", "Samoa"}, {"UTC", "UTC"},
}
