package money

import (
	"errors"
	"math"
	"testing"
)

func TestMulDiv(t *testing.T) {
	cases := []struct {
		a, b, c, want int64
	}{
		{10, 3, 4, 8}, // 7.5 rounds half up
		{10, 1, 4, 3}, // 2.5 rounds up
		{9, 1, 4, 2},  // 2.25 rounds down
		{0, 5, 7, 0},  // nothing
		{1, 1, 3, 0},  // 0.33
		{2, 1, 3, 1},  // 0.67
		{math.MaxInt64, 1, 1, math.MaxInt64},
		// The product overflows 64 bits but the quotient fits.
		{4_000_000_000_000, 4_000_000_000_000, 1_000_000_000_000, 16_000_000_000_000},
	}
	for _, c := range cases {
		got, err := MulDiv(c.a, c.b, c.c)
		if err != nil || got != c.want {
			t.Errorf("MulDiv(%d, %d, %d) = %d, %v; want %d", c.a, c.b, c.c, got, err, c.want)
		}
	}
	if _, err := MulDiv(math.MaxInt64, 2, 1); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflow not reported: %v", err)
	}
	if _, err := MulDiv(1, 1, 0); err == nil {
		t.Error("division by zero accepted")
	}
	if _, err := MulDiv(-1, 1, 1); err == nil {
		t.Error("negative factor accepted")
	}
}

func TestAddMul(t *testing.T) {
	if _, err := Add(math.MaxInt64, 1); !errors.Is(err, ErrOverflow) {
		t.Error("Add overflow not reported")
	}
	if _, err := Add(math.MinInt64, -1); !errors.Is(err, ErrOverflow) {
		t.Error("Add underflow not reported")
	}
	if s, err := Add(-5, 12); err != nil || s != 7 {
		t.Errorf("Add(-5, 12) = %d, %v", s, err)
	}
	if _, err := Mul(1<<32, 1<<32); !errors.Is(err, ErrOverflow) {
		t.Error("Mul overflow not reported")
	}
	if p, err := Mul(125_000, 12); err != nil || p != 1_500_000 {
		t.Errorf("Mul = %d, %v", p, err)
	}
}

func TestProrate(t *testing.T) {
	cases := []struct {
		monthly   int64
		days, in  int
		want      int64
		wantError bool
	}{
		{300_000, 30, 30, 300_000, false},
		{300_000, 15, 30, 150_000, false},
		{100_000, 10, 31, 32_258, false}, // 32258.06
		{100_000, 1, 31, 3_226, false},   // 3225.8
		{100_000, 0, 28, 0, false},
		{100_000, 29, 28, 0, true},
		{100_000, -1, 28, 0, true},
	}
	for _, c := range cases {
		got, err := Prorate(c.monthly, c.days, c.in)
		if (err != nil) != c.wantError || got != c.want {
			t.Errorf("Prorate(%d, %d, %d) = %d, %v; want %d (error %v)", c.monthly, c.days, c.in, got, err, c.want, c.wantError)
		}
	}
}

// dnsBands: the first 10 million queries are included, the next 90 million
// cost $0.85 per million, beyond that $0.60 per million.
var dnsBands = []Line{
	{Kind: Recurring, Unit: "month", Quantity: 1, UnitPrice: 150_000},
	{Kind: Usage, Unit: "dns_queries", FromUnits: 100_000_000, UnitPrice: 60},
	{Kind: Usage, Unit: "dns_queries", FromUnits: 0, UnitPrice: 0},
	{Kind: Usage, Unit: "dns_queries", FromUnits: 10_000_000, UnitPrice: 85},
}

func TestRateUsage(t *testing.T) {
	cases := []struct {
		units int64
		want  int64
	}{
		{0, 0},
		{9_999_999, 0},
		{10_000_000, 0},
		{11_000_000, 85},
		{10_500_000, 43}, // 42.5 rounds up
		{100_000_000, 7_650},
		{250_000_000, 7_650 + 9_000},
	}
	for _, c := range cases {
		got, bands, err := RateUsage(dnsBands, "dns_queries", c.units)
		if err != nil || got != c.want {
			t.Errorf("RateUsage(%d) = %d, %v; want %d", c.units, got, err, c.want)
		}
		var sum, units int64
		for _, b := range bands {
			sum += b.Amount
			units += b.Units
		}
		if sum != got || units != c.units {
			t.Errorf("RateUsage(%d): bands sum to %d cents, %d units", c.units, sum, units)
		}
	}
	if _, _, err := RateUsage(dnsBands, "dns_queries", -1); err == nil {
		t.Error("negative usage accepted")
	}
	if _, _, err := RateUsage(dnsBands, "seat", 1); err == nil {
		t.Error("a non-metered unit was rated")
	}
	// Gigabytes are metered in bytes: 2.5 GB at $0.10 per GB is 25 cents.
	got, _, err := RateUsage([]Line{{Kind: Usage, Unit: "bytes_ingested", UnitPrice: 10}}, "bytes_ingested", 2_500_000_000)
	if err != nil || got != 25 {
		t.Errorf("2.5 GB = %d, %v; want 25", got, err)
	}
}

func TestCheckLines(t *testing.T) {
	if err := CheckLines(dnsBands); err != nil {
		t.Fatalf("valid price book refused: %v", err)
	}
	bad := map[string][]Line{
		"unknown kind":          {{Kind: "monthly", Unit: "month", Quantity: 1}},
		"unit of another kind":  {{Kind: Recurring, Unit: "dns_queries", Quantity: 1}},
		"negative price":        {{Kind: Recurring, Unit: "month", Quantity: 1, UnitPrice: -1}},
		"zero quantity":         {{Kind: OneTime, Unit: "each", Quantity: 0, UnitPrice: 5}},
		"bands not from zero":   {{Kind: Usage, Unit: "reports", FromUnits: 5, UnitPrice: 5}},
		"duplicate band starts": {{Kind: Usage, Unit: "reports", UnitPrice: 5}, {Kind: Usage, Unit: "reports", UnitPrice: 4}},
		"band on a flat price":  {{Kind: Recurring, Unit: "month", Quantity: 1, FromUnits: 3}},
		"overflowing total":     {{Kind: Recurring, Unit: "seat", Quantity: math.MaxInt64 / 2, UnitPrice: 3}},
	}
	for name, lines := range bad {
		if err := CheckLines(lines); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestModelOf(t *testing.T) {
	if m := ModelOf(dnsBands); m != Tiered {
		t.Errorf("banded usage is %s", m)
	}
	if m := ModelOf([]Line{{Kind: Recurring, Unit: "month"}, {Kind: OneTime, Unit: "each"}}); m != Flat {
		t.Errorf("flat monthly is %s", m)
	}
	if m := ModelOf([]Line{{Kind: Recurring, Unit: "seat"}}); m != PerUnit {
		t.Errorf("per seat is %s", m)
	}
	if m := ModelOf([]Line{{Kind: Usage, Unit: "reports"}}); m != PerUnit {
		t.Errorf("per report is %s", m)
	}
}

func TestMonthlyAndOneTime(t *testing.T) {
	lines := []Line{
		{Kind: Recurring, Unit: "month", Quantity: 1, UnitPrice: 250_000},
		{Kind: Recurring, Unit: "seat", Quantity: 40, UnitPrice: 1_250},
		{Kind: OneTime, Unit: "each", Quantity: 2, UnitPrice: 500_000},
		{Kind: Usage, Unit: "reports", UnitPrice: 99_900},
	}
	if m, err := Monthly(lines); err != nil || m != 300_000 {
		t.Errorf("Monthly = %d, %v", m, err)
	}
	if o, err := OneTimeTotal(lines); err != nil || o != 1_000_000 {
		t.Errorf("OneTimeTotal = %d, %v", o, err)
	}
}

func TestFormatAndParse(t *testing.T) {
	for c, want := range map[int64]string{0: "$0.00", 5: "$0.05", 123456: "$1,234.56", 100000000: "$1,000,000.00", -250: "-$2.50", math.MinInt64: "-$92,233,720,368,547,758.08"} {
		if got := Format(c); got != want {
			t.Errorf("Format(%d) = %q, want %q", c, got, want)
		}
	}
	if got := Decimal(123456); got != "1234.56" {
		t.Errorf("Decimal = %q", got)
	}
	good := map[string]int64{"1250": 125000, "$1,250.50": 125050, "0.85": 85, ".5": 50, "1,000,000": 100000000, " 7 ": 700}
	for in, want := range good {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "$", "1.234", "1,00", ",100", "12,3456", "-5", "1e3", "10000000001", "1.", "abc", "1 000"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %d, want an error", in, got)
		}
	}
}

func TestCompact(t *testing.T) {
	for _, tc := range []struct {
		cents int64
		want  string
	}{
		{0, "$0"}, {7_854, "$79"}, {99_949, "$999"}, {99_950, "$1K"}, {3_774_924, "$37.7K"}, {1_250_000, "$12.5K"},
		{12_345_678, "$123K"}, {125_000_000, "$1.25M"}, {-3_774_924, "-$37.7K"}, {240_000_000_000, "$2.4B"},
	} {
		if got := Compact(tc.cents); got != tc.want {
			t.Errorf("Compact(%d) = %q, want %q", tc.cents, got, tc.want)
		}
	}
}
