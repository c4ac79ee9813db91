// Package money is the marketplace's arithmetic in integer cents: price
// lines (flat recurring, per seat, one-time, metered with graduated bands),
// proration of a month, and parsing and formatting amounts. Every operation
// checks for overflow instead of wrapping; there is no floating point.
package money

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
)

// ErrOverflow is returned when a result does not fit in an int64 of cents.
var ErrOverflow = errors.New("money: amount too large")

// Kind is how a price line is charged.
type Kind string

// Line kinds.
const (
	Recurring Kind = "recurring" // every month: unit price × quantity
	OneTime   Kind = "one_time"  // once, in the first month: unit price × quantity
	Usage     Kind = "usage"     // metered: unit price per Scale units, in graduated bands
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == Recurring || k == OneTime || k == Usage }

// Label is the kind's name for people.
func (k Kind) Label() string {
	switch k {
	case Recurring:
		return "Monthly"
	case OneTime:
		return "One-time"
	case Usage:
		return "Usage"
	}
	return string(k)
}

// Unit is what a price is for. Metered units are counted in base units
// (queries, bytes) and priced per Scale of them (per million queries, per
// GB), so meters never deal in fractions.
type Unit struct {
	Key     string
	Label   string // the counted thing, e.g. "DNS queries"
	Per     string // how the price reads, e.g. "per million DNS queries"
	Scale   int64
	Metered bool
}

// Units are the known units, by key.
var Units = map[string]Unit{
	"month":          {Key: "month", Label: "months", Per: "per month", Scale: 1},
	"seat":           {Key: "seat", Label: "seats", Per: "per seat per month", Scale: 1},
	"each":           {Key: "each", Label: "items", Per: "each", Scale: 1},
	"dns_queries":    {Key: "dns_queries", Label: "DNS queries", Per: "per million DNS queries", Scale: 1_000_000, Metered: true},
	"bytes_ingested": {Key: "bytes_ingested", Label: "bytes ingested", Per: "per GB ingested", Scale: 1_000_000_000, Metered: true},
	"reports":        {Key: "reports", Label: "reports", Per: "per report", Scale: 1, Metered: true},
	"assets":         {Key: "assets", Label: "assets scanned", Per: "per asset scanned", Scale: 1, Metered: true},
	"hours":          {Key: "hours", Label: "hours", Per: "per hour", Scale: 1, Metered: true},
}

// MeteredUnits returns the metered unit keys in a stable order.
func MeteredUnits() []string {
	var out []string
	for k, u := range Units {
		if u.Metered {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// UnitsFor returns the unit keys a line of kind k may use.
func UnitsFor(k Kind) []string {
	switch k {
	case Recurring:
		return []string{"month", "seat"}
	case OneTime:
		return []string{"each"}
	case Usage:
		return MeteredUnits()
	}
	return nil
}

// Line is one price: in a price book, a quote or a subscription's rates.
type Line struct {
	Kind        Kind
	Unit        string
	Description string
	// Quantity multiplies recurring and one-time prices (seats, items);
	// usage lines ignore it.
	Quantity int64
	// FromUnits starts a usage band: the line's price applies to the units
	// above it, up to the next band of the same unit.
	FromUnits int64
	// UnitPrice is in cents: per unit per month, per item, or per Scale
	// metered units.
	UnitPrice int64
}

// Amount is a recurring line's monthly amount or a one-time line's total.
// Usage lines have no amount of their own (see RateUsage).
func (l Line) Amount() (int64, error) {
	if l.Kind == Usage {
		return 0, nil
	}
	return Mul(l.UnitPrice, l.Quantity)
}

// Check validates one line.
func (l Line) Check() error {
	if !l.Kind.Valid() {
		return fmt.Errorf("unknown kind %q", l.Kind)
	}
	ok := false
	for _, u := range UnitsFor(l.Kind) {
		ok = ok || u == l.Unit
	}
	if !ok {
		return fmt.Errorf("unit %q does not fit a %s price", l.Unit, strings.ToLower(l.Kind.Label()))
	}
	switch {
	case l.UnitPrice < 0:
		return errors.New("the price is negative")
	case l.Kind != Usage && l.Quantity <= 0:
		return errors.New("the quantity must be at least 1")
	case l.Kind == Usage && l.FromUnits < 0:
		return errors.New("a band cannot start below zero")
	case l.Kind != Usage && l.FromUnits != 0:
		return errors.New("only usage prices have bands")
	}
	_, err := l.Amount()
	return err
}

// CheckLines validates a set of lines: each line, and for each metered unit
// bands that start at zero with distinct starts.
func CheckLines(lines []Line) error {
	starts := map[string]map[int64]bool{}
	for i, l := range lines {
		if err := l.Check(); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		if l.Kind != Usage {
			continue
		}
		if starts[l.Unit] == nil {
			starts[l.Unit] = map[int64]bool{}
		}
		if starts[l.Unit][l.FromUnits] {
			return fmt.Errorf("line %d: two bands of %s start at the same quantity", i+1, Units[l.Unit].Label)
		}
		starts[l.Unit][l.FromUnits] = true
	}
	for unit, s := range starts {
		if !s[0] {
			return fmt.Errorf("the %s bands must start at 0", Units[unit].Label)
		}
	}
	if _, err := Monthly(lines); err != nil {
		return err
	}
	_, err := OneTimeTotal(lines)
	return err
}

// Monthly is the sum of the recurring lines.
func Monthly(lines []Line) (int64, error) { return sumKind(lines, Recurring) }

// OneTimeTotal is the sum of the one-time lines.
func OneTimeTotal(lines []Line) (int64, error) { return sumKind(lines, OneTime) }

func sumKind(lines []Line, k Kind) (int64, error) {
	var total int64
	for _, l := range lines {
		if l.Kind != k {
			continue
		}
		a, err := l.Amount()
		if err != nil {
			return 0, err
		}
		if total, err = Add(total, a); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// Model is an offering's pricing model, for the storefront facet.
type Model string

// Pricing models.
const (
	Flat    Model = "flat"     // only flat monthly (and one-time) prices
	PerUnit Model = "per_unit" // per seat or per metered unit, one band
	Tiered  Model = "tiered"   // graduated usage bands
)

// Label is the model's name for people.
func (m Model) Label() string {
	switch m {
	case Flat:
		return "Flat monthly"
	case PerUnit:
		return "Per unit"
	case Tiered:
		return "Graduated (volume tiers)"
	}
	return string(m)
}

// ModelOf derives the pricing model of a set of lines.
func ModelOf(lines []Line) Model {
	bands := map[string]int{}
	perUnit := false
	for _, l := range lines {
		switch {
		case l.Kind == Usage:
			bands[l.Unit]++
			perUnit = true
		case l.Kind == Recurring && l.Unit == "seat":
			perUnit = true
		}
	}
	for _, n := range bands {
		if n > 1 {
			return Tiered
		}
	}
	if perUnit {
		return PerUnit
	}
	return Flat
}

// Band is the charge of one usage band.
type Band struct {
	FromUnits int64
	Units     int64 // units charged in this band
	UnitPrice int64 // per Scale units
	Amount    int64
}

// RateUsage charges units of a metered unit through the graduated bands
// among lines: each band's price applies to the units between its start
// and the next band's start. Each band's amount is rounded half up to the
// cent; the total is their sum. Units below zero are refused.
func RateUsage(lines []Line, unit string, units int64) (int64, []Band, error) {
	if units < 0 {
		return 0, nil, errors.New("money: negative usage")
	}
	u, ok := Units[unit]
	if !ok || !u.Metered {
		return 0, nil, fmt.Errorf("money: %q is not a metered unit", unit)
	}
	var bands []Line
	for _, l := range lines {
		if l.Kind == Usage && l.Unit == unit {
			bands = append(bands, l)
		}
	}
	sort.Slice(bands, func(i, j int) bool { return bands[i].FromUnits < bands[j].FromUnits })
	var total int64
	var out []Band
	for i, b := range bands {
		if units <= b.FromUnits {
			break
		}
		upper := units
		if i+1 < len(bands) && bands[i+1].FromUnits < upper {
			upper = bands[i+1].FromUnits
		}
		n := upper - b.FromUnits
		amt, err := MulDiv(n, b.UnitPrice, u.Scale)
		if err != nil {
			return 0, nil, err
		}
		if total, err = Add(total, amt); err != nil {
			return 0, nil, err
		}
		out = append(out, Band{FromUnits: b.FromUnits, Units: n, UnitPrice: b.UnitPrice, Amount: amt})
	}
	return total, out, nil
}

// Prorate is monthly × days ÷ monthDays, rounded half up: the charge for a
// subscription active part of a month.
func Prorate(monthly int64, days, monthDays int) (int64, error) {
	if days < 0 || monthDays <= 0 || days > monthDays {
		return 0, fmt.Errorf("money: prorate %d of %d days", days, monthDays)
	}
	return MulDiv(monthly, int64(days), int64(monthDays))
}

// Add returns a+b or ErrOverflow.
func Add(a, b int64) (int64, error) {
	s := a + b
	if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
		return 0, ErrOverflow
	}
	return s, nil
}

// Mul returns a×b for non-negative a, b, or ErrOverflow.
func Mul(a, b int64) (int64, error) {
	if a < 0 || b < 0 {
		return 0, errors.New("money: negative factor")
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > 1<<63-1 {
		return 0, ErrOverflow
	}
	return int64(lo), nil
}

// MulDiv returns a×b÷c rounded half up, computed in 128 bits so that the
// product never overflows on its way; a and b are non-negative, c positive.
func MulDiv(a, b, c int64) (int64, error) {
	if a < 0 || b < 0 || c <= 0 {
		return 0, errors.New("money: MulDiv takes non-negative factors and a positive divisor")
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	// Add c/2 for rounding half up, carrying into hi.
	var carry uint64
	lo, carry = bits.Add64(lo, uint64(c)/2, 0)
	hi += carry
	if hi >= uint64(c) {
		return 0, ErrOverflow
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	if q > 1<<63-1 {
		return 0, ErrOverflow
	}
	return int64(q), nil
}

// Compact formats cents for a chart's narrow axis and bar labels, to three
// significant figures at most: $785, $37.7K, $1.25M, $2.4B. Exact amounts
// belong in tables and statements (Format).
func Compact(c int64) string {
	neg := c < 0
	d := math.Abs(float64(c)) / 100
	sign := ""
	if neg {
		sign = "-"
	}
	unit := ""
	for _, u := range []struct {
		div float64
		sym string
	}{{1e9, "B"}, {1e6, "M"}, {1e3, "K"}} {
		if math.Round(d) >= u.div {
			d, unit = d/u.div, u.sym
			break
		}
	}
	var n string
	switch {
	case unit == "":
		n = strconv.FormatFloat(math.Round(d), 'f', 0, 64)
	case d >= 100:
		n = strconv.FormatFloat(math.Round(d), 'f', 0, 64)
	case d >= 10:
		n = strconv.FormatFloat(math.Round(d*10)/10, 'f', -1, 64)
	default:
		n = strconv.FormatFloat(math.Round(d*100)/100, 'f', -1, 64)
	}
	return sign + "$" + n + unit
}

// Format writes cents as dollars: 123456 -> "$1,234.56", negative amounts
// with a minus sign.
func Format(c int64) string {
	neg := c < 0
	u := uint64(c)
	if neg {
		u = uint64(-(c + 1)) + 1 // safe for the minimum int64
	}
	d := strconv.FormatUint(u/100, 10)
	var b strings.Builder
	if neg {
		b.WriteString("-")
	}
	b.WriteByte('$')
	for i, r := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	fmt.Fprintf(&b, ".%02d", u%100)
	return b.String()
}

// Decimal writes cents as a plain decimal for CSV: 123456 -> "1234.56".
func Decimal(c int64) string {
	s := Format(c)
	s = strings.ReplaceAll(strings.Replace(s, "$", "", 1), ",", "")
	return s
}

// MaxAmount bounds amounts people type: ten billion dollars.
const MaxAmount = 1_000_000_000_000

// Parse reads a non-negative dollar amount as people type it ("1,250",
// "$1250.5", "0.85") into cents. At most two decimals; thousands separators
// only in their place; nothing above MaxAmount.
func Parse(s string) (int64, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "$")
	if s == "" {
		return 0, errors.New("enter an amount")
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	if strings.Contains(whole, ",") {
		groups := strings.Split(whole, ",")
		if len(groups[0]) == 0 || len(groups[0]) > 3 {
			return 0, errors.New("misplaced thousands separator")
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				return 0, errors.New("misplaced thousands separator")
			}
		}
		whole = strings.Join(groups, "")
	}
	if whole == "" {
		whole = "0"
	}
	if hasFrac && (len(frac) == 0 || len(frac) > 2) {
		return 0, errors.New("use at most two decimals")
	}
	if len(whole) > 13 {
		return 0, errors.New("the amount is too large")
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, errors.New("use digits, like 1250.00")
			}
		}
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, errors.New("the amount is too large")
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	c := w*100 + f
	if c > MaxAmount {
		return 0, errors.New("the amount is too large")
	}
	return c, nil
}

// Per says how the line's price reads, e.g. "per million DNS queries".
func (l Line) Per() string {
	if u, ok := Units[l.Unit]; ok {
		return u.Per
	}
	return l.Unit
}

// Metered reports whether the line is charged by metered usage.
func (l Line) Metered() bool { return l.Kind == Usage }

// Label names the line for people: its description, or what it charges.
func (l Line) Label() string {
	if l.Description != "" {
		return l.Description
	}
	switch {
	case l.Kind == Recurring && l.Unit == "month":
		return "Monthly service fee"
	case l.Kind == Recurring && l.Unit == "seat":
		return "Seats"
	case l.Kind == OneTime:
		return "One-time charge"
	}
	if u, ok := Units[l.Unit]; ok {
		return strings.ToUpper(u.Label[:1]) + u.Label[1:]
	}
	return l.Unit
}

// FromLabel describes a usage band's start in the unit people price by:
// "400 GB ingested", "100 million DNS queries", "20 reports".
func (l Line) FromLabel() string {
	u, ok := Units[l.Unit]
	if !ok {
		return strconv.FormatInt(l.FromUnits, 10)
	}
	noun := strings.TrimPrefix(u.Per, "per ")
	if u.Scale > 1 {
		whole := l.FromUnits / u.Scale
		if l.FromUnits%u.Scale == 0 {
			return strconv.FormatInt(whole, 10) + " " + noun
		}
		return strconv.FormatFloat(float64(l.FromUnits)/float64(u.Scale), 'f', 2, 64) + " " + noun
	}
	return strconv.FormatInt(l.FromUnits, 10) + " " + u.Label
}
