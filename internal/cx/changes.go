package cx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/notify"
)

// RefKind is the kind of record a change points to.
type RefKind string

// Reference kinds. The records belong to other parts of qsmo (the
// marketplace's offerings and standards), so a change keeps a typed
// reference with a label and a link rather than a foreign key.
const (
	RefOffering        RefKind = "offering"
	RefStandardVersion RefKind = "standard_version"
	RefService         RefKind = "service"
	RefOther           RefKind = "other"
)

// RefKinds lists the reference kinds.
var RefKinds = []RefKind{RefOffering, RefStandardVersion, RefService, RefOther}

// Valid reports whether k is a known kind.
func (k RefKind) Valid() bool {
	for _, x := range RefKinds {
		if x == k {
			return true
		}
	}
	return false
}

// Label names the kind for people.
func (k RefKind) Label() string {
	switch k {
	case RefOffering:
		return "Offering"
	case RefStandardVersion:
		return "Standard version"
	case RefService:
		return "Service"
	case RefOther:
		return "Other change"
	}
	return string(k)
}

// Ref is a typed reference to the record that changed.
type Ref struct {
	Kind  RefKind
	ID    string
	Label string
	URL   string // a path in the portal or an https:// address
}

// Figure is a before/after measure of a change.
type Figure struct {
	Metric string
	Before float64
	After  float64
	Unit   string
	// HigherIsBetter says which direction is an improvement.
	HigherIsBetter bool
}

// Set reports whether the change has a figure.
func (f Figure) Set() bool { return f.Metric != "" }

// Improved reports whether the figure moved the right way.
func (f Figure) Improved() bool {
	if f.HigherIsBetter {
		return f.After > f.Before
	}
	return f.After < f.Before
}

// Format shows a value of the figure with its unit: "21 days", "97.5%".
func (f Figure) Format(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if math.Abs(v-math.Round(v)) > 1e-9 {
		s = strconv.FormatFloat(v, 'f', 1, 64)
	}
	switch {
	case f.Unit == "":
		return s
	case f.Unit == "%":
		return s + "%"
	default:
		return s + " " + f.Unit
	}
}

// Audience says who sees a change.
type Audience string

// Audiences.
const (
	Everyone Audience = "everyone" // every agency and provider
	Linked   Audience = "linked"   // the organizations whose feedback it answers
)

// Change is a "you said, we did" entry: feedback the office acted on, the
// change it made and what it changed.
type Change struct {
	ID          string
	Title       string
	Summary     string
	Ref         Ref
	Figure      Figure
	ServiceArea string
	Audience    Audience
	CreatedBy   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Feedback are the linked items the viewer may read; Hidden counts
	// linked items of other organizations.
	Feedback []Feedback
	Hidden   int
}

// ChangeInput is a new entry.
type ChangeInput struct {
	Title       string
	Summary     string
	Ref         Ref
	Figure      *Figure // nil: no figure
	ServiceArea string
	Audience    Audience
	FeedbackIDs []string
}

// Limits of change text.
const (
	MaxSummary  = 4000
	MaxFeedback = 50
)

func (in *ChangeInput) normalize(ctx context.Context, s *Service) (map[string]string, error) {
	in.Title = strings.Join(strings.Fields(cleanText(in.Title, false)), " ")
	in.Summary = cleanText(in.Summary, true)
	in.Ref.ID = strings.TrimSpace(in.Ref.ID)
	in.Ref.Label = strings.Join(strings.Fields(cleanText(in.Ref.Label, false)), " ")
	in.Ref.URL = strings.TrimSpace(in.Ref.URL)
	in.ServiceArea = strings.TrimSpace(in.ServiceArea)
	errs := map[string]string{}
	if n := utf8.RuneCountInString(in.Title); n < 5 || n > MaxTitle {
		errs["title"] = fmt.Sprintf("Give the entry a title of 5 to %d characters, like “Faster onboarding for Protective DNS”.", MaxTitle)
	}
	if n := utf8.RuneCountInString(in.Summary); n < 10 || n > MaxSummary {
		errs["summary"] = fmt.Sprintf("Say what you heard and what you changed, in 10 to %d characters.", MaxSummary)
	}
	switch {
	case in.Ref.Kind == "" && in.Ref.ID == "" && in.Ref.Label == "" && in.Ref.URL == "":
	case !in.Ref.Kind.Valid():
		errs["ref_kind"] = "Choose what changed: an offering, a standard version, a service or something else."
	case in.Ref.Label == "" || utf8.RuneCountInString(in.Ref.Label) > 200:
		errs["ref_label"] = "Name the change, like “Protective DNS standard v2.1” (up to 200 characters)."
	}
	if len(in.Ref.ID) > 100 {
		errs["ref_id"] = "The record's identifier is at most 100 characters."
	}
	if in.Ref.URL != "" && !safeLink(in.Ref.URL) {
		errs["ref_url"] = "Give a link inside qsmo starting with /, or an https:// address."
	}
	if f := in.Figure; f != nil {
		f.Metric = strings.Join(strings.Fields(cleanText(f.Metric, false)), " ")
		f.Unit = strings.TrimSpace(cleanText(f.Unit, false))
		if n := utf8.RuneCountInString(f.Metric); n < 3 || n > 120 {
			errs["metric"] = "Name what was measured, like “Days from order to service” (3 to 120 characters)."
		}
		if utf8.RuneCountInString(f.Unit) > 20 {
			errs["unit"] = "The unit is at most 20 characters, like days or %."
		}
		for name, v := range map[string]float64{"before": f.Before, "after": f.After} {
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e12 {
				errs[name] = "Enter a number."
			}
		}
	}
	if in.ServiceArea != "" {
		if _, known, err := s.serviceName(ctx, in.ServiceArea); err != nil {
			return nil, err
		} else if !known {
			errs["service_area"] = "Choose a service from the list, or leave it empty."
		}
	}
	if in.Audience != Everyone && in.Audience != Linked {
		errs["audience"] = "Choose who sees this entry."
	}
	seen := map[string]bool{}
	var ids []string
	for _, fid := range in.FeedbackIDs {
		if fid = strings.TrimSpace(fid); fid != "" && !seen[fid] {
			seen[fid] = true
			ids = append(ids, fid)
		}
	}
	in.FeedbackIDs = ids
	if len(ids) > MaxFeedback {
		errs["feedback_ids"] = fmt.Sprintf("Link at most %d feedback items.", MaxFeedback)
	}
	if in.Audience == Linked && len(ids) == 0 {
		errs["feedback_ids"] = "Link the feedback this answers, or show the entry to everyone."
	}
	return errs, nil
}

// safeLink accepts a path inside the portal or an https address, never a
// script or another scheme.
func safeLink(s string) bool {
	if len(s) > 500 || strings.ContainsAny(s, " \t\r\n\\<>\"") {
		return false
	}
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != ""
}

// PostChange publishes a "you said, we did" entry (office admins and
// analysts) and tells the submitters of the linked feedback.
func (s *Service) PostChange(ctx context.Context, p *authz.Principal, in ChangeInput) (Change, error) {
	if err := s.checkOffice(ctx, p, authz.CXChangeManage); err != nil {
		return Change{}, err
	}
	errs, err := in.normalize(ctx, s)
	if err != nil {
		return Change{}, err
	}
	if len(errs) > 0 {
		return Change{}, apperr.Validation(errs)
	}
	var c Change
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		c, err = s.insertChange(ctx, tx, in, p.Label(), tx.Now(), true)
		return err
	})
	return c, err
}

func (s *Service) insertChange(ctx context.Context, tx *db.Tx, in ChangeInput, by string, at time.Time, notifyNow bool) (Change, error) {
	oid, err := s.officeID(ctx, tx)
	if err != nil {
		return Change{}, err
	}
	c := Change{ID: id.New("ysw"), Title: in.Title, Summary: in.Summary, Ref: in.Ref, ServiceArea: in.ServiceArea, Audience: in.Audience,
		CreatedBy: by, CreatedAt: at, UpdatedAt: at}
	var before, after any
	if in.Figure != nil {
		c.Figure = *in.Figure
		before, after = c.Figure.Before, c.Figure.After
	}
	var items []Feedback
	for _, fid := range in.FeedbackIDs {
		f, err := getFeedback(ctx, tx, fid)
		if apperr.Is(err, apperr.NotFound) {
			return Change{}, apperr.Validation(map[string]string{"feedback_ids": "Link feedback items that exist (" + truncate(fid, 40) + " does not)."})
		}
		if err != nil {
			return Change{}, err
		}
		items = append(items, f)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO cx_changes (id, title, summary, ref_kind, ref_id, ref_label, ref_url, metric, before_value, after_value, unit,
		higher_is_better, service_area, audience, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Title, c.Summary, string(c.Ref.Kind), c.Ref.ID, c.Ref.Label, c.Ref.URL, c.Figure.Metric, before, after, c.Figure.Unit,
		c.Figure.HigherIsBetter, c.ServiceArea, string(c.Audience), c.CreatedBy, db.TS(at), db.TS(at))
	if err != nil {
		return Change{}, fmt.Errorf("cx: insert change: %w", err)
	}
	notified := map[string]bool{}
	for _, f := range items {
		if _, err := tx.ExecContext(ctx, "INSERT INTO cx_change_feedback (change_id, feedback_id, org_id) VALUES (?, ?, ?)", c.ID, f.ID, f.OrgID); err != nil {
			return Change{}, fmt.Errorf("cx: link feedback: %w", err)
		}
		if !notifyNow {
			continue
		}
		users, err := s.feedbackRecipients(ctx, tx, f)
		if err != nil {
			return Change{}, err
		}
		for _, uid := range users {
			if notified[uid] {
				continue
			}
			notified[uid] = true
			n := notify.Notification{UserID: uid, OrgID: f.OrgID, Subject: "You said, we did: " + truncate(c.Title, 90),
				Body: fmt.Sprintf("Your feedback “%s” led to a change.\n\n%s", f.Title, c.Summary), Link: "/cx/changes/" + c.ID}
			if err := notify.Notify(ctx, tx, n, s.PublicURL()); err != nil {
				return Change{}, err
			}
		}
	}
	c.Feedback = items
	return c, audit.Append(ctx, tx, audit.Event{OrgID: oid, Action: "cx.change.post", TargetType: "cx_change", TargetID: c.ID,
		Summary: fmt.Sprintf("Posted “you said, we did”: %s", c.Title),
		After: map[string]any{"title": c.Title, "ref": map[string]string{"kind": string(c.Ref.Kind), "id": c.Ref.ID, "label": c.Ref.Label, "url": c.Ref.URL},
			"metric": c.Figure.Metric, "before": before, "after": after, "audience": c.Audience, "feedback_ids": in.FeedbackIDs}})
}

// ChangeFilter narrows ListChanges.
type ChangeFilter struct {
	FeedbackID  string
	ServiceArea string
	Limit       int
}

// visibleChanges is the condition for the changes p may read: all for the
// office; for others, those shown to everyone and those answering feedback
// of their organizations.
func (s *Service) visibleChanges(ctx context.Context, p *authz.Principal) (string, []any, error) {
	scope, err := s.Authz.ScopeFor(ctx, p, authz.CXChangeRead)
	if err != nil {
		return "", nil, err
	}
	if scope.All {
		return "1 = 1", nil, nil
	}
	if !authz.CanAnywhere(p, authz.CXChangeRead) {
		return "1 = 0", nil, nil
	}
	in, args := inClause("l.org_id", scope.OrgIDs)
	return "(c.audience = 'everyone' OR EXISTS (SELECT 1 FROM cx_change_feedback l WHERE l.change_id = c.id AND " + in + "))", args, nil
}

const changeColumns = `c.id, c.title, c.summary, c.ref_kind, c.ref_id, c.ref_label, c.ref_url, c.metric, c.before_value, c.after_value, c.unit,
	c.higher_is_better, c.service_area, c.audience, c.created_by, c.created_at, c.updated_at`

func scanChange(r scanner) (Change, error) {
	var c Change
	var kind, audience string
	var before, after sql.NullFloat64
	err := r.Scan(&c.ID, &c.Title, &c.Summary, &kind, &c.Ref.ID, &c.Ref.Label, &c.Ref.URL, &c.Figure.Metric, &before, &after, &c.Figure.Unit,
		&c.Figure.HigherIsBetter, &c.ServiceArea, &audience, &c.CreatedBy, (*db.Time)(&c.CreatedAt), (*db.Time)(&c.UpdatedAt))
	if err != nil {
		return c, fmt.Errorf("cx: scan change: %w", err)
	}
	c.Ref.Kind, c.Audience = RefKind(kind), Audience(audience)
	c.Figure.Before, c.Figure.After = before.Float64, after.Float64
	return c, nil
}

// ListChanges returns the entries p may read, newest first.
func (s *Service) ListChanges(ctx context.Context, p *authz.Principal, f ChangeFilter) ([]Change, error) {
	cond, args, err := s.visibleChanges(ctx, p)
	if err != nil {
		return nil, err
	}
	where := []string{cond}
	if f.FeedbackID != "" {
		where, args = append(where, "EXISTS (SELECT 1 FROM cx_change_feedback x WHERE x.change_id = c.id AND x.feedback_id = ?)"), append(args, f.FeedbackID)
	}
	if f.ServiceArea != "" {
		where, args = append(where, "c.service_area = ?"), append(args, f.ServiceArea)
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 100
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT "+changeColumns+" FROM cx_changes c WHERE "+strings.Join(where, " AND ")+" ORDER BY c.created_at DESC, c.id LIMIT ?",
		append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("cx: list changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// GetChange returns an entry with the linked feedback the viewer may read.
func (s *Service) GetChange(ctx context.Context, p *authz.Principal, changeID string) (Change, error) {
	if !id.Valid("ysw", changeID) {
		return Change{}, apperr.NotFoundf("Entry")
	}
	cond, args, err := s.visibleChanges(ctx, p)
	if err != nil {
		return Change{}, err
	}
	c, err := scanChange(s.DB.QueryRowContext(ctx, "SELECT "+changeColumns+" FROM cx_changes c WHERE c.id = ? AND "+cond, append([]any{changeID}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return Change{}, apperr.NotFoundf("Entry")
	}
	if err != nil {
		return Change{}, err
	}
	scope, err := s.Authz.ScopeFor(ctx, p, authz.CXFeedbackRead)
	if err != nil {
		return Change{}, err
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT "+feedbackColumns+` FROM cx_change_feedback l JOIN cx_feedback f ON f.id = l.feedback_id
		JOIN orgs o ON o.id = f.org_id WHERE l.change_id = ? ORDER BY f.created_at, f.id`, c.ID)
	if err != nil {
		return Change{}, fmt.Errorf("cx: change feedback: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFeedback(rows)
		if err != nil {
			return Change{}, err
		}
		if scope.Contains(f.OrgID) {
			c.Feedback = append(c.Feedback, f)
		} else {
			c.Hidden++
		}
	}
	return c, rows.Err()
}
