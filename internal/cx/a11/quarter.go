package a11

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Quarter is a federal fiscal quarter, the period A-11 data is reported
// for: fiscal year FY runs from October 1 of the year before to September
// 30, so FY2026 Q1 is October to December 2025.
type Quarter struct {
	FY int // fiscal year, e.g. 2026
	Q  int // 1 to 4
}

// QuarterOf returns the fiscal quarter containing t (in UTC).
func QuarterOf(t time.Time) Quarter {
	t = t.UTC()
	m := int(t.Month())
	fy := t.Year()
	if m >= 10 {
		fy++
	}
	return Quarter{FY: fy, Q: (m+2)%12/3 + 1}
}

// IsZero reports whether q is the zero quarter.
func (q Quarter) IsZero() bool { return q == Quarter{} }

// Valid reports whether q is a real quarter in the years qsmo handles.
func (q Quarter) Valid() bool { return q.FY >= 2000 && q.FY <= 2200 && q.Q >= 1 && q.Q <= 4 }

// String is the canonical form used in URLs, storage and exports:
// "FY2026Q3". It sorts in time order as text.
func (q Quarter) String() string {
	if !q.Valid() {
		return ""
	}
	return fmt.Sprintf("FY%04dQ%d", q.FY, q.Q)
}

// Label is the quarter for people: "FY 2026 Q3".
func (q Quarter) Label() string {
	if !q.Valid() {
		return ""
	}
	return fmt.Sprintf("FY %d Q%d", q.FY, q.Q)
}

// Start is the first instant of the quarter, UTC.
func (q Quarter) Start() time.Time {
	year, month := q.FY-1, time.Month(10+3*(q.Q-1))
	if month > 12 {
		year, month = q.FY, month-12
	}
	return time.Date(year, month, 1, 0, 0, 0, 0, time.UTC)
}

// End is the first instant after the quarter, UTC.
func (q Quarter) End() time.Time { return q.Next().Start() }

// Span names the quarter's months: "Apr–Jun 2026".
func (q Quarter) Span() string {
	s, e := q.Start(), q.End().AddDate(0, 0, -1)
	if s.Year() != e.Year() {
		return s.Format("Jan 2006") + "–" + e.Format("Jan 2006")
	}
	return s.Format("Jan") + "–" + e.Format("Jan 2006")
}

// Next returns the following quarter.
func (q Quarter) Next() Quarter {
	if q.Q == 4 {
		return Quarter{FY: q.FY + 1, Q: 1}
	}
	return Quarter{FY: q.FY, Q: q.Q + 1}
}

// Prev returns the preceding quarter.
func (q Quarter) Prev() Quarter {
	if q.Q == 1 {
		return Quarter{FY: q.FY - 1, Q: 4}
	}
	return Quarter{FY: q.FY, Q: q.Q - 1}
}

// Before reports whether q comes before o.
func (q Quarter) Before(o Quarter) bool {
	return q.FY < o.FY || q.FY == o.FY && q.Q < o.Q
}

// ParseQuarter reads "FY2026Q3" (case-insensitive; "FY2026-Q3" and
// "FY 2026 Q3" are accepted too).
func ParseQuarter(s string) (Quarter, error) {
	t := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return unicode.ToUpper(r)
	}, strings.TrimSpace(s))
	rest, ok := strings.CutPrefix(t, "FY")
	if !ok || len(rest) != 6 || rest[4] != 'Q' {
		return Quarter{}, fmt.Errorf("a11: quarter %q is not like FY2026Q3", s)
	}
	fy, err1 := strconv.Atoi(rest[:4])
	qn, err2 := strconv.Atoi(rest[5:])
	q := Quarter{FY: fy, Q: qn}
	if err1 != nil || err2 != nil || rest[0] == '+' || rest[0] == '-' || !q.Valid() {
		return Quarter{}, fmt.Errorf("a11: quarter %q is not like FY2026Q3", s)
	}
	return q, nil
}

// MaxRange bounds how many quarters Range returns.
const MaxRange = 40

// Range returns the quarters from from to to, inclusive, at most MaxRange
// of them (the most recent ones); empty when to is before from.
func Range(from, to Quarter) []Quarter {
	var out []Quarter
	for q := to; !q.Before(from) && len(out) < MaxRange; q = q.Prev() {
		out = append(out, q)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
