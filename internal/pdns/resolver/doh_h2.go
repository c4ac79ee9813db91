package resolver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The HTTP/2 server of DoHServer (RFC 9113), reduced to what DNS over
// HTTPS needs. One goroutine per connection reads frames and answers what
// it can at once (cache hits, blocks, refusals, errors); a query that needs
// an upstream, and a request for the fallback handler, runs on a goroutine
// of its own (at most TCPMaxInFlight per connection; reading pauses
// beyond). Every frame goes into one buffer under a mutex, and a flusher
// goroutine writes the buffer out when signalled: while the reader finds
// more frames already received, the flusher waits its turn, so a batch of
// replies leaves in one system call. Each reply still gets a TLS record of
// its own: some clients (dnsperf's DoH mode) take one reply per record read
// and leave the rest of a record unread.
//
// Requests: HEADERS (with CONTINUATION) and DATA; trailers are accepted
// and ignored. The connection advertises MaxStreams concurrent streams, a
// 1 MiB connection window and a stream window of twice the largest DNS
// message, never raised: a body beyond 65,535 bytes is answered 413 at
// once. Received body bytes are returned to the connection window as soon
// as a request is complete, so unanswered requests hold at most 1 MiB of
// body per connection, and their header fields at most 4×MaxHeaderBytes
// (new streams are refused beyond). The preface and the client's first
// SETTINGS must arrive within handshakeTimeout, later frames within
// IdleTimeout of each other.
// Responses: header blocks are encoded with the static table and literals
// only (no dynamic table, so the peer's table size never matters), and
// DATA respects the peer's windows and frame size: a reply the windows
// cannot take waits, in arrival order, for WINDOW_UPDATE. Server push,
// priorities and the CONNECT method are not supported.

const (
	h2ConnWindow    = 1 << 20
	h2DefaultWindow = 65535
	// h2StreamWindow is a stream's receive window: more than the largest
	// DNS message, so that a body too large for one is seen as such (and
	// answered 413) instead of stalling at the window's end.
	h2StreamWindow = 2 * maxDoHBody
	h2MaxFrame     = 16384 // what we read; the peer's setting bounds what we write
	// h2WindowRefill: received bytes are given back in WINDOW_UPDATEs of at
	// least this much.
	h2WindowRefill = 32 << 10
	// maxFallbackResponse bounds what a fallback handler may write.
	maxFallbackResponse = 64 << 20
)

// h2conn is one HTTP/2 connection.
type h2conn struct {
	s   *DoHServer
	e   *Engine
	c   net.Conn
	src netip.AddrPort
	tls tls.ConnectionState

	// Reader goroutine state.
	br       *bufio.Reader
	fr       *http2.Framer
	w        *worker
	streams  map[uint32]*h2stream // streams still receiving their request
	lastID   uint32               // highest stream opened by the client
	recvWin  int64                // connection receive window left
	unacked  int64                // received bytes not yet given back
	stopping atomic.Bool          // the server is shutting down: no new streams
	// pendingFields is the header list size of the requests in streams.
	pendingFields int
	sentGoAway    bool
	sem           chan struct{} // goroutines answering off the reader
	inflight      sync.WaitGroup
	ctx           context.Context // ends with the connection
	end           context.CancelFunc

	// Send side, under wmu.
	wmu      sync.Mutex
	room     *sync.Cond // signalled when the flusher took the buffer
	wbuf     []byte     // frames not yet written
	marks    []int      // ends of the TLS records to make of wbuf
	spare    []byte     // the buffer the flusher gives back
	spareM   []int
	cork     *corkConn // under the TLS connection
	wf       *http2.Framer
	sendWin  int64 // connection send window
	initWin  int64 // the peer's SETTINGS_INITIAL_WINDOW_SIZE
	maxFrame int   // the peer's SETTINGS_MAX_FRAME_SIZE
	out      map[uint32]*h2stream
	blocked  []*h2stream // replies waiting for window, in order
	hdr      []byte      // header block scratch
	// tableSizeUpdate: the next header block starts with a dynamic table
	// size update to 0, since the client changed its table size.
	tableSizeUpdate bool
	// resets are the last streams the server reset, nresets counts them.
	resets  [16]uint32
	nresets uint32
	// rejected are the last streams answered 413 before their body ended
	// (reader only).
	rejected  [8]uint32
	nrejected uint32
	wdead     bool // writing failed: the connection is going down
	flush     chan struct{}
	open      atomic.Int32 // streams opened and not yet answered or reset
}

// h2stream is one request. The reader owns the request fields; the send
// fields are guarded by h2conn.wmu.
type h2stream struct {
	id                             uint32
	method, path, authority, ctype string
	scheme                         string
	contentLength                  int64 // -1: not given
	fields                         []hpack.HeaderField
	body                           []byte
	recvWin                        int64
	received                       int64 // DATA bytes, padding included, counted against the window
	winDelta                       int64 // WINDOW_UPDATEs received while the request was still coming
	fieldBytes                     int   // header list size kept while the body comes
	headersTooLarge                bool
	fallbackR                      bool // for the fallback handler
	sendWin                        int64
	pending                        []byte // reply bytes waiting for window
	queued, finished, reset        bool
	cancel                         func() // ends a fallback handler's context
}

// newH2Conn prepares an HTTP/2 connection: c is read and written (the TLS
// connection, or a plain one in tests), cork is the connection under it,
// which can hold records to write them in one go.
func newH2Conn(s *DoHServer, c net.Conn, cork *corkConn, state tls.ConnectionState) *h2conn {
	h := &h2conn{
		s: s, e: s.e, c: c, src: addrPortOf(c.RemoteAddr()), tls: state,
		streams: make(map[uint32]*h2stream), recvWin: h2DefaultWindow,
		sem:     make(chan struct{}, s.e.cfg.TCPMaxInFlight),
		sendWin: h2DefaultWindow, initWin: h2DefaultWindow, maxFrame: h2MaxFrame,
		out: make(map[uint32]*h2stream), flush: make(chan struct{}, 1),
	}
	h.br = bufio.NewReaderSize(c, 16<<10)
	h.cork = cork
	h.room = sync.NewCond(&h.wmu)
	h.fr = http2.NewFramer(nil, h.br)
	h.fr.SetMaxReadFrameSize(h2MaxFrame)
	h.fr.MaxHeaderListSize = uint32(s.cfg.MaxHeaderBytes)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.wf = http2.NewFramer(frameSink{h}, nil)
	h.ctx, h.end = context.WithCancel(context.Background())
	return h
}

// stopReading makes the reader stop taking new streams and end the
// connection once the requests it has read are answered.
func (h *h2conn) stopReading() {
	h.stopping.Store(true)
	_ = h.c.SetReadDeadline(time.Now())
}

// serve runs the connection until the client leaves, an error, or the
// server's shutdown.
func (h *h2conn) serve() {
	h.w = h.e.getWorker()
	flushed := make(chan struct{})
	go h.flusher(flushed)
	defer func() {
		h.inflight.Wait()
		close(h.flush)
		<-flushed
		h.wmu.Lock()
		written := !h.wdead
		if written && len(h.wbuf) > 0 {
			written = h.writeOut(h.wbuf, h.marks) == nil
		}
		h.wdead = true
		h.room.Broadcast()
		h.wmu.Unlock()
		if h.sentGoAway && written {
			// Closing with unread input would reset the connection, and the
			// client could lose the GOAWAY: read what it still sends until
			// it closes, for a second and a megabyte at most.
			_ = h.c.SetReadDeadline(time.Now().Add(goAwayLinger))
			_, _ = io.CopyN(io.Discard, h.br, 1<<20)
		}
		_ = h.c.Close()
		putWorker(h.w)
	}()
	defer h.end() // before waiting: fallback handlers see their context end
	// The preface and the client's first SETTINGS must come promptly: a
	// connection that has not started speaking HTTP/2 holds a slot of
	// MaxConns for handshakeTimeout at most, not IdleTimeout.
	_ = h.c.SetReadDeadline(time.Now().Add(handshakeTimeout))
	var preface [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(h.br, preface[:]); err != nil || string(preface[:]) != http2.ClientPreface {
		return
	}
	h.wmu.Lock()
	_ = h.wf.WriteSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: uint32(h.s.cfg.MaxStreams)},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: uint32(h.s.cfg.MaxHeaderBytes)},
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
	)
	_ = h.wf.WriteWindowUpdate(0, h2ConnWindow-h2DefaultWindow)
	h.recvWin = h2ConnWindow
	h.wmu.Unlock()
	h.signal()
	for n := 0; ; n++ {
		// About to wait for the client, or busy for a while: restart the
		// idle timer (a client that keeps the buffer full is not idle).
		if n == 1 || n > 0 && (h.br.Buffered() == 0 || n%64 == 0) {
			_ = h.c.SetReadDeadline(time.Now().Add(h.s.cfg.IdleTimeout))
		}
		if h.stopping.Load() {
			h.goAway(http2.ErrCodeNo)
			return
		}
		fh, err := h.fr.ReadFrameHeader()
		var f http2.Frame
		if err == nil {
			f, err = h.fr.ReadFrameForHeader(fh)
		}
		if err != nil {
			var se http2.StreamError
			var ce http2.ConnectionError
			switch {
			case errors.As(err, &se):
				if n == 0 {
					h.goAway(http2.ErrCodeProtocol) // not the SETTINGS of the preface
					return
				}
				if code := h.streamError(fh, se); code != http2.ErrCodeNo {
					h.goAway(code)
					return
				}
				continue
			case errors.As(err, &ce):
				h.goAway(http2.ErrCode(ce))
			case errors.Is(err, http2.ErrFrameTooLarge):
				h.goAway(http2.ErrCodeFrameSize)
			default:
				var ne net.Error
				if h.stopping.Load() || errors.As(err, &ne) && ne.Timeout() {
					h.goAway(http2.ErrCodeNo) // shutdown or idle
				}
			}
			return
		}
		if n == 0 && (fh.Type != http2.FrameSettings || fh.Flags.Has(http2.FlagSettingsAck)) {
			h.goAway(http2.ErrCodeProtocol) // the preface ends with SETTINGS (RFC 9113 §3.4)
			return
		}
		if code := h.handle(f); code != http2.ErrCodeNo {
			h.goAway(code)
			return
		}
	}
}

// streamError answers a frame the framer refused with a stream error (a
// malformed header block, a stream depending on itself): the stream is
// reset, or the connection ends when the frame was on a stream the client
// may not use.
func (h *h2conn) streamError(fh http2.FrameHeader, se http2.StreamError) http2.ErrCode {
	id := se.StreamID
	switch {
	case id == 0 || id%2 == 0:
		return http2.ErrCodeProtocol
	case id > h.lastID && fh.Type == http2.FrameHeaders:
		h.lastID = id // a malformed new stream is used up
	case id > h.lastID:
		// An idle stream cannot be reset (RFC 9113 §6.4); the error is
		// taken as the connection's, as §5.4.1 allows.
		return se.Code
	}
	h.resetStream(id, se.Code)
	return http2.ErrCodeNo
}

// flusher writes the buffered frames out when signalled. It takes the
// buffer and writes it without holding wmu, so replies keep being added
// meanwhile (up to maxUnflushed).
func (h *h2conn) flusher(flushed chan<- struct{}) {
	defer close(flushed)
	for range h.flush {
		h.wmu.Lock()
		if h.wdead || len(h.wbuf) == 0 {
			h.wmu.Unlock()
			continue
		}
		buf, marks := h.wbuf, h.marks
		h.wbuf, h.marks = h.spare[:0], h.spareM[:0]
		h.wmu.Unlock()
		err := h.writeOut(buf, marks)
		h.wmu.Lock()
		if cap(buf) <= maxKeptBuffer {
			h.spare, h.spareM = buf[:0], marks[:0]
		} else {
			h.spare, h.spareM = nil, nil // a burst's buffer is not kept for the connection's life
		}
		if err != nil {
			h.failWrite()
		}
		h.room.Broadcast()
		h.wmu.Unlock()
	}
}

// maxUnflushed bounds the frames waiting for the flusher: past it the
// reader and the goroutines answering wait, so a client that stops reading
// stops being read.
const maxUnflushed = 1 << 20

// maxKeptBuffer is the largest write buffer a connection keeps between
// flushes; a larger one, grown by a burst, is dropped once written, so an
// idle connection holds little memory.
const maxKeptBuffer = 64 << 10

// waitRoom waits while too much waits for the flusher. wmu held.
func (h *h2conn) waitRoom() {
	for len(h.wbuf) > maxUnflushed && !h.wdead {
		h.signal()
		h.room.Wait()
	}
}

// writeOut writes buf as TLS records ending at marks (and one for the
// rest), all in one system call. Only the flusher and the connection's
// final flush call it, never at the same time.
func (h *h2conn) writeOut(buf []byte, marks []int) error {
	_ = h.c.SetWriteDeadline(time.Now().Add(h.s.cfg.IdleTimeout))
	h.cork.cork()
	start := 0
	for _, m := range marks {
		if m > start {
			if _, err := h.c.Write(buf[start:m]); err != nil {
				_ = h.cork.uncork()
				return err
			}
			start = m
		}
	}
	if start < len(buf) {
		if _, err := h.c.Write(buf[start:]); err != nil {
			_ = h.cork.uncork()
			return err
		}
	}
	return h.cork.uncork()
}

// frameSink is where the framer writes: the connection's buffer. wmu held.
type frameSink struct{ h *h2conn }

func (f frameSink) Write(b []byte) (int, error) {
	f.h.wbuf = append(f.h.wbuf, b...)
	return len(b), nil
}

// endRecord ends a TLS record after the frames buffered so far. wmu held.
func (h *h2conn) endRecord() {
	if n := len(h.wbuf); n > 0 && (len(h.marks) == 0 || h.marks[len(h.marks)-1] != n) {
		h.marks = append(h.marks, n)
	}
}

// corkConn is the connection under TLS. While corked it keeps what TLS
// writes, so that many records leave in one system call.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

func (c *corkConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, b...)
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was kept. The lock is held while writing so that a
// record TLS writes meanwhile (a key update) cannot overtake the kept ones.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > maxKeptBuffer {
		c.buf = nil // do not keep a buffer sized for a burst
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// signal asks the flusher to write what is buffered.
func (h *h2conn) signal() {
	select {
	case h.flush <- struct{}{}:
	default: // a flush is pending already and will carry this
	}
}

// failWrite gives up on a connection whose writes fail (the client went
// away or stopped reading): the reader sees the closed connection. wmu
// held.
func (h *h2conn) failWrite() {
	h.wdead = true
	_ = h.c.Close()
}

// write runs fn, which writes frames, under wmu and signals the flusher.
func (h *h2conn) write(fn func() error) {
	h.wmu.Lock()
	h.waitRoom()
	if !h.wdead {
		if err := fn(); err != nil {
			h.failWrite()
		}
		h.endRecord()
	}
	h.wmu.Unlock()
	h.signal()
}

// goAway ends the connection with GOAWAY; the reader calls it, then
// returns.
func (h *h2conn) goAway(code http2.ErrCode) {
	h.sentGoAway = true
	h.write(func() error { return h.wf.WriteGoAway(h.lastID, code, nil) })
}

// goAwayLinger is how long a connection that sent GOAWAY reads on before
// closing.
const goAwayLinger = time.Second

// handle processes one frame; a code other than ErrCodeNo ends the
// connection with that error.
func (h *h2conn) handle(f http2.Frame) http2.ErrCode {
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		return h.onHeaders(f)
	case *http2.DataFrame:
		return h.onData(f)
	case *http2.RSTStreamFrame:
		if f.StreamID > h.lastID {
			return http2.ErrCodeProtocol // idle stream
		}
		h.dropStream(f.StreamID)
	case *http2.WindowUpdateFrame:
		return h.onWindowUpdate(f)
	case *http2.SettingsFrame:
		if f.IsAck() {
			return http2.ErrCodeNo
		}
		return h.onSettings(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			data := f.Data
			h.write(func() error { return h.wf.WritePing(true, data) })
		}
	case *http2.GoAwayFrame:
		// The client opens no more streams; the ones it has are answered.
	case *http2.PushPromiseFrame:
		return http2.ErrCodeProtocol
	case *http2.ContinuationFrame:
		return http2.ErrCodeProtocol // the framer joins legitimate ones to HEADERS
	}
	// PRIORITY and unknown frame types are ignored (RFC 9113 §5.5).
	return http2.ErrCodeNo
}

// onHeaders opens a stream, or ends one with trailers.
func (h *h2conn) onHeaders(f *http2.MetaHeadersFrame) http2.ErrCode {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ErrCodeProtocol
	}
	if id <= h.lastID {
		st := h.streams[id]
		if st == nil {
			h.wmu.Lock()
			answering, wasReset := h.out[id] != nil, h.resetByUs(id)
			h.wmu.Unlock()
			switch {
			case h.wasRejected(id):
				return http2.ErrCodeNo // the trailers of a body not wanted
			case answering:
				h.resetStream(id, http2.ErrCodeStreamClosed) // half-closed: a stream error
				return http2.ErrCodeNo
			case wasReset:
				return http2.ErrCodeNo // sent before our RST_STREAM arrived: ignored (RFC 9113 §5.1)
			}
			return http2.ErrCodeStreamClosed
		}
		// Trailers: they must end the stream and carry no pseudo fields.
		if !f.StreamEnded() || len(f.PseudoFields()) > 0 {
			h.resetStream(id, http2.ErrCodeProtocol)
			return http2.ErrCodeNo
		}
		h.endRequest(st)
		return http2.ErrCodeNo
	}
	h.lastID = id
	// A request still to be completed by DATA keeps its fields meanwhile:
	// their total is bounded per connection, as its bodies are by the
	// connection window.
	var size int
	if !f.StreamEnded() {
		for _, hf := range f.Fields {
			size += int(hf.Size())
		}
	}
	if h.stopping.Load() || int(h.open.Load()) >= h.s.cfg.MaxStreams || h.pendingFields+size > h.maxPendingFields() {
		h.sendReset(id, http2.ErrCodeRefusedStream)
		return http2.ErrCodeNo
	}
	st := &h2stream{id: id, recvWin: h2StreamWindow, contentLength: -1, fieldBytes: size}
	h.open.Add(1)
	if f.Truncated {
		st.headersTooLarge = true
	} else if !st.readFields(f) {
		h.open.Add(-1)
		h.sendReset(id, http2.ErrCodeProtocol)
		return http2.ErrCodeNo
	}
	switch {
	case f.StreamEnded():
		h.endRequest(st)
	case st.contentLength > maxDoHBody:
		h.rejectBody(st)
	default:
		h.streams[id] = st
		h.pendingFields += size
	}
	return http2.ErrCodeNo
}

// maxPendingFields bounds the header fields a connection keeps for
// requests whose body is still to come.
func (h *h2conn) maxPendingFields() int { return 4 * h.s.cfg.MaxHeaderBytes }

// forget removes a stream that is still receiving its request.
func (h *h2conn) forget(st *h2stream) {
	delete(h.streams, st.id)
	h.pendingFields -= st.fieldBytes
	h.giveBack(st.received)
}

// rejectBody answers 413 to a request whose body cannot be a DNS message
// (or is too large for the fallback) without waiting for the rest of it.
// If the client goes on sending it, RST_STREAM(NO_ERROR) asks it to stop
// (RFC 9113 §8.1). That frame is not sent with the reply: some clients
// (curl 7.88) drop a reply whose stream is reset in the same read.
func (h *h2conn) rejectBody(st *h2stream) {
	if h.streams[st.id] == st {
		h.forget(st)
	}
	st.body = nil
	h.rejected[h.nrejected%uint32(len(h.rejected))] = st.id
	h.nrejected++
	h.wmu.Lock()
	st.sendWin = h.initWin + st.winDelta
	h.out[st.id] = st
	h.wmu.Unlock()
	h.e.activity.read(1)
	h.respondError(st, http.StatusRequestEntityTooLarge, "request body too large")
}

// wasRejected reports whether stream id was answered 413 by rejectBody
// while its body came, and forgets it: the first frame that comes on it
// after the reply either ends it or gets it reset.
func (h *h2conn) wasRejected(id uint32) bool {
	for i, r := range h.rejected {
		if r == id {
			h.rejected[i] = 0
			return true
		}
	}
	return false
}

// sendReset writes RST_STREAM for a stream the server ends.
func (h *h2conn) sendReset(id uint32, code http2.ErrCode) {
	h.write(func() error {
		h.noteReset(id)
		return h.wf.WriteRSTStream(id, code)
	})
}

// noteReset remembers a stream the server reset, so that the frames the
// client sent before it saw the RST_STREAM are ignored. wmu held.
func (h *h2conn) noteReset(id uint32) {
	h.resets[h.nresets%uint32(len(h.resets))] = id
	h.nresets++
}

// resetByUs reports whether the server reset stream id recently. wmu held.
func (h *h2conn) resetByUs(id uint32) bool {
	for _, r := range h.resets {
		if r == id {
			return true
		}
	}
	return false
}

// readFields takes the request's pseudo fields and the headers the server
// uses; it reports false for a malformed request (RFC 9113 §8.1.1).
func (st *h2stream) readFields(f *http2.MetaHeadersFrame) bool {
	for _, hf := range f.Fields {
		switch hf.Name {
		case ":method":
			st.method = hf.Value
		case ":path":
			st.path = hf.Value
		case ":scheme":
			st.scheme = hf.Value
		case ":authority":
			st.authority = hf.Value
		case ":protocol":
			return false // extended CONNECT is not offered
		case "content-type":
			st.ctype = hf.Value
		case "content-length":
			n, err := strconv.ParseUint(hf.Value, 10, 63) // digits only, no sign (RFC 9110 §8.6)
			if err != nil || st.contentLength >= 0 && int64(n) != st.contentLength {
				return false
			}
			st.contentLength = int64(n)
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return false
		case "te":
			if hf.Value != "trailers" {
				return false
			}
		}
	}
	if st.method == "" || st.scheme == "" || st.path == "" || st.path[0] != '/' && !(st.path == "*" && st.method == http.MethodOptions) {
		return false
	}
	if !isDoHPath(pathOnly(st.path)) {
		st.fallbackR = true
		st.fields = f.RegularFields()
	}
	return true
}

func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// onData receives request body bytes.
func (h *h2conn) onData(f *http2.DataFrame) http2.ErrCode {
	n := int64(f.Length)
	if n > h.recvWin {
		return http2.ErrCodeFlowControl
	}
	h.recvWin -= n
	st := h.streams[f.StreamID]
	if st == nil {
		h.giveBack(n)
		if f.StreamID > h.lastID || f.StreamID%2 == 0 {
			return http2.ErrCodeProtocol // an idle stream
		}
		if h.wasRejected(f.StreamID) && !f.StreamEnded() {
			h.sendReset(f.StreamID, http2.ErrCodeNo) // the body is not wanted (see rejectBody)
		}
		// A stream we reset or answered already: ignore (RFC 9113 §5.1).
		return http2.ErrCodeNo
	}
	st.received += n
	if n > st.recvWin {
		h.resetStream(st.id, http2.ErrCodeFlowControl)
		return http2.ErrCodeNo
	}
	st.recvWin -= n
	data := f.Data()
	if len(st.body)+len(data) > maxDoHBody {
		h.rejectBody(st)
		return http2.ErrCodeNo
	}
	st.body = append(st.body, data...)
	if f.StreamEnded() {
		h.endRequest(st)
	}
	return http2.ErrCodeNo
}

// giveBack returns n received bytes to the connection window.
func (h *h2conn) giveBack(n int64) {
	h.unacked += n
	h.recvWin += n
	if h.unacked >= h2WindowRefill {
		inc := uint32(h.unacked)
		h.unacked = 0
		h.write(func() error { return h.wf.WriteWindowUpdate(0, inc) })
	}
}

// dropStream forgets a stream the client reset.
func (h *h2conn) dropStream(id uint32) {
	if st := h.streams[id]; st != nil {
		h.forget(st)
		h.open.Add(-1)
		return
	}
	h.wmu.Lock()
	if st := h.out[id]; st != nil {
		st.reset = true
		if st.cancel != nil {
			st.cancel()
		}
		h.finishLocked(st)
	}
	h.wmu.Unlock()
}

// resetStream ends a stream with a stream error.
func (h *h2conn) resetStream(id uint32, code http2.ErrCode) {
	if id == 0 {
		return
	}
	h.dropStream(id)
	h.sendReset(id, code)
}

// endRequest is called when a stream's request is complete: it is
// answered at once or handed to a goroutine.
func (h *h2conn) endRequest(st *h2stream) {
	if h.streams[st.id] == st {
		h.forget(st)
	}
	if st.contentLength >= 0 && !st.headersTooLarge && int64(len(st.body)) != st.contentLength {
		h.open.Add(-1)
		h.sendReset(st.id, http2.ErrCodeProtocol)
		return
	}
	h.wmu.Lock()
	st.sendWin = h.initWin + st.winDelta
	h.out[st.id] = st
	h.wmu.Unlock()
	h.e.activity.read(1)
	switch {
	case st.headersTooLarge:
		h.respondError(st, http.StatusRequestHeaderFieldsTooLarge, "request header fields too large")
	case st.fallbackR:
		h.goAsync(func() { h.serveFallback(st) })
	default:
		in := dohInput{method: st.method, path: pathOnly(st.path), rawQuery: rawQuery(st.path), contentType: st.ctype, body: st.body, src: h.src}
		rep, miss := h.e.dohAnswer(h.w, &in, false)
		if !miss {
			h.respondDoH(st, &rep)
			return
		}
		h.goAsync(func() {
			w := h.e.getWorker()
			defer putWorker(w)
			rep, _ := h.e.dohAnswer(w, &in, true)
			h.respondDoH(st, &rep)
		})
	}
}

func rawQuery(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[i+1:]
	}
	return ""
}

// goAsync runs fn on a goroutine of its own, waiting (and so pausing the
// reading of the connection) while TCPMaxInFlight of them run.
func (h *h2conn) goAsync(fn func()) {
	h.sem <- struct{}{}
	h.inflight.Add(1)
	go func() {
		defer func() {
			<-h.sem
			h.inflight.Done()
		}()
		fn()
	}()
}

// respondDoH writes a DoH reply.
func (h *h2conn) respondDoH(st *h2stream, rep *dohReply) {
	if rep.status != http.StatusOK {
		h.respondError(st, rep.status, rep.msg)
		return
	}
	h.wmu.Lock()
	h.waitRoom()
	b := appendStatus(h.hdr[:0], http.StatusOK)
	b = appendLiteral(b, hpackContentType, "", dohContentType)
	b = appendLiteralInt(b, hpackContentLength, "", uint64(len(rep.resp)))
	if rep.cacheable {
		b = appendLiteralInt(b, hpackCacheControl, "max-age=", uint64(rep.maxAge))
	}
	h.hdr = b
	h.sendLocked(st, b, rep.resp)
	h.wmu.Unlock()
	h.signal()
}

// respondError writes an error reply as http.Error does.
func (h *h2conn) respondError(st *h2stream, status int, msg string) {
	body := msg + "\n"
	h.wmu.Lock()
	h.waitRoom()
	b := appendStatus(h.hdr[:0], status)
	b = appendLiteral(b, hpackContentType, "", "text/plain; charset=utf-8")
	b = appendLiteral(b, 0, "x-content-type-options", "nosniff")
	if status == http.StatusMethodNotAllowed {
		b = appendLiteral(b, hpackAllow, "", "GET, POST")
	}
	b = appendLiteralInt(b, hpackContentLength, "", uint64(len(body)))
	h.hdr = b
	h.sendLocked(st, b, unsafeBytes(body))
	h.wmu.Unlock()
	h.signal()
}

// sendLocked writes a reply's HEADERS and as much of its body as the
// windows take; the rest waits for WINDOW_UPDATE. body is copied when it
// must wait. wmu held.
func (h *h2conn) sendLocked(st *h2stream, block, body []byte) {
	if st.finished || h.wdead {
		h.finishLocked(st)
		return
	}
	if h.tableSizeUpdate {
		h.tableSizeUpdate = false
		block = append([]byte{0x20}, block...) // size update, new size 0 (RFC 7541 §6.3)
	}
	for first := true; first || len(block) > 0; first = false {
		n := min(len(block), h.maxFrame)
		frag, rest := block[:n], block[n:]
		var err error
		if first {
			err = h.wf.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: frag, EndHeaders: len(rest) == 0, EndStream: len(body) == 0})
		} else {
			err = h.wf.WriteContinuation(st.id, len(rest) == 0, frag)
		}
		if err != nil {
			h.failWrite()
			return
		}
		block = rest
	}
	if len(body) == 0 {
		h.finishLocked(st)
		h.endRecord()
		return
	}
	st.pending = body
	if !h.sendDataLocked(st) {
		st.pending = append([]byte(nil), st.pending...)
		st.queued = true
		h.blocked = append(h.blocked, st)
	}
	h.endRecord()
}

// sendDataLocked writes as much of st.pending as the windows allow and
// reports whether all of it went. wmu held.
func (h *h2conn) sendDataLocked(st *h2stream) bool {
	for len(st.pending) > 0 {
		n := int64(min(len(st.pending), h.maxFrame))
		n = min(n, st.sendWin, h.sendWin)
		if n <= 0 {
			return false
		}
		end := int(n) == len(st.pending)
		if err := h.wf.WriteData(st.id, end, st.pending[:n]); err != nil {
			h.failWrite()
			return true
		}
		st.pending = st.pending[n:]
		st.sendWin -= n
		h.sendWin -= n
	}
	h.finishLocked(st)
	return true
}

// finishLocked ends a stream's life on the send side. wmu held.
func (h *h2conn) finishLocked(st *h2stream) {
	if st.finished {
		return
	}
	st.finished = true
	st.pending = nil
	delete(h.out, st.id)
	h.open.Add(-1)
}

// resumeLocked sends what waits for window, in order. wmu held.
func (h *h2conn) resumeLocked() {
	kept := h.blocked[:0]
	for i, st := range h.blocked {
		if st.finished {
			continue
		}
		if h.sendWin <= 0 {
			kept = append(kept, h.blocked[i:]...)
			break
		}
		sent := h.sendDataLocked(st)
		h.endRecord()
		if !sent {
			kept = append(kept, st)
			continue
		}
		st.queued = false
	}
	clear(h.blocked[len(kept):])
	h.blocked = kept
}

func (h *h2conn) onWindowUpdate(f *http2.WindowUpdateFrame) http2.ErrCode {
	inc := int64(f.Increment)
	h.wmu.Lock()
	defer func() {
		h.wmu.Unlock()
		h.signal()
	}()
	if f.StreamID == 0 {
		if h.sendWin+inc > 1<<31-1 {
			return http2.ErrCodeFlowControl
		}
		h.sendWin += inc
		h.resumeLocked()
		return http2.ErrCodeNo
	}
	st := h.out[f.StreamID]
	if st == nil {
		if f.StreamID > h.lastID {
			return http2.ErrCodeProtocol // an idle stream
		}
		if rs := h.streams[f.StreamID]; rs != nil {
			// Still receiving its request: counted when the reply starts.
			if h.initWin+rs.winDelta+inc > 1<<31-1 {
				return http2.ErrCodeFlowControl
			}
			rs.winDelta += inc
		}
		return http2.ErrCodeNo
	}
	if st.sendWin+inc > 1<<31-1 {
		st.reset = true
		h.finishLocked(st)
		h.noteReset(st.id)
		if err := h.wf.WriteRSTStream(st.id, http2.ErrCodeFlowControl); err != nil {
			h.failWrite()
		}
		return http2.ErrCodeNo
	}
	st.sendWin += inc
	if st.queued {
		h.resumeLocked()
	}
	return http2.ErrCodeNo
}

func (h *h2conn) onSettings(f *http2.SettingsFrame) http2.ErrCode {
	h.wmu.Lock()
	defer func() {
		h.wmu.Unlock()
		h.signal()
	}()
	h.waitRoom() // every SETTINGS is acknowledged: a client that does not read them waits
	code := http2.ErrCodeNo
	_ = f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			code = http2.ErrCodeProtocol
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				code = http2.ErrCode(ce)
			}
			return err
		}
		switch s.ID {
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - h.initWin
			h.initWin = int64(s.Val)
			for _, st := range h.out {
				if st.sendWin+delta > 1<<31-1 {
					code = http2.ErrCodeFlowControl
				}
				st.sendWin += delta
			}
		case http2.SettingMaxFrameSize:
			h.maxFrame = int(s.Val)
		case http2.SettingHeaderTableSize:
			// Our blocks never use the dynamic table, but a decoder whose
			// table shrank expects a size update first (RFC 7541 §4.2).
			h.tableSizeUpdate = true
		}
		return nil
	})
	if code != http2.ErrCodeNo {
		return code
	}
	if h.wdead {
		return http2.ErrCodeNo
	}
	if err := h.wf.WriteSettingsAck(); err != nil {
		h.failWrite()
	}
	h.endRecord()
	h.resumeLocked()
	return http2.ErrCodeNo
}
