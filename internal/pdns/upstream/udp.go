package upstream

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// exchanger sends one query to one upstream over one transport and returns
// the verified, unpacked reply. It gives up when ctx ends, returning an
// error that wraps ctx.Err().
type exchanger interface {
	exchange(ctx context.Context, q *query) (*dns.Msg, error)
	close()
}

const (
	// defaultRetransmit is how long a UDP try waits before sending the
	// query again on the same socket, in case a packet was lost.
	defaultRetransmit = 400 * time.Millisecond
	// maxUDPSends bounds the copies of one query a UDP try sends.
	maxUDPSends = 3
)

// udpBufs holds receive buffers big enough for any UDP datagram: we
// advertise 1232 bytes, but a server that ignores EDNS0 may send more and a
// cut-off datagram could not be parsed.
var udpBufs = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}

// udpExchanger sends each query from a new socket, so the source port is a
// fresh OS-chosen ephemeral port and an attacker must guess it along with
// the ID. The socket is connected: the kernel drops datagrams from any
// other address before we see them.
type udpExchanger struct {
	addr       *net.UDPAddr
	retransmit time.Duration // 0: never resend
	forged     prometheus.Counter
}

var errNoDeadline = errors.New("upstream: exchange without deadline")

func (u *udpExchanger) exchange(ctx context.Context, q *query) (*dns.Msg, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil, errNoDeadline // the pool always sets one
	}
	conn, err := net.DialUDP("udp", nil, u.addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// Cancellation before the deadline (client gone, shutdown) unblocks
	// the read at once.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	conn.SetWriteDeadline(deadline)
	if _, err := conn.Write(q.wire()); err != nil {
		return nil, err
	}
	sends := 1
	resendAt := time.Now().Add(u.retransmit)

	bp := udpBufs.Get().(*[]byte)
	defer udpBufs.Put(bp)
	buf := *bp
	for {
		// Resend only while the try leaves time for an answer to the copy.
		resend := u.retransmit > 0 && sends < maxUDPSends && deadline.Sub(resendAt) > u.retransmit/2
		readUntil := deadline
		if resend {
			readUntil = resendAt
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		conn.SetReadDeadline(readUntil)
		n, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if resend && errors.Is(err, os.ErrDeadlineExceeded) {
				if _, err := conn.Write(q.wire()); err != nil {
					return nil, err
				}
				sends++
				resendAt = time.Now().Add(u.retransmit)
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, context.DeadlineExceeded
			}
			return nil, err
		}
		pkt := buf[:n]
		if !matches(pkt, q.id(), q.question()) {
			u.forged.Inc() // ignored: keep waiting for the real answer
			continue
		}
		m := new(dns.Msg)
		if err := m.Unpack(pkt); err != nil {
			u.forged.Inc() // right header, broken body: as suspect as a forgery
			continue
		}
		return m, nil
	}
}

func (u *udpExchanger) close() {}
