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

// setBuffers asks for size-byte socket buffers.
func setBuffers(c *net.UDPConn, size int) {
	_ = c.SetReadBuffer(size)
	_ = c.SetWriteBuffer(size)
}
