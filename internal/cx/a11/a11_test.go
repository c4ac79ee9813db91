package a11

import (
	"bytes"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestQuarterOf(t *testing.T) {
	for _, tc := range []struct {
		at   string
		want string
	}{
		{"2025-10-01T00:00:00Z", "FY2026Q1"},
		{"2025-12-31T23:59:59Z", "FY2026Q1"},
		{"2026-01-01T00:00:00Z", "FY2026Q2"},
		{"2026-03-31T12:00:00Z", "FY2026Q2"},
		{"2026-04-01T00:00:00Z", "FY2026Q3"},
		{"2026-06-30T23:59:59Z", "FY2026Q3"},
		{"2026-07-01T00:00:00Z", "FY2026Q4"},
		{"2026-09-30T23:59:59Z", "FY2026Q4"},
		{"2026-09-30T21:00:00-05:00", "FY2027Q1"}, // 02:00 UTC on Oct 1
	} {
		at, err := time.Parse(time.RFC3339, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := QuarterOf(at).String(); got != tc.want {
			t.Errorf("QuarterOf(%s) = %s, want %s", tc.at, got, tc.want)
		}
	}
}

func TestQuarterBounds(t *testing.T) {
	q := Quarter{FY: 2026, Q: 1}
	if got := q.Start(); !got.Equal(time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("start %v", got)
	}
	if got := q.End(); !got.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("end %v", got)
	}
	if got := q.Span(); got != "Oct–Dec 2025" {
		t.Errorf("span %q", got)
	}
	if got := (Quarter{2026, 3}).Span(); got != "Apr–Jun 2026" {
		t.Errorf("span %q", got)
	}
	if got := (Quarter{2026, 4}).Next(); got != (Quarter{2027, 1}) {
		t.Errorf("next %v", got)
	}
	if got := (Quarter{2026, 1}).Prev(); got != (Quarter{2025, 4}) {
		t.Errorf("prev %v", got)
	}
	r := Range(Quarter{2025, 3}, Quarter{2026, 2})
	var names []string
	for _, q := range r {
		names = append(names, q.String())
	}
	if got := strings.Join(names, ","); got != "FY2025Q3,FY2025Q4,FY2026Q1,FY2026Q2" {
		t.Errorf("range %s", got)
	}
	if len(Range(Quarter{2026, 2}, Quarter{2025, 3})) != 0 {
		t.Error("reversed range is not empty")
	}
	if n := len(Range(Quarter{2000, 1}, Quarter{2100, 1})); n != MaxRange {
		t.Errorf("unbounded range: %d quarters", n)
	}
}

func TestParseQuarter(t *testing.T) {
	for _, ok := range []string{"FY2026Q3", "fy2026q3", "FY2026-Q3", "FY 2026 Q3", " FY2026Q3 "} {
		q, err := ParseQuarter(ok)
		if err != nil || q != (Quarter{2026, 3}) {
			t.Errorf("ParseQuarter(%q) = %v, %v", ok, q, err)
		}
	}
	for _, bad := range []string{"", "2026Q3", "FY2026Q5", "FY2026Q0", "FY26Q3", "FY1999Q1", "FY+026Q3", "FY2026Q+", "FYabcdQ1", "FY2026Q3x"} {
		if q, err := ParseQuarter(bad); err == nil {
			t.Errorf("ParseQuarter(%q) = %v, want an error", bad, q)
		}
	}
}

func TestParseAnswer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		form    string
		classic bool
		want    Answer
		errs    []string
	}{
		{name: "trust only", form: "trust=up", want: Answer{Trust: ThumbsUp}},
		{name: "every question", classic: true,
			form: "trust=down&went_well=ease&went_well=employee&not_well=efficiency&comment=Took+weeks&classic_satisfaction=2&classic_employee=5",
			want: Answer{Trust: ThumbsDown, WentWell: DriverSet(0).With(Ease).With(Employee), NotWell: DriverSet(0).With(Efficiency),
				Comment: "Took weeks", Classic: [NumClassic]uint8{2, 0, 0, 0, 0, 0, 5}}},
		{name: "comment alone counts", form: "comment=%20hello%0D%0Aworld%20", want: Answer{Comment: "hello\nworld"}},
		{name: "blank classic answers are skipped", form: "trust=up&classic_ease=", classic: true, want: Answer{Trust: ThumbsUp}},
		{name: "nothing answered", form: "went_well=&comment=+++", errs: []string{"trust"}},
		{name: "unknown trust value", form: "trust=maybe", errs: []string{"trust"}},
		{name: "two trust values", form: "trust=up&trust=down", errs: []string{"trust"}},
		{name: "unknown driver", form: "trust=up&went_well=price", errs: []string{"went_well"}},
		{name: "classic not asked", form: "trust=up&classic_ease=4", errs: []string{"classic_ease"}},
		{name: "unknown classic item", form: "trust=up&classic_speed=4", classic: true, errs: []string{"classic_speed"}},
		{name: "classic out of range", form: "classic_ease=6&classic_equity=0&classic_employee=04", classic: true, errs: []string{"classic_ease", "classic_equity", "classic_employee"}},
		{name: "comment too long", form: "comment=" + strings.Repeat("a", MaxComment+1), errs: []string{"comment"}},
		{name: "invalid UTF-8", form: "comment=%ff%fe", errs: []string{"comment"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			raw, ferrs := FromForm(v)
			got, errs := Parse(raw, tc.classic)
			for k, m := range ferrs {
				errs = merge(errs, k, m)
			}
			if len(tc.errs) == 0 {
				if len(errs) > 0 {
					t.Fatalf("errors %v", errs)
				}
				if got != tc.want {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
				return
			}
			for _, k := range tc.errs {
				if errs[k] == "" {
					t.Errorf("no error for %s in %v", k, errs)
				}
			}
			if len(errs) != len(tc.errs) {
				t.Errorf("errors %v, want exactly %v", errs, tc.errs)
			}
		})
	}
}

func merge(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

func TestTallyArithmetic(t *testing.T) {
	var tally Tally
	up := Answer{Trust: ThumbsUp, WentWell: DriverSet(0).With(Ease).With(Efficiency), Classic: [NumClassic]uint8{5, 4}}
	down := Answer{Trust: ThumbsDown, NotWell: DriverSet(0).With(Efficiency), Classic: [NumClassic]uint8{2}}
	commentOnly := Answer{Comment: "no opinion"}
	for range 5 {
		tally.Add(up)
	}
	tally.Add(down)
	tally.Add(down)
	tally.Add(commentOnly)
	if tally.Responses != 8 {
		t.Fatalf("responses %d", tally.Responses)
	}
	// 5 up of 7 who answered the trust question: 71.43% -> 71%.
	if got := tally.Trust(); got != (Ratio{5, 7}) || got.String() != "71%" {
		t.Errorf("trust %+v %s", got, got)
	}
	if got := tally.WentWellShare(Ease); got != (Ratio{5, 5}) || got.Percent() != 100 {
		t.Errorf("ease went well %+v", got)
	}
	if got := tally.NotWellShare(Efficiency); got != (Ratio{2, 2}) {
		t.Errorf("efficiency not well %+v", got)
	}
	if got := tally.NotWellShare(Ease); got != (Ratio{0, 2}) || got.String() != "0%" {
		t.Errorf("ease not well %+v", got)
	}
	// Satisfaction: 5×5 + 2×2 = 29 over 7 = 4.14 -> 4.1; agree 5 of 7.
	sat := tally.Classic[0]
	if sat.Mean() != "4.1" || sat.AgreeShare() != (Ratio{5, 7}) {
		t.Errorf("satisfaction mean %s agree %+v", sat.Mean(), sat.AgreeShare())
	}
	if tally.Classic[2].Mean() != "—" {
		t.Errorf("unanswered item mean %s", tally.Classic[2].Mean())
	}
	var merged Tally
	merged.Merge(tally)
	merged.Merge(tally)
	if merged.Trust() != (Ratio{10, 14}) || merged.WentWell[Ease] != 10 || merged.Classic[0].Sum != 58 {
		t.Errorf("merge %+v", merged)
	}
}

func TestRatioRounding(t *testing.T) {
	for _, tc := range []struct {
		r    Ratio
		want string
	}{
		{Ratio{0, 0}, "—"}, {Ratio{1, 8}, "13%"}, {Ratio{1, 3}, "33%"}, {Ratio{2, 3}, "67%"},
		{Ratio{1, 200}, "1%"}, {Ratio{1, 201}, "0%"}, {Ratio{7, 7}, "100%"}, {Ratio{0, 9}, "0%"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v = %s, want %s", tc.r, got, tc.want)
		}
	}
	if (Scale5{N: 2, Sum: 9}).Mean() != "4.5" || (Scale5{N: 3, Sum: 13}).Mean() != "4.3" || (Scale5{N: 3, Sum: 14}).Mean() != "4.7" {
		t.Error("mean rounding")
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func TestResponsesCSVGolden(t *testing.T) {
	rows := []Row{
		{ExternalID: "rsp_one", Answer: Answer{Trust: ThumbsUp, WentWell: DriverSet(0).With(Effectiveness).With(Employee), Comment: "Fast, clear onboarding."}},
		{ExternalID: "rsp_two", Answer: Answer{Trust: ThumbsDown, NotWell: DriverSet(0).With(Efficiency).With(Transparency).With(Other),
			Comment: "Quote took \"three weeks\",\nand nobody said why."}},
		{ExternalID: "rsp_three", Answer: Answer{Trust: ThumbsUp, WentWell: DriverSet(0).With(Ease), NotWell: DriverSet(0).With(Humanity)}},
		{ExternalID: "rsp_four", Answer: Answer{Comment: "=HYPERLINK(\"http://example.com\")"}},
		{ExternalID: "rsp_five", Answer: Answer{WentWell: allDrivers, Classic: [NumClassic]uint8{5, 5, 5, 5, 5, 5, 5}}},
	}
	var buf bytes.Buffer
	if err := WriteResponses(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if len(Header) != 17 {
		t.Fatalf("%d columns, want 17", len(Header))
	}
	golden(t, "responses.golden.csv", buf.Bytes())
}

func TestCollectionCSVGolden(t *testing.T) {
	rows := []CollectionRow{
		{Quarter: Quarter{2026, 3}, ServiceArea: "protective-dns", ServiceName: "Protective DNS", Stage: "delivery", Provider: "Cyber Office",
			TrustQuestion: "I trust Cyber Office to deliver on its mission for agencies like mine.", Offered: 12, Responses: 5, TrustUp: 4, TrustDown: 1},
		{Quarter: Quarter{2026, 3}, ServiceArea: "soc", ServiceName: "SOC as a service", Stage: "procurement", Provider: "Northwind", Offering: "Managed SOC, tier 2",
			TrustQuestion: "I trust Cyber Office to deliver on its mission for agencies like mine.", Offered: 3, Responses: 0},
	}
	var buf bytes.Buffer
	if err := WriteCollection(&buf, rows); err != nil {
		t.Fatal(err)
	}
	golden(t, "collection.golden.csv", buf.Bytes())
}

func TestDriverKeys(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Drivers {
		if d.Key() == "" || d.Label() == "" || d.WentWell() == "" || d.NotWell() == "" || seen[d.Key()] {
			t.Errorf("driver %d incomplete or duplicate", d)
		}
		seen[d.Key()] = true
		if got, ok := DriverByKey(d.Key()); !ok || got != d {
			t.Errorf("DriverByKey(%s)", d.Key())
		}
	}
	if TrustQuestion(DefaultTrustQuestion, "the Cyber QSMO") != "I trust the Cyber QSMO to deliver on its mission for agencies like mine." {
		t.Error("trust question placeholder")
	}
	if ClassicItems[0].For("Protective DNS") != "I am satisfied with the service I received from Protective DNS." {
		t.Error("classic placeholder")
	}
}
