package a11

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Raw is an answer as it arrives from outside (a form or a JSON body),
// before validation.
type Raw struct {
	Trust    string            // "up", "down" or ""
	WentWell []string          // driver keys
	NotWell  []string          // driver keys
	Comment  string            // free text
	Classic  map[string]string // classic item key -> "1".."5"
}

// Field names of the survey form.
const (
	FieldTrust    = "trust"
	FieldWentWell = "went_well"
	FieldNotWell  = "not_well"
	FieldComment  = "comment"
	// FieldClassicPrefix prefixes each classic item's key:
	// classic_satisfaction, classic_confidence, ...
	FieldClassicPrefix = "classic_"
)

// FromForm collects the survey form's fields. Unknown fields are ignored
// (the form also carries the submit button); repeated single-value fields
// are kept so Parse can refuse them.
func FromForm(v url.Values) (Raw, map[string]string) {
	errs := map[string]string{}
	r := Raw{WentWell: v[FieldWentWell], NotWell: v[FieldNotWell], Classic: map[string]string{}}
	single := func(name string) string {
		vals := v[name]
		if len(vals) > 1 {
			errs[name] = "Choose one answer."
		}
		if len(vals) == 0 {
			return ""
		}
		return vals[0]
	}
	r.Trust = single(FieldTrust)
	r.Comment = single(FieldComment)
	for name := range v {
		if key, ok := strings.CutPrefix(name, FieldClassicPrefix); ok {
			r.Classic[key] = single(name)
		}
	}
	return r, errs
}

// Parse validates a raw answer. classic says whether the survey asks the
// classic items. It returns the answer, or field errors keyed by form field
// name; an answer with no question answered is an error too.
func Parse(r Raw, classic bool) (Answer, map[string]string) {
	var a Answer
	errs := map[string]string{}
	switch strings.TrimSpace(r.Trust) {
	case "":
	case "up":
		a.Trust = ThumbsUp
	case "down":
		a.Trust = ThumbsDown
	default:
		errs[FieldTrust] = "Choose thumbs up or thumbs down, or leave the question unanswered."
	}
	var ok bool
	if a.WentWell, ok = parseDrivers(r.WentWell); !ok {
		errs[FieldWentWell] = "Choose from the listed answers."
	}
	if a.NotWell, ok = parseDrivers(r.NotWell); !ok {
		errs[FieldNotWell] = "Choose from the listed answers."
	}
	comment, msg := cleanComment(r.Comment)
	if msg != "" {
		errs[FieldComment] = msg
	}
	a.Comment = comment
	for key, val := range r.Classic {
		i := classicIndex(key)
		field := FieldClassicPrefix + key
		if i < 0 || !classic {
			errs[fieldName(field)] = "This survey does not ask that question."
			continue
		}
		val = strings.TrimSpace(val)
		if val == "" {
			continue
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > 5 || len(val) != 1 {
			errs[field] = "Choose one of the five answers, from strongly disagree to strongly agree."
			continue
		}
		a.Classic[i] = uint8(n)
	}
	if len(errs) == 0 && a.Empty() {
		errs[FieldTrust] = "Answer at least one question before sending."
	}
	if len(errs) > 0 {
		return Answer{}, errs
	}
	return a, nil
}

// fieldName keeps an error key usable as an HTML id for unknown fields a
// client invented: only the characters of real field names survive.
func fieldName(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}

func classicIndex(key string) int {
	for i, c := range ClassicItems {
		if c.Key == key {
			return i
		}
	}
	return -1
}

func parseDrivers(keys []string) (DriverSet, bool) {
	var s DriverSet
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		d, ok := DriverByKey(k)
		if !ok {
			return 0, false
		}
		s = s.With(d)
	}
	return s, true
}

// cleanComment normalizes line ends, drops control characters other than
// line breaks and tabs, and trims; it refuses invalid UTF-8 and text over
// MaxComment characters with a message for the person.
func cleanComment(s string) (string, string) {
	if !utf8.ValidString(s) {
		return "", "The text contains characters that could not be read. Type it again."
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n > MaxComment {
		return "", "Keep your answer to " + strconv.Itoa(MaxComment) + " characters or fewer (it has " + strconv.Itoa(n) + ")."
	}
	return s, ""
}

// Values renders an answer as the survey form would submit it, for tests
// and for pre-filling a form after an error elsewhere.
func (a Answer) Values() url.Values {
	v := url.Values{}
	if k := a.Trust.Key(); k != "" {
		v.Set(FieldTrust, k)
	}
	for _, k := range a.WentWell.Keys() {
		v.Add(FieldWentWell, k)
	}
	for _, k := range a.NotWell.Keys() {
		v.Add(FieldNotWell, k)
	}
	if a.Comment != "" {
		v.Set(FieldComment, a.Comment)
	}
	for i, c := range ClassicItems {
		if a.Classic[i] != 0 {
			v.Set(FieldClassicPrefix+c.Key, strconv.Itoa(int(a.Classic[i])))
		}
	}
	return v
}
