package upstream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Stream transports (TCP and TLS) keep a few long-lived connections per
// upstream and pipeline queries on them (RFC 7766 §6.2.1.1): many queries
// in flight on one connection, replies matched to waiters by ID, in any
// order. Compared with one query per connection at a time, this needs
// fewer connections and TLS handshakes under load, and a query that times
// out costs nothing but its slot: its late reply is recognised and dropped,
// the connection stays usable.
const (
	// maxInflightPerConn bounds the queries pipelined on one connection.
	// When every connection is at the bound and no more may be opened,
	// exchange fails at once with errSaturated and the pool fails over.
	maxInflightPerConn = 128
	// spreadAt is the in-flight count above which a new connection is
	// opened, while the connection limit allows, rather than piling more
	// queries onto a busy one.
	spreadAt = 32
	// abandonedIDs is how many IDs of given-up queries a connection
	// remembers, to tell their late replies from forgeries.
	abandonedIDs = 64
	// maxSilentTimeouts is how many queries in a row may time out on a
	// connection with no reply at all in between before it is dropped: a
	// timeout alone keeps the connection (the answer may just be slow), but
	// a connection that went silent would otherwise hold the upstream's
	// queries and probes until the idle timeout.
	maxSilentTimeouts = 3
)

var (
	errSaturated = errors.New("upstream: every connection to the upstream is busy")
	errConnLost  = errors.New("upstream: connection lost before the reply")
	errMalformed = errors.New("upstream: malformed reply")
	errIdle      = errors.New("upstream: connection idle")
	errSilent    = errors.New("upstream: connection silent")
)

// streamExchanger owns the connections to one TCP or TLS upstream and the
// reader goroutine of each; close ends them all.
type streamExchanger struct {
	dial     func(ctx context.Context) (net.Conn, error)
	idle     time.Duration // a connection with nothing in flight this long is closed
	maxConns int
	ids      *idSource
	forged   prometheus.Counter

	mu      sync.Mutex // guards conns, dialing, dialed, closed and every conn's inflight
	conns   []*streamConn
	dialing int
	dialed  chan struct{} // closed when a dial ends; nil when nobody waits
	closed  bool
	wg      sync.WaitGroup // reader goroutines
}

// streamConn is one connection with its pending queries.
type streamConn struct {
	x    *streamExchanger
	conn net.Conn
	wmu  sync.Mutex    // one writer at a time: a message goes out whole
	done chan struct{} // closed when the connection dies

	inflight int // guarded by x.mu: acquisitions not yet released

	mu         sync.Mutex // guards the fields below
	pending    map[uint16]*waiter
	abandoned  [abandonedIDs]uint16
	nAbandoned int
	timeouts   int // queries timed out since the last reply
	dead       bool
	err        error
}

// waiter is one query awaiting its reply. The reader verifies a reply
// against question and sends it, under the connection lock, to reply,
// whose capacity of one means the send never blocks.
type waiter struct {
	question []byte
	reply    chan []byte
}

func (x *streamExchanger) exchange(ctx context.Context, q *query) (*dns.Msg, error) {
	for attempt := 0; ; attempt++ {
		c, err := x.acquire(ctx)
		if err != nil {
			return nil, err
		}
		pkt, err := c.roundTrip(ctx, q)
		x.release(c)
		if errors.Is(err, errConnLost) && attempt == 0 && ctx.Err() == nil {
			// Typically a reused connection the server had already closed;
			// the query is idempotent, so send it once more.
			continue
		}
		if err != nil {
			return nil, err
		}
		m := new(dns.Msg)
		if err := m.Unpack(pkt); err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
		return m, nil
	}
}

// acquire picks the least busy connection, or dials a new one when all are
// busy beyond spreadAt and the limit allows; with no usable connection
// while a dial is under way, it waits for that dial. The caller must
// release the connection.
func (x *streamExchanger) acquire(ctx context.Context) (*streamConn, error) {
	for {
		x.mu.Lock()
		if x.closed {
			x.mu.Unlock()
			return nil, ErrClosed
		}
		var best *streamConn
		for _, c := range x.conns {
			if best == nil || c.inflight < best.inflight {
				best = c
			}
		}
		usable := best != nil && best.inflight < maxInflightPerConn
		full := len(x.conns)+x.dialing >= x.maxConns
		if usable && (best.inflight < spreadAt || full) {
			best.inflight++
			x.mu.Unlock()
			return best, nil
		}
		if !full {
			x.dialing++
			x.mu.Unlock()
			return x.dialConn(ctx)
		}
		if usable || x.dialing == 0 {
			x.mu.Unlock()
			return nil, errSaturated
		}
		if x.dialed == nil {
			x.dialed = make(chan struct{})
		}
		wait := x.dialed
		x.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// dialConn opens a connection for a caller that counted itself in
// x.dialing, and wakes those waiting for it.
func (x *streamExchanger) dialConn(ctx context.Context) (*streamConn, error) {
	conn, err := x.dial(ctx)

	x.mu.Lock()
	defer x.mu.Unlock()
	x.dialing--
	if x.dialed != nil {
		close(x.dialed)
		x.dialed = nil
	}
	if err != nil {
		return nil, err
	}
	if x.closed {
		conn.Close()
		return nil, ErrClosed
	}
	c := &streamConn{x: x, conn: conn, done: make(chan struct{}), pending: make(map[uint16]*waiter), inflight: 1}
	x.conns = append(x.conns, c)
	x.wg.Add(1)
	go c.readLoop()
	return c, nil
}

func (x *streamExchanger) release(c *streamConn) {
	x.mu.Lock()
	c.inflight--
	x.mu.Unlock()
}

// retireIfIdle takes c out of service if nothing is in flight on it; once
// out of the list no one can acquire it, so closing it is safe.
func (x *streamExchanger) retireIfIdle(c *streamConn) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if c.inflight > 0 {
		return false
	}
	x.removeLocked(c)
	return true
}

func (x *streamExchanger) remove(c *streamConn) {
	x.mu.Lock()
	x.removeLocked(c)
	x.mu.Unlock()
}

func (x *streamExchanger) removeLocked(c *streamConn) {
	for i, cc := range x.conns {
		if cc == c {
			x.conns = append(x.conns[:i], x.conns[i+1:]...)
			return
		}
	}
}

// close closes every connection and waits for their readers.
func (x *streamExchanger) close() {
	x.mu.Lock()
	x.closed = true
	conns := x.conns
	x.conns = nil
	x.mu.Unlock()
	for _, c := range conns {
		c.fail(ErrClosed)
	}
	x.wg.Wait()
}

// roundTrip sends q on c and waits for its verified reply. The ID is
// changed if another query in flight on c, or one recently given up,
// already uses it.
func (c *streamConn) roundTrip(ctx context.Context, q *query) ([]byte, error) {
	w := &waiter{question: q.question(), reply: make(chan []byte, 1)}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return nil, errConnLost
	}
	id := q.id()
	for c.pending[id] != nil || c.wasAbandonedLocked(id) {
		id = c.x.ids.next() // at most 192 of 65536 IDs are taken: ends quickly
	}
	q.setID(id)
	c.pending[id] = w
	c.mu.Unlock()

	deadline, _ := ctx.Deadline()
	c.wmu.Lock()
	if ctx.Err() != nil {
		// Expired while queued behind other writers: nothing was sent, so
		// the connection is intact for the others.
		c.wmu.Unlock()
		c.abandon(id, w)
		return nil, ctx.Err()
	}
	c.conn.SetWriteDeadline(deadline)
	_, err := c.conn.Write(q.framed())
	c.wmu.Unlock()
	if err != nil {
		c.fail(err) // a partly written message leaves the stream unusable
		return nil, fmt.Errorf("%w: %v", errConnLost, err)
	}

	select {
	case pkt := <-w.reply:
		return pkt, nil
	case <-c.done:
		select {
		case pkt := <-w.reply:
			return pkt, nil
		default:
		}
		return nil, fmt.Errorf("%w: %v", errConnLost, c.failure())
	case <-ctx.Done():
		if c.abandon(id, w) {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && c.timedOut() {
				c.fail(errSilent)
			}
			return nil, ctx.Err()
		}
		select { // the reader took the reply just before we gave up
		case pkt := <-w.reply:
			return pkt, nil
		default:
			return nil, ctx.Err()
		}
	}
}

// abandon removes a waiter that gave up and remembers its ID; it reports
// false if the waiter was no longer pending.
func (c *streamConn) abandon(id uint16, w *waiter) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[id] != w {
		return false
	}
	delete(c.pending, id)
	c.abandoned[c.nAbandoned%abandonedIDs] = id
	c.nAbandoned++
	return true
}

// timedOut counts a query that timed out and reports whether the
// connection has now been silent for maxSilentTimeouts of them.
func (c *streamConn) timedOut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timeouts++
	return c.timeouts >= maxSilentTimeouts
}

func (c *streamConn) wasAbandonedLocked(id uint16) bool {
	for i := range min(c.nAbandoned, abandonedIDs) {
		if c.abandoned[i] == id {
			return true
		}
	}
	return false
}

func (c *streamConn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail marks c dead, wakes its waiters and closes it; the first error wins.
func (c *streamConn) fail(err error) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	c.dead = true
	c.err = err
	c.pending = nil // waiters return on done; their questions may be reused
	c.mu.Unlock()
	// Out of the list before the waiters wake, so that a retry cannot pick
	// this connection again.
	c.x.remove(c)
	close(c.done)
	c.conn.Close()
}

func (c *streamConn) readLoop() {
	defer c.x.wg.Done()
	c.fail(c.read())
}

// read delivers length-prefixed replies until the connection fails or has
// been idle, with nothing in flight, for the idle timeout.
func (c *streamConn) read() error {
	var hdr [2]byte
	for {
		if err := c.readFull(hdr[:]); err != nil {
			return err
		}
		pkt := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if err := c.readFull(pkt); err != nil {
			return err
		}
		c.deliver(pkt)
	}
}

// readFull reads len(b) bytes, waking every idle period to retire the
// connection if nothing is in flight. A read timeout breaks neither TCP nor
// TLS, so reading resumes where it stopped.
func (c *streamConn) readFull(b []byte) error {
	for off := 0; off < len(b); {
		c.conn.SetReadDeadline(time.Now().Add(c.x.idle))
		n, err := c.conn.Read(b[off:])
		off += n
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if c.x.retireIfIdle(c) {
				return errIdle
			}
			continue
		}
		return err
	}
	return nil
}

// deliver hands pkt to the query it answers. A reply matching no pending
// query is dropped: silently if it answers one recently given up, else
// counted as forged, like one whose question differs from the query's.
func (c *streamConn) deliver(pkt []byte) {
	if len(pkt) < headerLen {
		c.x.forged.Inc()
		return
	}
	id := binary.BigEndian.Uint16(pkt)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return
	}
	c.timeouts = 0 // the server is talking
	w, ok := c.pending[id]
	if !ok {
		if !c.wasAbandonedLocked(id) {
			c.x.forged.Inc()
		}
		return
	}
	if !matches(pkt, id, w.question) {
		c.x.forged.Inc()
		return
	}
	delete(c.pending, id)
	w.reply <- pkt
}
