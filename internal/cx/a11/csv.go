package a11

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Header is the A-11 Section 280 data collection layout: one row per
// response, 17 columns. question_1 is 1 for thumbs up and 0 for thumbs
// down; each driver column is 1 when ticked and 0 when not, and all seven of
// a question are empty when the question was not answered; question_4 is
// the free text.
var Header = func() []string {
	h := []string{"external_id", "question_1"}
	for _, d := range Drivers {
		h = append(h, "positive_"+d.Key())
	}
	for _, d := range Drivers {
		h = append(h, "negative_"+d.Key())
	}
	return append(h, "question_4")
}()

// Row is one response in the data collection layout.
type Row struct {
	// ExternalID identifies the response without identifying the person.
	ExternalID string
	Answer     Answer
}

// Record returns the row's 17 cells.
func (r Row) Record() []string {
	rec := make([]string, 0, len(Header))
	rec = append(rec, cell(r.ExternalID))
	switch r.Answer.Trust {
	case ThumbsUp:
		rec = append(rec, "1")
	case ThumbsDown:
		rec = append(rec, "0")
	default:
		rec = append(rec, "")
	}
	rec = append(rec, driverCells(r.Answer.WentWell)...)
	rec = append(rec, driverCells(r.Answer.NotWell)...)
	return append(rec, cell(r.Answer.Comment))
}

func driverCells(s DriverSet) []string {
	out := make([]string, NumDrivers)
	if s == 0 {
		return out
	}
	for i, d := range Drivers {
		if s.Has(d) {
			out[i] = "1"
		} else {
			out[i] = "0"
		}
	}
	return out
}

// cell defuses text that a spreadsheet would run as a formula (a leading
// =, +, -, @, tab or carriage return) by prefixing an apostrophe, which
// spreadsheets show as text; other text is written as given.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteResponses writes the header and rows as RFC 4180 CSV (CRLF line
// ends).
func WriteResponses(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(Header); err != nil {
		return fmt.Errorf("a11: write header: %w", err)
	}
	for _, r := range rows {
		if err := cw.Write(r.Record()); err != nil {
			return fmt.Errorf("a11: write row: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("a11: write responses: %w", err)
	}
	return nil
}

// CollectionHeader is the layout of the quarterly collection summary that
// accompanies the responses: for each service and stage, how many customers
// were offered the survey and how many responded (the A-11 "volume of
// customers provided survey opportunity" and "volume of respondents").
var CollectionHeader = []string{
	"fiscal_year", "quarter", "service_area", "service_name", "service_stage", "provider", "offering",
	"trust_question_text", "volume_of_customers_provided_survey_opportunity", "volume_of_respondents",
	"response_rate_percent", "trust_positive", "trust_negative",
}

// CollectionRow is one line of the collection summary.
type CollectionRow struct {
	Quarter       Quarter
	ServiceArea   string
	ServiceName   string
	Stage         string
	Provider      string
	Offering      string
	TrustQuestion string
	Offered       int
	Responses     int
	TrustUp       int
	TrustDown     int
}

// Record returns the row's cells.
func (r CollectionRow) Record() []string {
	rate := ""
	if r.Offered > 0 {
		rate = strconv.Itoa(Ratio{r.Responses, r.Offered}.Percent())
	}
	return []string{
		strconv.Itoa(r.Quarter.FY), strconv.Itoa(r.Quarter.Q), cell(r.ServiceArea), cell(r.ServiceName), cell(r.Stage),
		cell(r.Provider), cell(r.Offering), cell(r.TrustQuestion), strconv.Itoa(r.Offered), strconv.Itoa(r.Responses),
		rate, strconv.Itoa(r.TrustUp), strconv.Itoa(r.TrustDown),
	}
}

// WriteCollection writes the collection summary as RFC 4180 CSV.
func WriteCollection(w io.Writer, rows []CollectionRow) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(CollectionHeader); err != nil {
		return fmt.Errorf("a11: write header: %w", err)
	}
	for _, r := range rows {
		if err := cw.Write(r.Record()); err != nil {
			return fmt.Errorf("a11: write row: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("a11: write collection: %w", err)
	}
	return nil
}
