// Package querylog records every query answered by the Protective DNS
// resolver and answers questions about them: a lock-free bounded queue on the
// query path, a batch writer, hourly append-only segment files with
// per-tenant rollups, search, and OCSF 1.8 DNS Activity export.
//
// The query path only calls Queue.Push, which copies the record into a
// preallocated slot, never blocks and never allocates. A Writer goroutine
// drains the queue in batches into a Sink, by default a Store in the data
// directory. See README.md in this directory for the storage format.
package querylog

import "errors"

// ErrInvalid marks errors caused by bad input (a filter, a cursor, a time
// range). Callers map it to the "invalid" application error code; nothing was
// changed or read.
var ErrInvalid = errors.New("invalid input")

// ErrClosed is returned by operations on a closed Store or Writer.
var ErrClosed = errors.New("querylog: closed")
