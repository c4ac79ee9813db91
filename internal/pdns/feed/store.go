package feed

import "unsafe"

// entryStore holds entries in fixed chunks while a feed is read, so that a
// million entries are never copied on growth; the result is copied once,
// to a slice of exactly the right length.
type entryStore struct {
	chunks [][]Entry
	n      int
}

const (
	chunkBits = 14
	chunkSize = 1 << chunkBits
)

func (s *entryStore) at(i int) *Entry {
	return &s.chunks[i>>chunkBits][i&(chunkSize-1)]
}

func (s *entryStore) add(e Entry) int {
	if s.n&(chunkSize-1) == 0 {
		s.chunks = append(s.chunks, make([]Entry, chunkSize))
	}
	i := s.n
	*s.at(i) = e
	s.n++
	return i
}

func (s *entryStore) slice() []Entry {
	out := make([]Entry, 0, s.n)
	for _, c := range s.chunks {
		out = append(out, c[:min(len(c), s.n-len(out))]...)
	}
	return out
}

// nameArena stores entry names in large append-only blocks: one allocation
// per 64 KiB of names instead of one per name, which halves the garbage
// collector's work when a million names load. Bytes once written are never
// changed, which is what makes the strings over them sound.
type nameArena struct {
	block []byte
}

const arenaBlock = 64 << 10

func (a *nameArena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(a.block)-len(a.block) < len(b) {
		a.block = make([]byte, 0, max(arenaBlock, len(b)))
	}
	off := len(a.block)
	a.block = append(a.block, b...)
	return unsafe.String(&a.block[off], len(b))
}
