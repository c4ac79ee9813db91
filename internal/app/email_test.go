package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/qsmo/qsmo/internal/app/apptest"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/notify"
	"github.com/qsmo/qsmo/internal/notify/smtptest"
)

// TestInvitationByEmail invites a person through the portal, delivers the
// invitation over a real SMTP conversation on loopback, and follows the
// link in the received message to create the account.
func TestInvitationByEmail(t *testing.T) {
	e := apptest.New(t)
	smtp := smtptest.Start(t)
	admin := e.SignIn(apptest.RoleUsers[authz.AgencyAdmin])
	energy := e.World.Agencies["energy"]
	res := admin.PostForm("/orgs/"+energy.ID+"/users/invite", url.Values{"email": {"new.analyst@energy.example.gov"}, "name": {"Nia"}, "role": {"agency_analyst"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("invite: %d %s", res.StatusCode, apptest.Body(res))
	}
	sender := &notify.Sender{DB: e.App.DB, SMTP: notify.SMTPConfig{Addr: smtp.Addr, From: "qsmo@office.example.gov", TLS: "none"}, Log: quietLog()}
	if _, err := sender.SendPending(e.Ctx); err != nil {
		t.Fatal(err)
	}
	var invite *smtptest.Mail
	for _, m := range smtp.Mail() {
		if len(m.To) == 1 && m.To[0] == "new.analyst@energy.example.gov" {
			invite = &m
		}
	}
	if invite == nil {
		t.Fatalf("no invitation delivered; got %d messages", len(smtp.Mail()))
	}
	link := regexp.MustCompile(`http://\S+/invite/[a-z0-9]+`).FindString(invite.Data)
	if link == "" || !strings.HasPrefix(link, e.URL) {
		t.Fatalf("no link to this server in the message: %q", invite.Data)
	}
	path := strings.TrimPrefix(link, e.URL)
	c := e.Anonymous()
	if res := c.Get(path); res.StatusCode != http.StatusOK {
		t.Fatalf("invitation page: %d", res.StatusCode)
	}
	res = c.PostForm(path, url.Values{"name": {"Nia Analyst"}, "password": {"harbor violet quartz engine"}, "confirm_password": {"harbor violet quartz engine"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d %s", res.StatusCode, apptest.Body(res))
	}
	res = c.PostForm("/sign-in", url.Values{"email": {"new.analyst@energy.example.gov"}, "password": {"harbor violet quartz engine"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in with the new account: %d", res.StatusCode)
	}
	if body := apptest.Body(c.Get("/")); !strings.Contains(body, "Agency analyst") {
		t.Fatal("new account lacks its role")
	}
}
