package resolver

import (
	"fmt"
	"math/bits"
	"net/netip"
	"time"

	"github.com/qsmo/qsmo/internal/pdns/blocklist"
)

// BlockMode is how a tenant answers a blocked name.
type BlockMode uint8

// Block modes.
const (
	// BlockNXDomain answers NXDOMAIN (the default).
	BlockNXDomain BlockMode = iota
	// BlockRefused answers REFUSED.
	BlockRefused
	// BlockNoData answers NOERROR with no records.
	BlockNoData
	// BlockSinkhole answers A/AAAA queries with the tenant's sinkhole
	// address (a block page) and other types with NODATA.
	BlockSinkhole
)

// String returns the mode's configuration name.
func (m BlockMode) String() string {
	switch m {
	case BlockNXDomain:
		return "nxdomain"
	case BlockRefused:
		return "refused"
	case BlockNoData:
		return "nodata"
	case BlockSinkhole:
		return "sinkhole"
	}
	return "unknown"
}

// ParseBlockMode reads a mode name as String writes it.
func ParseBlockMode(s string) (BlockMode, error) {
	for m := BlockNXDomain; m <= BlockSinkhole; m++ {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("resolver: unknown block mode %q (want nxdomain, refused, nodata or sinkhole)", s)
}

// TenantConfig is one agency's policy as the platform stores it.
type TenantConfig struct {
	// ID is the organization ID written to the query log and metrics.
	ID string
	// Sources are the agency's egress networks; the longest prefix over
	// all tenants decides who a query belongs to.
	Sources []netip.Prefix
	// DoHTokens are secrets that identify the agency on /dns-query/{token}.
	DoHTokens []string
	// Categories is the mask of threat categories the agency blocks; the
	// snapshot's Global bits are always added.
	Categories uint32
	// Allow lists names (and their subdomains; "*.name" for subdomains
	// only) that are never blocked for this agency, whatever else says.
	Allow []string
	// Deny lists names the agency blocks on its own.
	Deny []string
	// Mode is how blocked names are answered.
	Mode BlockMode
	// SinkholeV4 and SinkholeV6 are the block-page addresses of
	// BlockSinkhole (one may be invalid: that family then gets NODATA).
	SinkholeV4, SinkholeV6 netip.Addr
	// BlockTTL is the TTL of synthesized block answers (0 means 60 s).
	BlockTTL uint32
	// NoCNAMEInspection turns off blocking on names in an answer's CNAME chain.
	NoCNAMEInspection bool
	// BlockedIPs blocks any answer holding an address in these networks.
	BlockedIPs []netip.Prefix
}

// SnapshotConfig is everything a Snapshot is built from.
type SnapshotConfig struct {
	// List is the shared list built from every feed (may be nil).
	List *blocklist.List
	// Feeds names each feed id used in List's rules, for the query log.
	Feeds []string
	// Categories names each category bit, for the query log.
	Categories [32]string
	// Global are category bits every tenant blocks (the office's blocks).
	Global uint32
	// Tenants are the agencies served.
	Tenants []TenantConfig
	// ListLoadTime is how long building List took, reported with the
	// snapshot's own build time as qsmo_dns_list_reload_seconds.
	ListLoadTime time.Duration
}

// Snapshot is the immutable policy the engine answers with. Build one with
// NewSnapshot off the query path and install it with Engine.SetSnapshot;
// queries in flight finish with the snapshot they started with.
type Snapshot struct {
	list       *blocklist.List
	feeds      []string
	categories [32]string
	tenants    []tenant
	v4         map[uint64]int32 // prefix length<<32 | masked address
	v4Lens     []uint8          // prefix lengths present, longest first
	v6         map[v6Key]int32
	v6Lens     []uint8
	tokens     map[string]int32
	listNames  int
	// boundTo is the engine whose metric slots the tenants carry; set
	// once, before the snapshot is first installed.
	boundTo *Engine
	// buildSeconds is the list load time given in the config plus the
	// time NewSnapshot took.
	buildSeconds float64
}

type v6Key struct {
	hi, lo uint64
	bits   uint8
}

type tenant struct {
	id         string
	mask       uint32
	allow      *blocklist.List
	deny       *blocklist.List
	mode       BlockMode
	sink4      netip.Addr
	sink6      netip.Addr
	blockTTL   uint32
	cname      bool
	blockedIPs []netip.Prefix
	// blockedIPNames are the networks as strings, for the query log.
	blockedIPNames []string
	metric         int // slot in the per-tenant counters, set by the engine
}

// The single rule of a tenant's own lists; its category is never masked out.
const tenantCategory = 1

// NewSnapshot validates cfg and builds the lookup tables. It returns an
// error naming the first problem and builds nothing on bad input.
func NewSnapshot(cfg SnapshotConfig) (*Snapshot, error) {
	start := time.Now()
	s := &Snapshot{
		list:       cfg.List,
		feeds:      cfg.Feeds,
		categories: cfg.Categories,
		v4:         make(map[uint64]int32),
		v6:         make(map[v6Key]int32),
		tokens:     make(map[string]int32),
		listNames:  cfg.List.Len(),
	}
	seenIDs := make(map[string]bool)
	var lens4 uint64
	var lens6 [3]uint64 // a bit per IPv6 prefix length, 0..128
	for i, tc := range cfg.Tenants {
		if tc.ID == "" {
			return nil, fmt.Errorf("resolver: tenant %d: empty ID", i)
		}
		if seenIDs[tc.ID] {
			return nil, fmt.Errorf("resolver: tenant %s: listed twice", tc.ID)
		}
		seenIDs[tc.ID] = true
		t, err := newTenant(tc, cfg.Global)
		if err != nil {
			return nil, fmt.Errorf("resolver: tenant %s: %w", tc.ID, err)
		}
		s.tenants = append(s.tenants, t)
		idx := int32(i)
		for _, p := range tc.Sources {
			if !p.IsValid() {
				return nil, fmt.Errorf("resolver: tenant %s: invalid source network", tc.ID)
			}
			p = p.Masked()
			if p.Addr().Is4() || p.Addr().Is4In6() {
				a := p.Addr().Unmap()
				bitsLen := p.Bits()
				if p.Addr().Is4In6() {
					bitsLen -= 96
					if bitsLen < 0 {
						return nil, fmt.Errorf("resolver: tenant %s: source %s is wider than IPv4", tc.ID, p)
					}
				}
				k := v4Key(a, bitsLen)
				if other, dup := s.v4[k]; dup {
					return nil, fmt.Errorf("resolver: tenant %s: source %s already belongs to tenant %s", tc.ID, p, cfg.Tenants[other].ID)
				}
				s.v4[k] = idx
				lens4 |= 1 << bitsLen
				continue
			}
			k := makeV6Key(p.Addr(), p.Bits())
			if other, dup := s.v6[k]; dup {
				return nil, fmt.Errorf("resolver: tenant %s: source %s already belongs to tenant %s", tc.ID, p, cfg.Tenants[other].ID)
			}
			s.v6[k] = idx
			lens6[p.Bits()/64] |= 1 << (p.Bits() % 64)
		}
		for _, tok := range tc.DoHTokens {
			if len(tok) < 16 {
				return nil, fmt.Errorf("resolver: tenant %s: DoH token shorter than 16 characters", tc.ID)
			}
			if _, dup := s.tokens[tok]; dup {
				return nil, fmt.Errorf("resolver: tenant %s: DoH token already in use", tc.ID)
			}
			s.tokens[tok] = idx
		}
	}
	for l := 32; l >= 0; l-- {
		if lens4&(1<<l) != 0 {
			s.v4Lens = append(s.v4Lens, uint8(l))
		}
	}
	for l := 128; l >= 0; l-- {
		if lens6[l/64]&(1<<(l%64)) != 0 {
			s.v6Lens = append(s.v6Lens, uint8(l))
		}
	}
	s.buildSeconds = (cfg.ListLoadTime + time.Since(start)).Seconds()
	return s, nil
}

func newTenant(tc TenantConfig, global uint32) (tenant, error) {
	t := tenant{
		id:         tc.ID,
		mask:       tc.Categories | global,
		mode:       tc.Mode,
		sink4:      tc.SinkholeV4,
		sink6:      tc.SinkholeV6,
		blockTTL:   tc.BlockTTL,
		cname:      !tc.NoCNAMEInspection,
		blockedIPs: tc.BlockedIPs,
	}
	if t.blockTTL == 0 {
		t.blockTTL = 60
	}
	if tc.Mode > BlockSinkhole {
		return t, fmt.Errorf("unknown block mode %d", tc.Mode)
	}
	if tc.Mode == BlockSinkhole && !tc.SinkholeV4.Is4() && !(tc.SinkholeV6.Is6() && !tc.SinkholeV6.Is4In6()) {
		return t, fmt.Errorf("sinkhole mode without an IPv4 or IPv6 sinkhole address")
	}
	if tc.SinkholeV4.IsValid() && !tc.SinkholeV4.Is4() {
		return t, fmt.Errorf("sinkhole v4 %s is not an IPv4 address", tc.SinkholeV4)
	}
	if tc.SinkholeV6.IsValid() && (!tc.SinkholeV6.Is6() || tc.SinkholeV6.Is4In6()) {
		return t, fmt.Errorf("sinkhole v6 %s is not an IPv6 address", tc.SinkholeV6)
	}
	for _, p := range tc.BlockedIPs {
		if !p.IsValid() {
			return t, fmt.Errorf("invalid blocked network")
		}
		t.blockedIPNames = append(t.blockedIPNames, p.String())
	}
	var err error
	if t.allow, err = ownList(tc.Allow, blocklist.Passthru); err != nil {
		return t, fmt.Errorf("allow list: %w", err)
	}
	if t.deny, err = ownList(tc.Deny, blocklist.Block); err != nil {
		return t, fmt.Errorf("deny list: %w", err)
	}
	return t, nil
}

func ownList(names []string, action blocklist.Action) (*blocklist.List, error) {
	if len(names) == 0 {
		return nil, nil
	}
	b := blocklist.NewBuilder(len(names))
	for _, n := range names {
		if err := b.Add(n, blocklist.Rule{Category: tenantCategory, Action: action}); err != nil {
			return nil, err
		}
	}
	return b.Build()
}

func v4Key(a netip.Addr, bitsLen int) uint64 {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if bitsLen < 32 {
		v &^= 1<<(32-bitsLen) - 1
	}
	return uint64(bitsLen)<<32 | uint64(v)
}

func makeV6Key(a netip.Addr, bitsLen int) v6Key {
	b := a.As16()
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	switch {
	case bitsLen == 0:
		hi, lo = 0, 0
	case bitsLen < 64:
		hi &^= 1<<(64-bitsLen) - 1
		lo = 0
	case bitsLen == 64:
		lo = 0
	case bitsLen < 128:
		lo &^= 1<<(128-bitsLen) - 1
	}
	return v6Key{hi, lo, uint8(bitsLen)}
}

// tenantFor returns the index of the tenant owning addr, or -1. It does
// not allocate.
func (s *Snapshot) tenantFor(addr netip.Addr) int32 {
	if addr.Is4In6() {
		addr = addr.Unmap()
	}
	if addr.Is4() {
		for _, l := range s.v4Lens {
			if i, ok := s.v4[v4Key(addr, int(l))]; ok {
				return i
			}
		}
		return -1
	}
	for _, l := range s.v6Lens {
		if i, ok := s.v6[makeV6Key(addr, int(l))]; ok {
			return i
		}
	}
	return -1
}

// tenantForToken returns the index of the tenant holding a DoH token, or -1.
func (s *Snapshot) tenantForToken(tok string) int32 {
	if i, ok := s.tokens[tok]; ok {
		return i
	}
	return -1
}

// TenantFor returns the ID of the tenant a source address belongs to.
func (s *Snapshot) TenantFor(addr netip.Addr) (string, bool) {
	i := s.tenantFor(addr)
	if i < 0 {
		return "", false
	}
	return s.tenants[i].id, true
}

// ListNames returns the number of names in the shared list.
func (s *Snapshot) ListNames() int { return s.listNames }

// categoryName names the lowest category bit of m.
func (s *Snapshot) categoryName(m uint32) string {
	if m == 0 {
		return ""
	}
	return s.categories[bits.TrailingZeros32(m)]
}

// feedName names feed id f.
func (s *Snapshot) feedName(f uint16) string {
	if int(f) < len(s.feeds) {
		return s.feeds[f]
	}
	return ""
}
