package feed

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/qsmo/qsmo/internal/pdns/dnsname"
)

// collector turns the rules of one parse into distinct entries and keeps
// the report's counts. Every rule ends in exactly one of: a new entry,
// merged, duplicate, invalid or skipped.
type collector struct {
	opts    ParseOptions
	rep     *Report
	entries entryStore
	arena   nameArena
	names   *nameIndex // entries by name (RPZ: exact triggers)
	wild    *nameIndex // RPZ wildcard triggers
	buf     []byte     // scratch for normalization
	line    int        // line number of the rule being handled
	text    []byte     // its text, for error reports

	// List rules wait in a batch before they meet the name index (see
	// flush); batchNames holds their canonical names.
	batch      [blockBatch]pendingBlock
	nbatch     int
	batchNames []byte
}

// pendingBlock is a list rule waiting in the collector's batch.
type pendingBlock struct {
	hash           uint32
	off, n         int // its name: batchNames[off:off+n]
	line           int
	subdomainsOnly bool
}

// blockBatch is how many list rules meet the name index at once.
const blockBatch = 8

func newCollector(opts ParseOptions, rep *Report) *collector {
	return &collector{
		opts:  opts,
		rep:   rep,
		names: newNameIndex(),
		wild:  newNameIndex(),
		buf:   make([]byte, 0, 256),
		// Canonical names are at most 253 bytes.
		batchNames: make([]byte, 0, blockBatch*256),
	}
}

func (c *collector) at(line int, text []byte) {
	c.line, c.text = line, text
}

// invalid counts a malformed rule and keeps the first few for the report.
func (c *collector) invalid(reason string) {
	c.rep.Rules++
	c.rep.Invalid++
	if len(c.rep.Errors) < c.opts.MaxLineErrors {
		c.rep.Errors = append(c.rep.Errors, LineError{Line: c.line, Text: clipText(c.text), Reason: reason})
	}
}

// skip counts a well-formed rule this package deliberately does not use.
func (c *collector) skip(reason string) {
	c.rep.Rules++
	c.rep.Skipped++
	if c.rep.SkippedBy == nil {
		c.rep.SkippedBy = make(map[string]int)
	}
	c.rep.SkippedBy[reason]++
}

// normalize puts the canonical form of raw in c.buf, or counts the rule
// invalid and returns false.
func (c *collector) normalize(raw []byte) bool {
	var err error
	c.buf, err = dnsname.AppendNormalized(c.buf[:0], raw)
	if err != nil {
		c.invalid(nameReason(string(raw), err))
		return false
	}
	return true
}

func nameReason(raw string, err error) string {
	var e *dnsname.Error
	if errors.As(err, &e) {
		return fmt.Sprintf("name %q: %s", clipString(raw), e.Reason())
	}
	return err.Error()
}

// addBlock records a list-format rule: raw blocks itself and its
// subdomains, or only its subdomains when it came as "*.raw". Rules for the
// same name merge by widening the match. A valid rule joins the batch, and
// takes effect at the latest when flush runs.
func (c *collector) addBlock(raw []byte, subdomainsOnly bool) error {
	if !c.normalize(raw) {
		return nil
	}
	c.batch[c.nbatch] = pendingBlock{hash: c.names.hash(c.buf), off: len(c.batchNames), n: len(c.buf), line: c.line, subdomainsOnly: subdomainsOnly}
	c.batchNames = append(c.batchNames, c.buf...)
	if c.nbatch++; c.nbatch == blockBatch {
		return c.flush()
	}
	return nil
}

// flush records the batched list rules, in order. The name index is far
// larger than the processor's caches when a big list loads, so finding a
// name is a memory access the parser would wait for; a batch first loads
// the home slot of each of its names, which the processor does at the
// same time, and then finds those slots cached.
func (c *collector) flush() error {
	batch := c.batch[:c.nbatch]
	c.nbatch = 0
	defer func() { c.batchNames = c.batchNames[:0] }()
	c.names.touch(batch)
	for _, p := range batch {
		name := c.batchNames[p.off : p.off+p.n]
		if i := c.names.find(&c.entries, p.hash, name); i >= 0 {
			c.rep.Rules++
			e := c.entries.at(i)
			if e.Exact || p.subdomainsOnly {
				c.rep.Duplicates++
				continue
			}
			e.Exact = true
			c.rep.Merged++
			continue
		}
		if c.entries.n >= c.opts.MaxEntries {
			return fmt.Errorf("%w: more than %d (line %d)", ErrTooManyEntries, c.opts.MaxEntries, p.line)
		}
		c.rep.Rules++
		i := c.entries.add(Entry{Name: c.arena.string(name), Exact: !p.subdomainsOnly, Subdomains: true, Action: Block})
		c.names.insert(p.hash, i)
	}
	return nil
}

// addPolicy records an RPZ rule for a canonical name. Exact and wildcard
// triggers are separate entries, as in RPZ. Local data records for one
// trigger gather in one entry; any other disagreement on a trigger is
// invalid, since a zone cannot give one name two policies.
func (c *collector) addPolicy(name string, wild bool, a Action, rr dns.RR) error {
	if c.nbatch > 0 { // list rules first, in input order
		if err := c.flush(); err != nil {
			return err
		}
	}
	index := c.names
	if wild {
		index = c.wild
	}
	h := index.hash([]byte(name))
	if i := index.find(&c.entries, h, []byte(name)); i >= 0 {
		e := c.entries.at(i)
		switch {
		case e.Action != a:
			c.invalid(fmt.Sprintf("conflicts with an earlier %s rule for the same name", e.Action))
		case a != LocalData:
			c.rep.Rules++
			c.rep.Duplicates++
		case containsRR(e.Local, rr):
			c.rep.Rules++
			c.rep.Duplicates++
		case rr.Header().Rrtype == dns.TypeCNAME || e.Local[0].Header().Rrtype == dns.TypeCNAME:
			c.invalid("CNAME local data cannot be combined with other records for the same name")
		default:
			c.rep.Rules++
			c.rep.Merged++
			e.Local = append(e.Local, rr)
		}
		return nil
	}
	if err := c.room(); err != nil {
		return err
	}
	c.rep.Rules++
	e := Entry{Name: name, Exact: !wild, Subdomains: wild, Action: a}
	if rr != nil {
		e.Local = []dns.RR{rr}
	}
	index.insert(h, c.entries.add(e))
	return nil
}

func (c *collector) room() error {
	if c.entries.n >= c.opts.MaxEntries {
		return fmt.Errorf("%w: more than %d (line %d)", ErrTooManyEntries, c.opts.MaxEntries, c.line)
	}
	return nil
}

func containsRR(rrs []dns.RR, rr dns.RR) bool {
	for _, x := range rrs {
		if dns.IsDuplicate(x, rr) {
			return true
		}
	}
	return false
}

// clipText makes a line safe and short enough for reports and logs.
func clipText(b []byte) string {
	const max = 120
	if len(b) > max {
		return strings.ToValidUTF8(string(b[:max]), "\uFFFD") + "..."
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func clipString(s string) string {
	const max = 80
	if len(s) > max {
		return strings.ToValidUTF8(s[:max], "\uFFFD") + "..."
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
