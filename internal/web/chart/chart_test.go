package chart

import (
	"strings"
	"testing"
)

func TestBarsRender(t *testing.T) {
	b := Bars{ID: "q", Title: "Queries <per hour>", Desc: "Queries & blocks", Labels: []string{"08:00", "09:00", "<b>"},
		Series: []Series{{Name: "Allowed", Values: []float64{10, 0, 5}}, {Name: "Blocked", Values: []float64{2, 1, 0}}}}
	out := string(b.Render())
	for _, want := range []string{
		`role="img"`, `aria-labelledby="q-title q-desc"`, `<title id="q-title">Queries &lt;per hour&gt;</title>`,
		`<desc id="q-desc">Queries &amp; blocks</desc>`, `<th scope="row">&lt;b&gt;</th>`, `<td>10</td>`, `<summary>Show the data as a table</summary>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("chart lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<b>") || strings.Contains(out, "style=") {
		t.Errorf("chart has unescaped text or inline style:\n%s", out)
	}
	// Four non-zero values, four bars; the legend adds one swatch per series.
	if got := strings.Count(out, "<rect "); got != 4+2 {
		t.Errorf("%d rects, want 6", got)
	}
}

func TestBarsEmpty(t *testing.T) {
	out := string(Bars{ID: "e", Title: "Nothing"}.Render())
	if !strings.Contains(out, "<svg") || strings.Contains(out, "NaN") {
		t.Fatalf("empty chart: %s", out)
	}
}

func TestNiceMax(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0, 0}, {1, 1}, {3, 5}, {7, 10}, {12, 20}, {950, 1000}, {1001, 2000}, {0.3, 0.5}} {
		if got := niceMax(c.in); got != c.want {
			t.Errorf("niceMax(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		v           float64
		short, full string
	}{{0, "0", "0"}, {950, "950", "950"}, {1200, "1.2k", "1,200"}, {3_400_000, "3.4M", "3,400,000"}, {1234567, "1.2M", "1,234,567"}} {
		if s := Short(c.v); s != c.short {
			t.Errorf("Short(%v) = %s, want %s", c.v, s, c.short)
		}
		if s := Number(c.v); s != c.full {
			t.Errorf("Number(%v) = %s, want %s", c.v, s, c.full)
		}
	}
}
