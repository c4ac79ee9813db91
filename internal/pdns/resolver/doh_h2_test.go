package resolver

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2client speaks raw HTTP/2 frames to one connection of the DoH server,
// without TLS, to test what an ordinary client never does.
type h2client struct {
	t   testing.TB
	c   net.Conn
	fr  *http2.Framer
	buf bytes.Buffer
	enc *hpack.Encoder
}

// startH2 serves one plain connection with the engine's HTTP/2 server and
// returns the client end, after the preface and the server's SETTINGS.
func startH2(t testing.TB, e *Engine, cfg DoHServerConfig, settings ...http2.Setting) *h2client {
	t.Helper()
	hc := dialH2(t, e, cfg)
	hc.check(hc.fr.WriteSettings(settings...))
	sf := hc.expect(http2.FrameSettings).(*http2.SettingsFrame)
	if v, ok := sf.Value(http2.SettingMaxConcurrentStreams); !ok || v == 0 {
		t.Fatalf("server SETTINGS without a stream limit: %v", sf)
	}
	if wu := hc.expect(http2.FrameWindowUpdate).(*http2.WindowUpdateFrame); wu.StreamID != 0 || wu.Increment != h2ConnWindow-h2DefaultWindow {
		t.Fatalf("connection window update %+v", wu)
	}
	if ack := hc.expect(http2.FrameSettings).(*http2.SettingsFrame); !ack.IsAck() {
		t.Fatal("our SETTINGS not acknowledged")
	}
	return hc
}

// dialH2 is startH2 up to the client's preface, without its SETTINGS.
func dialH2(t testing.TB, e *Engine, cfg DoHServerConfig) *h2client {
	t.Helper()
	cfg.TLS = &tls.Config{}
	srv, err := e.NewDoHServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		raw, err := l.Accept()
		if err != nil {
			return
		}
		cork := &corkConn{Conn: raw}
		newH2Conn(srv, cork, cork, tls.ConnectionState{}).serve()
	}()
	// From tenant a's address.
	c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	hc := &h2client{t: t, c: c, fr: http2.NewFramer(c, c)}
	hc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	hc.enc = hpack.NewEncoder(&hc.buf)
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	return hc
}

func (hc *h2client) check(err error) {
	hc.t.Helper()
	if err != nil {
		hc.t.Fatal(err)
	}
}

// next reads the next frame, failing the test after 5 s.
func (hc *h2client) next() http2.Frame {
	hc.t.Helper()
	_ = hc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := hc.fr.ReadFrame()
	if err != nil {
		hc.t.Fatalf("read frame: %v", err)
	}
	return f
}

func (hc *h2client) expect(typ http2.FrameType) http2.Frame {
	hc.t.Helper()
	f := hc.next()
	if f.Header().Type != typ {
		hc.t.Fatalf("got %v, want a %v frame", f.Header(), typ)
	}
	return f
}

// headers sends a header block on a stream; fields are name, value pairs.
func (hc *h2client) headers(id uint32, end bool, fields ...string) {
	hc.t.Helper()
	hc.buf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		hc.check(hc.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}))
	}
	hc.check(hc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hc.buf.Bytes(), EndStream: end, EndHeaders: true}))
}

func (hc *h2client) get(id uint32, name string) {
	hc.t.Helper()
	q := base64.RawURLEncoding.EncodeToString(packed(hc.t, name, dns.TypeA))
	hc.headers(id, true, ":method", "GET", ":scheme", "https", ":authority", "resolver.test", ":path", "/dns-query?dns="+q)
}

// ping sends a PING and reads frames until its ACK, returning the frames
// read before it: the server answers in order, so these are all it had to
// say before the PING.
func (hc *h2client) ping() []http2.Frame {
	hc.t.Helper()
	data := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	hc.check(hc.fr.WritePing(false, data))
	var before []http2.Frame
	for {
		f := hc.next()
		if p, ok := f.(*http2.PingFrame); ok && p.IsAck() {
			if p.Data != data {
				hc.t.Fatalf("PING ACK carries %v", p.Data)
			}
			return before
		}
		if d, ok := f.(*http2.DataFrame); ok {
			// The framer reuses its buffer: keep a copy.
			c := *d
			before = append(before, &dataCopy{DataFrame: c, data: append([]byte(nil), d.Data()...)})
			continue
		}
		before = append(before, f)
	}
}

type dataCopy struct {
	http2.DataFrame
	data []byte
}

func status(t testing.TB, f http2.Frame) string {
	t.Helper()
	mh, ok := f.(*http2.MetaHeadersFrame)
	if !ok {
		t.Fatalf("got %v, want HEADERS", f.Header())
	}
	return mh.PseudoValue("status")
}

func TestH2FlowControlHoldsRepliesUntilTheClientOpensItsWindow(t *testing.T) {
	e := dohEngine(t)
	hc := startH2(t, e, DoHServerConfig{}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	hc.get(1, "malware.test.")
	got := hc.ping()
	if len(got) != 1 || status(t, got[0]) != "200" || got[0].Header().Flags.Has(http2.FlagHeadersEndStream) {
		t.Fatalf("before any window: %v", got)
	}
	hc.check(hc.fr.WriteWindowUpdate(1, 5))
	got = hc.ping()
	if len(got) != 1 || len(got[0].(*dataCopy).data) != 5 || got[0].Header().Flags.Has(http2.FlagDataEndStream) {
		t.Fatalf("after a window of 5 bytes: %v", got)
	}
	hc.check(hc.fr.WriteWindowUpdate(1, 1000))
	got = hc.ping()
	if len(got) != 1 || !got[0].Header().Flags.Has(http2.FlagDataEndStream) {
		t.Fatalf("after opening the window: %v", got)
	}
	t.Run("a reset stream's reply is dropped", func(t *testing.T) {
		hc.get(3, "malware.test.")
		if got := hc.ping(); len(got) != 1 || status(t, got[0]) != "200" {
			t.Fatalf("%v", got)
		}
		hc.check(hc.fr.WriteRSTStream(3, http2.ErrCodeCancel))
		hc.check(hc.fr.WriteWindowUpdate(3, 1000))
		if got := hc.ping(); len(got) != 0 {
			t.Fatalf("frames for a reset stream: %v", got)
		}
	})
}

func TestH2RefusesStreamsBeyondTheLimit(t *testing.T) {
	e := dohEngine(t)
	hc := startH2(t, e, DoHServerConfig{MaxStreams: 2}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	for _, id := range []uint32{1, 3, 5} {
		hc.get(id, "malware.test.")
	}
	got := hc.ping()
	if len(got) != 3 || status(t, got[0]) != "200" || status(t, got[1]) != "200" {
		t.Fatalf("%v", got)
	}
	if rst, ok := got[2].(*http2.RSTStreamFrame); !ok || rst.StreamID != 5 || rst.ErrCode != http2.ErrCodeRefusedStream {
		t.Fatalf("third stream: %v", got[2])
	}
	// Once a reply is done, a new stream is taken again.
	hc.check(hc.fr.WriteWindowUpdate(1, 1000))
	hc.get(7, "malware.test.")
	got = hc.ping()
	if len(got) != 2 || status(t, got[1]) != "200" {
		t.Fatalf("after a stream ended: %v", got)
	}
}

func TestH2PostWithBodyInPiecesAndTrailers(t *testing.T) {
	e := dohEngine(t)
	hc := startH2(t, e, DoHServerConfig{})
	q := packed(t, "malware.test.", dns.TypeA)
	hc.headers(1, false, ":method", "POST", ":scheme", "https", ":path", "/dns-query", "content-type", dohContentType,
		"content-length", strconv.Itoa(len(q)))
	hc.check(hc.fr.WriteData(1, false, q[:5]))
	hc.check(hc.fr.WriteDataPadded(1, false, q[5:], []byte{0, 0, 0}))
	hc.headers(1, true, "x-trailer", "yes")
	got := hc.ping()
	if len(got) != 2 || status(t, got[0]) != "200" {
		t.Fatalf("%v", got)
	}
	var m dns.Msg
	if err := m.Unpack(got[1].(*dataCopy).data); err != nil || m.Rcode != dns.RcodeNameError {
		t.Fatalf("reply %v %v", err, m.Rcode)
	}
	t.Run("the connection window is given back", func(t *testing.T) {
		body := make([]byte, 4000)
		copy(body, q)
		var gotUpdate bool
		for i := uint32(0); i < 10; i++ {
			id := 3 + 2*i
			hc.headers(id, false, ":method", "POST", ":scheme", "https", ":path", "/dns-query", "content-type", dohContentType)
			hc.check(hc.fr.WriteData(id, true, body))
			for _, f := range hc.ping() {
				if wu, ok := f.(*http2.WindowUpdateFrame); ok && wu.StreamID == 0 {
					gotUpdate = true
				}
			}
		}
		if !gotUpdate {
			t.Fatal("40 KB of bodies and no WINDOW_UPDATE for the connection")
		}
	})
}

func TestH2MalformedRequests(t *testing.T) {
	e := dohEngine(t)
	q := base64.RawURLEncoding.EncodeToString(packed(t, "malware.test.", dns.TypeA))
	streamErrors := []struct {
		name   string
		fields []string
	}{
		{"missing path", []string{":method", "GET", ":scheme", "https"}},
		{"upper-case header name", []string{":method", "GET", ":scheme", "https", ":path", "/dns-query?dns=" + q, "Accept", "x"}},
		{"connection-specific header", []string{":method", "GET", ":scheme", "https", ":path", "/dns-query?dns=" + q, "connection", "close"}},
		{"pseudo header after a regular one", []string{":method", "GET", "accept", "x", ":scheme", "https", ":path", "/dns-query?dns=" + q}},
		{"unknown pseudo header", []string{":method", "GET", ":scheme", "https", ":path", "/dns-query?dns=" + q, ":status", "200"}},
	}
	for _, tc := range streamErrors {
		t.Run(tc.name, func(t *testing.T) {
			hc := startH2(t, e, DoHServerConfig{})
			hc.headers(1, true, tc.fields...)
			got := hc.ping()
			if len(got) != 1 || got[0].(*http2.RSTStreamFrame).ErrCode != http2.ErrCodeProtocol {
				t.Fatalf("%v", got)
			}
			hc.get(3, "malware.test.") // the connection goes on
			if got := hc.ping(); len(got) != 2 || status(t, got[0]) != "200" {
				t.Fatalf("after the stream error: %v", got)
			}
		})
	}
	t.Run("content length that does not match the body", func(t *testing.T) {
		hc := startH2(t, e, DoHServerConfig{})
		hc.headers(1, false, ":method", "POST", ":scheme", "https", ":path", "/dns-query", "content-type", dohContentType, "content-length", "99")
		hc.check(hc.fr.WriteData(1, true, packed(t, "a.test.", dns.TypeA)))
		if got := hc.ping(); len(got) != 1 || got[0].(*http2.RSTStreamFrame).ErrCode != http2.ErrCodeProtocol {
			t.Fatalf("%v", got)
		}
	})
	t.Run("header list too large", func(t *testing.T) {
		hc := startH2(t, e, DoHServerConfig{MaxHeaderBytes: 1024})
		big := strings.Repeat("a", 500)
		hc.headers(1, true, ":method", "GET", ":scheme", "https", ":path", "/dns-query?dns="+q, "x-a", big, "x-b", big, "x-c", big)
		if got := hc.ping(); len(got) != 2 || status(t, got[0]) != "431" {
			t.Fatalf("%v", got)
		}
	})
	connErrors := []struct {
		name string
		send func(hc *h2client)
		code http2.ErrCode
	}{
		{"even stream id", func(hc *h2client) { hc.get(2, "a.test.") }, http2.ErrCodeProtocol},
		{"data on an idle stream", func(hc *h2client) { hc.check(hc.fr.WriteData(9, true, []byte("x"))) }, http2.ErrCodeProtocol},
		{"stream ids going down", func(hc *h2client) { hc.get(5, "a.test."); hc.get(3, "a.test.") }, http2.ErrCodeStreamClosed},
		{"connection window overflow", func(hc *h2client) { hc.check(hc.fr.WriteWindowUpdate(0, 1<<31-1)) }, http2.ErrCodeFlowControl},
		{"push promise from a client", func(hc *h2client) {
			hc.check(hc.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: []byte{0x82}, EndHeaders: true}))
		}, http2.ErrCodeProtocol},
		{"bad setting", func(hc *h2client) {
			hc.check(hc.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 10}))
		}, http2.ErrCodeProtocol},
	}
	for _, tc := range connErrors {
		t.Run(tc.name, func(t *testing.T) {
			hc := startH2(t, e, DoHServerConfig{})
			tc.send(hc)
			for {
				f := hc.next()
				if ga, ok := f.(*http2.GoAwayFrame); ok {
					if ga.ErrCode != tc.code {
						t.Fatalf("GOAWAY %v, want %v", ga.ErrCode, tc.code)
					}
					return
				}
			}
		})
	}
}

// memConn is a connection whose reads come from a byte slice and whose
// writes are kept, for the fuzz test.
type memConn struct {
	r   *bytes.Reader
	mu  sync.Mutex
	out bytes.Buffer
}

func (m *memConn) Read(b []byte) (int, error) { return m.r.Read(b) }
func (m *memConn) Write(b []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.Write(b)
}
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 4000} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzSeed renders client frames after the preface.
func fuzzSeed(t testing.TB, write func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer)) []byte {
	var out, hb bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	enc := hpack.NewEncoder(&hb)
	write(fr, enc, &hb)
	return out.Bytes()
}

// FuzzH2Conn feeds arbitrary client frames to an HTTP/2 connection of the
// DoH server. It never panics or hangs, and what it writes is a valid
// HTTP/2 frame sequence: SETTINGS first, every reply on a stream the client
// opened, at most one reply per stream with a :status, DATA only after its
// HEADERS and nothing after END_STREAM, and no reply larger than a DNS
// message.
func FuzzH2Conn(f *testing.F) {
	q := packed(f, "malware.test.", dns.TypeA)
	get := "/dns-query?dns=" + base64.RawURLEncoding.EncodeToString(q)
	field := func(enc *hpack.Encoder, kv ...string) {
		for i := 0; i+1 < len(kv); i += 2 {
			_ = enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
	}
	f.Add(fuzzSeed(f, func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		_ = fr.WriteSettings()
		field(enc, ":method", "GET", ":scheme", "https", ":path", get)
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
		_ = fr.WritePing(false, [8]byte{})
	}))
	f.Add(fuzzSeed(f, func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
		field(enc, ":method", "POST", ":scheme", "https", ":path", "/dns-query/token-aaaaaaaaaaaaaaaa", "content-type", dohContentType)
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hb.Bytes(), EndHeaders: true})
		_ = fr.WriteData(3, true, q)
		_ = fr.WriteWindowUpdate(3, 100)
		_ = fr.WriteWindowUpdate(0, 100)
		hb.Reset()
		field(enc, ":method", "GET", ":scheme", "https", ":path", "/metrics")
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
		_ = fr.WriteRSTStream(3, http2.ErrCodeCancel)
		_ = fr.WritePriority(7, http2.PriorityParam{StreamDep: 1, Weight: 3})
		_ = fr.WriteGoAway(5, http2.ErrCodeNo, nil)
	}))
	e := dohEngine(f)
	srv, err := e.NewDoHServer(DoHServerConfig{TLS: &tls.Config{}, MaxStreams: 8})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		mc := &memConn{r: bytes.NewReader(append([]byte(http2.ClientPreface), in...))}
		cork := &corkConn{Conn: mc}
		newH2Conn(srv, cork, cork, tls.ConnectionState{}).serve()
		checkServerFrames(t, mc.out.Bytes(), in)
	})
}

// checkServerFrames checks what the server wrote (see FuzzH2Conn).
func checkServerFrames(t *testing.T, out, in []byte) {
	// The highest stream the client could have opened.
	maxClient := uint32(0)
	cfr := http2.NewFramer(nil, bytes.NewReader(in))
	cfr.AllowIllegalReads = true
	for {
		fh, err := cfr.ReadFrameHeader()
		if err != nil {
			break
		}
		if fh.Type == http2.FrameHeaders && fh.StreamID > maxClient {
			maxClient = fh.StreamID
		}
		if _, err := cfr.ReadFrameForHeader(fh); err != nil && !errors.As(err, new(http2.StreamError)) {
			break
		}
	}
	fr := http2.NewFramer(nil, bytes.NewReader(out))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	type state struct{ headers, ended bool }
	streams := map[uint32]*state{}
	sent := map[uint32]int{}
	for i := 0; ; i++ {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("frame %d the server wrote does not parse: %v", i, err)
		}
		h := f.Header()
		if i == 0 && (h.Type != http2.FrameSettings || h.Flags.Has(http2.FlagSettingsAck)) {
			t.Fatalf("first frame %v, want SETTINGS", h)
		}
		if h.StreamID > maxClient || h.StreamID != 0 && h.StreamID%2 == 0 {
			t.Fatalf("%v on a stream the client never opened (highest %d)", h, maxClient)
		}
		st := streams[h.StreamID]
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if st != nil {
				t.Fatalf("second reply on stream %d", h.StreamID)
			}
			if s := f.PseudoValue("status"); len(s) != 3 {
				t.Fatalf("reply without a status: %v", f.Fields)
			}
			streams[h.StreamID] = &state{headers: true, ended: f.StreamEnded()}
		case *http2.DataFrame:
			if st == nil || st.ended {
				t.Fatalf("DATA on stream %d without a reply open", h.StreamID)
			}
			sent[h.StreamID] += len(f.Data())
			if sent[h.StreamID] > 65535 {
				t.Fatalf("stream %d: a reply of %d bytes", h.StreamID, sent[h.StreamID])
			}
			st.ended = f.StreamEnded()
		case *http2.RSTStreamFrame:
			if st != nil {
				st.ended = true
			} else {
				streams[h.StreamID] = &state{ended: true}
			}
		case *http2.GoAwayFrame:
			if f.LastStreamID > maxClient {
				t.Fatalf("GOAWAY names stream %d, never opened", f.LastStreamID)
			}
		}
	}
}

// goAwayCode reads frames until GOAWAY and returns its code.
func (hc *h2client) goAwayCode() http2.ErrCode {
	hc.t.Helper()
	for {
		if ga, ok := hc.next().(*http2.GoAwayFrame); ok {
			return ga.ErrCode
		}
	}
}

func TestH2PrefaceMustEndWithSettings(t *testing.T) {
	e := dohEngine(t)
	hc := dialH2(t, e, DoHServerConfig{})
	hc.get(1, "malware.test.")
	if code := hc.goAwayCode(); code != http2.ErrCodeProtocol {
		t.Fatalf("GOAWAY %v, want PROTOCOL_ERROR", code)
	}
}

func TestH2BodyTooLargeIsAnsweredAtOnce(t *testing.T) {
	e := dohEngine(t)
	hc := startH2(t, e, DoHServerConfig{})
	post := func(id uint32, fields ...string) {
		hc.headers(id, false, append([]string{":method", "POST", ":scheme", "https", ":path", "/dns-query", "content-type", dohContentType}, fields...)...)
	}
	want413 := func(got []http2.Frame) {
		t.Helper()
		if len(got) != 2 || status(t, got[0]) != "413" || !got[1].Header().Flags.Has(http2.FlagDataEndStream) {
			t.Fatalf("%v", got)
		}
	}
	t.Run("announced by content-length", func(t *testing.T) {
		post(1, "content-length", "100000")
		want413(hc.ping()) // before any of the body
		// The client goes on sending: asked to stop, without an error.
		hc.check(hc.fr.WriteData(1, false, make([]byte, 1000)))
		got := hc.ping()
		if len(got) != 1 || got[0].(*http2.RSTStreamFrame).ErrCode != http2.ErrCodeNo {
			t.Fatalf("%v", got)
		}
		// What it sent before it saw the reset is ignored.
		hc.check(hc.fr.WriteData(1, false, make([]byte, 1000)))
		hc.headers(1, true, "x-trailer", "1")
		if got := hc.ping(); len(got) != 0 {
			t.Fatalf("%v", got)
		}
	})
	t.Run("found while reading", func(t *testing.T) {
		post(3)
		chunk := make([]byte, h2MaxFrame)
		for i := 0; i < 3; i++ {
			hc.check(hc.fr.WriteData(3, false, chunk))
		}
		hc.check(hc.fr.WriteData(3, false, chunk[:maxDoHBody-3*h2MaxFrame]))
		for _, f := range hc.ping() {
			if f.Header().StreamID == 3 {
				t.Fatalf("a reply before the body passed 65,535 bytes: %v", f)
			}
		}
		hc.check(hc.fr.WriteData(3, false, chunk[:1]))
		var got []http2.Frame
		for _, f := range hc.ping() {
			if f.Header().StreamID == 3 {
				got = append(got, f)
			}
		}
		want413(got)
	})
	t.Run("trailers after the reply", func(t *testing.T) {
		post(5, "content-length", "70000")
		want413(hc.ping())
		hc.headers(5, true, "x-trailer", "1")
		if got := hc.ping(); len(got) != 0 {
			t.Fatalf("%v", got)
		}
	})
	t.Run("the connection goes on", func(t *testing.T) {
		hc.get(7, "malware.test.")
		if got := hc.ping(); len(got) < 2 || status(t, got[len(got)-2]) != "200" {
			t.Fatalf("%v", got)
		}
	})
}

func TestH2RefusesStreamsWhoseFieldsWouldExceedTheBudget(t *testing.T) {
	e := dohEngine(t)
	hc := startH2(t, e, DoHServerConfig{MaxHeaderBytes: 1024}) // 4 KiB for requests awaiting their body
	big := strings.Repeat("a", 800)                            // with the pseudo fields, 971 bytes
	for id := uint32(1); id <= 9; id += 2 {
		hc.headers(id, false, ":method", "POST", ":scheme", "https", ":path", "/dns-query", "x-big", big)
	}
	got := hc.ping()
	if len(got) != 1 || got[0].Header().StreamID != 9 || got[0].(*http2.RSTStreamFrame).ErrCode != http2.ErrCodeRefusedStream {
		t.Fatalf("%v", got)
	}
	// Once a request completes, its fields no longer count.
	q := packed(t, "malware.test.", dns.TypeA)
	hc.check(hc.fr.WriteData(1, true, q))
	hc.headers(11, false, ":method", "POST", ":scheme", "https", ":path", "/dns-query", "content-type", dohContentType, "x-big", big[:700])
	hc.check(hc.fr.WriteData(11, true, q))
	got = hc.ping()
	var answered []uint32
	for _, f := range got {
		if mh, ok := f.(*http2.MetaHeadersFrame); ok {
			answered = append(answered, mh.StreamID)
		}
	}
	if len(answered) != 2 || answered[0] != 1 || answered[1] != 11 {
		t.Fatalf("answered %v: %v", answered, got)
	}
}

func TestH2HeaderTableSizeChangeIsSignalled(t *testing.T) {
	e := dohEngine(t)
	hc := startH2(t, e, DoHServerConfig{}, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
	hc.fr.ReadMetaHeaders = nil // read the block as sent
	for id := uint32(1); id <= 3; id += 2 {
		hc.get(id, "malware.test.")
		hf := hc.expect(http2.FrameHeaders).(*http2.HeadersFrame)
		// A dynamic table size update to 0 opens the first block only.
		if first := hf.HeaderBlockFragment()[0]; (id == 1) != (first == 0x20) {
			t.Fatalf("stream %d: block starts with %#x", id, first)
		}
		hc.expect(http2.FrameData)
	}
}
