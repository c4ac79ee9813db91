// Package feed reads threat-intelligence feeds (domain lists, hosts files,
// AdBlock filters, RPZ zones) into normalized blocklist entries and keeps
// them fresh: conditional fetching, an acceptance guard and a scheduler.
package feed

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Action is what the resolver does with a name an entry matches. The values
// are those of blocklist.Action, so the resolver converts with a cast.
type Action uint8

// Actions. The zero Action is invalid so that a forgotten field shows.
const (
	// Passthru answers normally and stops policy for the name (RPZ
	// rpz-passthru, an exception list).
	Passthru Action = iota + 1
	// LocalData answers with the entry's records (RPZ local data), their
	// owner rewritten to the queried name.
	LocalData
	// NXDomain answers NXDOMAIN whatever the tenant's block mode (RPZ
	// "CNAME ." and rpz-drop).
	NXDomain
	// NoData answers NOERROR with no records (RPZ "CNAME *.").
	NoData
	// Block applies the tenant's block mode; every name from a plain list,
	// hosts file or AdBlock filter gets it.
	Block
)

// String returns the lowercase name used in logs, metrics and reports.
func (a Action) String() string {
	switch a {
	case Passthru:
		return "passthru"
	case LocalData:
		return "localdata"
	case NXDomain:
		return "nxdomain"
	case NoData:
		return "nodata"
	case Block:
		return "block"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Entry is one listed name with the policy a feed gives it.
type Entry struct {
	// Name is canonical (dnsname.Normalize): lowercase A-labels, no
	// trailing dot, no wildcard prefix.
	Name string
	// Subdomains makes the entry match every name below Name.
	Subdomains bool
	// Exact makes the entry match Name itself. RPZ "*.example.com" gives
	// Exact=false, Subdomains=true; list formats give both.
	Exact bool
	// Action says what to answer.
	Action Action
	// Local holds the records of a LocalData entry (CNAME, A, AAAA, TXT...).
	// Their owner is the listed name; the resolver rewrites it to the
	// queried name when answering.
	Local []dns.RR
}

// Format is the syntax of a feed.
type Format uint8

// Formats. FormatAuto looks at the start of the input to choose.
const (
	FormatAuto Format = iota
	// FormatPlain is one domain name a line; '#' and '!' start comments.
	FormatPlain
	// FormatHosts is an /etc/hosts file: an address then one or more names.
	FormatHosts
	// FormatAdBlock is AdBlock-style filter syntax; only "||domain^" rules
	// that block a whole domain are used.
	FormatAdBlock
	// FormatRPZ is a DNS Response Policy Zone in zone-file syntax.
	FormatRPZ
)

var formatNames = [...]string{"auto", "plain", "hosts", "adblock", "rpz"}

// String returns the name used in configuration and reports.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// MarshalText writes the format by name, for JSON status documents.
func (f Format) MarshalText() ([]byte, error) {
	if int(f) >= len(formatNames) {
		return nil, fmt.Errorf("feed: unknown format %d", uint8(f))
	}
	return []byte(formatNames[f]), nil
}

// UnmarshalText reads a format name, as ParseFormat does.
func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// ParseFormat reads a format name from configuration: auto, plain (or
// domains), hosts, adblock, rpz. Case does not matter.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return FormatAuto, nil
	case "plain", "domains":
		return FormatPlain, nil
	case "hosts":
		return FormatHosts, nil
	case "adblock", "abp":
		return FormatAdBlock, nil
	case "rpz":
		return FormatRPZ, nil
	}
	return 0, fmt.Errorf("feed: unknown format %q (want auto, plain, hosts, adblock or rpz)", s)
}

// Limits applied when ParseOptions leaves a field at zero.
const (
	DefaultMaxEntries    = 5_000_000
	DefaultMaxLineLength = 4096
	DefaultMaxLineErrors = 10
)

// ErrTooManyEntries fails a parse whose feed holds more entries than
// ParseOptions.MaxEntries: a list that large is a mistake or an attack, and
// a partial list would silently unblock the rest.
var ErrTooManyEntries = errors.New("feed: too many entries")

// ParseOptions controls Parse.
type ParseOptions struct {
	// Format of the input; FormatAuto detects it from the first 64 KiB.
	Format Format
	// MaxEntries fails the parse beyond this many entries
	// (0: DefaultMaxEntries).
	MaxEntries int
	// MaxLineLength makes longer lines invalid (0: DefaultMaxLineLength).
	// For RPZ it bounds a whole record, parentheses joined.
	MaxLineLength int
	// MaxLineErrors is how many invalid lines Report.Errors keeps
	// (0: DefaultMaxLineErrors; the count in Report.Invalid is complete).
	MaxLineErrors int
	// Origin is the RPZ policy zone name used when the file has neither an
	// SOA record nor an $ORIGIN directive before its first rule. Empty means
	// the root: owner names are then the trigger names themselves.
	Origin string
}

func (o ParseOptions) withDefaults() (ParseOptions, error) {
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxLineLength == 0 {
		o.MaxLineLength = DefaultMaxLineLength
	}
	if o.MaxLineErrors == 0 {
		o.MaxLineErrors = DefaultMaxLineErrors
	}
	switch {
	case o.MaxEntries < 0:
		return o, fmt.Errorf("feed: max entries %d is negative", o.MaxEntries)
	case o.MaxLineLength < 16:
		return o, fmt.Errorf("feed: max line length %d is below 16", o.MaxLineLength)
	case o.MaxLineErrors < 0:
		return o, fmt.Errorf("feed: max line errors %d is negative", o.MaxLineErrors)
	case o.Format > FormatRPZ:
		return o, fmt.Errorf("feed: unknown format %d", uint8(o.Format))
	}
	if o.Origin != "" {
		origin := dns.Fqdn(o.Origin)
		if _, ok := dns.IsDomainName(origin); !ok {
			return o, fmt.Errorf("feed: RPZ origin %q is not a domain name", o.Origin)
		}
		o.Origin = origin
	}
	return o, nil
}

// LineError describes one invalid line.
type LineError struct {
	Line   int    // 1-based line number (first line of an RPZ record)
	Text   string // the line, clipped and made valid UTF-8
	Reason string // why it was refused
}

// Error formats the line error as "line N: reason: text".
func (e LineError) Error() string {
	return fmt.Sprintf("line %d: %s: %q", e.Line, e.Reason, e.Text)
}

// Reasons for skipping a well-formed rule, the keys of Report.SkippedBy.
const (
	SkipException   = "exception rule"
	SkipCosmetic    = "cosmetic rule"
	SkipPattern     = "path or pattern rule"
	SkipRegexp      = "regular expression rule"
	SkipOption      = "unsupported option"
	SkipLocalHost   = "local host name"
	SkipTrigger     = "unsupported trigger"
	SkipRPZAction   = "unsupported policy action"
	SkipRecordType  = "unsupported record type"
	SkipDirective   = "unsupported directive"
	SkipRecordClass = "record class other than IN"
	SkipWholeZone   = "wildcard over the whole policy zone"
)

// Report says what a parse did with its input. For every rule (a name or
// record that states something; an invalid line counts as one rule):
//
//	Rules == Entries + Merged + Duplicates + Invalid + Skipped
//
// Blank lines, comments, headers, zone directives and records at the RPZ
// zone apex are not rules.
type Report struct {
	Format     Format         // the format parsed (detected when FormatAuto)
	Lines      int            // physical lines read
	Rules      int            // rules considered
	Entries    int            // distinct entries produced
	Merged     int            // rules that extended an entry made by an earlier rule
	Duplicates int            // rules that added nothing to an earlier entry
	Invalid    int            // malformed rules
	Skipped    int            // well-formed rules deliberately not used
	SkippedBy  map[string]int // Skipped by reason (the Skip* constants)
	Errors     []LineError    // the first MaxLineErrors invalid lines
}

// InvalidRatio is the share of rules that were invalid, 0 when there were
// no rules.
func (r *Report) InvalidRatio() float64 {
	if r.Rules == 0 {
		return 0
	}
	return float64(r.Invalid) / float64(r.Rules)
}
