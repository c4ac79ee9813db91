package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
)

// OrgInput is what a person fills in to create or edit an organization.
type OrgInput struct {
	Name        string
	Slug        string
	Kind        authz.OrgKind
	ParentID    string
	AgencyCode  string
	ALC         string
	Description string
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$`)

// Slugify makes a slug suggestion from a name.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

func (in *OrgInput) normalize() {
	in.Name = strings.TrimSpace(in.Name)
	in.Slug = strings.ToLower(strings.TrimSpace(in.Slug))
	in.AgencyCode = strings.TrimSpace(in.AgencyCode)
	in.ALC = strings.TrimSpace(in.ALC)
	in.Description = strings.TrimSpace(in.Description)
	if in.Slug == "" {
		in.Slug = Slugify(in.Name)
	}
}

func (in OrgInput) validate(creating bool) map[string]string {
	errs := map[string]string{}
	if n := utf8.RuneCountInString(in.Name); n < 2 || n > 200 {
		errs["name"] = "Enter the organization's name (2 to 200 characters)."
	}
	if creating {
		if !slugRE.MatchString(in.Slug) {
			errs["slug"] = "Enter a short name of 2 to 40 lowercase letters, digits and dashes, such as dept-of-energy."
		}
		if !in.Kind.Valid() {
			errs["kind"] = "Choose office, agency or provider."
		}
	}
	if len(in.AgencyCode) > 20 {
		errs["agency_code"] = "The agency code is at most 20 characters."
	}
	if in.ALC != "" && !regexp.MustCompile(`^[0-9]{8}$`).MatchString(in.ALC) {
		errs["alc"] = "The agency location code is 8 digits."
	}
	if len(in.Description) > 2000 {
		errs["description"] = "The description is at most 2,000 characters."
	}
	return errs
}

// OfficeID returns the office organization's ID.
func (s *Service) OfficeID(ctx context.Context) (string, error) {
	var oid string
	err := s.DB.QueryRowContext(ctx, "SELECT id FROM orgs WHERE kind = 'office' ORDER BY created_at LIMIT 1").Scan(&oid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.NotFoundf("Office organization")
	}
	if err != nil {
		return "", fmt.Errorf("identity: office id: %w", err)
	}
	return oid, nil
}

// CreateOrg creates an organization. Only office admins may; there is one
// office; sub-organizations belong to agencies.
func (s *Service) CreateOrg(ctx context.Context, p *authz.Principal, in OrgInput) (Org, error) {
	officeID, err := s.OfficeID(ctx)
	if err != nil {
		return Org{}, err
	}
	if err := s.Authz.Check(ctx, p, authz.OrgCreate, officeID); err != nil {
		return Org{}, err
	}
	return s.createOrg(ctx, in)
}

// CreateOffice creates the office organization on first start. It is
// called by the system, not by a person.
func (s *Service) CreateOffice(ctx context.Context, name string) (Org, error) {
	if _, err := s.OfficeID(ctx); err == nil {
		return Org{}, apperr.New(apperr.Conflict, "The office organization already exists.")
	}
	return s.createOrg(ctx, OrgInput{Name: name, Slug: "office", Kind: authz.Office})
}

func (s *Service) createOrg(ctx context.Context, in OrgInput) (Org, error) {
	in.normalize()
	errs := in.validate(true)
	if len(errs) > 0 {
		return Org{}, apperr.Validation(errs)
	}
	var o Org
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		if in.Kind == authz.Office {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM orgs WHERE kind = 'office'").Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return apperr.Validation(map[string]string{"kind": "There is already an office; create an agency or a provider."})
			}
		}
		if in.ParentID != "" {
			parent, err := getOrg(ctx, tx, in.ParentID)
			if err != nil {
				if apperr.Is(err, apperr.NotFound) {
					return apperr.Validation(map[string]string{"parent_id": "Choose an existing agency as the parent."})
				}
				return err
			}
			if parent.Kind != authz.Agency || in.Kind != authz.Agency {
				return apperr.Validation(map[string]string{"parent_id": "Only agencies have sub-organizations, and they are agencies too."})
			}
		}
		now := tx.Now()
		o = Org{ID: id.New("org"), Slug: in.Slug, Name: in.Name, Kind: in.Kind, ParentID: in.ParentID, AgencyCode: in.AgencyCode,
			ALC: in.ALC, Description: in.Description, Status: "active", CreatedAt: now, UpdatedAt: now}
		_, err := tx.ExecContext(ctx, `INSERT INTO orgs (id, slug, name, kind, parent_id, agency_code, alc, description, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, o.ID, o.Slug, o.Name, string(o.Kind), nullable(o.ParentID), o.AgencyCode, o.ALC, o.Description, o.Status, db.TS(now), db.TS(now))
		if db.IsUniqueViolation(err) {
			return apperr.Validation(map[string]string{"slug": fmt.Sprintf("The short name %q is taken; choose another.", o.Slug)})
		}
		if err != nil {
			return fmt.Errorf("identity: insert org: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.ID, Action: "org.create", TargetType: "org", TargetID: o.ID,
			Summary: fmt.Sprintf("Created %s “%s” (%s)", o.Kind, o.Name, o.Slug), After: orgView(o)})
	})
	return o, err
}

// orgView is the audited form of an organization.
func orgView(o Org) map[string]any {
	return map[string]any{"slug": o.Slug, "name": o.Name, "kind": o.Kind, "parent_id": o.ParentID, "agency_code": o.AgencyCode,
		"alc": o.ALC, "description": o.Description, "status": o.Status}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// UpdateOrg edits an organization's profile.
func (s *Service) UpdateOrg(ctx context.Context, p *authz.Principal, orgID string, in OrgInput) (Org, error) {
	if err := s.Authz.Check(ctx, p, authz.OrgUpdate, orgID); err != nil {
		return Org{}, err
	}
	in.normalize()
	errs := in.validate(false)
	if len(errs) > 0 {
		return Org{}, apperr.Validation(errs)
	}
	var o Org
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		before, err := getOrg(ctx, tx, orgID)
		if err != nil {
			return err
		}
		o = before
		o.Name, o.AgencyCode, o.ALC, o.Description, o.UpdatedAt = in.Name, in.AgencyCode, in.ALC, in.Description, tx.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE orgs SET name = ?, agency_code = ?, alc = ?, description = ?, updated_at = ? WHERE id = ?`,
			o.Name, o.AgencyCode, o.ALC, o.Description, db.TS(o.UpdatedAt), o.ID); err != nil {
			return fmt.Errorf("identity: update org: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.ID, Action: "org.update", TargetType: "org", TargetID: o.ID,
			Summary: fmt.Sprintf("Updated “%s”", o.Name), Before: orgView(before), After: orgView(o)})
	})
	return o, err
}

// SetOrgStatus suspends or reactivates an organization. Members of a
// suspended organization lose its roles until it is reactivated; the office
// cannot be suspended.
func (s *Service) SetOrgStatus(ctx context.Context, p *authz.Principal, orgID string, active bool) (Org, error) {
	if err := s.Authz.Check(ctx, p, authz.OrgSuspend, orgID); err != nil {
		return Org{}, err
	}
	var o Org
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		before, err := getOrg(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if before.Kind == authz.Office {
			return apperr.New(apperr.Conflict, "The office organization cannot be suspended.")
		}
		status, action := "suspended", "org.suspend"
		if active {
			status, action = "active", "org.reactivate"
		}
		if before.Status == status {
			o = before
			return nil
		}
		o = before
		o.Status, o.UpdatedAt = status, tx.Now()
		if _, err := tx.ExecContext(ctx, "UPDATE orgs SET status = ?, updated_at = ? WHERE id = ?", status, db.TS(o.UpdatedAt), o.ID); err != nil {
			return fmt.Errorf("identity: set org status: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.ID, Action: action, TargetType: "org", TargetID: o.ID,
			Summary: fmt.Sprintf("%s “%s”", map[bool]string{true: "Reactivated", false: "Suspended"}[active], o.Name),
			Before:  map[string]string{"status": before.Status}, After: map[string]string{"status": status}})
	})
	return o, err
}

// GetOrg returns an organization the principal can see, by ID or slug.
func (s *Service) GetOrg(ctx context.Context, p *authz.Principal, ref string) (Org, error) {
	o, err := s.LookupOrg(ctx, ref)
	if err != nil {
		return Org{}, err
	}
	if err := s.Authz.Check(ctx, p, authz.OrgRead, o.ID); err != nil {
		return Org{}, err
	}
	return o, nil
}

// LookupOrg returns an organization by ID or slug without an access check,
// for the system (CLI, workers); handlers use GetOrg.
func (s *Service) LookupOrg(ctx context.Context, ref string) (Org, error) {
	if strings.HasPrefix(ref, "org_") {
		return getOrg(ctx, s.DB, ref)
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT "+orgColumns+" FROM orgs WHERE slug = ?", strings.ToLower(ref))
	if err != nil {
		return Org{}, fmt.Errorf("identity: org by slug: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return Org{}, apperr.NotFoundf("Organization")
	}
	return scanOrg(rows)
}

// OrgFilter narrows ListOrgs.
type OrgFilter struct {
	Kind     authz.OrgKind
	Query    string // matches name or slug
	ParentID string
	Status   string
}

// ListOrgs returns the organizations the principal can see, by name.
func (s *Service) ListOrgs(ctx context.Context, p *authz.Principal, f OrgFilter) ([]Org, error) {
	scope, err := s.Authz.ScopeFor(ctx, p, authz.OrgRead)
	if err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if !scope.All {
		if len(scope.OrgIDs) == 0 {
			return nil, nil
		}
		where = append(where, "id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(scope.OrgIDs)), ",")+")")
		for _, o := range scope.OrgIDs {
			args = append(args, o)
		}
	}
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, string(f.Kind))
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.ParentID != "" {
		where = append(where, "parent_id = ?")
		args = append(args, f.ParentID)
	}
	if q := strings.TrimSpace(strings.ToLower(f.Query)); q != "" {
		where = append(where, `(LOWER(name) LIKE ? ESCAPE '\' OR slug LIKE ? ESCAPE '\')`)
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q) + "%"
		args = append(args, like, like)
	}
	query := "SELECT " + orgColumns + " FROM orgs"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY CASE kind WHEN 'office' THEN 0 WHEN 'agency' THEN 1 ELSE 2 END, LOWER(name)"
	rows, err := s.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("identity: list orgs: %w", err)
	}
	defer rows.Close()
	var out []Org
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

const orgColumns = "id, slug, name, kind, COALESCE(parent_id, ''), agency_code, alc, description, status, created_at, updated_at"

func getOrg(ctx context.Context, q db.Queryer, orgID string) (Org, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+orgColumns+" FROM orgs WHERE id = ?", orgID)
	if err != nil {
		return Org{}, fmt.Errorf("identity: get org: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return Org{}, apperr.NotFoundf("Organization")
	}
	return scanOrg(rows)
}

func scanOrg(rows *sql.Rows) (Org, error) {
	var o Org
	var kind string
	err := rows.Scan(&o.ID, &o.Slug, &o.Name, &kind, &o.ParentID, &o.AgencyCode, &o.ALC, &o.Description, &o.Status, (*db.Time)(&o.CreatedAt), (*db.Time)(&o.UpdatedAt))
	o.Kind = authz.OrgKind(kind)
	if err != nil {
		return o, fmt.Errorf("identity: scan org: %w", err)
	}
	return o, nil
}
