// Package chart draws accessible charts as server-rendered SVG: bar and line
// charts from named series of numbers, each with a text alternative and a
// data table, using neither script nor inline style (the site's content
// security policy forbids both).
//
// A chart is a value; pages render it with one call:
//
//	c := chart.Chart{ID: "trust", Title: "Trust by quarter", Summary: "Trust rose from 71% to 84%.",
//		Labels: []string{"FY 2026 Q1", "FY 2026 Q2"}, Series: []chart.Series{{Name: "Trust", Values: []float64{71, 84}}},
//		Unit: "%", Max: 100}
//	{{.Trust.LineFigure}}   in a template, or c.BarFigure()
//
// The figure holds a caption, the SVG (role="img", named by its title and
// described by the summary), and a data table in a <details> element that
// works without JavaScript. Series are told apart by more than colour: bar
// series get distinct fill patterns and line series distinct dash patterns
// and marker shapes, and every colour has at least 3:1 contrast on white
// (WCAG 2.1 success criteria 1.4.1 and 1.4.11).
package chart

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Series is one named row of values, one per label of the chart.
type Series struct {
	Name   string
	Values []float64 // NaN (see Missing) where there is no value
}

// Missing is the value of a point with no data; it is drawn as a gap and
// shown as "—" in the table.
func Missing() float64 { return math.NaN() }

// Chart describes one chart. The zero value of every optional field picks
// a sensible default.
type Chart struct {
	// ID must be unique in the page: element ids are derived from it.
	ID string
	// Title names the chart (caption and SVG title).
	Title string
	// Summary says in a sentence or two what the chart shows; it is the
	// text alternative of the SVG and is shown under the caption.
	Summary string
	// Labels are the categories (bars) or the points along the x axis
	// (lines).
	Labels []string
	Series []Series
	// Unit is appended to values: "%", " days".
	Unit string
	// Max is the top of the value axis; 0 chooses a round number above the
	// largest value.
	Max float64
	// Format renders a value without its unit; default: a whole number, or
	// one decimal for small fractional values.
	Format func(float64) string
	// Horizontal draws bars from left to right with labels on the left,
	// better for many or long labels. Line charts ignore it.
	Horizontal bool
	// Whole says the values are counts: a chosen axis top is a multiple of
	// four, so every gridline falls on a whole number.
	Whole bool
}

// Palette holds the series colours, each with at least 3:1 contrast on a
// white background (USWDS blue-60v, red-60v, green-cool-60v, violet-70v,
// orange-60v, gray-70).
var Palette = []string{"#005ea2", "#b50909", "#216e1f", "#54278f", "#8c3d10", "#3d4551"}

var dashes = []string{"", "8 4", "2 4", "10 4 2 4", "4 4", "12 3 3 3"}

const (
	ink      = "#1b1b1b"
	gridInk  = "#a9aeb1"
	fontFace = "Source Sans Pro Web, Helvetica Neue, Arial, sans-serif"
)

var idRE = regexp.MustCompile(`[^A-Za-z0-9_-]`)

func (c Chart) id() string {
	id := idRE.ReplaceAllString(c.ID, "-")
	if id == "" {
		id = "chart"
	}
	return id
}

// value formats v with the chart's format and unit.
func (c Chart) value(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	f := c.Format
	if f == nil {
		f = defaultFormat
	}
	return f(v) + c.Unit
}

// Percent formats a percentage as a whole number, the way the rest of a
// page shows them (use with Unit "%").
func Percent(v float64) string { return strconv.FormatFloat(math.Round(v), 'f', 0, 64) }

func defaultFormat(v float64) string {
	if v == math.Trunc(v) || math.Abs(v) >= 10 {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// at returns the i-th value of s, Missing when absent or not finite.
func at(s Series, i int) float64 {
	if i < len(s.Values) && !math.IsInf(s.Values[i], 0) {
		return s.Values[i]
	}
	return math.NaN()
}

// hasData reports whether any value is present.
func (c Chart) hasData() bool {
	for _, s := range c.Series {
		for i := range c.Labels {
			if !math.IsNaN(at(s, i)) {
				return true
			}
		}
	}
	return false
}

// top is the value at the top of the axis.
func (c Chart) top() float64 {
	if c.Max > 0 {
		return c.Max
	}
	m := 0.0
	for _, s := range c.Series {
		for i := range c.Labels {
			if v := at(s, i); !math.IsNaN(v) && v > m {
				m = v
			}
		}
	}
	top := NiceMax(m)
	if c.Whole {
		top = math.Max(4, math.Ceil(top/4)*4)
	}
	return top
}

// NiceMax rounds m up to the next of 1, 1.2, 1.6, 2, 2.4, 3, 4, 6 or 8
// times a power of ten: each is four times a number of at most two
// significant digits, so the gridlines at quarters of it read well (6, 12,
// 18, 24; never 6.25), and the top is at most 1.5 times m. It returns 1 for
// m <= 0.
func NiceMax(m float64) float64 {
	if m <= 0 || math.IsNaN(m) || math.IsInf(m, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{1, 1.2, 1.6, 2, 2.4, 3, 4, 6, 8, 10} {
		if f*p >= m*(1-1e-12) {
			return f * p
		}
	}
	return 10 * p
}

// clamp keeps a value inside the axis.
func clamp(v, top float64) float64 { return math.Max(0, math.Min(v, top)) }

// esc escapes text for the markup and drops what neither HTML nor SVG can
// carry (invalid UTF-8, control characters, noncharacters).
func esc(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f || r == 0xfffe || r == 0xffff || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return html.EscapeString(s)
}

func num(f float64) string { return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) }

// truncate shortens a label drawn in the SVG; the table keeps it whole.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// svgOpen writes the root element with its accessible name and description.
func (c Chart) svgOpen(b *strings.Builder, w, h int) {
	id := c.id()
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="qsmo-chart__svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="%s-title %s-desc" font-family="%s" font-size="13" fill="%s">`,
		w, h, w, h, id, id, fontFace, ink)
	fmt.Fprintf(b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, esc(c.Title), id, esc(c.Summary))
}

// patterns defines a fill pattern per series so bars differ by more than
// colour: solid, diagonal hatch, dots, cross-hatch, and so on.
func (c Chart) patterns(b *strings.Builder) {
	id := c.id()
	b.WriteString("<defs>")
	for i := range c.Series {
		col := Palette[i%len(Palette)]
		pid := fmt.Sprintf("%s-p%d", id, i)
		switch i % 4 {
		case 0:
			fmt.Fprintf(b, `<pattern id="%s" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="%s"/></pattern>`, pid, col)
		case 1:
			fmt.Fprintf(b, `<pattern id="%s" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="%s"/><rect width="3" height="8" fill="#ffffff"/></pattern>`, pid, col)
		case 2:
			fmt.Fprintf(b, `<pattern id="%s" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="%s"/><circle cx="3" cy="3" r="1.3" fill="#ffffff"/></pattern>`, pid, col)
		case 3:
			fmt.Fprintf(b, `<pattern id="%s" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="%s"/><path d="M0 4H8M4 0V8" stroke="#ffffff" stroke-width="1.5"/></pattern>`, pid, col)
		}
	}
	b.WriteString("</defs>")
}

// legend draws the series names with their swatches at the top.
func (c Chart) legend(b *strings.Builder, x, y int, line bool) {
	if len(c.Series) < 2 {
		return
	}
	id := c.id()
	for i, s := range c.Series {
		col := Palette[i%len(Palette)]
		if line {
			fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5" stroke-dasharray="%s"/>`, x, y-4, x+22, y-4, col, dashes[i%len(dashes)])
			marker(b, i, float64(x+11), float64(y-4), col)
		} else {
			fmt.Fprintf(b, `<rect x="%d" y="%d" width="14" height="14" fill="url(#%s-p%d)" stroke="%s"/>`, x, y-12, id, i, col)
		}
		name := truncate(s.Name, 28)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`, x+28, y, esc(name))
		x += 40 + 7*len([]rune(name))
	}
}

// marker draws series i's point marker: circle, square, triangle, diamond.
func marker(b *strings.Builder, i int, x, y float64, col string) {
	switch i % 4 {
	case 0:
		fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="4" fill="%s"/>`, num(x), num(y), col)
	case 1:
		fmt.Fprintf(b, `<rect x="%s" y="%s" width="8" height="8" fill="%s"/>`, num(x-4), num(y-4), col)
	case 2:
		fmt.Fprintf(b, `<path d="M%s %sL%s %sL%s %sZ" fill="%s"/>`, num(x), num(y-5), num(x+5), num(y+4), num(x-5), num(y+4), col)
	case 3:
		fmt.Fprintf(b, `<path d="M%s %sL%s %sL%s %sL%s %sZ" fill="%s"/>`, num(x), num(y-5), num(x+5), num(y), num(x), num(y+5), num(x-5), num(y), col)
	}
}

// Bar renders the chart as an SVG bar chart (grouped bars when there are
// several series).
func (c Chart) Bar() template.HTML {
	if !c.hasData() {
		return c.noData()
	}
	if c.Horizontal {
		return c.hbar()
	}
	var b strings.Builder
	top := c.top()
	n, k := len(c.Labels), max(1, len(c.Series))
	const left, right, bottom = 56, 16, 44
	legendH := 0
	if len(c.Series) > 1 {
		legendH = 28
	}
	topPad := 20 + legendH
	group := max(40, min(120, 560/max(1, n)))
	w := left + right + group*n
	w = max(w, 320)
	h := 280
	plotH := float64(h - topPad - bottom)
	c.svgOpen(&b, w, h)
	c.patterns(&b)
	c.legend(&b, left, 18, false)
	c.yAxis(&b, left, w-right, topPad, plotH, top)
	barW := float64(group-12) / float64(k)
	for i, label := range c.Labels {
		gx := float64(left + i*group + 6)
		for j, s := range c.Series {
			v := at(s, i)
			x := gx + float64(j)*barW
			if math.IsNaN(v) {
				continue
			}
			bh := plotH * clamp(v, top) / top
			y := float64(topPad) + plotH - bh
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="url(#%s-p%d)" stroke="%s"/>`,
				num(x), num(y), num(barW-2), num(bh), c.id(), j, Palette[j%len(Palette)])
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="12">%s</text>`, num(x+(barW-2)/2), num(y-4), esc(c.value(v)))
		}
		maxChars := max(4, group/7)
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle">%s</text>`, num(gx+float64(group-12)/2), h-bottom+18, esc(truncate(label, maxChars)))
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// yAxis draws the value axis with gridlines at quarters of top.
func (c Chart) yAxis(b *strings.Builder, x0, x1, y0 int, plotH, top float64) {
	for t := 0; t <= 4; t++ {
		v := top * float64(t) / 4
		y := float64(y0) + plotH - plotH*float64(t)/4
		fmt.Fprintf(b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s" stroke-width="1"%s/>`, x0, num(y), x1, num(y), gridInk, map[bool]string{true: "", false: ` stroke-dasharray="3 3"`}[t == 0])
		fmt.Fprintf(b, `<text x="%d" y="%s" text-anchor="end" font-size="12">%s</text>`, x0-6, num(y+4), esc(c.value(v)))
	}
}

// hbar draws horizontal bars, one row of bars per label.
func (c Chart) hbar() template.HTML {
	var b strings.Builder
	top := c.top()
	k := max(1, len(c.Series))
	longest := 0
	for _, l := range c.Labels {
		longest = max(longest, len([]rune(truncate(l, 32))))
	}
	left := min(240, 16+7*longest)
	const right, w = 64, 640
	legendH := 0
	if len(c.Series) > 1 {
		legendH = 28
	}
	barH := 18
	rowH := barH*k + 12
	topPad := 12 + legendH
	h := topPad + rowH*len(c.Labels) + 28
	plotW := float64(w - left - right)
	c.svgOpen(&b, w, h)
	c.patterns(&b)
	c.legend(&b, left, 18, false)
	// Value gridlines at quarters.
	for t := 0; t <= 4; t++ {
		x := float64(left) + plotW*float64(t)/4
		fmt.Fprintf(&b, `<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="%s" stroke-width="1"%s/>`, num(x), topPad, num(x), h-24, gridInk,
			map[bool]string{true: "", false: ` stroke-dasharray="3 3"`}[t == 0])
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" font-size="12">%s</text>`, num(x), h-8, esc(c.value(top*float64(t)/4)))
	}
	for i, label := range c.Labels {
		ry := topPad + i*rowH + 6
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-8, ry+rowH/2, esc(truncate(label, 32)))
		for j, s := range c.Series {
			v := at(s, i)
			if math.IsNaN(v) {
				continue
			}
			y := ry + j*barH
			bw := plotW * clamp(v, top) / top
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%s" height="%d" fill="url(#%s-p%d)" stroke="%s"/>`, left, y, num(bw), barH-3, c.id(), j, Palette[j%len(Palette)])
			fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="12">%s</text>`, num(float64(left)+bw+4), y+barH-6, esc(c.value(v)))
		}
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// Line renders the chart as an SVG line chart; a missing value breaks its
// series' line.
func (c Chart) Line() template.HTML {
	if !c.hasData() {
		return c.noData()
	}
	var b strings.Builder
	top := c.top()
	n := len(c.Labels)
	const left, right, bottom, w, h = 56, 24, 44, 640, 300
	legendH := 0
	if len(c.Series) > 1 {
		legendH = 28
	}
	topPad := 20 + legendH
	plotW, plotH := float64(w-left-right), float64(h-topPad-bottom)
	c.svgOpen(&b, w, h)
	c.legend(&b, left, 18, true)
	c.yAxis(&b, left, w-right, topPad, plotH, top)
	xAt := func(i int) float64 {
		if n == 1 {
			return float64(left) + plotW/2
		}
		return float64(left) + plotW*float64(i)/float64(n-1)
	}
	step := max(1, (n+7)/8) // at most about eight x labels
	for i, label := range c.Labels {
		if i%step != 0 && i != n-1 {
			continue
		}
		anchor := "middle"
		if n > 1 && i == 0 {
			anchor = "start"
		} else if n > 1 && i == n-1 {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="%s">%s</text>`, num(xAt(i)), h-bottom+20, anchor, esc(truncate(label, 16)))
	}
	for j, s := range c.Series {
		col := Palette[j%len(Palette)]
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5" stroke-dasharray="%s"/>`, strings.Join(seg, " "), col, dashes[j%len(dashes)])
			}
			seg = seg[:0]
		}
		for i := range c.Labels {
			v := at(s, i)
			if math.IsNaN(v) {
				flush()
				continue
			}
			y := float64(topPad) + plotH - plotH*clamp(v, top)/top
			seg = append(seg, num(xAt(i))+","+num(y))
		}
		flush()
		for i := range c.Labels {
			v := at(s, i)
			if math.IsNaN(v) {
				continue
			}
			y := float64(topPad) + plotH - plotH*clamp(v, top)/top
			marker(&b, j, xAt(i), y, col)
			if len(c.Series) == 1 {
				fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="12">%s</text>`, num(xAt(i)), num(y-9), esc(c.value(v)))
			}
		}
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

func (c Chart) noData() template.HTML {
	return template.HTML(`<p class="qsmo-chart__empty" id="` + c.id() + `-desc">No data for this period.</p>`)
}

// Table renders the data as an accessible table: one row per label, one
// column per series, with the title as caption.
func (c Chart) Table() template.HTML {
	var b strings.Builder
	b.WriteString(`<table class="usa-table usa-table--borderless qsmo-chart__table">`)
	fmt.Fprintf(&b, `<caption>%s</caption><thead><tr><th scope="col"><span class="usa-sr-only">Category</span></th>`, esc(c.Title))
	for _, s := range c.Series {
		fmt.Fprintf(&b, `<th scope="col">%s</th>`, esc(s.Name))
	}
	b.WriteString("</tr></thead><tbody>")
	for i, l := range c.Labels {
		fmt.Fprintf(&b, `<tr><th scope="row">%s</th>`, esc(l))
		for _, s := range c.Series {
			fmt.Fprintf(&b, `<td>%s</td>`, esc(c.value(at(s, i))))
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>")
	return template.HTML(b.String())
}

func (c Chart) figure(svg template.HTML) template.HTML {
	var b strings.Builder
	id := c.id()
	fmt.Fprintf(&b, `<figure class="qsmo-chart" id="%s">`, id)
	fmt.Fprintf(&b, `<figcaption class="qsmo-chart__caption"><span class="qsmo-chart__title">%s</span>`, esc(c.Title))
	if c.Summary != "" {
		fmt.Fprintf(&b, `<span class="qsmo-chart__summary">%s</span>`, esc(c.Summary))
	}
	b.WriteString(`</figcaption>`)
	b.WriteString(string(svg))
	if c.hasData() {
		fmt.Fprintf(&b, `<details class="qsmo-chart__data"><summary>Show the data as a table<span class="usa-sr-only">: %s</span></summary>`, esc(c.Title))
		b.WriteString(string(c.Table()))
		b.WriteString(`</details>`)
	}
	b.WriteString(`</figure>`)
	return template.HTML(b.String())
}

// BarFigure renders a figure with caption, bar chart and data table.
func (c Chart) BarFigure() template.HTML { return c.figure(c.Bar()) }

// LineFigure renders a figure with caption, line chart and data table.
func (c Chart) LineFigure() template.HTML { return c.figure(c.Line()) }
