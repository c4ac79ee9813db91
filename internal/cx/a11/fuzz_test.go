package a11

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// checkAnswer holds the invariants of every accepted answer.
func checkAnswer(t *testing.T, a Answer, classic bool) {
	t.Helper()
	if a.Empty() {
		t.Fatal("accepted an empty answer")
	}
	if !a.WentWell.Valid() || !a.NotWell.Valid() {
		t.Fatalf("driver sets with unknown bits: %b %b", a.WentWell, a.NotWell)
	}
	if a.Trust < NoThumb || a.Trust > ThumbsDown {
		t.Fatalf("trust %d", a.Trust)
	}
	for i, v := range a.Classic {
		if v > 5 || (!classic && v != 0) {
			t.Fatalf("classic[%d] = %d (asked: %v)", i, v, classic)
		}
	}
	if !utf8.ValidString(a.Comment) || utf8.RuneCountInString(a.Comment) > MaxComment || a.Comment != strings.TrimSpace(a.Comment) {
		t.Fatalf("comment %q", a.Comment)
	}
	for _, r := range a.Comment {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			t.Fatalf("control character %U kept", r)
		}
	}
	// An accepted answer survives the trip through the form unchanged.
	raw, errs := FromForm(a.Values())
	again, errs2 := Parse(raw, classic)
	if len(errs) > 0 || len(errs2) > 0 || again != a {
		t.Fatalf("round trip: %+v -> %+v (%v %v)", a, again, errs, errs2)
	}
	if len(Row{ExternalID: "x", Answer: a}.Record()) != len(Header) {
		t.Fatal("record width")
	}
}

func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"trust=up", "trust=down&went_well=ease&not_well=other&comment=x", "classic_ease=3&trust=up",
		"comment=%ff", "went_well=ease&went_well=ease", "trust=up&trust=up", "comment=%0D%0A%09x"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, query string, classic bool) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		raw, ferrs := FromForm(v)
		a, errs := Parse(raw, classic)
		if len(errs) > 0 {
			if a != (Answer{}) {
				t.Fatalf("rejected answer returned values: %+v", a)
			}
			return
		}
		if len(ferrs) > 0 {
			return // the caller refuses the form
		}
		checkAnswer(t, a, classic)
	})
}

// jsonAnswer mirrors the API body that package cx decodes.
type jsonAnswer struct {
	Trust    string         `json:"trust"`
	WentWell []string       `json:"went_well"`
	NotWell  []string       `json:"not_well"`
	Comment  string         `json:"comment"`
	Classic  map[string]int `json:"classic"`
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"trust":"up"}`, `{"went_well":["ease","other"],"comment":"ok"}`, `{"classic":{"ease":9}}`, `{"trust":"sideways"}`, `{}`} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, body string, classic bool) {
		var in jsonAnswer
		if json.Unmarshal([]byte(body), &in) != nil {
			return
		}
		raw := Raw{Trust: in.Trust, WentWell: in.WentWell, NotWell: in.NotWell, Comment: in.Comment, Classic: map[string]string{}}
		for k, v := range in.Classic {
			raw.Classic[k] = itoa(v)
		}
		a, errs := Parse(raw, classic)
		if len(errs) > 0 {
			return
		}
		checkAnswer(t, a, classic)
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func FuzzParseQuarter(f *testing.F) {
	for _, s := range []string{"FY2026Q3", "fy2000q1", "FY2200Q4", "FY 2026 Q2", "2026Q1", "FY-2026Q1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuarter(s)
		if err != nil {
			return
		}
		if !q.Valid() {
			t.Fatalf("accepted invalid quarter %+v from %q", q, s)
		}
		again, err := ParseQuarter(q.String())
		if err != nil || again != q {
			t.Fatalf("round trip %q -> %v -> %v %v", s, q, again, err)
		}
		if !q.Start().Before(q.End()) || QuarterOf(q.Start()) != q || QuarterOf(q.End().Add(-1)) != q {
			t.Fatalf("bounds of %v: %v to %v", q, q.Start(), q.End())
		}
	})
}
