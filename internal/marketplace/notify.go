package marketplace

import (
	"context"
	"fmt"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/notify"
)

// maxRecipients bounds the people one event notifies in an organization,
// so a large organization does not turn one step into a mail storm.
const maxRecipients = 25

// notifyRoles notifies the active people holding any of roles in orgID, in
// the app and by email, inside tx. The acting user is skipped: they know.
func (s *Service) notifyRoles(ctx context.Context, tx *db.Tx, orgID string, roles []authz.Role, skipUser, subject, body, link string) error {
	if len(roles) == 0 {
		return nil
	}
	args := []any{orgID}
	for _, r := range roles {
		args = append(args, string(r))
	}
	args = append(args, skipUser, maxRecipients)
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT u.id FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = ? AND m.role IN (`+placeholders(len(roles))+`) AND u.status = 'active' AND u.id <> ?
		ORDER BY u.id LIMIT ?`, args...)
	if err != nil {
		return fmt.Errorf("marketplace: recipients: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if err := notify.Notify(ctx, tx, notify.Notification{UserID: id, OrgID: orgID, Subject: subject, Body: body, Link: link}, s.PublicURL); err != nil {
			return err
		}
	}
	return nil
}

// notifyUser notifies one person (e.g. the buyer who requested an order).
func (s *Service) notifyUser(ctx context.Context, tx *db.Tx, userID, orgID, subject, body, link string) error {
	if userID == "" {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE id = ?", userID).Scan(&n); err != nil || n == 0 {
		return err
	}
	return notify.Notify(ctx, tx, notify.Notification{UserID: userID, OrgID: orgID, Subject: subject, Body: body, Link: link}, s.PublicURL)
}

// Roles notified for each side of a workflow.
var (
	officeReviewers  = []authz.Role{authz.OfficeAdmin, authz.OfficeAnalyst}
	standardsLeads   = []authz.Role{authz.StandardsLead}
	agencyApprovers  = []authz.Role{authz.AgencyApprover, authz.AgencyAdmin}
	agencyBuyers     = []authz.Role{authz.AgencyBuyer, authz.AgencyAdmin}
	providerAdmins   = []authz.Role{authz.ProviderAdmin}
	providerOperator = []authz.Role{authz.ProviderAdmin, authz.ProviderAnalyst}
)

// providerRoles returns the roles that work a provider's side: for an
// office-operated offering the provider is the office itself.
func providerRoles(orgKind string, operators bool) []authz.Role {
	if orgKind == "office" {
		if operators {
			return []authz.Role{authz.OfficeAdmin, authz.OfficeAnalyst}
		}
		return []authz.Role{authz.OfficeAdmin}
	}
	if operators {
		return providerOperator
	}
	return providerAdmins
}
