package cx

import (
	"testing"

	"github.com/qsmo/qsmo/internal/apperr"
)

// The feedback lifecycle: received -> under review -> planned -> done, with
// won't do (and a reason) open from every open state.
func TestFeedbackTransitions(t *testing.T) {
	const reason = "Duplicates the existing weekly digest."
	for _, tc := range []struct {
		from, to FeedbackState
		reason   string
		want     apperr.Code // "" allowed
	}{
		{Received, UnderReview, "", ""},
		{Received, WontDo, reason, ""},
		{Received, Planned, "", apperr.Conflict},
		{Received, Done, "", apperr.Conflict},
		{Received, Received, "", apperr.Conflict},
		{UnderReview, Planned, "", ""},
		{UnderReview, Done, "", ""},
		{UnderReview, WontDo, reason, ""},
		{UnderReview, Received, "", apperr.Conflict},
		{Planned, Done, "", ""},
		{Planned, WontDo, reason, ""},
		{Planned, UnderReview, "", apperr.Conflict},
		{Planned, Planned, "", apperr.Conflict},
		{Done, WontDo, reason, apperr.Conflict},
		{Done, UnderReview, "", apperr.Conflict},
		{WontDo, UnderReview, "", apperr.Conflict},
		{WontDo, Done, "", apperr.Conflict},
		// Won't do needs a reason people can read.
		{Received, WontDo, "", apperr.Invalid},
		{Planned, WontDo, "  no ", apperr.Invalid},
		// Unknown states are bad input.
		{Received, "archived", "", apperr.Invalid},
		{"archived", Done, "", apperr.Conflict},
	} {
		err := CheckTransition(tc.from, tc.to, tc.reason)
		if got := apperr.CodeOf(err); got != tc.want {
			t.Errorf("%s -> %s (reason %q): %v, want code %q", tc.from, tc.to, tc.reason, err, tc.want)
		}
	}
}

func TestFeedbackStates(t *testing.T) {
	for _, s := range FeedbackStates {
		if s.Label() == "" || s.Label() == string(s) {
			t.Errorf("state %s has no label", s)
		}
		if s.Open() == (s == Done || s == WontDo) {
			t.Errorf("state %s open = %v", s, s.Open())
		}
		for _, next := range s.Next() {
			r := ""
			if next == WontDo {
				r = "A reason long enough."
			}
			if err := CheckTransition(s, next, r); err != nil {
				t.Errorf("Next(%s) offers %s, which CheckTransition refuses: %v", s, next, err)
			}
		}
	}
}
