// Package a11 is the OMB Circular A-11 Section 280 post-transaction customer
// feedback instrument: its questions and the seven drivers of trust, the
// parsing of one answer, the quarterly data-collection CSV layout and the
// arithmetic of trust and driver scores. It knows no database and no HTTP.
//
// The instrument has four questions:
//
//  1. the trust question, answered thumbs up or thumbs down (question_1);
//  2. "What went well?", any of the seven drivers (positive_*);
//  3. "What didn't go so well?", any of the seven drivers (negative_*);
//  4. free text (question_4).
//
// Offices may add the seven classic five-point items (satisfaction,
// confidence, effectiveness, ease, efficiency, equity, employee
// helpfulness), which stay out of the 17-column data collection layout.
//
// Every question is voluntary: an unanswered question is reported empty,
// never as a zero.
package a11

import (
	"strings"
)

// DefaultTrustQuestion is the trust statement offices start from; [office]
// is replaced by the office's name when a survey is sent.
const DefaultTrustQuestion = "I trust [office] to deliver on its mission for agencies like mine."

// TrustQuestion fills the [office] placeholder of a trust statement.
func TrustQuestion(template, office string) string {
	return strings.ReplaceAll(template, "[office]", office)
}

// Driver is one of the seven drivers of trust that respondents tick under
// "What went well?" and "What didn't go so well?".
type Driver uint8

// The drivers, in the order of the data collection columns.
const (
	Effectiveness Driver = iota
	Ease
	Efficiency
	Transparency
	Humanity
	Employee
	Other
	// NumDrivers is how many drivers there are.
	NumDrivers = 7
)

// Drivers lists every driver in column order.
var Drivers = [NumDrivers]Driver{Effectiveness, Ease, Efficiency, Transparency, Humanity, Employee, Other}

type driverText struct {
	key, label, good, bad string
}

var driverTexts = [NumDrivers]driverText{
	{"effectiveness", "Effectiveness", "I got what I needed.", "I did not get what I needed."},
	{"ease", "Ease", "It was easy to do what I needed to do.", "It was hard to do what I needed to do."},
	{"efficiency", "Efficiency", "It took a reasonable amount of time.", "It took too long."},
	{"transparency", "Transparency", "It was clear what to do and what would happen next.", "It was unclear what to do or what would happen next."},
	{"humanity", "Humanity", "I was treated with respect.", "I was not treated with respect."},
	{"employee", "Employee", "The people I dealt with were helpful.", "The people I dealt with were not helpful."},
	{"other", "Other", "Something else went well.", "Something else did not go well."},
}

// Key is the driver's name in forms, JSON and CSV column names.
func (d Driver) Key() string { return driverTexts[d].key }

// Label is the driver's name for people.
func (d Driver) Label() string { return driverTexts[d].label }

// WentWell describes the driver as a thing that went well.
func (d Driver) WentWell() string { return driverTexts[d].good }

// NotWell describes the driver as a thing that did not go well.
func (d Driver) NotWell() string { return driverTexts[d].bad }

// DriverByKey returns the driver named key.
func DriverByKey(key string) (Driver, bool) {
	for _, d := range Drivers {
		if driverTexts[d].key == key {
			return d, true
		}
	}
	return 0, false
}

// DriverSet is a set of drivers, one bit each. The empty set means the
// question was not answered: a person who saw the checkboxes and ticked
// none gave no answer.
type DriverSet uint8

// allDrivers has a bit for every driver.
const allDrivers DriverSet = 1<<NumDrivers - 1

// Has reports whether d is in the set.
func (s DriverSet) Has(d Driver) bool { return s&(1<<d) != 0 }

// With returns the set with d added.
func (s DriverSet) With(d Driver) DriverSet { return s | 1<<d }

// Valid reports whether the set holds only known drivers.
func (s DriverSet) Valid() bool { return s&^allDrivers == 0 }

// Keys returns the keys of the drivers in the set, in column order.
func (s DriverSet) Keys() []string {
	out := []string{}
	for _, d := range Drivers {
		if s.Has(d) {
			out = append(out, d.Key())
		}
	}
	return out
}

// Labels returns the names of the drivers in the set, for people.
func (s DriverSet) Labels() []string {
	out := []string{}
	for _, d := range Drivers {
		if s.Has(d) {
			out = append(out, d.Label())
		}
	}
	return out
}

// Thumb is the answer to the trust question.
type Thumb int8

// Trust answers.
const (
	NoThumb    Thumb = iota // not answered
	ThumbsUp                // agrees with the trust statement
	ThumbsDown              // disagrees
)

// Key is the thumb's name in forms and JSON: "up", "down" or "".
func (t Thumb) Key() string {
	switch t {
	case ThumbsUp:
		return "up"
	case ThumbsDown:
		return "down"
	}
	return ""
}

// ClassicItem is one of the classic five-point agreement items.
type ClassicItem struct {
	Key     string // form and JSON name
	Measure string // what it measures, for reports
	Text    string // the statement; [service] is replaced by the service's name
}

// NumClassic is the number of classic items.
const NumClassic = 7

// ClassicItems are the classic A-11 agreement statements, in order.
var ClassicItems = [NumClassic]ClassicItem{
	{"satisfaction", "Satisfaction", "I am satisfied with the service I received from [service]."},
	{"confidence", "Confidence", "This interaction increased my confidence in [service]."},
	{"effectiveness", "Effectiveness", "My need was addressed."},
	{"ease", "Ease", "It was easy to complete what I needed to do."},
	{"efficiency", "Efficiency", "It took a reasonable amount of time to do what I needed to do."},
	{"equity", "Equity", "I was treated fairly."},
	{"employee", "Employee helpfulness", "Employees I interacted with were helpful."},
}

// For returns the statement with the service's name filled in.
func (c ClassicItem) For(service string) string {
	return strings.ReplaceAll(c.Text, "[service]", service)
}

// Scale is the five-point agreement scale, value 1 first.
var Scale = [5]string{"Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"}

// MaxComment bounds the free-text answer, in characters.
const MaxComment = 2000

// Answer is one person's answer to the instrument. The zero value answers
// nothing.
type Answer struct {
	Trust    Thumb
	WentWell DriverSet
	NotWell  DriverSet
	Comment  string
	// Classic holds the classic items' values, 1 to 5, or 0 when not
	// answered (or not asked).
	Classic [NumClassic]uint8
}

// Empty reports whether no question is answered.
func (a Answer) Empty() bool {
	if a.Trust != NoThumb || a.WentWell != 0 || a.NotWell != 0 || a.Comment != "" {
		return false
	}
	for _, v := range a.Classic {
		if v != 0 {
			return false
		}
	}
	return true
}

// HasClassic reports whether any classic item is answered.
func (a Answer) HasClassic() bool {
	for _, v := range a.Classic {
		if v != 0 {
			return true
		}
	}
	return false
}
