package cx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/notify"
)

// FeedbackKind is what a feedback item offers.
type FeedbackKind string

// Feedback kinds.
const (
	Idea    FeedbackKind = "idea"
	Problem FeedbackKind = "problem"
	Praise  FeedbackKind = "praise"
)

// FeedbackKinds lists the kinds.
var FeedbackKinds = []FeedbackKind{Idea, Problem, Praise}

// Valid reports whether k is a known kind.
func (k FeedbackKind) Valid() bool { return k == Idea || k == Problem || k == Praise }

// Label names the kind for people.
func (k FeedbackKind) Label() string {
	switch k {
	case Idea:
		return "Idea"
	case Problem:
		return "Problem"
	case Praise:
		return "Praise"
	}
	return string(k)
}

// Hint explains the kind on the form.
func (k FeedbackKind) Hint() string {
	switch k {
	case Idea:
		return "Something the office or a service could do better or start doing."
	case Problem:
		return "Something that is not working as it should."
	case Praise:
		return "Something that works well, so it is kept."
	}
	return ""
}

// Feedback is an idea, problem or praise from an agency or provider.
type Feedback struct {
	ID          string
	OrgID       string
	OrgName     string
	SubmittedBy string // user ID; "" when an API token submitted it
	Submitter   string // name or token label, for people
	Kind        FeedbackKind
	Title       string
	Body        string
	ServiceArea string
	State       FeedbackState
	Reason      string // why it won't be done
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time
	// Events is the item's history, oldest first (GetFeedback only).
	Events []FeedbackEvent
	// Changes are the "you said, we did" entries that answer it
	// (GetFeedback only, those the viewer may see).
	Changes []Change
}

// Age is how long the item has been, or was, open.
func (f Feedback) Age(now time.Time) time.Duration {
	if !f.ClosedAt.IsZero() {
		return f.ClosedAt.Sub(f.CreatedAt)
	}
	return now.Sub(f.CreatedAt)
}

// FeedbackEvent is one step of an item's history.
type FeedbackEvent struct {
	From  FeedbackState
	To    FeedbackState
	Note  string
	Actor string
	At    time.Time
}

// FeedbackInput is a new feedback item.
type FeedbackInput struct {
	OrgID       string // "" means the principal's active organization
	Kind        FeedbackKind
	Title       string
	Body        string
	ServiceArea string
}

// Limits of feedback text.
const (
	MaxTitle = 150
	MaxBody  = 5000
)

// cleanText trims, normalizes line ends and drops control characters other
// than line breaks and tabs.
func cleanText(s string, multiline bool) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	s = strings.Map(func(r rune) rune {
		if multiline && (r == '\n' || r == '\t') {
			return r
		}
		if unicode.IsControl(r) {
			if !multiline && (r == '\n' || r == '\t') {
				return ' '
			}
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

func (in *FeedbackInput) normalize(ctx context.Context, s *Service) (map[string]string, error) {
	in.Title = strings.Join(strings.Fields(cleanText(in.Title, false)), " ")
	in.Body = cleanText(in.Body, true)
	in.ServiceArea = strings.TrimSpace(in.ServiceArea)
	errs := map[string]string{}
	if !in.Kind.Valid() {
		errs["kind"] = "Choose idea, problem or praise."
	}
	if n := utf8.RuneCountInString(in.Title); n < 5 || n > MaxTitle {
		errs["title"] = fmt.Sprintf("Give your feedback a short title of 5 to %d characters.", MaxTitle)
	}
	if utf8.RuneCountInString(in.Body) > MaxBody {
		errs["body"] = fmt.Sprintf("Keep the details to %d characters or fewer.", MaxBody)
	}
	if in.ServiceArea != "" {
		if _, known, err := s.serviceName(ctx, in.ServiceArea); err != nil {
			return nil, err
		} else if !known {
			errs["service_area"] = "Choose a service from the list, or leave it empty."
		}
	}
	return errs, nil
}

// SubmitFeedback records a feedback item for one of the principal's
// agencies or providers. The office does not submit feedback to itself.
func (s *Service) SubmitFeedback(ctx context.Context, p *authz.Principal, in FeedbackInput) (Feedback, error) {
	if in.OrgID == "" && p != nil {
		in.OrgID = p.ActiveOrgID
		if in.OrgID == "" {
			if m, ok := p.ActiveMembership(); ok {
				in.OrgID = m.OrgID
			}
		}
	}
	errs, err := in.normalize(ctx, s)
	if err != nil {
		return Feedback{}, err
	}
	if len(errs) > 0 {
		return Feedback{}, apperr.Validation(errs)
	}
	scope, err := s.ownScope(ctx, p, authz.CXFeedbackSubmit)
	if err != nil {
		return Feedback{}, err
	}
	if !scope.Contains(in.OrgID) {
		if p.IsOffice() && len(scope.OrgIDs) == 0 {
			return Feedback{}, apperr.New(apperr.Forbidden, "Feedback comes from agencies and providers; the office answers it.")
		}
		return Feedback{}, apperr.NotFoundf("Organization")
	}
	org, err := getOrgRef(ctx, s.DB, in.OrgID)
	if err != nil {
		return Feedback{}, err
	}
	now := s.DB.Now()
	f := Feedback{ID: id.New("fbk"), OrgID: org.ID, OrgName: org.Name, SubmittedBy: p.UserID, Submitter: submitterLabel(p), Kind: in.Kind,
		Title: in.Title, Body: in.Body, ServiceArea: in.ServiceArea, State: Received, CreatedAt: now, UpdatedAt: now}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		return s.insertFeedback(ctx, tx, &f)
	})
	return f, err
}

func submitterLabel(p *authz.Principal) string {
	if p.IsToken() {
		return "API token “" + p.Name + "”"
	}
	if p.Name != "" {
		return p.Name
	}
	return p.Email
}

func (s *Service) insertFeedback(ctx context.Context, tx *db.Tx, f *Feedback) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cx_feedback (id, org_id, submitted_by, submitter, kind, title, body, service_area, state, reason, created_at, updated_at, closed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, f.OrgID, f.SubmittedBy, f.Submitter, string(f.Kind), f.Title, f.Body, f.ServiceArea,
		string(f.State), f.Reason, db.TS(f.CreatedAt), db.TS(f.UpdatedAt), db.TS(f.ClosedAt))
	if err != nil {
		return fmt.Errorf("cx: insert feedback: %w", err)
	}
	if err := addFeedbackEvent(ctx, tx, f.ID, FeedbackEvent{To: Received, Actor: f.Submitter, At: f.CreatedAt}); err != nil {
		return err
	}
	return audit.Append(ctx, tx, audit.Event{OrgID: f.OrgID, Action: "cx.feedback.submit", TargetType: "cx_feedback", TargetID: f.ID,
		Summary: fmt.Sprintf("Submitted %s “%s”", strings.ToLower(f.Kind.Label()), f.Title),
		After:   map[string]any{"kind": f.Kind, "title": f.Title, "service_area": f.ServiceArea, "state": f.State}})
}

func addFeedbackEvent(ctx context.Context, tx *db.Tx, feedbackID string, ev FeedbackEvent) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO cx_feedback_events (id, feedback_id, from_state, to_state, note, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		id.New("fbe"), feedbackID, string(ev.From), string(ev.To), ev.Note, ev.Actor, db.TS(ev.At))
	if err != nil {
		return fmt.Errorf("cx: insert feedback event: %w", err)
	}
	return nil
}

const feedbackColumns = `f.id, f.org_id, o.name, f.submitted_by, f.submitter, f.kind, f.title, f.body, f.service_area, f.state, f.reason, f.created_at, f.updated_at, f.closed_at`

func scanFeedback(r scanner) (Feedback, error) {
	var f Feedback
	var kind, state string
	err := r.Scan(&f.ID, &f.OrgID, &f.OrgName, &f.SubmittedBy, &f.Submitter, &kind, &f.Title, &f.Body, &f.ServiceArea, &state, &f.Reason,
		(*db.Time)(&f.CreatedAt), (*db.Time)(&f.UpdatedAt), (*db.Time)(&f.ClosedAt))
	if err != nil {
		return f, fmt.Errorf("cx: scan feedback: %w", err)
	}
	f.Kind, f.State = FeedbackKind(kind), FeedbackState(state)
	return f, nil
}

func getFeedback(ctx context.Context, q db.Queryer, feedbackID string) (Feedback, error) {
	if !id.Valid("fbk", feedbackID) {
		return Feedback{}, apperr.NotFoundf("Feedback item")
	}
	f, err := scanFeedback(q.QueryRowContext(ctx, "SELECT "+feedbackColumns+" FROM cx_feedback f JOIN orgs o ON o.id = f.org_id WHERE f.id = ?", feedbackID))
	if errors.Is(err, sql.ErrNoRows) {
		return Feedback{}, apperr.NotFoundf("Feedback item")
	}
	return f, err
}

// GetFeedback returns an item with its history and the changes it led to.
func (s *Service) GetFeedback(ctx context.Context, p *authz.Principal, feedbackID string) (Feedback, error) {
	f, err := getFeedback(ctx, s.DB, feedbackID)
	if err != nil {
		return Feedback{}, err
	}
	if err := s.Authz.Check(ctx, p, authz.CXFeedbackRead, f.OrgID); err != nil {
		return Feedback{}, err
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT from_state, to_state, note, actor, at FROM cx_feedback_events WHERE feedback_id = ? ORDER BY at, id", f.ID)
	if err != nil {
		return Feedback{}, fmt.Errorf("cx: feedback events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ev FeedbackEvent
		var from, to string
		if err := rows.Scan(&from, &to, &ev.Note, &ev.Actor, (*db.Time)(&ev.At)); err != nil {
			return Feedback{}, fmt.Errorf("cx: scan feedback event: %w", err)
		}
		ev.From, ev.To = FeedbackState(from), FeedbackState(to)
		f.Events = append(f.Events, ev)
	}
	if err := rows.Err(); err != nil {
		return Feedback{}, err
	}
	f.Changes, err = s.ListChanges(ctx, p, ChangeFilter{FeedbackID: f.ID})
	return f, err
}

// FeedbackFilter narrows ListFeedback.
type FeedbackFilter struct {
	State    FeedbackState
	OpenOnly bool
	Kind     FeedbackKind
	OrgID    string
	Query    string
	Limit    int
}

// ListFeedback returns the items the principal may read: the office sees
// every organization's, others their own organizations'. Newest first.
func (s *Service) ListFeedback(ctx context.Context, p *authz.Principal, f FeedbackFilter) ([]Feedback, error) {
	scope, err := s.Authz.ScopeFor(ctx, p, authz.CXFeedbackRead)
	if err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if !scope.All {
		in, inArgs := inClause("f.org_id", scope.OrgIDs)
		where, args = append(where, in), append(args, inArgs...)
	}
	if f.State != "" {
		where, args = append(where, "f.state = ?"), append(args, string(f.State))
	}
	if f.OpenOnly {
		where = append(where, "f.state IN ('received', 'under_review', 'planned')")
	}
	if f.Kind != "" {
		where, args = append(where, "f.kind = ?"), append(args, string(f.Kind))
	}
	if f.OrgID != "" {
		where, args = append(where, "f.org_id = ?"), append(args, f.OrgID)
	}
	if q := strings.ToLower(strings.TrimSpace(f.Query)); q != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q) + "%"
		where, args = append(where, `(LOWER(f.title) LIKE ? ESCAPE '\' OR LOWER(f.body) LIKE ? ESCAPE '\')`), append(args, like, like)
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 200
	}
	query := "SELECT " + feedbackColumns + " FROM cx_feedback f JOIN orgs o ON o.id = f.org_id"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY f.created_at DESC, f.id LIMIT ?"
	rows, err := s.DB.QueryContext(ctx, query, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("cx: list feedback: %w", err)
	}
	defer rows.Close()
	var out []Feedback
	for rows.Next() {
		fb, err := scanFeedback(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, fb)
	}
	return out, rows.Err()
}

// MoveFeedback moves an item to another state (office admins and
// analysts) and tells the submitter, in the app and by email, in the same
// transaction. Won't do needs a reason; other moves take an optional note.
func (s *Service) MoveFeedback(ctx context.Context, p *authz.Principal, feedbackID string, to FeedbackState, note string) (Feedback, error) {
	f, err := getFeedback(ctx, s.DB, feedbackID)
	if err != nil {
		return Feedback{}, err
	}
	if err := s.Authz.Check(ctx, p, authz.CXFeedbackManage, f.OrgID); err != nil {
		return Feedback{}, err
	}
	note = cleanText(note, true)
	if utf8.RuneCountInString(note) > MaxNote {
		return Feedback{}, apperr.Validation(map[string]string{"note": fmt.Sprintf("Keep the note to %d characters or fewer.", MaxNote)})
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		before, err := getFeedback(ctx, tx, feedbackID)
		if err != nil {
			return err
		}
		if err := CheckTransition(before.State, to, note); err != nil {
			return err
		}
		f = before
		now := tx.Now()
		f.State, f.UpdatedAt = to, now
		if to == WontDo {
			f.Reason = note
		}
		if !to.Open() {
			f.ClosedAt = now
		}
		if _, err := tx.ExecContext(ctx, "UPDATE cx_feedback SET state = ?, reason = ?, updated_at = ?, closed_at = ? WHERE id = ?",
			string(f.State), f.Reason, db.TS(now), db.TS(f.ClosedAt), f.ID); err != nil {
			return fmt.Errorf("cx: move feedback: %w", err)
		}
		if err := addFeedbackEvent(ctx, tx, f.ID, FeedbackEvent{From: before.State, To: to, Note: note, Actor: actor.From(ctx).Label, At: now}); err != nil {
			return err
		}
		if err := s.notifySubmitter(ctx, tx, f, note); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: f.OrgID, Action: "cx.feedback.move", TargetType: "cx_feedback", TargetID: f.ID,
			Summary: fmt.Sprintf("Moved “%s” from %s to %s", f.Title, strings.ToLower(before.State.Label()), strings.ToLower(to.Label())),
			Before:  map[string]any{"state": before.State}, After: map[string]any{"state": to, "note": note}})
	})
	return f, err
}

// notifySubmitter tells the person who submitted an item that it moved;
// an item an API token submitted goes to its organization's admins.
func (s *Service) notifySubmitter(ctx context.Context, tx *db.Tx, f Feedback, note string) error {
	body := fmt.Sprintf("Your %s “%s” is now %s.", strings.ToLower(f.Kind.Label()), f.Title, strings.ToLower(f.State.Label()))
	if note != "" {
		label := "Note from the office"
		if f.State == WontDo {
			label = "Why"
		}
		body += "\n\n" + label + ": " + note
	}
	n := notify.Notification{OrgID: f.OrgID, Subject: fmt.Sprintf("Your feedback is %s: %s", strings.ToLower(f.State.Label()), truncate(f.Title, 80)),
		Body: body, Link: "/cx/feedback/" + f.ID}
	users, err := s.feedbackRecipients(ctx, tx, f)
	if err != nil {
		return err
	}
	for _, uid := range users {
		n.UserID = uid
		if err := notify.Notify(ctx, tx, n, s.PublicURL()); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) feedbackRecipients(ctx context.Context, tx *db.Tx, f Feedback) ([]string, error) {
	if f.SubmittedBy != "" {
		return []string{f.SubmittedBy}, nil
	}
	people, err := recipients(ctx, tx, f.OrgID, []authz.Role{authz.AgencyAdmin, authz.ProviderAdmin}, s.MaxRecipients)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(people))
	for i, r := range people {
		out[i] = r.ID
	}
	return out, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
