package marketplace

import (
	"bytes"
	"encoding/json"
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
	"github.com/qsmo/qsmo/internal/web"
)

func formOf(raw string) *web.Form {
	v, _ := url.ParseQuery(raw)
	return &web.Form{Values: v, Errors: map[string]string{}}
}

// FuzzParseLines: whatever a price or quote form holds, every line that
// comes out has a known kind, a price within bounds and a quantity of at
// least one, and every refused row is reported under its own field.
func FuzzParseLines(f *testing.F) {
	f.Add("kind_0=recurring&unit_0=month&price_0=1250.00&qty_0=2&rows=3", 3)
	f.Add("kind_0=usage&unit_0=dns_queries&price_0=0.85&from_0=1000000&kind_1=x&price_1=abc", 5)
	f.Add("kind_0=one_time&price_0=-1&qty_0=0&from_0=-3", 1)
	f.Fuzz(func(t *testing.T, raw string, rows int) {
		lines, errs := parseLines(formOf(raw), rows)
		if len(lines) > 50 || len(lines) > max(rows, 0) {
			t.Fatalf("%d lines from %d rows", len(lines), rows)
		}
		for _, l := range lines {
			if !l.Kind.Valid() || l.UnitPrice < 0 || l.UnitPrice > money.MaxAmount || l.Quantity < 1 || l.FromUnits < 0 {
				t.Fatalf("bad line %+v from %q", l, raw)
			}
		}
		for k := range errs {
			if !strings.Contains(k, "_") {
				t.Fatalf("error under %q", k)
			}
		}
	})
}

// FuzzParseQuery: a storefront query string from anywhere normalizes to
// known facet values and bounded paging.
func FuzzParseQuery(f *testing.F) {
	f.Add("q=soc&area=soc,vulnerability-management&tier=advanced&sort=price&page=2")
	f.Add("area=%27%3B+DROP&csf=detect&csf=detect&per_page=10000&page=-1&status=draft")
	areas := []ServiceArea{{ID: "soc", CSF: []string{"detect"}}, {ID: "vulnerability-management"}}
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw)
		q := ParseQuery(v)
		q.Normalize(areas)
		if q.Page < 1 || q.PerPage < 1 || q.PerPage > 48 || utf8.RuneCountInString(q.Text) > 200 || !contains(Sorts, q.Sort) {
			t.Fatalf("query %+v", q)
		}
		for _, a := range q.Areas {
			if a != "soc" && a != "vulnerability-management" {
				t.Fatalf("area %q kept", a)
			}
		}
		for _, x := range q.CSF {
			if !contains(CSFFunctions, x) {
				t.Fatalf("csf %q kept", x)
			}
		}
		for _, x := range q.Tiers {
			if !maturity.Tier(x).Valid() {
				t.Fatalf("tier %q kept", x)
			}
		}
		if len(q.Areas) > 20 || len(q.Statuses) > 20 {
			t.Fatal("unbounded lists")
		}
	})
}

// FuzzCheckUpload: an accepted upload has an allowed type that matches its
// content and extension, a safe bounded name, and a size within the limit.
func FuzzCheckUpload(f *testing.F) {
	f.Add("report.pdf", "application/pdf", []byte("%PDF-1.7\n..."))
	f.Add("../../etc/passwd.txt", "text/plain", []byte("root:x:0:0"))
	f.Add("evil.pdf", "application/pdf", []byte("MZ\x90\x00"))
	f.Add("notes.csv", "text/csv", []byte("a,b\n1,2\n"))
	f.Add("x\x00y.png", "", []byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, name, declared string, data []byte) {
		const limit = 1 << 16
		clean, ct, err := CheckUpload(FileMeta{Name: name, DeclaredType: declared}, data, limit)
		if err != nil {
			return
		}
		if len(data) == 0 || len(data) > limit {
			t.Fatalf("size %d accepted", len(data))
		}
		exts, ok := allowedTypes[ct]
		if !ok {
			t.Fatalf("type %q accepted", ct)
		}
		if !contains(exts, strings.ToLower(path.Ext(clean))) {
			t.Fatalf("name %q does not fit type %q", clean, ct)
		}
		if clean == "" || strings.ContainsAny(clean, `/\"<>`) || strings.HasPrefix(clean, ".") || utf8.RuneCountInString(clean) > 120 || !utf8.ValidString(clean) {
			t.Fatalf("unsafe name %q", clean)
		}
		for _, r := range clean {
			if unicode.IsControl(r) {
				t.Fatalf("control character in %q", clean)
			}
		}
		if strings.HasPrefix(ct, "text/") && !utf8.Valid(data) {
			t.Fatal("non-UTF-8 text accepted")
		}
	})
}

// FuzzUsageJSON: a metering body that passes the checks names a metered
// unit, a bounded quantity, a time and a well-formed key.
func FuzzUsageJSON(f *testing.F) {
	f.Add([]byte(`{"subscription_id":"sub_1","metric":"dns_queries","quantity":12500000,"occurred_at":"2026-03-01T00:00:00Z","idempotency_key":"r1:h42"}`))
	f.Add([]byte(`{"metric":"seat","quantity":-1,"idempotency_key":""}`))
	f.Add([]byte(`{"quantity":1e30}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		var in UsageInputJSON
		if dec.Decode(&in) != nil {
			return
		}
		r := UsageFromJSON(in)
		if errs := r.check(); len(errs) > 0 {
			return
		}
		u, ok := money.Units[r.Metric]
		if !ok || !u.Metered || r.Quantity < 0 || r.Quantity > maxUsageQuantity || r.OccurredAt.IsZero() || !keyRE.MatchString(r.IdempotencyKey) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// FuzzAgreementForm: agreement terms that pass the checks have an ordered
// period, a known authority, an obligation and a well-formed TAS.
func FuzzAgreementForm(f *testing.F) {
	f.Add("period_start=2026-04-01&period_end=2027-03-31&authority=economy_act&termination_days=30&requirements=Monitor+all+networks.&tas=089-X-0228&obligated=100000.00&recurring=yes&payment=advance")
	f.Add("period_start=2026-13-01&period_end=x&authority=other&tas=1&obligated=-5")
	f.Fuzz(func(t *testing.T, raw string) {
		fm := formOf(raw)
		terms := termsFrom(fm)
		if !fm.Valid() {
			return
		}
		if errs := terms.check(); len(errs) > 0 {
			return
		}
		if !terms.PeriodEnd.After(terms.PeriodStart) || terms.Obligated <= 0 || !tasPattern.MatchString(terms.TAS) || Authorities[terms.Authority] == "" ||
			terms.TerminationDays < 0 || terms.TerminationDays > 365 {
			t.Fatalf("accepted %+v", terms)
		}
	})
}

// FuzzRequirementAndAnswers: requirement forms that pass the checks have a
// well-formed code and known tiers; an assessment form yields at most 100
// answers, all from q_ fields.
func FuzzRequirementAndAnswers(f *testing.F) {
	f.Add("code=soc-04&text=Keeps+logs+for+a+year.&tiers=advanced&mandatory=on", "q_collection=all&q_edr=some&other=x")
	f.Add("code=%00&text=x&tiers=platinum", "q_=&q_q_=1")
	f.Fuzz(func(t *testing.T, req, answers string) {
		in := requirementInput(formOf(req))
		if errs := in.check(); len(errs) == 0 {
			if !codeRE.MatchString(in.Code) || len(in.Tiers) == 0 {
				t.Fatalf("accepted %+v", in)
			}
			for _, tier := range in.Tiers {
				if !tier.Valid() {
					t.Fatalf("tier %q accepted", tier)
				}
			}
		}
		got := answersFrom(formOf(answers))
		if len(got) > 100 {
			t.Fatalf("%d answers", len(got))
		}
		v, _ := url.ParseQuery(answers)
		for k := range got {
			if _, ok := v["q_"+k]; !ok {
				t.Fatalf("answer %q from no q_ field", k)
			}
		}
	})
}
