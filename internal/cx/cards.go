package cx

import (
	"context"
	"fmt"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/web"
)

// cards are the dashboard tiles: surveys waiting for the person, their
// organization's feedback and the latest "you said, we did" for agencies
// and providers; trust and open feedback for the office; the provider's
// own trust score.
func (h *Handlers) cards(ctx context.Context, p *authz.Principal) ([]web.Card, error) {
	var out []web.Card
	invs, err := h.S.MyInvitations(ctx, p, InvitationFilter{OpenOnly: true, Limit: 50})
	if err != nil {
		return nil, err
	}
	if len(invs) > 0 {
		c := web.Card{Title: "Surveys for you", Stat: fmt.Sprint(len(invs)), Order: 40, Link: "/cx/surveys", LinkText: "See your surveys",
			Text: invs[0].Survey.Question() + " Tell the office in about a minute; every question is optional."}
		if len(invs) == 1 {
			c.Link, c.LinkText = "/cx/invitations/"+invs[0].ID, "Answer the survey"
		}
		out = append(out, c)
	}
	if authz.CanAnywhere(p, authz.CXReportRead) {
		// The card shows this quarter only: one quarter's cells are cheap to
		// read on every dashboard load.
		cur := a11.QuarterOf(h.S.DB.Now())
		rep, err := h.S.Report(ctx, p, ReportFilter{From: cur, To: cur})
		if err != nil {
			return nil, err
		}
		latest := rep.Quarter(rep.Filter.To)
		tr := latest.Tally.Trust()
		title := "Customer trust"
		if !authz.CanAnywhere(p, authz.CXSurveyRead) {
			title = "Your customers’ trust"
		}
		text := fmt.Sprintf("No answers to the trust question yet in %s.", latest.Label)
		if tr.Valid() {
			text = fmt.Sprintf("Thumbs up from %d of %d people who answered in %s.", tr.Part, tr.Whole, latest.Label)
		}
		out = append(out, web.Card{Title: title, Stat: tr.String(), Text: text, Link: "/cx", LinkText: "Open the CX dashboard", Order: 41})
	}
	if authz.CanAnywhere(p, authz.CXFeedbackManage) {
		st, err := h.S.FeedbackStats(ctx, p)
		if err != nil {
			return nil, err
		}
		text := "Nothing waiting for a decision."
		if st.Open > 0 {
			text = fmt.Sprintf("%d received, %d under review, %d planned; median age %s.", st.ByState[Received], st.ByState[UnderReview], st.ByState[Planned], st.MedianText())
		}
		out = append(out, web.Card{Title: "Open feedback", Stat: fmt.Sprint(st.Open), Text: text, Link: "/cx/feedback?state=open", LinkText: "Work the feedback", Order: 42})
		return out, nil
	}
	own, err := h.S.ownScope(ctx, p, authz.CXFeedbackSubmit)
	if err != nil {
		return nil, err
	}
	if len(own.OrgIDs) == 0 {
		return out, nil
	}
	items, err := h.S.ListFeedback(ctx, p, FeedbackFilter{OpenOnly: true, Limit: 500})
	if err != nil {
		return nil, err
	}
	text := "Ideas, problems and praise go straight to the office."
	if len(items) > 0 {
		text = fmt.Sprintf("Open items from your organization; the latest is %s.", items[0].State.Label())
	}
	out = append(out, web.Card{Title: "Your feedback", Stat: fmt.Sprint(len(items)), Text: text, Link: "/cx/feedback", LinkText: "See or submit feedback", Order: 43})
	changes, err := h.S.ListChanges(ctx, p, ChangeFilter{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(changes) > 0 {
		c := changes[0]
		text := c.Summary
		if c.Figure.Set() {
			text = fmt.Sprintf("%s: %s before, %s after.", c.Figure.Metric, c.Figure.Format(c.Figure.Before), c.Figure.Format(c.Figure.After))
		}
		out = append(out, web.Card{Title: "You said, we did: " + c.Title, Text: truncate(text, 180), Link: "/cx/changes/" + c.ID, LinkText: "Read what changed", Order: 44})
	}
	return out, nil
}
