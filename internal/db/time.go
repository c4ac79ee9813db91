package db

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// TimeLayout is how timestamps are stored in both dialects: fixed-width UTC
// text that sorts in time order and reads well in a SQL shell.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Time adapts a time.Time field for scanning and storing; convert a field's
// address with (*db.Time)(&rec.CreatedAt). The zero time is stored as NULL.
type Time time.Time

// Value implements driver.Valuer.
func (t Time) Value() (driver.Value, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return nil, nil
	}
	return tt.UTC().Format(TimeLayout), nil
}

// Scan implements sql.Scanner.
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = Time{}
		return nil
	case time.Time:
		*t = Time(v.UTC())
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("db: cannot scan %T into time", src)
	}
}

func (t *Time) parse(s string) error {
	if s == "" {
		*t = Time{}
		return nil
	}
	for _, layout := range []string{TimeLayout, time.RFC3339Nano, "2006-01-02 15:04:05"} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = Time(v.UTC())
			return nil
		}
	}
	return fmt.Errorf("db: bad stored time %q", s)
}

// TS formats t for use as a query argument.
func TS(t time.Time) any { return Time(t) }
