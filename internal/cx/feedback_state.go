package cx

import (
	"strings"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/apperr"
)

// FeedbackState is where a feedback item stands.
type FeedbackState string

// The feedback states. Received, under review and planned are open; done
// and won't do close the item for good.
const (
	Received    FeedbackState = "received"
	UnderReview FeedbackState = "under_review"
	Planned     FeedbackState = "planned"
	Done        FeedbackState = "done"
	WontDo      FeedbackState = "wont_do"
)

// FeedbackStates lists the states in lifecycle order.
var FeedbackStates = []FeedbackState{Received, UnderReview, Planned, Done, WontDo}

// transitions are the moves the office may make from each state.
var transitions = map[FeedbackState][]FeedbackState{
	Received:    {UnderReview, WontDo},
	UnderReview: {Planned, Done, WontDo},
	Planned:     {Done, WontDo},
}

// Valid reports whether s is a known state.
func (s FeedbackState) Valid() bool {
	for _, x := range FeedbackStates {
		if x == s {
			return true
		}
	}
	return false
}

// Label names the state for people.
func (s FeedbackState) Label() string {
	switch s {
	case Received:
		return "Received"
	case UnderReview:
		return "Under review"
	case Planned:
		return "Planned"
	case Done:
		return "Done"
	case WontDo:
		return "Won’t do"
	}
	return string(s)
}

// Open reports whether the item still awaits a decision or the work.
func (s FeedbackState) Open() bool { return s == Received || s == UnderReview || s == Planned }

// Next lists the states the item may move to.
func (s FeedbackState) Next() []FeedbackState { return transitions[s] }

// MinReason and MaxNote bound the text that goes with a state change.
const (
	MinReason = 10
	MaxNote   = 2000
)

// CheckTransition decides whether an item may move from one state to
// another: Invalid for an unknown target or a missing reason (won't do
// needs one people can read), Conflict for a move the lifecycle does not
// allow from the current state.
func CheckTransition(from, to FeedbackState, reason string) error {
	if !to.Valid() {
		return apperr.Validation(map[string]string{"state": "Choose under review, planned, done or won’t do."})
	}
	allowed := false
	for _, next := range transitions[from] {
		if next == to {
			allowed = true
		}
	}
	if !allowed {
		if !from.Open() {
			return apperr.New(apperr.Conflict, "This item is %s and closed; it cannot change any more.", strings.ToLower(from.Label()))
		}
		return apperr.New(apperr.Conflict, "An item that is %s cannot become %s.", strings.ToLower(from.Label()), strings.ToLower(to.Label()))
	}
	if to == WontDo && utf8.RuneCountInString(strings.TrimSpace(reason)) < MinReason {
		return apperr.Validation(map[string]string{"note": "Say why this will not be done, in a sentence the submitter can read (at least 10 characters)."})
	}
	return nil
}
