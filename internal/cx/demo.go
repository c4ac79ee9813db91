package cx

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/demo"
	"github.com/qsmo/qsmo/internal/id"
)

// DemoLoader fills the customer-experience loop with a year of history:
// surveys at every stage with a realistic spread of answers over five
// quarters (the oldest two also asked the classic questions), surveys
// waiting in people's inboxes now, feedback items in every state, and
// "you said, we did" entries that answer some of them. It is deterministic.
func DemoLoader(s *Service) demo.Loader {
	return func(ctx context.Context, w *demo.World) error {
		return s.DB.InTx(ctx, func(tx *db.Tx) error {
			// A fixed seed makes the demo the same on every start; nothing
			// here is a secret.
			rnd := rand.New(rand.NewPCG(2026, 280)) // #nosec G404 -- deterministic demo data, not a secret
			l := &demoLoad{s: s, w: w, tx: tx, ctx: ctx, now: tx.Now(), rnd: rnd}
			if err := l.history(); err != nil {
				return fmt.Errorf("cx demo: history: %w", err)
			}
			if err := l.inbox(); err != nil {
				return fmt.Errorf("cx demo: inbox: %w", err)
			}
			if err := l.feedback(); err != nil {
				return fmt.Errorf("cx demo: feedback: %w", err)
			}
			return nil
		})
	}
}

type demoLoad struct {
	s   *Service
	w   *demo.World
	tx  *db.Tx
	ctx context.Context
	now time.Time
	rnd *rand.Rand
}

// demoService is a service an agency might be surveyed about, with how
// much its customers trust it to begin with.
type demoService struct {
	area     string
	provider string // provider slug, "" for the office
	trust    float64
}

var demoServices = []demoService{
	{"protective-dns", "", 0.78},
	{"vulnerability-management", "", 0.70},
	{"soc", "", 0.66},
	{"soc", "fcssc", 0.74},
	{"vulnerability-management", "fcssc", 0.72},
	{"network-defense", "northwind", 0.58},
	{"incident-management", "bluewater", 0.80},
	{"threat-intelligence", "bluewater", 0.69},
}

var demoAgencies = []string{"energy", "treasury", "agriculture", "interior", "labor", "education", "commerce", "sba", "ssa", "gsa",
	"energy-nnsa", "interior-nps", "commerce-noaa"}

var (
	upComments = []string{
		"Onboarding was quick and the checklist told us exactly what to do next.",
		"Our account lead answered every question the same day.",
		"The dashboard gave our CISO what she needed for the monthly brief.",
		"Clear pricing and no surprises on the statement.",
		"The provider's analysts knew our environment after the first week.",
		"Policy changes took effect within minutes.",
		"Good documentation; our engineers needed almost no help.",
	}
	downComments = []string{
		"The quote took three weeks and nobody told us why.",
		"We could not tell which feed blocked a domain our staff needed.",
		"Too many emails; the important ones get lost.",
		"The agreement went back and forth four times before both sides signed.",
		"Onboarding stalled while we waited for firewall changes on the provider's side.",
		"The findings export drops fields our ticketing system needs.",
		"Hard to find who to call when an alert looks wrong.",
	}
	mixedComments = []string{
		"Works well once set up; getting there was slow.",
		"Helpful people, but the process has too many steps.",
	}
)

// pick returns one driver by weight.
func (l *demoLoad) pick(weights [a11.NumDrivers]float64) a11.Driver {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	x := l.rnd.Float64() * sum
	for i, w := range weights {
		if x < w {
			return a11.Driver(i)
		}
		x -= w
	}
	return a11.Other
}

var (
	goodWeights = [a11.NumDrivers]float64{3, 2, 1.2, 1, 1, 3, 0.3}
	badWeights  = [a11.NumDrivers]float64{2, 2, 3, 3, 0.6, 1, 0.8}
)

// answer invents one person's answer given how likely a thumbs up is.
func (l *demoLoad) answer(p float64, classic bool) a11.Answer {
	var a a11.Answer
	up := l.rnd.Float64() < p
	if l.rnd.Float64() > 0.06 {
		a.Trust = a11.ThumbsDown
		if up {
			a.Trust = a11.ThumbsUp
		}
	}
	drivers := func(w [a11.NumDrivers]float64, n int) a11.DriverSet {
		var s a11.DriverSet
		for range n {
			s = s.With(l.pick(w))
		}
		return s
	}
	if up {
		a.WentWell = drivers(goodWeights, 1+l.rnd.IntN(3))
		if l.rnd.Float64() < 0.2 {
			a.NotWell = drivers(badWeights, 1)
		}
	} else {
		a.NotWell = drivers(badWeights, 1+l.rnd.IntN(3))
		if l.rnd.Float64() < 0.3 {
			a.WentWell = drivers(goodWeights, 1)
		}
	}
	if l.rnd.Float64() < 0.35 {
		pool := downComments
		switch {
		case up && a.NotWell == 0:
			pool = upComments
		case up:
			pool = mixedComments
		}
		a.Comment = pool[l.rnd.IntN(len(pool))]
	}
	if classic {
		for i := range a.Classic {
			if l.rnd.Float64() < 0.85 {
				v := 2 + l.rnd.IntN(3)
				if up {
					v++
				}
				a.Classic[i] = uint8(min(5, v))
			}
		}
	}
	return a
}

// history sends surveys over the last four quarters and this one, and
// answers some of their invitations.
func (l *demoLoad) history() error {
	cur := a11.QuarterOf(l.now)
	start := cur
	for range 4 {
		start = start.Prev()
	}
	qi := 0
	for q := start; !cur.Before(q); q = q.Next() {
		for ai, slug := range demoAgencies {
			agency, ok := l.w.Agencies[slug]
			if !ok {
				continue
			}
			for k := 0; k < 3; k++ {
				svc := demoServices[(ai*3+k*5+qi)%len(demoServices)]
				stage := Stages[(ai+k+qi)%len(Stages)]
				at := q.Start().Add(time.Duration(3+l.rnd.IntN(80)) * 24 * time.Hour).Add(time.Duration(l.rnd.IntN(8*3600)+14*3600) * time.Second)
				if !at.Before(l.now.Add(-2 * 24 * time.Hour)) {
					continue
				}
				classic := qi < 2
				if err := l.survey(agency.ID, svc, stage, at, q, qi, classic); err != nil {
					return err
				}
			}
		}
		qi++
	}
	return nil
}

func (l *demoLoad) survey(orgID string, svc demoService, stage Stage, at time.Time, q a11.Quarter, qi int, classic bool) error {
	in := surveyInput{OrgID: orgID, Stage: stage, ServiceArea: svc.area, Source: "lifecycle", CreatedBy: "lifecycle", At: at, classic: &classic,
		DedupeKey: fmt.Sprintf("demo|%s|%s|%s|%s|%s", stage, orgID, svc.area, svc.provider, q)}
	if svc.provider != "" {
		in.ProviderID = l.w.Providers[svc.provider].ID
	}
	sv, err := l.s.createSurvey(l.ctx, l.tx, in)
	if errors.Is(err, errAlreadySent) || errors.Is(err, errNobodyToAsk) {
		return nil
	}
	if err != nil {
		return err
	}
	invs, err := l.invitations(sv.ID)
	if err != nil {
		return err
	}
	// Trust improves a little every quarter as feedback is acted on.
	p := min(0.95, svc.trust+0.035*float64(qi))
	rate := 0.35 + 0.3*l.rnd.Float64()
	for _, inv := range invs {
		if l.rnd.Float64() > rate {
			continue
		}
		when := at.Add(time.Duration(1+l.rnd.IntN(14*24)) * time.Hour)
		if !when.Before(l.now) {
			continue
		}
		ch := ChannelEmail
		switch x := l.rnd.Float64(); {
		case x < 0.25:
			ch = ChannelWeb
		case x < 0.3:
			ch = ChannelAPI
		}
		if _, err := l.s.storeResponse(l.ctx, l.tx, inv, l.answer(p, classic), ch, when); err != nil {
			return err
		}
	}
	return nil
}

func (l *demoLoad) invitations(surveyID string) ([]Invitation, error) {
	rows, err := l.tx.QueryContext(l.ctx, "SELECT "+invitationColumns+invitationFrom+" WHERE i.survey_id = ? ORDER BY i.id", surveyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// inbox sends surveys that wait in people's inboxes now, by email and in
// the app, as the lifecycle hook would.
func (l *demoLoad) inbox() error {
	for _, ev := range []StageEvent{
		{Stage: StageDelivery, AgencyID: l.w.Agencies["energy"].ID, ServiceArea: "protective-dns", SubscriptionID: "demo-sub-energy-pdns"},
		{Stage: StageProcurement, AgencyID: l.w.Agencies["treasury"].ID, ServiceArea: "soc", ProviderID: l.w.Providers["fcssc"].ID, OrderID: "demo-order-treasury-soc"},
		{Stage: StageExecution, AgencyID: l.w.Agencies["interior"].ID, ServiceArea: "incident-management", ProviderID: l.w.Providers["bluewater"].ID, OrderID: "demo-order-interior-ir"},
	} {
		if _, err := l.s.stage(l.ctx, l.tx, ev); err != nil {
			return err
		}
	}
	return nil
}

// demoStep is a move of a demo feedback item, days after it was submitted.
type demoStep struct {
	to   FeedbackState
	note string
	days int
}

type demoItem struct {
	email   string
	org     string // agency or provider slug
	kind    FeedbackKind
	title   string
	body    string
	service string
	age     int // days since it was submitted
	steps   []demoStep
}

var demoItems = []demoItem{
	{"viewer@energy.example.gov", "energy", Problem, "The DNS block page does not say which threat feed blocked a domain",
		"Staff open a ticket for every block because they cannot tell whether it is a real threat. Naming the feed and a contact would save our help desk hours every week.",
		"protective-dns", 150, []demoStep{{UnderReview, "", 3}, {Planned, "Scheduled for the next resolver release.", 12}, {Done, "The block page now names the feed and links to the office's help desk.", 60}}},
	{"admin@interior.example.gov", "interior", Problem, "Protective DNS onboarding took three weeks",
		"Most of the time went to waiting for the policy to be provisioned by hand after the agreement was signed.",
		"protective-dns", 200, []demoStep{{UnderReview, "", 2}, {Planned, "We are automating policy provisioning on order approval.", 20}, {Done, "Policies are now created when the order is approved.", 95}}},
	{"analyst@treasury.example.gov", "treasury", Idea, "Add log source coverage to the quarterly SOC scorecard",
		"We want to show leadership which systems send logs and which do not, next to the maturity score.",
		"soc", 120, []demoStep{{UnderReview, "", 5}, {Planned, "", 15}, {Done, "Scorecards now list covered and missing log sources.", 70}}},
	{"buyer@energy.example.gov", "energy", Idea, "Compare SOC offerings by the log sources they support",
		"When we shop for a SOC provider the first question is whether it can take our cloud and OT logs.",
		"soc", 45, []demoStep{{UnderReview, "", 4}, {Planned, "Planned for the next catalog update.", 20}}},
	{"admin@labor.example.gov", "labor", Praise, "Vulnerability disclosure triage help was excellent",
		"The office's analysts helped us triage our first researcher reports within a day.",
		"vulnerability-management", 20, nil},
	{"analyst@commerce.example.gov", "commerce", Problem, "The findings export drops CVSS vectors",
		"Our ticketing system needs the full vector string, not only the score.",
		"vulnerability-management", 30, []demoStep{{UnderReview, "Reproduced; looking at the exporter.", 6}}},
	{"buyer@education.example.gov", "education", Idea, "Send the quarterly survey after the data call, not during it",
		"The delivery survey lands in the same week as the annual data call.",
		"", 90, []demoStep{{UnderReview, "", 3}, {WontDo, "Delivery surveys must go out within the quarter they cover, and the data call moves every year; we now send them mid-quarter to avoid the busiest weeks.", 25}}},
	{"admin@northwind.example.com", "northwind", Problem, "Conformance evidence uploads fail above 10 MB",
		"Our penetration test reports are larger than that.",
		"", 35, []demoStep{{UnderReview, "", 2}, {Planned, "Raising the limit and adding resumable uploads.", 9}}},
	{"analyst@bluewater.example.com", "bluewater", Idea, "Share de-identified incident trends with providers",
		"Knowing which techniques hit agencies this quarter would help us tune detections.",
		"incident-management", 9, nil},
	{"approver@gsa.example.gov", "gsa", Problem, "It is hard to tell who has to act next on an interagency agreement",
		"We lost a week because both sides thought the other one had to sign.",
		"", 16, []demoStep{{UnderReview, "", 1}}},
	{"viewer@ssa.example.gov", "ssa", Praise, "The new onboarding checklist is clear",
		"Every step said who does what and by when.", "protective-dns", 60, []demoStep{{UnderReview, "", 2}, {Done, "Thank you; we shared it with every provider as the model.", 10}}},
	{"admin@sba.example.gov", "sba", Idea, "Sign in with our agency's identity provider",
		"One more password is one more thing our staff forget.", "", 75, []demoStep{{UnderReview, "", 4}, {Planned, "Single sign-on with agency identity providers is on the roadmap for this year.", 30}}},
	{"analyst@energy.example.gov", "energy", Problem, "Alert emails link to a page I cannot open",
		"The link in the SOC alert email asks me to sign in again and then shows an error.",
		"soc", 3, nil},
}

func (l *demoLoad) feedback() error {
	ids := map[string]Feedback{}
	for _, it := range demoItems {
		org, ok := l.w.Agencies[it.org]
		if !ok {
			org, ok = l.w.Providers[it.org]
		}
		uid := l.w.Users[it.email]
		if !ok || uid == "" {
			continue
		}
		var name string
		if err := l.tx.QueryRowContext(l.ctx, "SELECT name FROM users WHERE id = ?", uid).Scan(&name); err != nil {
			return err
		}
		at := l.now.Add(-time.Duration(it.age) * 24 * time.Hour)
		f := Feedback{ID: id.New("fbk"), OrgID: org.ID, OrgName: org.Name, SubmittedBy: uid, Submitter: name, Kind: it.kind, Title: it.title, Body: it.body,
			ServiceArea: it.service, State: Received, CreatedAt: at, UpdatedAt: at}
		if err := l.s.insertFeedback(l.ctx, l.tx, &f); err != nil {
			return err
		}
		for _, st := range it.steps {
			when := at.Add(time.Duration(st.days) * 24 * time.Hour)
			if err := CheckTransition(f.State, st.to, st.note); err != nil {
				return fmt.Errorf("%q: %w", it.title, err)
			}
			if err := addFeedbackEvent(l.ctx, l.tx, f.ID, FeedbackEvent{From: f.State, To: st.to, Note: st.note, Actor: "analyst@office.example.gov", At: when}); err != nil {
				return err
			}
			if err := audit.Append(l.ctx, l.tx, audit.Event{OrgID: f.OrgID, Action: "cx.feedback.move", TargetType: "cx_feedback", TargetID: f.ID,
				Summary: fmt.Sprintf("Moved “%s” from %s to %s (demo history)", f.Title, strings.ToLower(f.State.Label()), strings.ToLower(st.to.Label())),
				Before:  map[string]any{"state": f.State}, After: map[string]any{"state": st.to, "note": st.note}}); err != nil {
				return err
			}
			f.State, f.UpdatedAt = st.to, when
			if st.to == WontDo {
				f.Reason = st.note
			}
			if !st.to.Open() {
				f.ClosedAt = when
			}
		}
		if _, err := l.tx.ExecContext(l.ctx, "UPDATE cx_feedback SET state = ?, reason = ?, updated_at = ?, closed_at = ? WHERE id = ?",
			string(f.State), f.Reason, db.TS(f.UpdatedAt), db.TS(f.ClosedAt), f.ID); err != nil {
			return err
		}
		ids[it.title] = f
	}
	link := func(prefixes ...string) []string {
		var out []string
		for _, p := range prefixes {
			if f, ok := ids[p]; ok {
				out = append(out, f.ID)
			}
		}
		return out
	}
	changes := []struct {
		in   ChangeInput
		days int
	}{
		{ChangeInput{Title: "Protective DNS onboarding now takes days, not weeks",
			Summary: "You told us onboarding to Protective DNS took weeks, most of it waiting for a policy to be set up by hand. Approving an order now creates the agency's resolver policy at once, and the onboarding checklist shows what is left.",
			Ref:     Ref{Kind: RefService, ID: "protective-dns", Label: "Protective DNS onboarding"},
			Figure:  &Figure{Metric: "Median days from order to working service", Before: 21, After: 4, Unit: "days"}, ServiceArea: "protective-dns",
			Audience: Everyone, FeedbackIDs: link("Protective DNS onboarding took three weeks")}, 100},
		{ChangeInput{Title: "The DNS block page names the threat feed",
			Summary: "You said staff could not tell why a domain was blocked, so every block became a help-desk ticket. The block page now names the feed that listed the domain and how to ask for a review.",
			Ref:     Ref{Kind: RefStandardVersion, ID: "pdns-std-2.1", Label: "Protective DNS standard, version 2.1"},
			Figure:  &Figure{Metric: "Help-desk tickets about blocked domains per month", Before: 140, After: 35, Unit: ""}, ServiceArea: "protective-dns",
			Audience: Everyone, FeedbackIDs: link("The DNS block page does not say which threat feed blocked a domain")}, 85},
		{ChangeInput{Title: "Quarterly SOC scorecards show log source coverage",
			Summary: "You asked to show leadership which systems send logs. Each quarterly scorecard now lists covered and missing log sources next to the maturity score.",
			Ref:     Ref{Kind: RefOffering, ID: "soc-scorecard", Label: "SOC as a service: quarterly scorecard"},
			Figure:  &Figure{Metric: "Log sources reported on the scorecard", Before: 0, After: 100, Unit: "%", HigherIsBetter: true}, ServiceArea: "soc",
			Audience: Linked, FeedbackIDs: link("Add log source coverage to the quarterly SOC scorecard")}, 48},
	}
	for _, c := range changes {
		if len(c.in.FeedbackIDs) == 0 {
			continue
		}
		if _, err := l.s.insertChange(l.ctx, l.tx, c.in, "analyst@office.example.gov", l.now.Add(-time.Duration(c.days)*24*time.Hour), false); err != nil {
			return err
		}
	}
	return nil
}
