package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/qsmo/qsmo/internal/pdns"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/pdns/resolver"
)

// wireDNS adds Protective DNS: the service and its pages always (policy
// lives in the database whether or not this process resolves), and a
// resolver node unless --dns-addr is empty. The node opens its query log
// here but listens only when Serve or ServeDNS starts it. DNS over HTTPS is
// served on the portal's listener (Serve) or the node's own (ServeDNS),
// both at the public URL's /dns-query.
func (a *App) wireDNS() error {
	cfg := a.Cfg
	svc := pdns.NewService(a.DB, a.Identity.Authz, a.Log)
	svc.PublicURL = cfg.PublicURL()
	svc.FeedsDir = filepath.Join(cfg.DataDir, "feeds")
	svc.Demo = cfg.Demo
	a.DNS = svc
	if cfg.DNSAddr == "" {
		return nil
	}
	var tlsConf *tls.Config
	if cfg.DoTAddr != "" {
		var err error
		if tlsConf, err = a.dnsTLS(); err != nil {
			return err
		}
	}
	host, _ := os.Hostname()
	node, err := pdns.OpenNode(pdns.NodeConfig{
		DB: a.DB, Log: a.Log, DataDir: cfg.DataDir, DNSAddr: cfg.DNSAddr, DoTAddr: cfg.DoTAddr, TLS: tlsConf,
		Upstreams: cfg.DNSUpstreams, QueryLog: cfg.DNSQueryLog, Retention: cfg.DNSLogRetention, Demo: cfg.Demo,
		Hostname: host, Version: Version, DoHURL: dohURL(cfg.PublicURL()), Registry: a.Registry,
	})
	if err != nil {
		return fmt.Errorf("protective DNS: %w (set --dns-addr \"\" to run without the resolver)", err)
	}
	node.OnSuspect(svc.NotifySuspect)
	svc.Node, svc.QueryLog = node, node.Store()
	return nil
}

// dnsTLS returns the certificate for DNS over TLS: the configured one, or
// the data directory's self-signed one (clients must then trust it or skip
// verification).
func (a *App) dnsTLS() (*tls.Config, error) {
	cert, err := a.Certificate()
	if err != nil {
		return nil, err
	}
	if cert == nil {
		certFile, keyFile, err := SelfSigned(a.Cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("protective DNS: self-signed certificate: %w", err)
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("protective DNS: load certificate: %w", err)
		}
		cert = &c
		a.Log.Warn("DNS over TLS uses the self-signed certificate of the data dir: clients will not trust it; use --tls-cert/--tls-key in production", "cert", certFile)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert}}, nil
}

// startDNS starts the resolver node (if any) and tells the operator where
// it listens.
func (a *App) startDNS(ctx context.Context) error {
	n := a.DNS.Node
	if n == nil {
		return nil
	}
	if err := n.Start(ctx); err != nil {
		return fmt.Errorf("protective DNS: %w (choose another --dns-addr or --dot-addr, or set --dns-addr \"\" to run without the resolver)", err)
	}
	a.printf("  dns      %s (UDP and TCP)\n", n.Addr(querylog.UDP))
	if dot := n.Addr(querylog.DoT); dot != "" {
		a.printf("  dot      %s (DNS over TLS)\n", dot)
	}
	return nil
}

// stopDNS stops the resolver node: listeners first, then the query log is
// flushed and sealed. The database closes after it, in Close.
func (a *App) stopDNS() error {
	if a.DNS == nil || a.DNS.Node == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.DNS.Node.Shutdown(ctx)
}

// ServeDNS runs only the resolver role (qsmo dns): the node, and an HTTP
// listener on --http-addr with DNS over HTTPS, health, readiness and
// metrics. With TLS the listener is the engine's own DoH server (its
// HTTP/2 path answers DoH without net/http's per-request goroutines and
// writes); without, net/http serves it behind the operator's TLS proxy. It
// reads the policy from the shared database and follows its changes. It
// returns when ctx ends, after a graceful shutdown.
func (a *App) ServeDNS(ctx context.Context) error {
	if a.DNS.Node == nil {
		return errors.New("qsmo dns needs --dns-addr")
	}
	if err := a.startDNS(ctx); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := a.DB.Ping(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelDebug)}
	tlsConf, err := a.tlsConfig()
	if err != nil {
		_ = a.stopDNS()
		return err
	}
	var dohSrv *resolver.DoHServer
	if tlsConf != nil {
		dohSrv, err = a.DNS.Node.Engine().NewDoHServer(resolver.DoHServerConfig{TLS: tlsConf, Fallback: mux, IdleTimeout: 2 * time.Minute})
		if err != nil {
			_ = a.stopDNS()
			return err
		}
	} else {
		doh := a.DNS.Node.DoHHandler()
		mux.Handle("/dns-query", doh)
		mux.Handle("/dns-query/", doh)
	}
	ln, err := listen(a.Cfg.HTTPAddr)
	if err != nil {
		_ = a.stopDNS()
		return fmt.Errorf("dns node: listen on %s: %w", a.Cfg.HTTPAddr, err)
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	a.printf("  doh      %s://%s/dns-query (DNS over HTTPS; also /healthz, /readyz, /metrics)\n", scheme, ln.Addr())
	select {
	case a.listening() <- ln.Addr().String():
	default:
	}
	// The node reports its own agencies' queries for chargeback.
	meterCtx, stopMeter := context.WithCancel(ctx)
	meterDone := make(chan struct{})
	go func() {
		defer close(meterDone)
		if m := a.dnsMeter(); m != nil {
			m.Run(meterCtx)
		}
	}()
	errc := make(chan error, 1)
	go func() {
		var err error
		if dohSrv != nil {
			err = dohSrv.Serve(ln)
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
		close(errc)
	}()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if dohSrv != nil {
		_ = dohSrv.Shutdown(sctx)
	} else {
		_ = srv.Shutdown(sctx)
	}
	stopMeter()
	<-meterDone
	if err := a.stopDNS(); err != nil {
		a.Log.Warn("dns node shutdown", "err", err)
	}
	a.Log.Info("stopped")
	return serveErr
}

// dohURL is the DNS-over-HTTPS base URL a node reports: the portal's, or
// the node's own listener's when it serves alone.
func dohURL(publicURL string) string { return strings.TrimSuffix(publicURL, "/") + "/dns-query" }
