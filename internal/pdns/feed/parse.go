package feed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/miekg/dns"
)

// Parse reads a feed from r and returns its distinct entries in input
// order with a report of what it read. It streams: memory beyond the result
// is bounded by the line length limit. Malformed lines are counted in the
// report, not fatal; Parse fails only on a read error, bad options or more
// than opts.MaxEntries entries (ErrTooManyEntries), and then returns no
// entries.
func Parse(r io.Reader, opts ParseOptions) ([]Entry, Report, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, Report{}, err
	}
	lr := newLineReader(r, o.MaxLineLength)
	format := o.Format
	if format == FormatAuto {
		sample, err := lr.br.Peek(detectSize)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, Report{}, fmt.Errorf("feed: read: %w", err)
		}
		format = DetectFormat(sample)
	}
	rep := Report{Format: format}
	c := newCollector(o, &rep)
	var handle func(*collector, []byte) error
	var rpz *rpzParser
	switch format {
	case FormatPlain:
		handle = parsePlainLine
	case FormatHosts:
		handle = parseHostsLine
	case FormatAdBlock:
		handle = parseAdBlockLine
	case FormatRPZ:
		rpz = newRPZParser(c)
	}
	for {
		line, tooLong, ok := lr.next()
		if !ok {
			break
		}
		c.at(lr.n, line)
		switch {
		case tooLong:
			if rpz != nil {
				rpz.depth = 0
			}
			c.invalid(fmt.Sprintf("line longer than %d bytes", o.MaxLineLength))
		case rpz != nil:
			err = rpz.line(lr.n, line)
		default:
			err = handle(c, line)
		}
		if err != nil {
			rep.Lines = lr.n
			return nil, rep, err
		}
	}
	rep.Lines = lr.n
	if lr.err != nil {
		return nil, rep, fmt.Errorf("feed: read line %d: %w", lr.n+1, lr.err)
	}
	if err := c.flush(); err != nil {
		return nil, rep, err
	}
	if rpz != nil {
		if err := rpz.end(); err != nil {
			return nil, rep, err
		}
	}
	rep.Entries = c.entries.n
	return c.entries.slice(), rep, nil
}

// DetectFormat guesses a feed's format from its first bytes (Parse gives it
// up to 64 KiB). An "[Adblock" header, a $ORIGIN or $TTL directive or an
// SOA record decide at once; otherwise each line votes for the format it
// fits and the most votes win, plain on a tie or an empty sample.
func DetectFormat(sample []byte) Format {
	var votes [FormatRPZ + 1]int
	for n := 0; len(sample) > 0 && n < 2000; {
		var line []byte
		line, sample, _ = bytes.Cut(sample, []byte{'\n'})
		line = trimSpace(line)
		switch {
		case len(line) == 0, line[0] == '!':
			continue
		case line[0] == '[' && bytes.HasPrefix(bytes.ToLower(line), []byte("[adblock")):
			return FormatAdBlock
		case isRPZMarker(line):
			return FormatRPZ
		case line[0] == ';':
			votes[FormatRPZ]++
			n++
			continue
		case isCosmetic(line), bytes.HasPrefix(line, []byte("||")), bytes.HasPrefix(line, []byte("@@")):
			votes[FormatAdBlock]++
			n++
			continue
		case line[0] == '#':
			continue
		}
		n++
		first, rest := nextField(cutComment(line))
		second, rest := nextField(rest)
		switch {
		case len(second) == 0 && bytes.ContainsAny(first, "^|$"):
			votes[FormatAdBlock]++
		case len(second) == 0:
			votes[FormatPlain]++
		case isAddress(first):
			votes[FormatHosts]++
		case isRRLine(second, rest):
			votes[FormatRPZ]++
		}
	}
	best := FormatPlain
	for _, f := range []Format{FormatRPZ, FormatHosts, FormatAdBlock} {
		if votes[f] > votes[best] {
			best = f
		}
	}
	return best
}

// isRRLine reports whether the fields after an owner name look like a
// resource record: a type within the next three fields.
func isRRLine(second, rest []byte) bool {
	f := second
	for i := 0; i < 3 && len(f) > 0; i++ {
		if _, ok := dns.StringToType[strings.ToUpper(string(f))]; ok {
			return true
		}
		f, rest = nextField(rest)
	}
	return false
}
