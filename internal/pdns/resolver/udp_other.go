//go:build !linux

package resolver

import (
	"errors"
	"net"
)

type udpBatch struct{}

func newUDPBatch(*net.UDPConn, int) (*udpBatch, error) {
	return nil, errors.New("resolver: batched UDP needs Linux")
}

func (e *Engine) serveUDPBatch(*net.UDPConn, *udpBatch) { e.readers.Done() }
