package web

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Series is one named sequence of values, one value per label of its chart.
type Series struct {
	Name   string
	Values []float64
}

// Chart is a bar or line chart drawn on the server as SVG, with a text
// alternative: the SVG carries a title and a summary for screen readers,
// and the same figures follow in a data table inside a disclosure. Charts
// use SVG attributes only (no style attributes), so they pass the strict
// content security policy, and work without JavaScript.
type Chart struct {
	// ID is unique on the page; element IDs derive from it.
	ID    string
	Title string
	// Summary says in a sentence or two what the chart shows, e.g. "Protective
	// DNS leads with 14 agencies."; it is the chart's text alternative.
	Summary string
	Labels  []string
	Series  []Series
	// Format writes a value for labels and the table (default: a whole
	// number with thousands separators).
	Format func(v float64) string
	// Horizontal draws bars as rows, which suits long labels.
	Horizontal bool
}

// chartColors meet 3:1 contrast against white (WCAG non-text contrast) and
// stay distinguishable for common colour-vision deficiencies.
var chartColors = []string{"#005ea2", "#c05600", "#008817", "#8b0a03", "#54278f", "#1a4480"}

const (
	chartW = 640
	axis   = "#565c65"
	ink    = "#1b1b1b"
)

func (c Chart) format(v float64) string {
	if c.Format != nil {
		return c.Format(v)
	}
	return FormatInt(int64(math.Round(v)))
}

// FormatInt writes n with thousands separators: 1234567 -> "1,234,567".
func FormatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (c Chart) id() string {
	var b strings.Builder
	for _, r := range strings.ToLower(c.ID) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "chart"
	}
	return "chart-" + b.String()
}

func (c Chart) empty() bool {
	if len(c.Labels) == 0 {
		return true
	}
	for _, s := range c.Series {
		for _, v := range s.Values {
			if v != 0 {
				return false
			}
		}
	}
	return true
}

func (c Chart) maxValue() float64 {
	m := 0.0
	for _, s := range c.Series {
		for _, v := range s.Values {
			m = math.Max(m, v)
		}
	}
	return niceCeil(m)
}

// niceCeil rounds up to 1, 2, 2.5 or 5 times a power of ten, so axis
// ticks at quarters read as round numbers.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(v)))
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if f*mag >= v {
			return f * mag
		}
	}
	return 10 * mag
}

func (c Chart) value(s Series, i int) float64 {
	if i < len(s.Values) && !math.IsNaN(s.Values[i]) && !math.IsInf(s.Values[i], 0) {
		return math.Max(0, s.Values[i])
	}
	return 0
}

func truncateLabel(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Bar renders the chart as grouped bars.
func (c Chart) Bar() template.HTML { return c.render(true) }

// Line renders the chart as lines over the labels (e.g. months).
func (c Chart) Line() template.HTML { return c.render(false) }

func (c Chart) render(bar bool) template.HTML {
	var b strings.Builder
	id := c.id()
	esc := html.EscapeString
	fmt.Fprintf(&b, `<figure class="qsmo-chart" id="%s" aria-labelledby="%s-caption">`, id, id)
	fmt.Fprintf(&b, `<figcaption class="qsmo-chart__caption" id="%s-caption">%s</figcaption>`, id, esc(c.Title))
	if c.empty() {
		fmt.Fprintf(&b, `<p class="qsmo-muted">No data yet.</p></figure>`)
		return template.HTML(b.String())
	}
	switch {
	case bar && c.Horizontal:
		c.horizontalBars(&b, id)
	case bar:
		c.verticalBars(&b, id)
	default:
		c.lines(&b, id)
	}
	c.table(&b)
	b.WriteString(`</figure>`)
	return template.HTML(b.String())
}

func (c Chart) svgOpen(b *strings.Builder, id string, h int) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s-title %s-desc" focusable="false">`, chartW, h, id, id)
	fmt.Fprintf(b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, html.EscapeString(c.Title), id, html.EscapeString(c.Summary))
}

// legend draws series names at the top and returns the height it used.
func (c Chart) legend(b *strings.Builder) int {
	if len(c.Series) < 2 {
		return 0
	}
	x := 8
	for i, s := range c.Series {
		color := chartColors[i%len(chartColors)]
		fmt.Fprintf(b, `<rect x="%d" y="6" width="12" height="12" fill="%s"/>`, x, color)
		name := truncateLabel(s.Name, 28)
		fmt.Fprintf(b, `<text x="%d" y="16" font-size="12" fill="%s">%s</text>`, x+16, ink, html.EscapeString(name))
		x += 16 + 7*utf8.RuneCountInString(name) + 16
	}
	return 24
}

func (c Chart) horizontalBars(b *strings.Builder, id string) {
	n := len(c.Labels)
	ns := max(1, len(c.Series))
	barH := 14
	rowH := barH*ns + 10
	left, right := 190, 70
	top := 8
	h := top + rowH*n + 28
	legendH := 0
	if ns > 1 {
		legendH = 24
		h += legendH
	}
	c.svgOpen(b, id, h)
	c.legend(b)
	top += legendH
	maxV := c.maxValue()
	plotW := float64(chartW - left - right)
	for i, label := range c.Labels {
		y := top + i*rowH
		fmt.Fprintf(b, `<text x="%d" y="%d" font-size="12" text-anchor="end" fill="%s">%s</text>`, left-8, y+rowH/2+4, ink, html.EscapeString(truncateLabel(label, 28)))
		for j, s := range c.Series {
			v := c.value(s, i)
			w := v / maxV * plotW
			by := y + 4 + j*barH
			fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, left, by, w, barH-2, chartColors[j%len(chartColors)])
			fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" fill="%s">%s</text>`, float64(left)+w+4, by+barH-4, ink, html.EscapeString(c.format(v)))
		}
	}
	base := top + rowH*n
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, left, top, left, base, axis)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, left, base, chartW-right, base, axis)
	for k := 0; k <= 4; k++ {
		v := maxV * float64(k) / 4
		x := float64(left) + plotW*float64(k)/4
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="%s">%s</text>`, x, base+16, axis, html.EscapeString(c.format(v)))
	}
	b.WriteString(`</svg>`)
}

func (c Chart) verticalBars(b *strings.Builder, id string) {
	h := 300
	c.svgOpen(b, id, h)
	legendH := c.legend(b)
	left, right, top, bottom := 64, 12, 12+legendH, 48
	c.yAxis(b, left, right, top, h-bottom)
	n := len(c.Labels)
	ns := max(1, len(c.Series))
	plotW := float64(chartW - left - right)
	plotH := float64(h - bottom - top)
	slot := plotW / float64(n)
	barW := math.Min(48, slot*0.8/float64(ns))
	maxV := c.maxValue()
	for i, label := range c.Labels {
		x0 := float64(left) + slot*float64(i) + (slot-barW*float64(ns))/2
		for j, s := range c.Series {
			v := c.value(s, i)
			bh := v / maxV * plotH
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x0+barW*float64(j), float64(h-bottom)-bh, barW-1, bh, chartColors[j%len(chartColors)])
		}
		maxChars := max(3, int(slot/7))
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="%s">%s</text>`, float64(left)+slot*(float64(i)+0.5), h-bottom+16, ink, html.EscapeString(truncateLabel(label, maxChars)))
	}
	b.WriteString(`</svg>`)
}

func (c Chart) yAxis(b *strings.Builder, left, right, top, base int) {
	maxV := c.maxValue()
	for k := 0; k <= 4; k++ {
		v := maxV * float64(k) / 4
		y := float64(base) - float64(base-top)*float64(k)/4
		if k > 0 {
			fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dfe1e2"/>`, left, y, chartW-right, y)
		}
		fmt.Fprintf(b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="%s">%s</text>`, left-6, y+4, axis, html.EscapeString(c.format(v)))
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, left, top, left, base, axis)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, left, base, chartW-right, base, axis)
}

func (c Chart) lines(b *strings.Builder, id string) {
	h := 280
	c.svgOpen(b, id, h)
	legendH := c.legend(b)
	left, right, top, bottom := 64, 16, 12+legendH, 48
	c.yAxis(b, left, right, top, h-bottom)
	n := len(c.Labels)
	plotW := float64(chartW - left - right)
	plotH := float64(h - bottom - top)
	maxV := c.maxValue()
	x := func(i int) float64 {
		if n == 1 {
			return float64(left) + plotW/2
		}
		return float64(left) + plotW*float64(i)/float64(n-1)
	}
	every := max(1, n/8) // at most about eight x labels
	for i, label := range c.Labels {
		if i%every == 0 || i == n-1 {
			fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="%s">%s</text>`, x(i), h-bottom+16, ink, html.EscapeString(truncateLabel(label, 10)))
		}
	}
	for j, s := range c.Series {
		color := chartColors[j%len(chartColors)]
		var pts []string
		for i := range c.Labels {
			y := float64(h-bottom) - c.value(s, i)/maxV*plotH
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y))
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5"/>`, strings.Join(pts, " "), color)
		for _, p := range pts {
			xy := strings.SplitN(p, ",", 2)
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`, xy[0], xy[1], color)
		}
	}
	b.WriteString(`</svg>`)
}

func (c Chart) table(b *strings.Builder) {
	esc := html.EscapeString
	fmt.Fprintf(b, `<details class="qsmo-chart__data"><summary>Data table: %s</summary><div class="qsmo-table-wrap" tabindex="0" role="region" aria-label="Data: %s"><table class="usa-table usa-table--compact usa-table--borderless">`, esc(c.Title), esc(c.Title))
	fmt.Fprintf(b, `<caption class="usa-sr-only">%s</caption><thead><tr><th scope="col"><span class="usa-sr-only">Category</span></th>`, esc(c.Title))
	for _, s := range c.Series {
		fmt.Fprintf(b, `<th scope="col">%s</th>`, esc(s.Name))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for i, label := range c.Labels {
		fmt.Fprintf(b, `<tr><th scope="row">%s</th>`, esc(label))
		for _, s := range c.Series {
			v := 0.0
			if i < len(s.Values) {
				v = s.Values[i]
			}
			fmt.Fprintf(b, `<td>%s</td>`, esc(c.format(v)))
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table></div></details>`)
}
