package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
)

// MaxFormBytes bounds a urlencoded form body.
const MaxFormBytes = 1 << 20

// Form carries a submitted form's values and the errors to show beside its
// fields.
type Form struct {
	Values url.Values
	Errors map[string]string
	// Message is the error summary's heading text.
	Message string
}

// NewForm returns a form pre-filled with values (for edit pages).
func NewForm(values map[string]string) *Form {
	f := &Form{Values: url.Values{}, Errors: map[string]string{}}
	for k, v := range values {
		f.Values.Set(k, v)
	}
	return f
}

// ParseForm reads the request's urlencoded body (bounded) into a Form.
func ParseForm(w http.ResponseWriter, r *http.Request) (*Form, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, apperr.New(apperr.Invalid, "The form is too large.")
		}
		return nil, apperr.New(apperr.Invalid, "The form could not be read. Reload the page and try again.")
	}
	return &Form{Values: r.PostForm, Errors: map[string]string{}}, nil
}

// Get returns a trimmed value.
func (f *Form) Get(name string) string {
	if f == nil {
		return ""
	}
	return strings.TrimSpace(f.Values.Get(name))
}

// Raw returns a value as typed (passwords are not trimmed).
func (f *Form) Raw(name string) string {
	if f == nil {
		return ""
	}
	return f.Values.Get(name)
}

// List returns every value of a multi-value field.
func (f *Form) List(name string) []string {
	if f == nil {
		return nil
	}
	var out []string
	for _, v := range f.Values[name] {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Has reports whether a checkbox or option with value is selected.
func (f *Form) Has(name, value string) bool {
	for _, v := range f.Values[name] {
		if v == value {
			return true
		}
	}
	return false
}

// Bool reads a checkbox.
func (f *Form) Bool(name string) bool {
	v := f.Get(name)
	return v == "on" || v == "true" || v == "1" || v == "yes"
}

// Int reads an integer field, recording an error message when it is not one.
func (f *Form) Int(name, label string) int64 {
	v := f.Get(name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(v, ",", ""), 10, 64)
	if err != nil {
		f.Errors[name] = "Enter " + label + " as a whole number."
	}
	return n
}

// Cents reads a dollar amount ("1,234.50") as integer cents.
func (f *Form) Cents(name, label string) int64 {
	v := strings.TrimPrefix(strings.ReplaceAll(f.Get(name), ",", ""), "$")
	if v == "" {
		return 0
	}
	c, ok := ParseCents(v)
	if !ok {
		f.Errors[name] = "Enter " + label + " in dollars, like 1250.00."
	}
	return c
}

// ParseCents parses a non-negative dollar amount with at most two decimals.
func ParseCents(v string) (int64, bool) {
	if v == "" || v == "." {
		return 0, false
	}
	whole, frac, hasFrac := strings.Cut(v, ".")
	if whole == "" {
		whole = "0"
	}
	if len(whole) > 13 || (hasFrac && (len(frac) == 0 || len(frac) > 2)) {
		return 0, false
	}
	for _, s := range []string{whole, frac} {
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	fr, _ := strconv.ParseInt(frac, 10, 64)
	return w*100 + fr, true
}

// Date reads a yyyy-mm-dd field as a UTC date.
func (f *Form) Date(name, label string) time.Time {
	v := f.Get(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		f.Errors[name] = "Enter " + label + " as a date, like 2026-10-01."
	}
	return t
}

// Valid reports whether no field has an error.
func (f *Form) Valid() bool { return len(f.Errors) == 0 }

// Err returns the form's errors as an Invalid error, or nil.
func (f *Form) Err() error {
	if f.Valid() {
		return nil
	}
	return apperr.Validation(f.Errors)
}

// Fail merges err into the form for redisplay: field errors go beside their
// fields, other messages into the summary. It returns false for errors that
// are not about the input (those should be returned to the kit instead).
func (f *Form) Fail(err error) bool {
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Conflict, apperr.TooMany, apperr.Unauthorized:
	default:
		return false
	}
	for k, v := range apperr.FieldsOf(err) {
		f.Errors[k] = v
	}
	if len(apperr.FieldsOf(err)) == 0 {
		f.Message = apperr.MessageOf(err)
	}
	return true
}

// FieldData is what the input partials render.
type FieldData struct {
	Name         string
	Label        string
	Hint         string
	Value        string
	Values       []string
	Error        string
	Type         string
	Autocomplete string
	Required     bool
	Options      []Option
	Rows         int
	// Bare drops the "(optional)" mark, for search and filter fields.
	Bare bool
}

// Option is a select, radio or checkbox choice.
type Option struct {
	Value string
	Label string
	Hint  string
}

// newField is the template function `field FORM NAME LABEL [key value]...`
// with keys: hint, type, autocomplete, required, options, rows.
func newField(f *Form, name, label string, kv ...any) FieldData {
	d := FieldData{Name: name, Label: label, Type: "text"}
	if f != nil {
		d.Value = f.Values.Get(name)
		d.Values = f.Values[name]
		d.Error = f.Errors[name]
	}
	for i := 0; i+1 < len(kv); i += 2 {
		key, _ := kv[i].(string)
		switch key {
		case "hint":
			d.Hint, _ = kv[i+1].(string)
		case "type":
			d.Type, _ = kv[i+1].(string)
		case "autocomplete":
			d.Autocomplete, _ = kv[i+1].(string)
		case "required":
			d.Required, _ = kv[i+1].(bool)
		case "options":
			d.Options, _ = kv[i+1].([]Option)
		case "bare":
			d.Bare, _ = kv[i+1].(bool)
		case "rows":
			d.Rows, _ = kv[i+1].(int)
		case "value":
			if d.Value == "" {
				d.Value, _ = kv[i+1].(string)
			}
		}
	}
	if d.Type == "password" {
		d.Value = "" // never echo a password back
	}
	return d
}

// Has reports whether the field's current values include v.
func (d FieldData) Has(v string) bool {
	for _, x := range d.Values {
		if x == v {
			return true
		}
	}
	return d.Value == v && len(d.Values) <= 1
}
