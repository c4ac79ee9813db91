package identity

import (
	"context"
	"strconv"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/notify"
	"github.com/qsmo/qsmo/internal/web"
)

// cards gives the dashboard the identity tiles: unread notifications, a
// nudge to turn on two-step verification, and for administrators the
// organizations and people they manage.
func (h *Handlers) cards(ctx context.Context, p *authz.Principal) ([]web.Card, error) {
	var out []web.Card
	if p.IsToken() {
		return nil, nil
	}
	if n, err := notify.Unread(ctx, h.S.DB, p.UserID); err == nil && n > 0 {
		out = append(out, web.Card{Title: "Notifications", Stat: strconv.Itoa(n), Text: "unread", Link: "/notifications", LinkText: "Read them", Order: 1})
	}
	if u, err := getUser(ctx, h.S.DB, p.UserID); err == nil && !u.TOTPEnabled && !p.MFA {
		out = append(out, web.Card{Title: "Protect your account", Text: "Turn on two-step verification so a stolen password is not enough to sign in as you.",
			Link: "/account/mfa", LinkText: "Set it up", Order: 2})
	}
	if p.IsOffice() {
		orgs, err := h.S.ListOrgs(ctx, p, OrgFilter{})
		if err != nil {
			return nil, err
		}
		agencies, providers := 0, 0
		for _, o := range orgs {
			switch o.Kind {
			case authz.Agency:
				agencies++
			case authz.Provider:
				providers++
			}
		}
		out = append(out, web.Card{Title: "Organizations", Stat: strconv.Itoa(agencies),
			Text: "agencies and sub-organizations, and " + strconv.Itoa(providers) + " providers", Link: "/orgs", LinkText: "Manage organizations", Order: 90})
		return out, nil
	}
	m, ok := p.ActiveMembership()
	if ok && h.S.Authz.Can(ctx, p, authz.UserRead, m.OrgID) {
		members, err := h.S.ListMembers(ctx, p, m.OrgID)
		if err != nil {
			return nil, err
		}
		inv, _ := h.S.ListInvitations(ctx, p, m.OrgID)
		text := "people have a role in " + m.OrgName
		if len(inv) > 0 {
			text += "; " + strconv.Itoa(len(inv)) + " invitations are pending"
		}
		out = append(out, web.Card{Title: "People", Stat: strconv.Itoa(len(members)), Text: text, Link: "/orgs/" + m.OrgID + "/users", LinkText: "Manage people", Order: 90})
	}
	return out, nil
}
