package identity

import (
	"context"
	"fmt"
	"html/template"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/identity/totp"
	"github.com/qsmo/qsmo/internal/notify"
)

// TOTPEnrolment is what the enrolment page shows: the secret as text for
// manual entry and as a QR code.
type TOTPEnrolment struct {
	Secret string
	URI    string
	QR     template.HTML
}

// BeginTOTP generates a new secret for the user (not yet active) and
// returns how to add it to an authenticator app. Calling it again replaces
// an unconfirmed secret.
func (s *Service) BeginTOTP(ctx context.Context, p *authz.Principal) (TOTPEnrolment, error) {
	u, err := getUser(ctx, s.DB, p.UserID)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	if u.TOTPEnabled {
		return TOTPEnrolment{}, apperr.New(apperr.Conflict, "Two-step verification is already on. Turn it off first to set up a new app.")
	}
	secret := totp.NewSecret()
	enc := totp.EncodeSecret(secret)
	if _, err := s.DB.ExecContext(ctx, "UPDATE users SET totp_secret = ?, totp_last_step = 0 WHERE id = ? AND totp_enabled = ?", enc, u.ID, false); err != nil {
		return TOTPEnrolment{}, fmt.Errorf("identity: store totp secret: %w", err)
	}
	return s.enrolment(u, secret)
}

// PendingTOTP returns the unconfirmed enrolment, so a page reload shows the
// same secret instead of a new one.
func (s *Service) PendingTOTP(ctx context.Context, p *authz.Principal) (TOTPEnrolment, bool, error) {
	u, err := getUser(ctx, s.DB, p.UserID)
	if err != nil || u.TOTPEnabled || u.totpSecret == "" {
		return TOTPEnrolment{}, false, err
	}
	secret, err := totp.DecodeSecret(u.totpSecret)
	if err != nil {
		return TOTPEnrolment{}, false, nil
	}
	e, err := s.enrolment(u, secret)
	return e, err == nil, err
}

func (s *Service) enrolment(u User, secret []byte) (TOTPEnrolment, error) {
	uri, err := totp.URI("qsmo", u.Email, secret)
	if err != nil {
		return TOTPEnrolment{}, apperr.Wrap(err, "identity: totp uri")
	}
	qr, err := totp.QRCodeSVG(uri, "QR code to add qsmo to your authenticator app")
	if err != nil {
		return TOTPEnrolment{}, apperr.Wrap(err, "identity: totp qr")
	}
	return TOTPEnrolment{Secret: totp.EncodeSecret(secret), URI: uri, QR: qr}, nil
}

// ConfirmTOTP turns on two-step verification once the user proves their app
// produces the right code, and returns one-time recovery codes to show once.
func (s *Service) ConfirmTOTP(ctx context.Context, p *authz.Principal, code string) ([]string, error) {
	u, err := getUser(ctx, s.DB, p.UserID)
	if err != nil {
		return nil, err
	}
	if u.TOTPEnabled {
		return nil, apperr.New(apperr.Conflict, "Two-step verification is already on.")
	}
	secret, err := totp.DecodeSecret(u.totpSecret)
	if err != nil {
		return nil, apperr.New(apperr.Conflict, "Start the setup again: no authenticator app is being set up.")
	}
	step, ok := totp.Validate(secret, code, s.DB.Now(), 0)
	if !ok {
		return nil, apperr.Validation(map[string]string{"code": "That code is not right. Enter the 6-digit code your app shows now; check the phone's clock if it keeps failing."})
	}
	codes, err := totp.NewRecoveryCodes(10)
	if err != nil {
		return nil, apperr.Wrap(err, "identity: recovery codes")
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE users SET totp_enabled = ?, totp_last_step = ?, updated_at = ? WHERE id = ?", true, step, db.TS(tx.Now()), u.ID); err != nil {
			return err
		}
		if err := replaceRecoveryCodes(ctx, tx, u.ID, codes); err != nil {
			return err
		}
		if err := notify.Enqueue(ctx, tx, notify.Message{To: u.Email, Subject: "Two-step verification is on for your qsmo account",
			Body: "You turned on two-step verification. From now on, signing in asks for a code from your authenticator app. If this was not you, tell your administrator now.", Kind: "security"}); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: p.ActiveOrgID, Action: "mfa.enable", TargetType: "user", TargetID: u.ID, Summary: "Turned on two-step verification"})
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

func replaceRecoveryCodes(ctx context.Context, tx *db.Tx, userID string, codes []string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", userID); err != nil {
		return err
	}
	for _, c := range codes {
		h, err := totp.RecoveryCodeHash(c)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)", userID, h); err != nil {
			return err
		}
	}
	return nil
}

// DisableTOTP turns two-step verification off after checking the password.
func (s *Service) DisableTOTP(ctx context.Context, p *authz.Principal, pw string) error {
	u, err := getUser(ctx, s.DB, p.UserID)
	if err != nil {
		return err
	}
	if !u.TOTPEnabled {
		return apperr.New(apperr.Conflict, "Two-step verification is already off.")
	}
	if ok, _, _ := s.Hasher.Verify(ctx, pw, u.passwordHash); !ok {
		return apperr.Validation(map[string]string{"password": "Your password is not right."})
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE users SET totp_enabled = ?, totp_secret = '', totp_last_step = 0, updated_at = ? WHERE id = ?", false, db.TS(tx.Now()), u.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", u.ID); err != nil {
			return err
		}
		if err := notify.Enqueue(ctx, tx, notify.Message{To: u.Email, Subject: "Two-step verification is off for your qsmo account",
			Body: "You turned off two-step verification. If this was not you, reset your password and tell your administrator now.", Kind: "security"}); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: p.ActiveOrgID, Action: "mfa.disable", TargetType: "user", TargetID: u.ID, Summary: "Turned off two-step verification"})
	})
}

// RecoveryCodesLeft counts unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", userID).Scan(&n)
	return n, err
}
