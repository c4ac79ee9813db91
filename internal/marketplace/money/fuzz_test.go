package money

import (
	"testing"
)

// FuzzParse: whatever people type, Parse either refuses it or returns a
// bounded non-negative amount whose formatted form parses back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1250", "$1,250.50", "0.85", ".5", "1,000,000", "1.234", "-5", "9999999999999.99", "$,", "0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			return
		}
		if c < 0 || c > MaxAmount {
			t.Fatalf("Parse(%q) = %d out of range", s, c)
		}
		back, err := Parse(Format(c))
		if err != nil || back != c {
			t.Fatalf("Parse(Format(%d)) = %d, %v", c, back, err)
		}
		back, err = Parse(Decimal(c))
		if err != nil || back != c {
			t.Fatalf("Parse(Decimal(%d)) = %d, %v", c, back, err)
		}
	})
}

// FuzzRateUsage: charging more units never costs less, a single band is
// exactly units × price ÷ scale rounded half up, and splitting a band at an
// extra boundary with the same price changes the total by at most one cent
// per band (rounding happens per band).
func FuzzRateUsage(f *testing.F) {
	f.Add(int64(1_000_000), int64(85), int64(10_000_000), int64(60), int64(50_000_000))
	f.Add(int64(0), int64(0), int64(1), int64(1), int64(1))
	f.Fuzz(func(t *testing.T, units, p1, from2, p2, units2 int64) {
		if units < 0 || p1 < 0 || p1 > 1_000_000_00 || from2 <= 0 || p2 < 0 || p2 > 1_000_000_00 || units > 1<<50 || units2 < 0 || units2 > 1<<50 {
			return
		}
		lines := []Line{{Kind: Usage, Unit: "dns_queries", UnitPrice: p1}, {Kind: Usage, Unit: "dns_queries", FromUnits: from2, UnitPrice: p2}}
		if err := CheckLines(lines); err != nil {
			t.Fatalf("CheckLines: %v", err)
		}
		a, _, err := RateUsage(lines, "dns_queries", units)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := RateUsage(lines, "dns_queries", units+units2)
		if err != nil {
			t.Fatal(err)
		}
		if b < a {
			// Rounding half up is monotone in each band, so more units
			// never cost less.
			t.Fatalf("%d units cost %d but %d units cost %d", units, a, units+units2, b)
		}
		single, _, err := RateUsage(lines[:1], "dns_queries", units)
		if err != nil {
			t.Fatal(err)
		}
		want, err := MulDiv(units, p1, 1_000_000)
		if err != nil || single != want {
			t.Fatalf("single band %d, want %d (%v)", single, want, err)
		}
		split := []Line{lines[0], {Kind: Usage, Unit: "dns_queries", FromUnits: from2, UnitPrice: p1}}
		s2, _, err := RateUsage(split, "dns_queries", units)
		if err != nil {
			t.Fatal(err)
		}
		if d := s2 - single; d < -1 || d > 1 {
			t.Fatalf("splitting a band changed the total by %d cents", d)
		}
	})
}
