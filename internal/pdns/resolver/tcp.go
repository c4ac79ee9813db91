package resolver

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// serveStream accepts TCP or DoT connections (RFC 7766, RFC 7858) until
// the listener closes. Connections beyond TCPMaxConns are closed at once.
func (e *Engine) serveStream(l net.Listener, tr querylog.Transport) {
	defer e.readers.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if e.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		select {
		case e.tcpConns <- struct{}{}:
		default:
			_ = c.Close()
			continue
		}
		e.mu.Lock()
		if e.closing.Load() {
			e.mu.Unlock()
			_ = c.Close()
			<-e.tcpConns
			continue
		}
		e.conns[c] = struct{}{}
		e.readers.Add(1)
		e.mu.Unlock()
		go e.serveConn(c, tr)
	}
}

// serveConn answers length-prefixed queries on one connection. Queries are
// pipelined: cache hits are answered in order as they are read, misses on
// their own goroutines (at most TCPMaxInFlight per connection) and their
// answers written when ready, so replies may come out of order (RFC 7766
// §6.2.1.1). Answers are buffered and flushed when no query waits in the
// read buffer, so a pipelining client gets few large writes.
func (e *Engine) serveConn(c net.Conn, tr querylog.Transport) {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		e.mu.Lock()
		delete(e.conns, c)
		e.mu.Unlock()
		_ = c.Close()
		<-e.tcpConns
		e.readers.Done()
	}()
	if tc, ok := c.(*tls.Conn); ok {
		_ = c.SetDeadline(time.Now().Add(e.cfg.TCPIdleTimeout))
		if err := tc.Handshake(); err != nil {
			return
		}
		_ = c.SetDeadline(time.Time{})
	}
	src := addrPortOf(c.RemoteAddr())
	br := bufio.NewReaderSize(c, 8192)
	bw := bufio.NewWriterSize(c, 16384)
	// Answers go into bw under wmu; a flusher goroutine writes them out
	// when signalled. While the reader keeps finding pipelined queries the
	// flusher waits its turn, so one write (one TLS record) carries many
	// answers; when the reader blocks, the flusher runs at once.
	var wmu sync.Mutex
	flush := make(chan struct{}, 1)
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for range flush {
			wmu.Lock()
			_ = bw.Flush()
			wmu.Unlock()
		}
	}()
	defer func() {
		wg.Wait()
		close(flush)
		<-flushed
		wmu.Lock()
		_ = bw.Flush()
		wmu.Unlock()
	}()
	write := func(resp []byte) {
		wmu.Lock()
		var l [2]byte
		binary.BigEndian.PutUint16(l[:], uint16(len(resp)))
		_, _ = bw.Write(l[:])
		_, _ = bw.Write(resp)
		wmu.Unlock()
		select {
		case flush <- struct{}{}:
		default: // a flush is pending already and will carry this answer
		}
	}
	w := e.getWorker()
	defer putWorker(w)
	sem := make(chan struct{}, e.cfg.TCPMaxInFlight)
	buf := make([]byte, 65535)
	for {
		if br.Buffered() == 0 {
			// About to wait for the client: restart the idle timer.
			_ = c.SetReadDeadline(time.Now().Add(e.cfg.TCPIdleTimeout))
		}
		if e.closing.Load() { // checked after the deadline: Shutdown sets closing first
			break
		}
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			break
		}
		n := int(binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			break
		}
		e.activity.read(1)
		r := request{pkt: buf[:n], src: src, tr: tr}
		resp, miss := w.answer(&r)
		if resp != nil {
			write(resp)
		} else if !miss {
			break // not a query: the stream cannot be trusted any more
		}
		if !miss {
			continue
		}
		sem <- struct{}{}
		cp := append([]byte(nil), buf[:n]...)
		wg.Add(1)
		e.inflight.Add(1)
		go func() {
			defer func() {
				<-sem
				wg.Done()
				e.inflight.Done()
			}()
			w := e.getWorker()
			defer putWorker(w)
			r := request{pkt: cp, src: src, tr: tr, wait: true}
			if resp, _ := w.answer(&r); resp != nil {
				write(resp)
			}
		}()
	}
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
