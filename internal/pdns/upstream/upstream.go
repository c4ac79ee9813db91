// Package upstream forwards the resolver's cache misses to upstream servers
// over UDP/TCP, DNS over TLS or DNS over HTTPS, verifying every answer,
// tracking upstream health and failing over within the caller's deadline.
package upstream

import (
	"context"
	"errors"
	"time"

	"github.com/miekg/dns"
)

// Question is a validated DNS question. Name is canonical: lowercase, fully
// qualified (trailing dot).
type Question struct {
	Name  string
	Type  uint16
	Class uint16
}

// Resolver answers questions from upstream servers.
type Resolver interface {
	// Resolve sends a fresh query for q (never the client's packet) and returns the verified response.
	// It honours ctx's deadline. Errors: ErrAllUnavailable when no upstream answered in time;
	// ErrServerFailure (with the last response, non-nil) when every tried upstream answered SERVFAIL/REFUSED.
	Resolve(ctx context.Context, q Question) (*dns.Msg, error)
}

// Info says which upstream produced a result, for the query log.
type Info struct {
	// Upstream is the canonical spec of the upstream that answered (the
	// metrics label), or "" when none did.
	Upstream string
	// RTT is the time from sending the query to that upstream until its
	// verified answer, including a TCP retry after truncation.
	RTT time.Duration
	// Attempts counts the upstreams tried for this question.
	Attempts int
}

var (
	// ErrAllUnavailable means no upstream answered before the deadline:
	// every try timed out or failed at the network level.
	ErrAllUnavailable = errors.New("upstream: no upstream answered in time")
	// ErrServerFailure means upstreams answered, but only with SERVFAIL or
	// REFUSED; the last such response comes with the error.
	ErrServerFailure = errors.New("upstream: upstreams answered SERVFAIL or REFUSED")
	// ErrInvalidQuestion means the question cannot be put on the wire.
	ErrInvalidQuestion = errors.New("upstream: invalid question")
	// ErrClosed is returned by a Pool after Close.
	ErrClosed = errors.New("upstream: pool closed")
)
