package feed

import "hash/maphash"

// nameIndex finds the entry of a name in one hash computation. A Go map
// would hash every new name twice (look up, then insert) and rehash every
// key when it grows; here each slot keeps 32 bits of the hash beside the
// entry number, so growing never touches the names and a probe compares a
// name only when those bits agree. Loading a million names spends most of
// its time here.
type nameIndex struct {
	seed  maphash.Seed
	slots []uint64 // hash<<32 | entry+1; 0 is empty
	n     int
	// touched keeps the loads of touch from being optimized away.
	touched uint64
}

func newNameIndex() *nameIndex {
	return &nameIndex{seed: maphash.MakeSeed(), slots: make([]uint64, 64)}
}

func (x *nameIndex) hash(name []byte) uint32 {
	return uint32(maphash.Bytes(x.seed, name))
}

// find returns the entry holding name, or -1; h is x.hash(name).
func (x *nameIndex) find(entries *entryStore, h uint32, name []byte) int {
	mask := uint32(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return -1
		}
		if uint32(s>>32) == h {
			if e := int(uint32(s)) - 1; entries.at(e).Name == string(name) {
				return e
			}
		}
	}
}

// touch loads the home slot of every name of a batch, so that the finds
// that follow do not each wait for memory.
func (x *nameIndex) touch(batch []pendingBlock) {
	mask := uint32(len(x.slots) - 1)
	var t uint64
	for _, p := range batch {
		t |= x.slots[p.hash&mask]
	}
	x.touched |= t
}

// insert records that entry e holds a name of hash h not yet in the index.
func (x *nameIndex) insert(h uint32, e int) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	x.put(h, uint64(h)<<32|uint64(e+1))
	x.n++
}

func (x *nameIndex) put(h uint32, slot uint64) {
	mask := uint32(len(x.slots) - 1)
	i := h & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = slot
}

func (x *nameIndex) grow() {
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	for _, s := range old {
		if s != 0 {
			x.put(uint32(s>>32), s)
		}
	}
}
