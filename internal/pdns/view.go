package pdns

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// viewHelpers are formatting methods the templates call on their page
// data (the shared template functions know nothing of DNS).
type viewHelpers struct{}

// N formats a count with thousands separators.
func (viewHelpers) N(v any) string {
	switch x := v.(type) {
	case int:
		return formatCount(uint64(max(x, 0)))
	case int64:
		return formatCount(uint64(max(x, 0)))
	case uint64:
		return formatCount(x)
	case uint32:
		return formatCount(uint64(x))
	}
	return fmt.Sprint(v)
}

// formatCount writes a count with thousands separators: 1234567 -> "1,234,567".
func formatCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Pct formats part of whole as a percentage with one decimal.
func (viewHelpers) Pct(part, whole uint64) string {
	if whole == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(whole))
}

// CategoryLabel names a threat category for people.
func (viewHelpers) CategoryLabel(name string) string {
	if c, ok := CategoryByName(name); ok {
		return c.Label
	}
	switch name {
	case GlobalCategory:
		return "Office block"
	case "tenant":
		return "Your deny list"
	}
	return name
}

// ModeLabel names a block mode for people.
func (viewHelpers) ModeLabel(mode string) string {
	for _, m := range BlockModes {
		if m.Value == mode {
			return m.Label
		}
	}
	return mode
}

// ModeShort names a block mode in a table.
func (viewHelpers) ModeShort(mode string) string {
	switch mode {
	case ModeRefused:
		return "REFUSED"
	case ModeNoData:
		return "NODATA"
	case ModeSinkhole:
		return "Block page"
	}
	return "NXDOMAIN"
}

// ModePhrase says how a mode answers, to end a sentence.
func (viewHelpers) ModePhrase(mode string) string {
	switch mode {
	case ModeRefused:
		return "a refusal (REFUSED)"
	case ModeNoData:
		return "an empty answer (NODATA)"
	case ModeSinkhole:
		return "the office’s block page"
	}
	return "“this name does not exist” (NXDOMAIN)"
}

// SinkholeHint says where the block page is, for the block mode choice.
func (viewHelpers) SinkholeHint(st Settings) string {
	var addrs []string
	for _, a := range []string{addrText(st.SinkholeV4), addrText(st.SinkholeV6)} {
		if a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return "The office has not set up its block page yet, so the block page choice is not available."
	}
	return "The office’s block page is at " + strings.Join(addrs, " and ") + "."
}

// Ms formats a duration in milliseconds or seconds.
func (viewHelpers) Ms(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// Every formats a feed interval.
func (viewHelpers) Every(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		if d == 24*time.Hour {
			return "daily"
		}
		return fmt.Sprintf("every %d days", d/(24*time.Hour))
	case d%time.Hour == 0:
		if d == time.Hour {
			return "hourly"
		}
		return fmt.Sprintf("every %d hours", d/time.Hour)
	default:
		return fmt.Sprintf("every %d minutes", d/time.Minute)
	}
}

// queryRow is a query log record as the search page shows it.
type queryRow struct {
	Time      time.Time
	Client    string
	QName     string
	QType     string
	Action    string
	Blocked   bool
	Rule      string
	Feed      string
	Category  string
	Transport string
	Cache     string
	Latency   string
}

// actionLabels names the actions for people.
var actionLabels = map[querylog.Action]string{
	querylog.Allowed: "Allowed", querylog.Blocked: "Blocked", querylog.Sinkholed: "Blocked (block page)", querylog.LocalData: "Answered by a feed",
	querylog.Refused: "Refused", querylog.RateLimited: "Rate limited", querylog.Failed: "Failed",
}

func rowOf(r *querylog.Record) queryRow {
	row := queryRow{Time: time.Unix(0, r.Time), QName: r.QName(), QType: dns.TypeToString[r.QType], Action: actionLabels[r.Action],
		Blocked: r.Action.IsBlock(), Rule: r.Rule, Feed: feedLabel(r.Feed), Category: r.Category, Transport: r.Transport.String(), Cache: r.Cache.String()}
	if r.Client.IsValid() {
		row.Client = r.Client.String()
	}
	if row.QType == "" {
		row.QType = fmt.Sprintf("TYPE%d", r.QType)
	}
	if r.Latency < 1000 {
		row.Latency = fmt.Sprintf("%d µs", r.Latency)
	} else {
		row.Latency = fmt.Sprintf("%.1f ms", float64(r.Latency)/1000)
	}
	return row
}

// feedLabel names the list a rule came from; the engine's names for an
// agency's own lists are said in words (the category says "Your deny
// list" already).
func feedLabel(feed string) string {
	switch feed {
	case "tenant-deny":
		return ""
	case "tenant-allow":
		return "Your allow list"
	case "tenant-response-ip":
		return "Blocked answer network"
	}
	return feed
}

// ReportedAt returns when a device was last reported as likely infected
// (zero when it was not), for the overview's table.
func (d overviewData) ReportedAt(client netip.Addr) time.Time {
	if !client.IsValid() {
		return time.Time{}
	}
	return d.Dash.Reported[client.String()]
}
