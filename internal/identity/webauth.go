package identity

import (
	"context"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/web"
)

// WebAuth adapts the service to the web kit's Authenticator.
type WebAuth struct{ S *Service }

// Session authenticates a session cookie. A session still waiting for its
// second factor yields a principal with no memberships, so it can reach
// nothing but the verification page.
func (a WebAuth) Session(ctx context.Context, token string) (*authz.Principal, web.SessionInfo, error) {
	sess, u, err := a.S.sessionByToken(ctx, token)
	if err != nil {
		return nil, web.SessionInfo{}, err
	}
	if sess.MFAPending {
		return &authz.Principal{UserID: u.ID, Email: u.Email, Name: u.Name}, web.SessionInfo{ID: sess.ID, MFAPending: true, TimeZone: u.TimeZone}, nil
	}
	p, full, err := a.S.Authenticate(ctx, token)
	if err != nil {
		return nil, web.SessionInfo{}, err
	}
	return p, web.SessionInfo{ID: full.ID, TimeZone: full.TimeZone}, nil
}

// Bearer authenticates an API token.
func (a WebAuth) Bearer(ctx context.Context, token string) (*authz.Principal, error) {
	p, err := a.S.AuthenticateToken(ctx, token)
	if err != nil && !apperr.Is(err, apperr.Unauthorized) {
		return nil, err
	}
	return p, err
}
