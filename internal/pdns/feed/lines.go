package feed

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// detectSize is how much of the input FormatAuto looks at.
const detectSize = 64 << 10

// lineReader yields the lines of a stream without allocating: each line is
// a slice into the bufio buffer, valid until the next call. A line longer
// than max is reported as such and skipped in constant memory, so one absurd
// line costs its own rejection, not the feed.
type lineReader struct {
	br   *bufio.Reader
	max  int
	n    int    // lines read so far
	err  error  // first read error other than io.EOF
	long []byte // start of the last over-long line, for the report
}

func newLineReader(r io.Reader, max int) *lineReader {
	size := max + 2 // room for "\r\n"
	if size < detectSize {
		size = detectSize
	}
	return &lineReader{br: bufio.NewReaderSize(r, size), max: max}
}

// next returns the next line without its line ending. tooLong reports a
// line over the limit, whose first bytes are returned. ok is false at the
// end of input or on a read error (see lr.err).
func (lr *lineReader) next() (line []byte, tooLong, ok bool) {
	if lr.err != nil {
		return nil, false, false
	}
	line, err := lr.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		lr.long = append(lr.long[:0], line[:min(len(line), 120)]...)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = lr.br.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			lr.err = err
			return nil, false, false
		}
		lr.n++
		return lr.long, true, true
	}
	if err != nil && err != io.EOF {
		lr.err = err
		return nil, false, false
	}
	if len(line) == 0 {
		return nil, false, false
	}
	lr.n++
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if lr.n == 1 {
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	}
	if len(line) > lr.max {
		return line[:min(len(line), 120)], true, true
	}
	return line, false, true
}

// isSpace reports ASCII white space; feeds use nothing else to separate
// fields.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// containsSpace reports whether b holds a field separator other than
// '\r' (as bytes.ContainsAny(b, " \t\v\f") would, without building its
// byte set on every call).
func containsSpace(b []byte) bool {
	for _, c := range b {
		if c == ' ' || c == '\t' || c == '\v' || c == '\f' {
			return true
		}
	}
	return false
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// nextField splits the first white-space separated field off b.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	j := i
	for j < len(b) && !isSpace(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

// cutComment removes a '#' comment that starts a field ("name # note").
// A '#' inside a field is left alone so that the field is reported invalid
// rather than silently shortened.
func cutComment(b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] == '#' && (i == 0 || isSpace(b[i-1])) {
			return b[:i]
		}
	}
	return b
}
