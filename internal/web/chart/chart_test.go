package chart

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

// wellFormed parses s as XML (the SVG and table are both well-formed
// fragments) and returns its elements by name.
func wellFormed(t testing.TB, s string) map[string][]xml.StartElement {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader("<root>" + s + "</root>"))
	dec.Strict = true
	dec.Entity = xml.HTMLEntity
	out := map[string][]xml.StartElement{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, s)
		}
		if se, ok := tok.(xml.StartElement); ok {
			out[se.Name.Local] = append(out[se.Name.Local], se)
			for _, a := range se.Attr {
				if a.Name.Local == "style" || strings.HasPrefix(a.Name.Local, "on") {
					t.Fatalf("%s carries %s=, which the content security policy forbids", se.Name.Local, a.Name.Local)
				}
			}
		}
	}
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func sample() Chart {
	return Chart{
		ID: "trust by quarter", Title: "Trust by quarter", Summary: "Trust rose from 71% to 84%.",
		Labels: []string{"FY 2026 Q1", "FY 2026 Q2", "FY 2026 Q3", "FY 2026 Q4"},
		Series: []Series{
			{Name: "Needs", Values: []float64{71, 75, Missing(), 84}},
			{Name: "Delivery <b>", Values: []float64{60, 62, 70, 66.5}},
		},
		Unit: "%", Max: 100,
	}
}

func TestBarChartIsAccessibleSVG(t *testing.T) {
	c := sample()
	els := wellFormed(t, string(c.Bar()))
	svg := els["svg"]
	if len(svg) != 1 || attr(svg[0], "role") != "img" || attr(svg[0], "aria-labelledby") != "trust-by-quarter-title trust-by-quarter-desc" {
		t.Fatalf("svg root: %+v", svg)
	}
	if len(els["title"]) != 1 || len(els["desc"]) != 1 {
		t.Fatal("svg lacks its title or description")
	}
	// 7 values present (one missing): one bar each, filled with its series' pattern.
	bars := 0
	for _, r := range els["rect"] {
		if f := attr(r, "fill"); strings.HasPrefix(f, "url(#trust-by-quarter-p") && attr(r, "height") != "14" && attr(r, "width") != "8" {
			bars++
		}
	}
	if bars != 7 {
		t.Errorf("%d bars, want 7", bars)
	}
	if len(els["pattern"]) != 2 {
		t.Errorf("%d fill patterns, want one per series", len(els["pattern"]))
	}
	if !strings.Contains(string(c.Bar()), "Delivery &lt;b&gt;") {
		t.Error("series name not escaped")
	}
}

func TestHorizontalBars(t *testing.T) {
	c := Chart{ID: "drivers", Title: "What went well", Labels: []string{"Effectiveness", "Ease", "A very long label that will not fit in the space we have"},
		Series: []Series{{Name: "Share", Values: []float64{40, 55, 5}}}, Unit: "%", Max: 100, Horizontal: true}
	s := string(c.Bar())
	els := wellFormed(t, s)
	if len(els["svg"]) != 1 {
		t.Fatal("no svg")
	}
	if !strings.Contains(s, "A very long label that will not…") {
		t.Error("long label not shortened in the drawing")
	}
	if !strings.Contains(string(c.Table()), "A very long label that will not fit in the space we have") {
		t.Error("table lost the full label")
	}
}

func TestLineChartBreaksAtMissingValues(t *testing.T) {
	c := sample()
	els := wellFormed(t, string(c.Line()))
	// Needs has a gap before its last point, which stands alone as a
	// marker: one segment per series.
	if n := len(els["polyline"]); n != 2 {
		t.Errorf("%d line segments, want 2", n)
	}
	if n := len(els["circle"]); n != 4 { // three points and the legend
		t.Errorf("%d circle markers for Needs, want 4", n)
	}
	dash := map[string]bool{}
	for _, p := range els["polyline"] {
		dash[attr(p, "stroke-dasharray")] = true
	}
	if len(dash) != 2 {
		t.Errorf("series share a dash pattern: %v", dash)
	}
}

func TestTableAndFigure(t *testing.T) {
	c := sample()
	fig := string(c.LineFigure())
	els := wellFormed(t, fig)
	if len(els["figure"]) != 1 || len(els["figcaption"]) != 1 || len(els["details"]) != 1 || len(els["table"]) != 1 {
		t.Fatalf("figure parts: %v", keys(els))
	}
	if n := len(els["tr"]); n != 5 {
		t.Errorf("%d table rows, want header + 4", n)
	}
	tab := string(c.Table())
	for _, want := range []string{"<caption>Trust by quarter</caption>", `<th scope="row">FY 2026 Q3</th><td>—</td><td>70%</td>`, "<td>67%</td>"} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %s:\n%s", want, tab)
		}
	}
}

func TestNoData(t *testing.T) {
	c := Chart{ID: "x", Title: "Empty", Labels: []string{"a"}, Series: []Series{{Name: "s", Values: []float64{math.NaN()}}}}
	if s := string(c.BarFigure()); !strings.Contains(s, "No data for this period.") || strings.Contains(s, "<svg") || strings.Contains(s, "<table") {
		t.Errorf("empty chart: %s", s)
	}
}

func TestWholeAxis(t *testing.T) {
	c := Chart{ID: "n", Title: "Counts", Labels: []string{"a", "b"}, Series: []Series{{Name: "n", Values: []float64{3, 5}}}, Whole: true}
	if got := c.top(); got != 8 {
		t.Errorf("top %v, want 8 so ticks are 0, 2, 4, 6, 8", got)
	}
	s := string(c.Bar())
	for _, tick := range []string{">2</text>", ">6</text>"} {
		if !strings.Contains(s, tick) {
			t.Errorf("no tick %s", tick)
		}
	}
	if Percent(66.5) != "67" || Percent(5.7) != "6" {
		t.Error("Percent rounding")
	}
}

func TestNiceMax(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.3: 0.3, 1: 1, 7: 8, 12: 12, 21: 24, 26: 30, 45: 60, 99: 100, 101: 120, 2400: 2400, 2500: 3000} {
		got := NiceMax(in)
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("NiceMax(%v) = %v, want %v", in, got, want)
		}
		// Gridlines at quarters of the top need at most two significant
		// digits (6, 7.5, 15, not 6.25).
		q := got / 4
		scaled := q / math.Pow(10, math.Floor(math.Log10(q))-1)
		if math.Abs(scaled-math.Round(scaled)) > 1e-9 {
			t.Errorf("NiceMax(%v) = %v: a quarter is %v", in, got, q)
		}
	}
}

func keys(m map[string][]xml.StartElement) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func FuzzChartsStayWellFormed(f *testing.F) {
	f.Add("FY 2026 Q1", "Trust", 42.0, true)
	f.Add("<script>&amp;\"'", "x]]>", math.Inf(1), false)
	f.Fuzz(func(t *testing.T, label, name string, v float64, horizontal bool) {
		c := Chart{ID: label, Title: name, Summary: label, Labels: []string{label, name}, Series: []Series{{Name: name, Values: []float64{v, -v}}}, Horizontal: horizontal}
		for _, out := range []string{string(c.BarFigure()), string(c.LineFigure())} {
			wellFormed(t, out)
			if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") && !strings.Contains(label+name, "Inf") {
				t.Fatalf("non-number in drawing: %s", out)
			}
		}
	})
}
