package resolver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DoHServerConfig configures a DoHServer.
type DoHServerConfig struct {
	// TLS is the server's certificate configuration (required). The
	// server offers "h2" and "http/1.1" whatever its NextProtos say.
	TLS *tls.Config
	// Fallback serves the requests for other paths than /dns-query and
	// /dns-query/{token} (a node's health and metrics); nil answers 404.
	Fallback http.Handler
	// IdleTimeout closes a connection that sent nothing for this long
	// (default: the engine's TCPIdleTimeout).
	IdleTimeout time.Duration
	// MaxConns bounds the open connections; more are closed at once
	// (default: the engine's TCPMaxConns).
	MaxConns int
	// MaxStreams is the HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS of every
	// connection (default 256): requests a client may have unanswered.
	MaxStreams int
	// MaxHeaderBytes bounds a request's header list (default 16 KiB); a
	// larger one is answered 431.
	MaxHeaderBytes int
}

// DoHServer serves DNS over HTTPS on a listener of its own, for a DNS
// node. HTTP/2 connections, which every DoH client uses, are served by a
// purpose-built HTTP/2 server: a connection's goroutine answers cache hits
// and blocks as it reads them and their replies leave in one TLS record per
// batch, as on the DoT path, instead of a goroutine and a write per stream.
// HTTP/1.1 connections and the requests for other paths (Fallback) are
// served by net/http semantics. Create it with Engine.NewDoHServer.
type DoHServer struct {
	e     *Engine
	cfg   DoHServerConfig
	tls   *tls.Config
	sem   chan struct{} // open connections
	h1    *http.Server
	h1q   *connQueue
	h1run sync.Once
	h1err chan error // the HTTP/1 server's end, once it runs

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*h2conn]struct{}
	closing   atomic.Bool
	wg        sync.WaitGroup // connection goroutines
}

// handshakeTimeout bounds a TLS handshake.
const handshakeTimeout = 5 * time.Second

// NewDoHServer returns a DNS-over-HTTPS server answering with e. It does
// nothing until Serve.
func (e *Engine) NewDoHServer(cfg DoHServerConfig) (*DoHServer, error) {
	if cfg.TLS == nil {
		return nil, errors.New("resolver: doh server: no TLS configuration")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = e.cfg.TCPIdleTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = e.cfg.TCPMaxConns
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 256
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 16 << 10
	}
	s := &DoHServer{
		e: e, cfg: cfg, sem: make(chan struct{}, cfg.MaxConns),
		listeners: make(map[net.Listener]struct{}), conns: make(map[*h2conn]struct{}),
	}
	s.tls = cfg.TLS.Clone()
	s.tls.NextProtos = []string{"h2", "http/1.1"}
	s.h1q = newConnQueue()
	s.h1 = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP1),
		ReadHeaderTimeout: handshakeTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(e.cfg.Logger.Handler(), slog.LevelDebug),
		// Only HTTP/1 connections reach this server.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				s.release()
			}
		},
	}
	return s, nil
}

// serveHTTP1 routes an HTTP/1 request: DoH paths to the engine, the rest
// to the fallback.
func (s *DoHServer) serveHTTP1(w http.ResponseWriter, r *http.Request) {
	if isDoHPath(r.URL.Path) {
		s.e.serveDoH(w, r)
		return
	}
	s.fallback().ServeHTTP(w, r)
}

func (s *DoHServer) fallback() http.Handler {
	if s.cfg.Fallback != nil {
		return s.cfg.Fallback
	}
	return http.NotFoundHandler()
}

// isDoHPath reports whether a request path is the server's: /dns-query
// and the paths below it (the handler answers 404 for deeper ones).
func isDoHPath(p string) bool {
	return p == "/dns-query" || strings.HasPrefix(p, "/dns-query/")
}

// Serve accepts connections on l (a plain TCP listener: the server does
// TLS itself) until Shutdown, when it returns http.ErrServerClosed.
func (s *DoHServer) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = l.Close()
		return http.ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.h1run.Do(func() {
		s.h1err = make(chan error, 1)
		go func() { s.h1err <- s.h1.Serve(s.h1q) }()
	})
	s.mu.Unlock()
	for {
		c, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || !errors.Is(err, net.ErrClosed) {
				time.Sleep(5 * time.Millisecond) // e.g. out of file descriptors
				continue
			}
			return fmt.Errorf("resolver: doh accept: %w", err)
		}
		select {
		case s.sem <- struct{}{}:
		default:
			_ = c.Close()
			continue
		}
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

func (s *DoHServer) release() { <-s.sem }

// serveConn completes the TLS handshake and serves the connection as
// HTTP/2 or hands it to the HTTP/1 server.
func (s *DoHServer) serveConn(c net.Conn) {
	defer s.wg.Done()
	cork := &corkConn{Conn: c}
	tc := tls.Server(cork, s.tls)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil || s.closing.Load() {
		_ = tc.Close()
		s.release()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		if !s.h1q.push(tc) {
			_ = tc.Close()
			s.release()
		}
		return // the HTTP/1 server releases the slot when it closes
	}
	h := newH2Conn(s, tc, cork, tc.ConnectionState())
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = tc.Close()
		s.release()
		return
	}
	s.conns[h] = struct{}{}
	s.mu.Unlock()
	h.serve()
	s.mu.Lock()
	delete(s.conns, h)
	s.mu.Unlock()
	s.release()
}

// Shutdown stops accepting connections, lets every HTTP/2 connection
// answer the requests it has read (telling the client with GOAWAY that it
// sends no more), closes idle HTTP/1 connections, and waits for the
// connections to end until ctx is done; then it closes the rest.
func (s *DoHServer) Shutdown(ctx context.Context) error {
	if !s.closing.CompareAndSwap(false, true) {
		return errors.New("resolver: doh server already shut down")
	}
	return s.shutdown(ctx)
}

// shutdown is Shutdown once closing is set.
func (s *DoHServer) shutdown(ctx context.Context) error {
	s.mu.Lock()
	for l := range s.listeners {
		_ = l.Close()
	}
	for h := range s.conns {
		h.stopReading()
	}
	s.mu.Unlock()
	h1done := make(chan error, 1)
	go func() { h1done <- s.h1.Shutdown(ctx) }()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("resolver: doh server shutdown: %w", ctx.Err())
		s.mu.Lock()
		for h := range s.conns {
			_ = h.c.Close()
		}
		s.mu.Unlock()
		<-done
	}
	if herr := <-h1done; herr != nil && err == nil {
		err = fmt.Errorf("resolver: doh server shutdown: %w", herr)
	}
	s.mu.Lock()
	h1err := s.h1err
	s.mu.Unlock()
	if h1err != nil {
		<-h1err
	}
	return err
}

// connQueue is a net.Listener whose connections are pushed by the DoH
// server: the HTTP/1 connections it accepted and handshook, for net/http
// to serve.
type connQueue struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{ch: make(chan net.Conn), done: make(chan struct{})}
}

// push hands c to the HTTP/1 server; false when that server has stopped.
func (q *connQueue) push(c net.Conn) bool {
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }
