package a11

import (
	"fmt"
	"strconv"
)

// Ratio is a part of a whole, kept as counts so that percentages are
// computed once, with one rounding rule, where they are shown.
type Ratio struct {
	Part, Whole int
}

// Valid reports whether the ratio has a whole to divide by.
func (r Ratio) Valid() bool { return r.Whole > 0 }

// Percent is the ratio as a whole percentage rounded half up; 0 when the
// whole is 0 (check Valid).
func (r Ratio) Percent() int {
	if r.Whole <= 0 {
		return 0
	}
	return (200*r.Part + r.Whole) / (2 * r.Whole)
}

// Float is the exact percentage, for charts; 0 when the whole is 0.
func (r Ratio) Float() float64 {
	if r.Whole <= 0 {
		return 0
	}
	return 100 * float64(r.Part) / float64(r.Whole)
}

// String shows the percentage ("82%"), or "—" without a whole.
func (r Ratio) String() string {
	if !r.Valid() {
		return "—"
	}
	return strconv.Itoa(r.Percent()) + "%"
}

// Scale5 sums five-point answers.
type Scale5 struct {
	N     int // answers
	Sum   int // sum of values
	Agree int // answers of 4 or 5
}

// Mean shows the average to one decimal ("4.2"), or "—" without answers.
func (s Scale5) Mean() string {
	if s.N == 0 {
		return "—"
	}
	tenths := (20*s.Sum + s.N) / (2 * s.N) // mean×10 rounded half up
	return fmt.Sprintf("%d.%d", tenths/10, tenths%10)
}

// AgreeShare is the share of answers that agree or strongly agree.
func (s Scale5) AgreeShare() Ratio { return Ratio{s.Agree, s.N} }

// Tally adds up answers. Each question is counted over the people who
// answered it: a skipped question neither helps nor hurts a score.
type Tally struct {
	Responses int
	TrustUp   int
	TrustDown int
	// WentWellN and NotWellN count responses that answered each driver
	// question; WentWell and NotWell count each driver's ticks.
	WentWellN int
	NotWellN  int
	WentWell  [NumDrivers]int
	NotWell   [NumDrivers]int
	Classic   [NumClassic]Scale5
}

// Add counts one answer.
func (t *Tally) Add(a Answer) {
	t.Responses++
	switch a.Trust {
	case ThumbsUp:
		t.TrustUp++
	case ThumbsDown:
		t.TrustDown++
	}
	if a.WentWell != 0 {
		t.WentWellN++
		for _, d := range Drivers {
			if a.WentWell.Has(d) {
				t.WentWell[d]++
			}
		}
	}
	if a.NotWell != 0 {
		t.NotWellN++
		for _, d := range Drivers {
			if a.NotWell.Has(d) {
				t.NotWell[d]++
			}
		}
	}
	for i, v := range a.Classic {
		if v >= 1 && v <= 5 {
			t.Classic[i].N++
			t.Classic[i].Sum += int(v)
			if v >= 4 {
				t.Classic[i].Agree++
			}
		}
	}
}

// Merge adds another tally's counts to t.
func (t *Tally) Merge(o Tally) {
	t.Responses += o.Responses
	t.TrustUp += o.TrustUp
	t.TrustDown += o.TrustDown
	t.WentWellN += o.WentWellN
	t.NotWellN += o.NotWellN
	for i := range t.WentWell {
		t.WentWell[i] += o.WentWell[i]
		t.NotWell[i] += o.NotWell[i]
	}
	for i := range t.Classic {
		t.Classic[i].N += o.Classic[i].N
		t.Classic[i].Sum += o.Classic[i].Sum
		t.Classic[i].Agree += o.Classic[i].Agree
	}
}

// Trust is the trust score: the share of thumbs up among the people who
// answered the trust question.
func (t Tally) Trust() Ratio { return Ratio{t.TrustUp, t.TrustUp + t.TrustDown} }

// WentWellShare is the share of people answering "What went well?" who
// ticked d.
func (t Tally) WentWellShare(d Driver) Ratio { return Ratio{t.WentWell[d], t.WentWellN} }

// NotWellShare is the share of people answering "What didn't go so well?"
// who ticked d.
func (t Tally) NotWellShare(d Driver) Ratio { return Ratio{t.NotWell[d], t.NotWellN} }
