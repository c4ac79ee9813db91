package resolver

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"golang.org/x/sys/unix"
)

// udpBatch reads up to n datagrams with one recvmmsg and sends the answers
// with one sendmmsg: under load two system calls serve a whole batch
// instead of two per query. Every buffer is allocated once.
type udpBatch struct {
	rc    syscall.RawConn
	n     int
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family
	bufs  [][]byte
	shdrs []unix.Mmsghdr
	siovs []unix.Iovec
	outs  [][]byte

	// The closures given to RawConn are made once: a closure made per
	// call would escape and allocate.
	readFn, writeFn func(fd uintptr) bool
	got             int
	sent, toSend    int
	errno           syscall.Errno
}

const maxUDPQuery = 4096 // larger datagrams are truncated by the kernel and dropped

func newUDPBatch(c *net.UDPConn, n int) (*udpBatch, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &udpBatch{
		rc: rc, n: n,
		hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), names: make([]unix.RawSockaddrInet6, n),
		bufs: make([][]byte, n), shdrs: make([]unix.Mmsghdr, n), siovs: make([]unix.Iovec, n), outs: make([][]byte, n),
	}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, maxUDPQuery)
		b.outs[i] = make([]byte, 0, 65535)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(maxUDPQuery)
		b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
		b.shdrs[i].Hdr.Iov = &b.siovs[i]
		b.shdrs[i].Hdr.SetIovlen(1)
	}
	b.readFn = func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(b.n), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		b.got, b.errno = int(r), e
		return true
	}
	b.writeFn = func(fd uintptr) bool {
		for b.sent < b.toSend {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.shdrs[b.sent])), uintptr(b.toSend-b.sent), unix.MSG_DONTWAIT, 0, 0)
			switch {
			case e == unix.EAGAIN:
				return false
			case e == unix.EINTR:
				continue
			case e != 0:
				// The first message failed (e.g. an unreachable source);
				// skip it and send the rest.
				b.sent++
				continue
			}
			b.sent += int(r)
		}
		return true
	}
	return b, nil
}

func (b *udpBatch) recv() (int, error) {
	for i := range b.hdrs {
		b.hdrs[i].Hdr.Namelen = uint32(unsafe.Sizeof(b.names[i]))
		b.hdrs[i].Hdr.Flags = 0
		b.hdrs[i].Len = 0
	}
	b.got, b.errno = 0, 0
	if err := b.rc.Read(b.readFn); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, b.errno
	}
	return b.got, nil
}

func (b *udpBatch) send(n int) error {
	if n == 0 {
		return nil
	}
	b.sent, b.toSend = 0, n
	return b.rc.Write(b.writeFn)
}

// sockaddrAddrPort reads the source address recvmmsg wrote.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&sa4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// serveUDPBatch is serveUDP with recvmmsg/sendmmsg.
func (e *Engine) serveUDPBatch(c *net.UDPConn, b *udpBatch) {
	defer e.readers.Done()
	w := newWorker(e, int(randShard()))
	for {
		n, err := b.recv()
		if err != nil {
			if e.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		e.activity.read(n)
		ns := 0
		for i := 0; i < n; i++ {
			h := &b.hdrs[i]
			if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
				continue
			}
			src := sockaddrAddrPort(&b.names[i])
			pkt := b.bufs[i][:h.Len]
			w.out = b.outs[i][:0]
			r := request{pkt: pkt, src: src, tr: querylog.UDP, limit: true}
			resp, miss := w.answer(&r)
			b.outs[i] = w.out[:0]
			if resp != nil {
				sh := &b.shdrs[ns]
				sh.Hdr.Name = h.Hdr.Name
				sh.Hdr.Namelen = h.Hdr.Namelen
				b.siovs[ns].Base = &resp[0]
				b.siovs[ns].SetLen(len(resp))
				ns++
			}
			if miss {
				e.missUDP(c, w, pkt, src)
			}
		}
		if err := b.send(ns); err != nil && (e.closing.Load() || errors.Is(err, net.ErrClosed)) {
			return
		}
	}
}

// setBuffers asks for size-byte socket buffers. The kernel caps the
// ordinary request at net.core.rmem_max/wmem_max (about 200 KiB by
// default, a few milliseconds of queries); with CAP_NET_ADMIN the forced
// variants lift the cap.
func setBuffers(c *net.UDPConn, size int) {
	_ = c.SetReadBuffer(size)
	_ = c.SetWriteBuffer(size)
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size)
	})
}
