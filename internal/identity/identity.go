// Package identity manages who uses qsmo: organizations (office, agencies
// with sub-organizations, providers), users and their roles, sign-in with
// passwords, TOTP and OpenID Connect, sessions, invitations and API tokens.
// Access decisions are delegated to package authz.
package identity

import (
	"log/slog"
	"time"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/identity/password"
)

// Org is an organization: the office, an agency or a provider.
type Org struct {
	ID          string
	Slug        string
	Name        string
	Kind        authz.OrgKind
	ParentID    string
	AgencyCode  string // e.g. Treasury agency identifier, used on agreements
	ALC         string // agency location code, used on agreements
	Description string
	Status      string // active or suspended
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// User is a person who signs in.
type User struct {
	ID           string
	Email        string
	Name         string
	Status       string // invited, active or suspended
	TOTPEnabled  bool
	HasPassword  bool
	OIDCLinked   bool
	TimeZone     string
	CreatedAt    time.Time
	LastSignInAt time.Time

	passwordHash string
	totpSecret   string
	totpLastStep int64
}

// Member is a user with their roles in one organization.
type Member struct {
	User
	Roles []authz.Role
}

// Session is a signed-in browser.
type Session struct {
	ID          string // public identifier, shown on the sessions page
	UserID      string
	CreatedAt   time.Time
	LastSeenAt  time.Time
	ExpiresAt   time.Time // absolute expiry
	IP          string
	UserAgent   string
	MFAPending  bool
	Method      string // password, password+totp, oidc
	ActiveOrgID string
	// TimeZone is the user's zone for showing times.
	TimeZone string
}

// Token is an API token's record; the secret itself is never stored.
type Token struct {
	ID         string
	OrgID      string
	Role       authz.Role
	Name       string
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Invitation is a pending invitation to join an organization.
type Invitation struct {
	ID         string
	Email      string
	Name       string
	OrgID      string
	Role       authz.Role
	Purpose    string // invite, or setup for the first office admin
	InvitedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	AcceptedAt time.Time
	RevokedAt  time.Time
}

// Service is the identity service. Every method that changes state checks
// access through Authz and writes an audit record in the same transaction.
type Service struct {
	DB         *db.DB
	Authz      *authz.Authorizer
	Hasher     *password.Hasher
	Policy     password.Policy
	Throttle   *Throttle
	PublicURL  string
	OfficeName string
	// SessionIdle and SessionAbsolute bound a session's life.
	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	InviteTTL       time.Duration
	ResetTTL        time.Duration
	SetupTTL        time.Duration
	Log             *slog.Logger
}

// New returns a Service with defaults for anything left zero.
func New(d *db.DB, log *slog.Logger) *Service {
	h, err := password.NewHasher(password.Options{})
	if err != nil {
		panic(err) // the default parameters are valid by construction
	}
	s := &Service{
		DB: d, Hasher: h, Throttle: NewThrottle(), Log: log,
		SessionIdle: 30 * time.Minute, SessionAbsolute: 12 * time.Hour,
		InviteTTL: 7 * 24 * time.Hour, ResetTTL: time.Hour, SetupTTL: time.Hour,
		PublicURL: "http://127.0.0.1:8080", OfficeName: "Cyber Quality Service Management Office",
	}
	s.Authz = &authz.Authorizer{Dir: &Directory{DB: d}}
	return s
}
