// Package chart draws small accessible charts for server-rendered pages:
// inline SVG (no script, no inline style, so the strict content security
// policy holds) with a title and description for assistive technology,
// always followed by a table of the same data.
package chart

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Series is one stacked layer of a bar chart.
type Series struct {
	Name   string
	Values []float64
	// Color is the fill; pick colors with at least 3:1 contrast against
	// white (WCAG 1.4.11). Defaults cycle through Palette.
	Color string
}

// Palette holds USWDS colors that keep 3:1 contrast on white.
var Palette = []string{"#005ea2", "#b50909", "#2e6276", "#936f38", "#4d8055"}

// Bars is a stacked bar chart over labelled points (typically time steps).
type Bars struct {
	// ID is unique on the page; it prefixes the element ids.
	ID    string
	Title string
	// Desc summarizes what the chart shows, for screen readers.
	Desc   string
	Labels []string // one per point
	Series []Series
	// Unit names what a value counts ("queries"), for the table header.
	Unit string
	// Width and Height of the drawing in SVG units (defaults 720 × 240);
	// the SVG scales to its container.
	Width, Height int
}

const (
	padLeft   = 56
	padRight  = 12
	padTop    = 12
	padBottom = 40
)

// Render returns a figure with the chart, its legend and a collapsed table
// of the data.
func (b Bars) Render() template.HTML {
	var sb strings.Builder
	id := html.EscapeString(b.ID)
	sb.WriteString(`<figure class="qsmo-chart">`)
	fmt.Fprintf(&sb, `<figcaption id="%s-caption" class="text-bold">%s</figcaption>`, id, html.EscapeString(b.Title))
	sb.WriteString(string(b.SVG()))
	sb.WriteString(string(b.legend()))
	sb.WriteString(string(b.Table()))
	sb.WriteString(`</figure>`)
	return template.HTML(sb.String())
}

// SVG returns the chart alone.
func (b Bars) SVG() template.HTML {
	w, h := b.Width, b.Height
	if w <= 0 {
		w = 720
	}
	if h <= 0 {
		h = 240
	}
	n := len(b.Labels)
	totals := make([]float64, n)
	for _, s := range b.Series {
		for i := 0; i < n && i < len(s.Values); i++ {
			if v := s.Values[i]; v > 0 && !math.IsInf(v, 0) {
				totals[i] += v
			}
		}
	}
	top := niceMax(maxOf(totals))
	plotW, plotH := float64(w-padLeft-padRight), float64(h-padTop-padBottom)
	id := html.EscapeString(b.ID)
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s-title %s-desc" focusable="false">`, w, h, id, id)
	fmt.Fprintf(&sb, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, html.EscapeString(b.Title), id, html.EscapeString(b.Desc))
	// Grid lines and y labels at 0, half and the top.
	for _, frac := range []float64{0, 0.5, 1} {
		y := padTop + plotH*(1-frac)
		fmt.Fprintf(&sb, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#a9aeb1" stroke-width="1"/>`, padLeft, w-padRight, y, y)
		fmt.Fprintf(&sb, `<text x="%d" y="%.1f" text-anchor="end" font-size="12" fill="#1b1b1b">%s</text>`, padLeft-6, y+4, Short(top*frac))
	}
	if n > 0 {
		slot := plotW / float64(n)
		barW := math.Max(1, slot*0.8)
		for i := 0; i < n; i++ {
			x := padLeft + slot*float64(i) + (slot-barW)/2
			base := padTop + plotH
			for si, s := range b.Series {
				if i >= len(s.Values) || s.Values[i] <= 0 || top == 0 {
					continue
				}
				bh := plotH * s.Values[i] / top
				base -= bh
				fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x, base, barW, bh, html.EscapeString(b.color(si)))
			}
		}
		// About six x labels, evenly spread.
		every := max(1, (n+5)/6)
		for i := 0; i < n; i += every {
			x := padLeft + slot*float64(i) + slot/2
			fmt.Fprintf(&sb, `<text x="%.1f" y="%d" text-anchor="middle" font-size="12" fill="#1b1b1b">%s</text>`, x, h-padBottom+18, html.EscapeString(b.Labels[i]))
		}
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

func (b Bars) color(i int) string {
	if c := b.Series[i].Color; c != "" {
		return c
	}
	return Palette[i%len(Palette)]
}

// legend names the series with their colors; the swatches are decoration,
// the names carry the meaning.
func (b Bars) legend() template.HTML {
	var sb strings.Builder
	sb.WriteString(`<ul class="usa-list usa-list--unstyled qsmo-chart-legend">`)
	for i, s := range b.Series {
		fmt.Fprintf(&sb, `<li><svg xmlns="http://www.w3.org/2000/svg" width="12" height="12" viewBox="0 0 12 12" aria-hidden="true" focusable="false"><rect width="12" height="12" fill="%s"/></svg> %s</li>`,
			html.EscapeString(b.color(i)), html.EscapeString(s.Name))
	}
	sb.WriteString(`</ul>`)
	return template.HTML(sb.String())
}

// Table returns the data as a table inside a collapsed details element.
func (b Bars) Table() template.HTML {
	var sb strings.Builder
	sb.WriteString(`<details class="qsmo-chart-data"><summary>Show the data as a table</summary><div class="qsmo-table-wrap">`)
	sb.WriteString(`<table class="usa-table usa-table--borderless usa-table--compact">`)
	fmt.Fprintf(&sb, `<caption>%s</caption><thead><tr><th scope="col">%s</th>`, html.EscapeString(b.Title), "Period")
	for _, s := range b.Series {
		fmt.Fprintf(&sb, `<th scope="col">%s</th>`, html.EscapeString(s.Name))
	}
	sb.WriteString(`</tr></thead><tbody>`)
	for i, l := range b.Labels {
		fmt.Fprintf(&sb, `<tr><th scope="row">%s</th>`, html.EscapeString(l))
		for _, s := range b.Series {
			v := 0.0
			if i < len(s.Values) {
				v = s.Values[i]
			}
			fmt.Fprintf(&sb, `<td>%s</td>`, Number(v))
		}
		sb.WriteString(`</tr>`)
	}
	sb.WriteString(`</tbody></table></div></details>`)
	return template.HTML(sb.String())
}

func maxOf(vs []float64) float64 {
	m := 0.0
	for _, v := range vs {
		if v > m {
			m = v
		}
	}
	return m
}

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten, so the
// axis reads well.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// Short formats a count compactly: 950, 1.2k, 3.4M.
func Short(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return trim(v/1e9) + "B"
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e3:
		return trim(v/1e3) + "k"
	default:
		return trim(v)
	}
}

func trim(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}

// Number formats a count with thousands separators: 1234567 -> "1,234,567".
func Number(v float64) string {
	neg := v < 0
	s := strconv.FormatFloat(math.Abs(math.Round(v)), 'f', 0, 64)
	var sb strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			sb.WriteByte(',')
		}
		sb.WriteRune(r)
	}
	if neg {
		return "−" + sb.String()
	}
	return sb.String()
}
