package resolver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"

	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"golang.org/x/sys/unix"
)

// listenUDP opens n sockets on addr; with n > 1 they share the port with
// SO_REUSEPORT and the kernel spreads clients over them.
func listenUDP(ctx context.Context, addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{}
	if n > 1 {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	var conns []*net.UDPConn
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			for _, c := range conns {
				_ = c.Close()
			}
			return nil, err
		}
		c := pc.(*net.UDPConn)
		// Room for bursts while the reader is busy (a GC pause, a snapshot
		// build on a single core): the kernel drops what does not fit.
		setBuffers(c, 4<<20)
		conns = append(conns, c)
		addr = c.LocalAddr().String() // port 0: the others join the first
	}
	return conns, nil
}

// serveUDP reads queries from c until the engine shuts down. Cache hits,
// blocks and refusals are answered right here; a miss goes to its own
// goroutine (bounded by MaxPending) so the socket keeps being read.
func (e *Engine) serveUDP(c *net.UDPConn) {
	defer e.readers.Done()
	w := newWorker(e, int(randShard()))
	buf := make([]byte, 65535)
	for {
		n, src, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if e.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP errors reported on the socket
		}
		e.activity.read(1)
		r := request{pkt: buf[:n], src: src, tr: querylog.UDP, limit: true}
		resp, miss := w.answer(&r)
		if resp != nil {
			_, _ = c.WriteToUDPAddrPort(resp, src)
		}
		if miss {
			e.missUDP(c, w, buf[:n], src)
		}
	}
}

// missUDP answers a query that needs an upstream on a new goroutine, or
// at once (stale or SERVFAIL) when MaxPending queries wait already.
func (e *Engine) missUDP(c *net.UDPConn, w *worker, pkt []byte, src netip.AddrPort) {
	select {
	case e.pending <- struct{}{}:
	default:
		r := request{pkt: pkt, src: src, tr: querylog.UDP, failFast: true}
		if resp, _ := w.answer(&r); resp != nil {
			_, _ = c.WriteToUDPAddrPort(resp, src)
		}
		return
	}
	cp := append([]byte(nil), pkt...)
	e.inflight.Add(1)
	go func() {
		defer func() {
			<-e.pending
			e.inflight.Done()
		}()
		w := e.getWorker()
		defer putWorker(w)
		r := request{pkt: cp, src: src, tr: querylog.UDP, wait: true}
		if resp, _ := w.answer(&r); resp != nil {
			_, _ = c.WriteToUDPAddrPort(resp, src)
		}
	}()
}
