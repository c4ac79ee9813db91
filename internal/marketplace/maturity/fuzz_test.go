package maturity

import (
	"testing"
)

// FuzzScore feeds arbitrary answers (as a form or API body would) to a real
// questionnaire: either every problem is reported by question, or the
// result is a valid tier with a score within bounds and a first reason.
func FuzzScore(f *testing.F) {
	q, _ := MustLoad().Latest("protective-dns")
	f.Add("resolution", "filtered", "logging", "long", "sites", "many")
	f.Add("resolution", "isp", "nope", "x", "", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		answers := map[string]string{k1: v1, k2: v2, k3: v3}
		// Fill the rest with the first option so complete sets occur often.
		for _, qu := range q.Questions {
			if _, ok := answers[qu.ID]; !ok {
				answers[qu.ID] = qu.Options[len(k1)%len(qu.Options)].Value
			}
		}
		r, errs := q.Score(answers)
		if errs != nil {
			if len(errs) == 0 {
				t.Fatal("empty problem map")
			}
			return
		}
		if !r.Tier.Valid() || r.Score < 0 || r.Score > r.MaxScore || len(r.Reasons) == 0 {
			t.Fatalf("bad result %+v", r)
		}
	})
}

// FuzzParse: any questionnaire that parses can be scored with its first
// answers, reaching a valid tier.
func FuzzParse(f *testing.F) {
	b, _ := files.ReadFile("questionnaires/soc.v1.json")
	f.Add(b)
	f.Add([]byte(`{"area":"x","version":1,"title":"T","questions":[{"id":"a","text":"A?","options":[{"value":"n","label":"No","points":0},{"value":"y","label":"Yes","points":2}]}],"tiers":[{"tier":"foundational","min":0,"meaning":"m"},{"tier":"intermediate","min":1,"meaning":"m"},{"tier":"advanced","min":2,"meaning":"m"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := Parse(data)
		if err != nil {
			return
		}
		answers := map[string]string{}
		for _, qu := range q.Questions {
			answers[qu.ID] = qu.Options[0].Value
		}
		r, errs := q.Score(answers)
		if errs != nil || !r.Tier.Valid() {
			t.Fatalf("parsed questionnaire cannot be scored: %+v %v", r, errs)
		}
	})
}
