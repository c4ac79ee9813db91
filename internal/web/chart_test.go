package web

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestChartIsAccessibleAndEscaped(t *testing.T) {
	c := Chart{ID: "adoption", Title: "Agencies by service", Summary: "Protective DNS leads <with> 14.",
		Labels: []string{"Protective DNS", "SOC <as> a service", "VDP"},
		Series: []Series{{Name: "Active", Values: []float64{14, 9, 3}}, {Name: "In flight", Values: []float64{2, 4, 1}}}}
	for name, out := range map[string]string{"bar": string(c.Bar()), "line": string(c.Line()), "rows": string(Chart{ID: "x", Title: "T", Labels: c.Labels, Series: c.Series, Horizontal: true}.Bar())} {
		t.Run(name, func(t *testing.T) {
			// The whole figure is well-formed markup.
			dec := xml.NewDecoder(strings.NewReader(out))
			dec.Strict = true
			dec.AutoClose = xml.HTMLAutoClose
			dec.Entity = xml.HTMLEntity
			for {
				if _, err := dec.Token(); err != nil {
					if err.Error() != "EOF" {
						t.Fatalf("malformed: %v\n%s", err, out)
					}
					break
				}
			}
			for _, want := range []string{`role="img"`, `aria-labelledby="chart-`, "<title id=", "<desc id=", "<details", "<table", `<th scope="row">Protective DNS</th>`} {
				if !strings.Contains(out, want) {
					t.Errorf("missing %q", want)
				}
			}
			if strings.Contains(out, "style=") {
				t.Error("style attribute breaks the content security policy")
			}
			if strings.Contains(out, "<as>") || strings.Contains(out, "<with>") {
				t.Error("labels are not escaped")
			}
		})
	}
	if !strings.Contains(string(c.Bar()), "<td>14</td>") {
		t.Error("data table lacks the values")
	}
}

func TestChartWithoutData(t *testing.T) {
	out := string(Chart{ID: "e", Title: "Empty", Labels: []string{"a"}, Series: []Series{{Name: "n", Values: []float64{0}}}}.Bar())
	if !strings.Contains(out, "No data yet") || strings.Contains(out, "<svg") {
		t.Errorf("empty chart: %s", out)
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 1: 1, 3: 5, 7: 10, 14: 20, 23: 25, 120: 200, 0.3: 0.5} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
	if FormatInt(-1234567) != "-1,234,567" || FormatInt(12) != "12" {
		t.Error("FormatInt")
	}
}
