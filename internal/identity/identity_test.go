package identity_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/identity"
	"github.com/qsmo/qsmo/internal/identity/password"
	"github.com/qsmo/qsmo/internal/identity/totp"
	"github.com/qsmo/qsmo/internal/notify"
)

const goodPassword = "correct horse battery staple 42"

type world struct {
	t      *testing.T
	svc    *identity.Service
	ctx    context.Context
	clock  *time.Time
	office identity.Org
	admin  *authz.Principal
}

func newWorld(t *testing.T, d *db.DB) *world {
	t.Helper()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	w := &world{t: t, ctx: context.Background(), clock: &now}
	d.Now = func() time.Time { return *w.clock }
	w.svc = identity.New(d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.svc.Hasher = fastHasher(t)
	w.svc.Throttle.Now = func() time.Time { return *w.clock }
	office, err := w.svc.CreateOffice(w.ctx, "Test Office")
	if err != nil {
		t.Fatal(err)
	}
	w.office = office
	_, link, err := w.svc.CreateSetupLink(w.ctx, office.ID, authz.OfficeAdmin, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.AcceptInvitation(w.ctx, identity.AcceptInput{Secret: secretOf(link), Email: "boss@office.example.gov", Name: "Olive Office", Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	w.admin = w.signIn("boss@office.example.gov")
	return w
}

// fastHasher uses cheap argon2id parameters: the tests exercise the flows,
// the password package tests the real parameters.
func fastHasher(t *testing.T) *password.Hasher {
	h, err := password.NewHasher(password.Options{Params: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func secretOf(link string) string { return link[strings.LastIndexByte(link, '/')+1:] }

func (w *world) advance(d time.Duration) { *w.clock = w.clock.Add(d) }

func (w *world) signIn(email string) *authz.Principal {
	w.t.Helper()
	res, err := w.svc.SignIn(w.ctx, email, goodPassword, identity.Client{IP: "192.0.2.1"})
	if err != nil {
		w.t.Fatalf("sign in %s: %v", email, err)
	}
	p, _, err := w.svc.Authenticate(w.ctx, res.Token)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) org(name string, kind authz.OrgKind, parent string) identity.Org {
	w.t.Helper()
	o, err := w.svc.CreateOrg(w.ctx, w.admin, identity.OrgInput{Name: name, Kind: kind, ParentID: parent})
	if err != nil {
		w.t.Fatal(err)
	}
	return o
}

// member invites email to org with role and accepts, returning a signed-in principal.
func (w *world) member(org identity.Org, email string, role authz.Role) *authz.Principal {
	w.t.Helper()
	res, err := w.svc.Invite(w.ctx, w.admin, identity.InviteInput{OrgID: org.ID, Email: email, Role: role})
	if err != nil {
		w.t.Fatal(err)
	}
	if res.Link != "" {
		if _, err := w.svc.AcceptInvitation(w.ctx, identity.AcceptInput{Secret: secretOf(res.Link), Name: "Person " + email, Password: goodPassword}); err != nil {
			w.t.Fatal(err)
		}
	}
	return w.signIn(email)
}

func code(t *testing.T, err error, want apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); got != want {
		t.Fatalf("error %v: code %q, want %q", err, got, want)
	}
}

func TestIdentity(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		ctx := w.ctx
		energy := w.org("Department of Energy", authz.Agency, "")
		lab := w.org("Energy Lab", authz.Agency, energy.ID)
		treasury := w.org("Department of the Treasury", authz.Agency, "")
		prov := w.org("Acme Security", authz.Provider, "")

		t.Run("org validation changes nothing", func(t *testing.T) {
			_, err := w.svc.CreateOrg(ctx, w.admin, identity.OrgInput{Name: "X", Kind: "club"})
			code(t, err, apperr.Invalid)
			if f := apperr.FieldsOf(err); f["name"] == "" || f["kind"] == "" {
				t.Errorf("fields = %v", f)
			}
			_, err = w.svc.CreateOrg(ctx, w.admin, identity.OrgInput{Name: "Department of Energy", Kind: authz.Agency})
			code(t, err, apperr.Invalid) // slug taken
			_, err = w.svc.CreateOrg(ctx, w.admin, identity.OrgInput{Name: "Sub of provider", Kind: authz.Agency, ParentID: prov.ID})
			code(t, err, apperr.Invalid)
			_, err = w.svc.CreateOrg(ctx, w.admin, identity.OrgInput{Name: "Second office", Kind: authz.Office})
			code(t, err, apperr.Invalid)
			all, _ := w.svc.ListOrgs(ctx, w.admin, identity.OrgFilter{})
			if len(all) != 5 {
				t.Fatalf("%d orgs, want 5", len(all))
			}
		})

		energyAdmin := w.member(energy, "admin@energy.example.gov", authz.AgencyAdmin)
		treasuryAdmin := w.member(treasury, "admin@treasury.example.gov", authz.AgencyAdmin)
		viewer := w.member(energy, "viewer@energy.example.gov", authz.AgencyViewer)

		t.Run("agency admin sees own agency and sub-organization only", func(t *testing.T) {
			orgs, err := w.svc.ListOrgs(ctx, energyAdmin, identity.OrgFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range orgs {
				names = append(names, o.Slug)
			}
			if strings.Join(names, ",") != "department-of-energy,energy-lab" {
				t.Fatalf("visible orgs = %v", names)
			}
			_, err = w.svc.GetOrg(ctx, energyAdmin, treasury.ID)
			code(t, err, apperr.NotFound)
			_, err = w.svc.ListMembers(ctx, energyAdmin, treasury.ID)
			code(t, err, apperr.NotFound)
		})

		t.Run("agency admin invites into own agency only", func(t *testing.T) {
			_, err := w.svc.Invite(ctx, energyAdmin, identity.InviteInput{OrgID: treasury.ID, Email: "x@treasury.example.gov", Role: authz.AgencyViewer})
			code(t, err, apperr.NotFound)
			_, err = w.svc.Invite(ctx, energyAdmin, identity.InviteInput{OrgID: energy.ID, Email: "x@energy.example.gov", Role: authz.OfficeAdmin})
			code(t, err, apperr.Invalid)
			_, err = w.svc.Invite(ctx, viewer, identity.InviteInput{OrgID: energy.ID, Email: "x@energy.example.gov", Role: authz.AgencyViewer})
			code(t, err, apperr.Forbidden)
			res, err := w.svc.Invite(ctx, energyAdmin, identity.InviteInput{OrgID: lab.ID, Email: "Scientist@Lab.example.gov", Role: authz.AgencyAnalyst})
			if err != nil || res.Link == "" {
				t.Fatalf("invite into sub-organization: %v", err)
			}
			mail, _ := notify.Outbox(ctx, d, "scientist@lab.example.gov", 5)
			if len(mail) != 1 || !strings.Contains(mail[0].Body, res.Link) {
				t.Fatalf("invitation email missing or without link: %+v", mail)
			}
			inv, err := w.svc.ListInvitations(ctx, energyAdmin, lab.ID)
			if err != nil || len(inv) != 1 {
				t.Fatalf("pending invitations = %v, %v", inv, err)
			}
		})

		t.Run("invitation link works once and expires", func(t *testing.T) {
			res, err := w.svc.Invite(ctx, w.admin, identity.InviteInput{OrgID: treasury.ID, Email: "once@treasury.example.gov", Role: authz.AgencyBuyer})
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.svc.AcceptInvitation(ctx, identity.AcceptInput{Secret: secretOf(res.Link), Name: "Once", Password: "password"})
			code(t, err, apperr.Invalid) // weak password, nothing changed
			if _, err := w.svc.AcceptInvitation(ctx, identity.AcceptInput{Secret: secretOf(res.Link), Name: "Once", Password: goodPassword}); err != nil {
				t.Fatal(err)
			}
			_, err = w.svc.AcceptInvitation(ctx, identity.AcceptInput{Secret: secretOf(res.Link), Name: "Twice", Password: goodPassword})
			code(t, err, apperr.NotFound)
			res, _ = w.svc.Invite(ctx, w.admin, identity.InviteInput{OrgID: treasury.ID, Email: "late@treasury.example.gov", Role: authz.AgencyBuyer})
			w.advance(8 * 24 * time.Hour)
			_, err = w.svc.AcceptInvitation(ctx, identity.AcceptInput{Secret: secretOf(res.Link), Name: "Late", Password: goodPassword})
			code(t, err, apperr.NotFound)
		})

		t.Run("sign-in errors do not reveal accounts and are throttled", func(t *testing.T) {
			_, errUnknown := w.svc.SignIn(ctx, "nobody@example.gov", "whatever password", identity.Client{IP: "198.51.100.7"})
			_, errWrong := w.svc.SignIn(ctx, "viewer@energy.example.gov", "wrong password!!", identity.Client{IP: "198.51.100.7"})
			if errUnknown.Error() != errWrong.Error() {
				t.Fatalf("different answers: %q vs %q", errUnknown, errWrong)
			}
			for range 4 {
				_, _ = w.svc.SignIn(ctx, "viewer@energy.example.gov", "wrong password!!", identity.Client{IP: "198.51.100.8"})
			}
			_, err := w.svc.SignIn(ctx, "viewer@energy.example.gov", goodPassword, identity.Client{IP: "198.51.100.9"})
			code(t, err, apperr.TooMany)
			w.advance(16 * time.Minute)
			if _, err := w.svc.SignIn(ctx, "viewer@energy.example.gov", goodPassword, identity.Client{IP: "198.51.100.9"}); err != nil {
				t.Fatalf("after the window: %v", err)
			}
		})

		t.Run("sessions time out when idle and at the absolute limit", func(t *testing.T) {
			res, err := w.svc.SignIn(ctx, "viewer@energy.example.gov", goodPassword, identity.Client{IP: "192.0.2.5"})
			if err != nil {
				t.Fatal(err)
			}
			w.advance(29 * time.Minute)
			if _, _, err := w.svc.Authenticate(ctx, res.Token); err != nil {
				t.Fatalf("active session rejected: %v", err)
			}
			w.advance(31 * time.Minute)
			_, _, err = w.svc.Authenticate(ctx, res.Token)
			code(t, err, apperr.Unauthorized)
			res, _ = w.svc.SignIn(ctx, "viewer@energy.example.gov", goodPassword, identity.Client{IP: "192.0.2.5"})
			for range 25 {
				w.advance(29 * time.Minute)
				_, _, err = w.svc.Authenticate(ctx, res.Token)
			}
			code(t, err, apperr.Unauthorized)
		})

		t.Run("sign out and revoke sessions", func(t *testing.T) {
			a, _ := w.svc.SignIn(ctx, "viewer@energy.example.gov", goodPassword, identity.Client{IP: "192.0.2.5", UserAgent: "Firefox"})
			b, _ := w.svc.SignIn(ctx, "viewer@energy.example.gov", goodPassword, identity.Client{IP: "192.0.2.6", UserAgent: "Chrome"})
			p, _, _ := w.svc.Authenticate(ctx, a.Token)
			list, _ := w.svc.ListSessions(ctx, p.UserID)
			if len(list) < 2 {
				t.Fatalf("%d sessions", len(list))
			}
			if err := w.svc.RevokeSession(ctx, p, b.Session.ID); err != nil {
				t.Fatal(err)
			}
			_, _, err := w.svc.Authenticate(ctx, b.Token)
			code(t, err, apperr.Unauthorized)
			code(t, w.svc.RevokeSession(ctx, treasuryAdmin, a.Session.ID), apperr.NotFound)
			if err := w.svc.SignOut(ctx, a.Token); err != nil {
				t.Fatal(err)
			}
			_, _, err = w.svc.Authenticate(ctx, a.Token)
			code(t, err, apperr.Unauthorized)
		})

		t.Run("TOTP enrolment and second factor", func(t *testing.T) {
			p := w.signIn("admin@treasury.example.gov")
			enr, err := w.svc.BeginTOTP(ctx, p)
			if err != nil || !strings.Contains(string(enr.QR), "<svg") {
				t.Fatalf("BeginTOTP: %v", err)
			}
			secret, _ := totp.DecodeSecret(enr.Secret)
			_, err = w.svc.ConfirmTOTP(ctx, p, "000000")
			code(t, err, apperr.Invalid)
			codes, err := w.svc.ConfirmTOTP(ctx, p, totp.Code(secret, *w.clock))
			if err != nil || len(codes) != 10 {
				t.Fatalf("ConfirmTOTP: %v", err)
			}
			res, err := w.svc.SignIn(ctx, "admin@treasury.example.gov", goodPassword, identity.Client{IP: "192.0.2.9"})
			if err != nil || !res.MFAPending {
				t.Fatalf("sign-in should wait for the second factor: %+v %v", res, err)
			}
			w.advance(30 * time.Second)
			full, err := w.svc.CompleteMFA(ctx, res.Token, totp.Code(secret, *w.clock), identity.Client{IP: "192.0.2.9"})
			if err != nil || full.MFAPending || full.Token == res.Token {
				t.Fatalf("CompleteMFA: %+v %v", full, err)
			}
			// The pending cookie is useless once used, and the same code cannot be replayed.
			_, err = w.svc.CompleteMFA(ctx, res.Token, totp.Code(secret, *w.clock), identity.Client{IP: "192.0.2.9"})
			code(t, err, apperr.Unauthorized)
			res2, _ := w.svc.SignIn(ctx, "admin@treasury.example.gov", goodPassword, identity.Client{IP: "192.0.2.9"})
			_, err = w.svc.CompleteMFA(ctx, res2.Token, totp.Code(secret, *w.clock), identity.Client{IP: "192.0.2.9"})
			code(t, err, apperr.Invalid)
			// A recovery code works once.
			if _, err := w.svc.CompleteMFA(ctx, res2.Token, codes[0], identity.Client{IP: "192.0.2.9"}); err != nil {
				t.Fatalf("recovery code: %v", err)
			}
			res3, _ := w.svc.SignIn(ctx, "admin@treasury.example.gov", goodPassword, identity.Client{IP: "192.0.2.9"})
			_, err = w.svc.CompleteMFA(ctx, res3.Token, codes[0], identity.Client{IP: "192.0.2.9"})
			code(t, err, apperr.Invalid)
		})

		t.Run("API tokens", func(t *testing.T) {
			tok, err := w.svc.CreateToken(ctx, energyAdmin, identity.TokenInput{OrgID: energy.ID, Role: authz.AgencyAnalyst, Name: "SIEM"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.svc.CreateToken(ctx, energyAdmin, identity.TokenInput{OrgID: energy.ID, Role: authz.OfficeAdmin, Name: "escalate"})
			code(t, err, apperr.Invalid)
			_, err = w.svc.CreateToken(ctx, energyAdmin, identity.TokenInput{OrgID: treasury.ID, Role: authz.AgencyViewer, Name: "x"})
			code(t, err, apperr.NotFound)
			p, err := w.svc.AuthenticateToken(ctx, tok.Secret)
			if err != nil || p.ActiveOrgID != energy.ID || p.Memberships[0].Role != authz.AgencyAnalyst {
				t.Fatalf("AuthenticateToken: %+v %v", p, err)
			}
			list, _ := w.svc.ListTokens(ctx, energyAdmin, energy.ID)
			if len(list) != 1 || list[0].LastUsedAt.IsZero() {
				t.Fatalf("last use not recorded: %+v", list)
			}
			_, err = w.svc.AuthenticateToken(ctx, tok.Secret[:len(tok.Secret)-1]+"x")
			code(t, err, apperr.Unauthorized)
			code(t, w.svc.RevokeToken(ctx, treasuryAdmin, tok.ID), apperr.NotFound)
			if err := w.svc.RevokeToken(ctx, energyAdmin, tok.ID); err != nil {
				t.Fatal(err)
			}
			_, err = w.svc.AuthenticateToken(ctx, tok.Secret)
			code(t, err, apperr.Unauthorized)
		})

		t.Run("roles, last office admin and suspension", func(t *testing.T) {
			code(t, w.svc.SetRoles(ctx, w.admin, w.office.ID, w.admin.UserID, []authz.Role{authz.OfficeAnalyst}), apperr.Conflict)
			v, _, _ := w.svc.GetUser(ctx, energyAdmin, viewer.UserID)
			if err := w.svc.SetRoles(ctx, energyAdmin, energy.ID, v.ID, []authz.Role{authz.AgencyViewer, authz.AgencyBuyer}); err != nil {
				t.Fatal(err)
			}
			_, err := w.svc.SetUserStatus(ctx, treasuryAdmin, v.ID, false)
			code(t, err, apperr.NotFound)
			s, _ := w.svc.SignIn(ctx, "viewer@energy.example.gov", goodPassword, identity.Client{IP: "192.0.2.5"})
			if _, err := w.svc.SetUserStatus(ctx, energyAdmin, v.ID, false); err != nil {
				t.Fatal(err)
			}
			_, _, err = w.svc.Authenticate(ctx, s.Token)
			code(t, err, apperr.Unauthorized)
			_, err = w.svc.SignIn(ctx, "viewer@energy.example.gov", goodPassword, identity.Client{IP: "192.0.2.5"})
			code(t, err, apperr.Unauthorized)
		})

		t.Run("password reset does not reveal accounts", func(t *testing.T) {
			before, _ := notify.Outbox(ctx, d, "", 1000)
			if err := w.svc.RequestPasswordReset(ctx, "ghost@example.gov", identity.Client{IP: "192.0.2.50"}); err != nil {
				t.Fatal(err)
			}
			mid, _ := notify.Outbox(ctx, d, "", 1000)
			if len(mid) != len(before) {
				t.Fatal("mail sent for unknown account")
			}
			if err := w.svc.RequestPasswordReset(ctx, "admin@energy.example.gov", identity.Client{IP: "192.0.2.50"}); err != nil {
				t.Fatal(err)
			}
			mail, _ := notify.Outbox(ctx, d, "admin@energy.example.gov", 1)
			link := mail[0].Body[strings.Index(mail[0].Body, "http"):]
			link = strings.Fields(link)[0]
			code(t, w.svc.ResetPassword(ctx, secretOf(link), "short"), apperr.Invalid)
			if err := w.svc.ResetPassword(ctx, secretOf(link), "a brand new passphrase 77"); err != nil {
				t.Fatal(err)
			}
			code(t, w.svc.ResetPassword(ctx, secretOf(link), "another brand new one 88"), apperr.NotFound)
			if _, err := w.svc.SignIn(ctx, "admin@energy.example.gov", "a brand new passphrase 77", identity.Client{IP: "192.0.2.51"}); err != nil {
				t.Fatalf("sign in with new password: %v", err)
			}
		})

		t.Run("every change is audited and the chain verifies", func(t *testing.T) {
			recs, _, err := audit.List(ctx, d, audit.Filter{Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, r := range recs {
				seen[r.Action] = true
			}
			for _, a := range []string{"org.create", "user.setup_link", "invitation.accept", "user.invite", "session.sign_in", "session.sign_out",
				"session.revoke", "mfa.enable", "token.create", "token.revoke", "member.roles", "user.suspend", "user.password_reset"} {
				if !seen[a] {
					t.Errorf("no audit record for %s", a)
				}
			}
			res, err := audit.Verify(ctx, d)
			if err != nil || !res.OK() {
				t.Fatalf("verify: %+v %v", res, err)
			}
			slice, _, _ := audit.List(ctx, d, audit.Filter{OrgIDs: []string{treasury.ID}, Limit: 500})
			for _, r := range slice {
				if r.OrgID != treasury.ID {
					t.Fatalf("foreign record in slice: %+v", r)
				}
			}
		})
	})
}

func TestParseToken(t *testing.T) {
	for _, s := range []string{"", "qsmo_", "qsmo_abc_def", "Bearer qsmo_x", "qsmo_" + strings.Repeat("a", 26) + "_short"} {
		if _, _, ok := identity.ParseToken(s); ok {
			t.Errorf("ParseToken(%q) accepted", s)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add("qsmo_0123456789abcdefghjkmnpqrs_" + strings.Repeat("z", 48))
	f.Fuzz(func(t *testing.T, s string) {
		tokID, secret, ok := identity.ParseToken(s)
		if ok && (!strings.HasPrefix(tokID, "tok_") || len(secret) < 40 || !strings.HasPrefix(s, identity.TokenPrefix)) {
			t.Fatalf("accepted malformed token %q", s)
		}
	})
}
