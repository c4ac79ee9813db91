package cx

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/web"
)

// checkLine holds for every single-line text the service stores.
func checkLine(t *testing.T, name, s string, minRunes, maxRunes int) {
	t.Helper()
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n < minRunes || n > maxRunes || s != strings.TrimSpace(s) || strings.Contains(s, "  ") {
		t.Fatalf("%s %q (%d runes) accepted", name, s, n)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			t.Fatalf("%s keeps control character %U", name, r)
		}
	}
}

func checkText(t *testing.T, name, s string, maxRunes int) {
	t.Helper()
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxRunes || s != strings.TrimSpace(s) {
		t.Fatalf("%s %q accepted", name, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			t.Fatalf("%s keeps control character %U", name, r)
		}
	}
}

var fuzzService = &Service{Catalog: StaticCatalog{}}

func checkFeedback(t *testing.T, in FeedbackInput) {
	t.Helper()
	errs, err := in.normalize(context.Background(), fuzzService)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		return
	}
	if !in.Kind.Valid() {
		t.Fatalf("kind %q accepted", in.Kind)
	}
	checkLine(t, "title", in.Title, 5, MaxTitle)
	checkText(t, "body", in.Body, MaxBody)
	if _, known, _ := fuzzService.serviceName(context.Background(), in.ServiceArea); in.ServiceArea != "" && !known {
		t.Fatalf("service %q accepted", in.ServiceArea)
	}
	again := in
	if errs, _ := again.normalize(context.Background(), fuzzService); len(errs) > 0 || again != in {
		t.Fatalf("normalizing twice changes %+v into %+v (%v)", in, again, errs)
	}
}

func FuzzFeedbackForm(f *testing.F) {
	for _, s := range []string{"kind=idea&title=Faster+quotes+please&body=Two+weeks+is+long", "kind=praise&title=%09Great%0Ahelp%00&service_area=soc",
		"kind=problem&title=" + strings.Repeat("x", 151), "kind=rant&title=hi", "kind=idea&title=%ff%fe%fd%fc%fb&body=%ef%bf%bf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		form := &web.Form{Values: v, Errors: map[string]string{}}
		checkFeedback(t, FeedbackInput{Kind: FeedbackKind(form.Get("kind")), Title: form.Get("title"), Body: form.Raw("body"), ServiceArea: form.Get("service_area")})
	})
}

func checkChange(t *testing.T, in ChangeInput) {
	t.Helper()
	errs, err := in.normalize(context.Background(), fuzzService)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		return
	}
	checkLine(t, "title", in.Title, 5, MaxTitle)
	checkText(t, "summary", in.Summary, MaxSummary)
	if in.Ref.Kind != "" && (!in.Ref.Kind.Valid() || in.Ref.Label == "") {
		t.Fatalf("reference %+v accepted", in.Ref)
	}
	if u := in.Ref.URL; u != "" {
		pu, err := url.Parse(u)
		local := strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") && !strings.Contains(u, `\`)
		if err != nil || !(local || pu.Scheme == "https" && pu.Host != "") || strings.ContainsAny(u, "<>\" \t\r\n") {
			t.Fatalf("link %q accepted", u)
		}
	}
	if fig := in.Figure; fig != nil {
		for _, v := range []float64{fig.Before, fig.After} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("figure %+v accepted", fig)
			}
		}
		checkLine(t, "metric", fig.Metric, 3, 120)
	}
	if in.Audience != Everyone && in.Audience != Linked || in.Audience == Linked && len(in.FeedbackIDs) == 0 || len(in.FeedbackIDs) > MaxFeedback {
		t.Fatalf("audience %q with %d items accepted", in.Audience, len(in.FeedbackIDs))
	}
	seen := map[string]bool{}
	for _, id := range in.FeedbackIDs {
		if id == "" || seen[id] {
			t.Fatalf("feedback ids %v", in.FeedbackIDs)
		}
		seen[id] = true
	}
}

func FuzzChangeForm(f *testing.F) {
	for _, s := range []string{
		"title=Faster+onboarding&summary=You+said+it+was+slow.&audience=everyone",
		"title=Block+page+names+the+feed&summary=You+said+so+we+did+it&ref_kind=offering&ref_label=PDNS&ref_url=/offerings/x&metric=Tickets&before=140&after=35&audience=linked&feedback_ids=fbk_1&feedback_ids=fbk_1",
		"title=Scripted&summary=javascript+link+here&ref_kind=other&ref_label=x&ref_url=javascript:alert(1)&audience=everyone",
		"title=Protocol+relative&summary=a+link+to+another+site&ref_kind=other&ref_label=x&ref_url=//evil.example&audience=everyone",
		"title=Numbers&summary=odd+numbers+given&metric=abc&before=NaN&after=1e400&audience=everyone",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		in, errs := changeInputFrom(&web.Form{Values: v, Errors: map[string]string{}})
		if len(errs) > 0 {
			return
		}
		checkChange(t, in)
	})
}

func FuzzSettings(f *testing.F) {
	for _, s := range []string{a11.DefaultTrustQuestion, "I trust [office] <script>", "[office][office]", "short", "I trust [officer] to help"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		st := Settings{TrustQuestion: q}
		if errs := st.normalize(); len(errs) > 0 {
			return
		}
		n := utf8.RuneCountInString(st.TrustQuestion)
		rest := strings.ReplaceAll(st.TrustQuestion, "[office]", "")
		if n < 10 || n > 300 || strings.ContainsAny(rest, "[]<>") {
			t.Fatalf("trust question %q accepted", st.TrustQuestion)
		}
	})
}

// decodeStrict reads a body the way web.DecodeJSON does.
func decodeStrict(body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v) == nil && !dec.More()
}

func FuzzAPIBodies(f *testing.F) {
	for _, s := range []string{`{"kind":"idea","title":"An idea from the API"}`, `{"trust":"up","went_well":["ease"],"classic":{"ease":5}}`,
		`{"title":"Entry","summary":"What we did about it","audience":"linked","feedback_ids":["a","a"],"figure":{"metric":"Days","before":1e308,"after":-1}}`,
		`{"state":"wont_do","note":"because"}`, `{"ref":{"kind":"offering","label":"x","url":"https://example.gov/a"},"title":"Entry title","summary":"summary text","audience":"everyone"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fb FeedbackCreateJSON
		if decodeStrict(body, &fb) {
			checkFeedback(t, FeedbackInput{Kind: FeedbackKind(fb.Kind), Title: fb.Title, Body: fb.Body, ServiceArea: fb.ServiceArea})
		}
		var ch ChangeCreateJSON
		if decodeStrict(body, &ch) {
			in := ChangeInput{Title: ch.Title, Summary: ch.Summary, ServiceArea: ch.ServiceArea, Audience: Audience(ch.Audience), FeedbackIDs: ch.FeedbackIDs}
			if ch.Ref != nil {
				in.Ref = Ref{Kind: RefKind(ch.Ref.Kind), ID: ch.Ref.ID, Label: ch.Ref.Label, URL: ch.Ref.URL}
			}
			if fg := ch.Figure; fg != nil {
				in.Figure = &Figure{Metric: fg.Metric, Before: fg.Before, After: fg.After, Unit: fg.Unit}
			}
			checkChange(t, in)
		}
		var tr TransitionJSON
		if decodeStrict(body, &tr) {
			for _, from := range FeedbackStates {
				if CheckTransition(from, FeedbackState(tr.State), tr.Note) == nil {
					if !from.Open() || FeedbackState(tr.State) == WontDo && utf8.RuneCountInString(strings.TrimSpace(tr.Note)) < MinReason {
						t.Fatalf("%s -> %q with note %q allowed", from, tr.State, tr.Note)
					}
				}
			}
		}
		var ans AnswerJSON
		if decodeStrict(body, &ans) {
			for _, classic := range []bool{false, true} {
				a, errs := a11.Parse(ans.raw(), classic)
				if len(errs) == 0 && (a.Empty() || !a.WentWell.Valid() || !a.NotWell.Valid()) {
					t.Fatalf("answer %+v accepted from %s", a, body)
				}
			}
		}
	})
}
