package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/qsmo/qsmo/internal/apperr"
)

func TestSafeNext(t *testing.T) {
	cases := map[string]string{
		"":                       "/",
		"/orgs":                  "/orgs",
		"/orgs?kind=agency":      "/orgs?kind=agency",
		"//evil.example/":        "/",
		"/\\evil.example":        "/",
		"https://evil.example/":  "/",
		"javascript:alert(1)":    "/",
		"/ok\r\nSet-Cookie: x=1": "/",
	}
	for in, want := range cases {
		if got := SafeNext(in); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "//x", "/a?b=c", "http://x", "/\\x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SafeNext(s)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") || strings.ContainsAny(got, "\r\n") {
			t.Fatalf("SafeNext(%q) = %q leaves the site", s, got)
		}
	})
}

func TestParseCents(t *testing.T) {
	ok := map[string]int64{"0": 0, "1": 100, "1.5": 150, "1.05": 105, "1234.56": 123456, ".5": 50}
	for in, want := range ok {
		if got, valid := ParseCents(in); !valid || got != want {
			t.Errorf("ParseCents(%q) = %d, %v; want %d", in, got, valid, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.", "1.234", "abc", "1e3", "99999999999999"} {
		if _, valid := ParseCents(bad); valid {
			t.Errorf("ParseCents(%q) accepted", bad)
		}
	}
}

func FuzzParseCents(f *testing.F) {
	f.Add("12.34")
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := ParseCents(s)
		if ok && (c < 0 || FormatCents(c) == "") {
			t.Fatalf("ParseCents(%q) = %d", s, c)
		}
		if ok {
			// Round trip through the display format.
			back, ok2 := ParseCents(strings.NewReplacer("$", "", ",", "").Replace(FormatCents(c)))
			if !ok2 || back != c {
				t.Fatalf("round trip of %q: %d -> %q -> %d", s, c, FormatCents(c), back)
			}
		}
	})
}

func TestFormatCents(t *testing.T) {
	for in, want := range map[int64]string{0: "$0.00", 5: "$0.05", 123456: "$1,234.56", 100000000: "$1,000,000.00", -250: "−$2.50"} {
		if got := FormatCents(in); got != want {
			t.Errorf("FormatCents(%d) = %q, want %q", in, got, want)
		}
	}
}

type sample struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func decode(body, ct string) (sample, error) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	var s sample
	err := DecodeJSON(httptest.NewRecorder(), req, &s)
	return s, err
}

func TestDecodeJSON(t *testing.T) {
	if s, err := decode(`{"name":"a","count":2}`, "application/json"); err != nil || s.Count != 2 {
		t.Fatalf("valid body: %+v %v", s, err)
	}
	for _, c := range []struct{ body, ct, want string }{
		{`{"name":`, "application/json", "not valid JSON"},
		{`{"nope":1}`, "", "Unknown field"},
		{`{"count":"x"}`, "", "Wrong type"},
		{`{} {}`, "", "exactly one JSON object"},
		{``, "", "empty"},
		{`{}`, "text/plain", "Content-Type"},
		{`{"name":"` + strings.Repeat("a", 2<<20) + `"}`, "", "larger than 1 MiB"},
	} {
		_, err := decode(c.body, c.ct)
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.MessageOf(err)+strings.Join(values(apperr.FieldsOf(err)), " "), c.want) {
			t.Errorf("body %.30q: err %v, want invalid mentioning %q", c.body, err, c.want)
		}
	}
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{}`, `[]`, `null`, `{"count":1e400}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s, err := decode(body, "application/json")
		if err != nil && !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("body %q: non-invalid error %v", body, err)
		}
		if err == nil && len(body) == 0 {
			t.Fatalf("empty body accepted: %+v", s)
		}
	})
}

func FuzzParseForm(f *testing.F) {
	f.Add("name=a&roles=x&roles=y&amount=1.50")
	f.Add("%zz=1")
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, err := ParseForm(httptest.NewRecorder(), req)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("non-invalid error %v", err)
			}
			return
		}
		_ = form.Int("count", "the count")
		_ = form.Cents("amount", "the amount")
		_ = form.Date("day", "the day")
		for _, v := range form.List("roles") {
			if strings.TrimSpace(v) != v || v == "" {
				t.Fatalf("List returned untrimmed or empty %q", v)
			}
		}
	})
}

func TestStatusMapping(t *testing.T) {
	for code, want := range map[apperr.Code]int{apperr.Invalid: 422, apperr.NotFound: 404, apperr.Conflict: 409, apperr.Unauthorized: 401, apperr.Forbidden: 403, apperr.TooMany: 429, apperr.Internal: 500} {
		if got := Status(code); got != want {
			t.Errorf("Status(%s) = %d, want %d", code, got, want)
		}
	}
}

func TestRedactPath(t *testing.T) {
	for in, want := range map[string]string{"/invite/abcdef": "/invite/[redacted]", "/reset/xyz": "/reset/[redacted]", "/dns-query/tok": "/dns-query/[redacted]", "/cx/answer/s3cr3t": "/cx/answer/[redacted]", "/orgs": "/orgs"} {
		if got := redactPath(in); got != want {
			t.Errorf("redactPath(%q) = %q", in, got)
		}
	}
}

func TestViewsSharePackagePartials(t *testing.T) {
	k := New(Options{CookieKey: []byte("0123456789abcdef0123456789abcdef")}, nil, nil)
	v := k.MustViews(fstest.MapFS{
		"templates/_parts.html": {Data: []byte(`{{define "badge"}}<span class="badge">{{.}}</span>{{end}}`)},
		"templates/page.html":   {Data: []byte(`{{define "content"}}{{template "badge" "overdue"}}{{end}}`)},
	})
	if _, ok := v.pages["_parts"]; ok {
		t.Error("a partials file became a page")
	}
	rec := httptest.NewRecorder()
	v.Render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, "page", Page{Title: "T"})
	if !strings.Contains(rec.Body.String(), `<span class="badge">overdue</span>`) {
		t.Errorf("partial not rendered: %s", rec.Body.String())
	}
}
