// Package maturity holds the readiness questionnaires of the marketplace's
// service areas — versioned data in questionnaires/*.json, not code — and
// scores an agency's answers into a service tier with the reasons for it.
// Tiers are the one scale shared by offerings (sold in tiers) and
// assessments (which place an agency on it).
package maturity

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"unicode/utf8"
)

// Tier is a level of service. An offering is sold in one or more tiers; an
// assessment places an agency at the tier it is ready for.
type Tier string

// Tiers, lowest first.
const (
	Foundational Tier = "foundational"
	Intermediate Tier = "intermediate"
	Advanced     Tier = "advanced"
)

// Tiers returns every tier, lowest first.
func Tiers() []Tier { return []Tier{Foundational, Intermediate, Advanced} }

// Valid reports whether t is a known tier.
func (t Tier) Valid() bool { return t.Rank() > 0 }

// Rank is 1, 2, 3 for the tiers, 0 for anything else.
func (t Tier) Rank() int {
	switch t {
	case Foundational:
		return 1
	case Intermediate:
		return 2
	case Advanced:
		return 3
	}
	return 0
}

// Label is the tier's name for people.
func (t Tier) Label() string {
	switch t {
	case Foundational:
		return "Foundational"
	case Intermediate:
		return "Intermediate"
	case Advanced:
		return "Advanced"
	}
	return string(t)
}

// Questionnaire is one version of a service area's readiness questions.
type Questionnaire struct {
	Area    string `json:"area"`
	Version int    `json:"version"`
	Title   string `json:"title"`
	Intro   string `json:"intro"`
	// Capabilities names what answers can show an agency has; offerings
	// list some of them as prerequisites.
	Capabilities map[string]string `json:"capabilities"`
	Questions    []Question        `json:"questions"`
	Tiers        []TierRule        `json:"tiers"`
	Gates        []Gate            `json:"gates"`
}

// Question is one multiple-choice question.
type Question struct {
	ID      string   `json:"id"`
	Text    string   `json:"text"`
	Hint    string   `json:"hint,omitempty"`
	Options []Option `json:"options"`
}

// Option is one answer.
type Option struct {
	Value        string   `json:"value"`
	Label        string   `json:"label"`
	Points       int      `json:"points"`
	Capabilities []string `json:"capabilities,omitempty"`
	// Note is shown among the reasons when this answer is given.
	Note string `json:"note,omitempty"`
}

// TierRule is the score from which a tier applies.
type TierRule struct {
	Tier    Tier   `json:"tier"`
	Min     int    `json:"min"`
	Meaning string `json:"meaning"`
}

// Gate caps the tier when a question has one of some answers, whatever the
// score: a missing foundation is not made up by strengths elsewhere.
type Gate struct {
	Question string   `json:"question"`
	Values   []string `json:"values"`
	MaxTier  Tier     `json:"max_tier"`
	Reason   string   `json:"reason"`
}

// MaxScore is the highest possible score.
func (q *Questionnaire) MaxScore() int {
	total := 0
	for _, qu := range q.Questions {
		best := 0
		for _, o := range qu.Options {
			best = max(best, o.Points)
		}
		total += best
	}
	return total
}

// Meaning returns what a tier means in this area.
func (q *Questionnaire) Meaning(t Tier) string {
	for _, r := range q.Tiers {
		if r.Tier == t {
			return r.Meaning
		}
	}
	return ""
}

// CapabilityLabel names a capability, or returns its key.
func (q *Questionnaire) CapabilityLabel(key string) string {
	if l, ok := q.Capabilities[key]; ok {
		return l
	}
	return key
}

// Parse reads and validates one questionnaire.
func Parse(data []byte) (*Questionnaire, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var q Questionnaire
	if err := dec.Decode(&q); err != nil {
		return nil, fmt.Errorf("maturity: parse: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("maturity: parse: trailing data")
	}
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("maturity: %s v%d: %w", q.Area, q.Version, err)
	}
	return &q, nil
}

func (q *Questionnaire) check() error {
	text := func(s string, n int) bool { return strings.TrimSpace(s) != "" && utf8.RuneCountInString(s) <= n }
	switch {
	case !text(q.Area, 60) || strings.ContainsAny(q.Area, " /"):
		return fmt.Errorf("area %q is not a service area key", q.Area)
	case q.Version < 1:
		return fmt.Errorf("version must be 1 or more")
	case !text(q.Title, 200):
		return fmt.Errorf("title missing or too long")
	case len(q.Questions) == 0 || len(q.Questions) > 50:
		return fmt.Errorf("a questionnaire has 1 to 50 questions")
	}
	for k, l := range q.Capabilities {
		if !text(k, 60) || !text(l, 200) {
			return fmt.Errorf("capability %q needs a key and a label", k)
		}
	}
	ids := map[string]map[string]bool{}
	for _, qu := range q.Questions {
		if !text(qu.ID, 60) || !text(qu.Text, 500) {
			return fmt.Errorf("question %q needs an ID and a text", qu.ID)
		}
		if ids[qu.ID] != nil {
			return fmt.Errorf("two questions with ID %q", qu.ID)
		}
		if len(qu.Options) < 2 || len(qu.Options) > 10 {
			return fmt.Errorf("question %q has 2 to 10 options", qu.ID)
		}
		vals := map[string]bool{}
		for _, o := range qu.Options {
			if !text(o.Value, 60) || !text(o.Label, 300) || vals[o.Value] {
				return fmt.Errorf("question %q: option %q needs a distinct value and a label", qu.ID, o.Value)
			}
			if o.Points < 0 || o.Points > 100 {
				return fmt.Errorf("question %q: option %q points out of 0..100", qu.ID, o.Value)
			}
			for _, c := range o.Capabilities {
				if _, ok := q.Capabilities[c]; !ok {
					return fmt.Errorf("question %q: option %q names unknown capability %q", qu.ID, o.Value, c)
				}
			}
			vals[o.Value] = true
		}
		ids[qu.ID] = vals
	}
	if len(q.Tiers) != 3 {
		return fmt.Errorf("give the three tiers")
	}
	for i, r := range q.Tiers {
		if r.Tier != Tiers()[i] || !text(r.Meaning, 500) {
			return fmt.Errorf("tiers must be foundational, intermediate, advanced in order, each with a meaning")
		}
		if i == 0 && r.Min != 0 || i > 0 && r.Min <= q.Tiers[i-1].Min || r.Min > q.MaxScore() {
			return fmt.Errorf("tier minimums must start at 0, rise, and be reachable (max score %d)", q.MaxScore())
		}
	}
	for _, g := range q.Gates {
		vals, ok := ids[g.Question]
		if !ok || !g.MaxTier.Valid() || !text(g.Reason, 500) || len(g.Values) == 0 {
			return fmt.Errorf("gate on %q needs a known question, values, a tier and a reason", g.Question)
		}
		for _, v := range g.Values {
			if !vals[v] {
				return fmt.Errorf("gate on %q names unknown answer %q", g.Question, v)
			}
		}
	}
	return nil
}

// Result is a scored assessment.
type Result struct {
	Score        int
	MaxScore     int
	Tier         Tier
	Reasons      []string
	Capabilities []string
}

// Score checks that every question has a known answer and scores them. The
// error lists each unanswered or unknown answer by question ID.
func (q *Questionnaire) Score(answers map[string]string) (Result, map[string]string) {
	problems := map[string]string{}
	for id := range answers {
		if q.question(id) == nil {
			problems[id] = "This question is not part of the questionnaire."
		}
	}
	res := Result{MaxScore: q.MaxScore()}
	caps := map[string]bool{}
	var notes []string
	for _, qu := range q.Questions {
		v, ok := answers[qu.ID]
		if !ok || v == "" {
			problems[qu.ID] = "Choose an answer."
			continue
		}
		opt := qu.option(v)
		if opt == nil {
			problems[qu.ID] = "Choose one of the answers offered."
			continue
		}
		res.Score += opt.Points
		for _, c := range opt.Capabilities {
			caps[c] = true
		}
		if opt.Note != "" {
			notes = append(notes, opt.Note)
		}
	}
	if len(problems) > 0 {
		return Result{}, problems
	}
	res.Tier = Foundational
	for _, r := range q.Tiers {
		if res.Score >= r.Min {
			res.Tier = r.Tier
		}
	}
	byScore := res.Tier
	var gates []string
	for _, g := range q.Gates {
		for _, v := range g.Values {
			if answers[g.Question] == v && g.MaxTier.Rank() < res.Tier.Rank() {
				res.Tier = g.MaxTier
			}
			if answers[g.Question] == v && g.MaxTier.Rank() < byScore.Rank() {
				gates = append(gates, g.Reason)
			}
		}
	}
	res.Reasons = append(res.Reasons, q.scoreReason(res.Score, byScore))
	res.Reasons = append(res.Reasons, gates...)
	res.Reasons = append(res.Reasons, notes...)
	for c := range caps {
		res.Capabilities = append(res.Capabilities, c)
	}
	sort.Strings(res.Capabilities)
	return res, nil
}

func (q *Questionnaire) scoreReason(score int, t Tier) string {
	var parts []string
	for _, r := range q.Tiers[1:] {
		parts = append(parts, fmt.Sprintf("%s starts at %d", strings.ToLower(r.Tier.Label()), r.Min))
	}
	return fmt.Sprintf("You scored %d of %d points, which is %s by score (%s).", score, q.MaxScore(), strings.ToLower(t.Label()), strings.Join(parts, ", "))
}

func (q *Questionnaire) question(id string) *Question {
	for i := range q.Questions {
		if q.Questions[i].ID == id {
			return &q.Questions[i]
		}
	}
	return nil
}

func (qu *Question) option(v string) *Option {
	for i := range qu.Options {
		if qu.Options[i].Value == v {
			return &qu.Options[i]
		}
	}
	return nil
}

// OptionLabel returns the label of answer v to question id, or v.
func (q *Questionnaire) OptionLabel(id, v string) string {
	if qu := q.question(id); qu != nil {
		if o := qu.option(v); o != nil {
			return o.Label
		}
	}
	return v
}

//go:embed questionnaires/*.json
var files embed.FS

// Catalog is every questionnaire version, by area.
type Catalog struct {
	byArea map[string][]*Questionnaire // ascending versions
}

// Load parses the embedded questionnaires. A broken file is a programming
// error reported at start.
func Load() (*Catalog, error) {
	c := &Catalog{byArea: map[string][]*Questionnaire{}}
	names, err := fs.Glob(files, "questionnaires/*.json")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		q, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path.Base(name), err)
		}
		for _, prev := range c.byArea[q.Area] {
			if prev.Version == q.Version {
				return nil, fmt.Errorf("maturity: %s has two version %d files", q.Area, q.Version)
			}
		}
		c.byArea[q.Area] = append(c.byArea[q.Area], q)
	}
	for _, qs := range c.byArea {
		sort.Slice(qs, func(i, j int) bool { return qs[i].Version < qs[j].Version })
	}
	return c, nil
}

// MustLoad is Load for package initialisation.
func MustLoad() *Catalog {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

// Latest returns the newest questionnaire of an area.
func (c *Catalog) Latest(area string) (*Questionnaire, bool) {
	qs := c.byArea[area]
	if len(qs) == 0 {
		return nil, false
	}
	return qs[len(qs)-1], true
}

// Version returns one version of an area's questionnaire.
func (c *Catalog) Version(area string, v int) (*Questionnaire, bool) {
	for _, q := range c.byArea[area] {
		if q.Version == v {
			return q, true
		}
	}
	return nil, false
}

// Areas returns the areas that have a questionnaire, sorted.
func (c *Catalog) Areas() []string {
	var out []string
	for a := range c.byArea {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
