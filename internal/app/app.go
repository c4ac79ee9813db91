// Package app wires qsmo together: configuration, database, services, the
// web portal and API, background workers and listeners, and their graceful
// shutdown. It holds no business logic.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/config"
	"github.com/qsmo/qsmo/internal/cx"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/demo"
	"github.com/qsmo/qsmo/internal/identity"
	"github.com/qsmo/qsmo/internal/identity/oidc"
	"github.com/qsmo/qsmo/internal/marketplace"
	"github.com/qsmo/qsmo/internal/notify"
	"github.com/qsmo/qsmo/internal/pdns"
	"github.com/qsmo/qsmo/internal/portal"
	"github.com/qsmo/qsmo/internal/web"
)

// Version is set at build time with -ldflags "-X .../app.Version=...".
var Version = "dev"

// App is a wired qsmo.
type App struct {
	Cfg      *config.Config
	Log      *slog.Logger
	DB       *db.DB
	Identity *identity.Service
	// Market is the marketplace; other areas plug into its Hook (lifecycle
	// stages), CX (trust scores) and provisioners.
	Market *marketplace.Service
	// DNS is the Protective DNS service; its Node is nil when --dns-addr
	// is empty.
	DNS      *pdns.Service
	CX       *cx.Service
	Kit      *web.Kit
	Registry *prometheus.Registry
	// IdentityPages serve sign-in and the identity pages; tests plug a
	// relying party into it.
	IdentityPages *identity.Handlers
	// httpAddr is the portal's listening address once Serve listens.
	httpAddr chan string
	// Out receives the start-up messages meant for the operator (URLs,
	// one-time setup link, demo password); it is not the log.
	Out io.Writer
	// Workers run until the serve context ends; each owns its goroutine.
	workers     []func(ctx context.Context)
	demoLoaders []demo.Loader
}

// NewLogger returns the structured logger configured by cfg.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// OpenDB opens and migrates the configured database.
func OpenDB(ctx context.Context, cfg *config.Config) (*db.DB, error) {
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// New opens the database and wires every service and route.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer) (*App, error) {
	d, err := OpenDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return NewWithDB(ctx, cfg, d, log, out)
}

// NewWithDB wires every service and route on an open, migrated database,
// which the App then owns.
func NewWithDB(ctx context.Context, cfg *config.Config, d *db.DB, log *slog.Logger, out io.Writer) (*App, error) {
	a := &App{Cfg: cfg, Log: log, DB: d, Out: out, Registry: prometheus.NewRegistry(), httpAddr: make(chan string, 1)}
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewDBStatsCollector(d.DB, string(d.Dialect)))

	key, err := a.secret(ctx, "cookie_key")
	if err != nil {
		d.Close()
		return nil, err
	}
	svc := identity.New(d, log)
	svc.PublicURL = cfg.PublicURL()
	svc.OfficeName = cfg.OfficeName
	svc.SessionIdle, svc.SessionAbsolute = cfg.SessionIdle, cfg.SessionAbsolute
	a.Identity = svc

	kit := web.New(web.Options{OfficeName: cfg.OfficeName, TLS: cfg.TLS(), CookieKey: key, Log: log, Registry: a.Registry, Version: Version},
		identity.WebAuth{S: svc}, svc.Authz)
	a.Kit = kit

	ih := identity.NewHandlers(svc, kit)
	a.IdentityPages = ih
	if cfg.OIDCIssuer != "" {
		rp, err := oidc.New(ctx, oidc.Config{Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
			PrivateKeyFile: cfg.OIDCKeyFile, KeyID: cfg.OIDCKeyID, ACRValues: cfg.OIDCACRValues, RequireACR: cfg.OIDCRequireACR,
			Scopes: strings.Fields(cfg.OIDCScopes), RedirectURL: cfg.PublicURL() + "/auth/oidc/callback"})
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("single sign-on: %w", err)
		}
		ih.OIDC, ih.OIDCLabel = rp, cfg.OIDCLabel
	}
	ih.Register(kit.Router)
	officeID := func(r *http.Request) (string, error) { return svc.OfficeID(r.Context()) }
	orgName := func(r *http.Request, id string) string {
		if id == "" {
			return ""
		}
		o, err := svc.LookupOrg(r.Context(), id)
		if err != nil {
			return id
		}
		return o.Name
	}
	audit.NewHandlers(d, kit, orgName).Register(kit.Router)
	notify.NewHandlers(d, kit, officeID, cfg.SMTPAddr != "").Register(kit.Router)
	portal.NewHandlers(kit, d.Ping, a.Registry).Register(kit.Router)
	if err := a.wireDNS(); err != nil {
		d.Close()
		return nil, err
	}
	pdns.NewHandlers(a.DNS, kit).Register(kit.Router)
	a.demoLoaders = append(a.demoLoaders, a.DNS.DemoLoader())

	market := marketplace.New(d, svc.Authz, log)
	market.PublicURL = cfg.PublicURL()
	a.Market = market
	marketplace.NewHandlers(market, kit, cfg.OfficeName).Register(kit.Router)

	a.CX = cx.New(d, svc.Authz, log)
	a.CX.OfficeName = cfg.OfficeName
	a.CX.PublicURL = func() string { return svc.PublicURL }
	cx.NewHandlers(a.CX, kit).Register(kit.Router)
	a.connectMarketCX()
	a.connectMarketDNS()

	// The marketplace's demo comes first: CX's demo surveys refer to its
	// catalog.
	a.demoLoaders = append(a.demoLoaders, market.DemoLoader, cx.DemoLoader(a.CX))
	a.workers = append(a.workers, market.Run)
	if m := a.dnsMeter(); m != nil {
		a.workers = append(a.workers, m.Run)
	}

	if cfg.SMTPAddr != "" {
		sender := &notify.Sender{DB: d, SMTP: notify.SMTPConfig{Addr: cfg.SMTPAddr, User: cfg.SMTPUser, Password: cfg.SMTPPassword, From: cfg.SMTPFrom, TLS: cfg.SMTPTLS}, Log: log}
		a.workers = append(a.workers, sender.Run)
	}
	return a, nil
}

// AddDeliverySurveys sends the quarterly delivery survey for the active
// subscriptions l lists, as a worker that Serve owns and stops.
func (a *App) AddDeliverySurveys(l cx.SubscriptionLister) {
	a.workers = append(a.workers, (&cx.DeliveryTrigger{S: a.CX, Lister: l, Log: a.Log}).Run)
}

// secret returns a random value kept in the settings table, creating it on
// first use (cookie signing key and the like).
func (a *App) secret(ctx context.Context, name string) ([]byte, error) {
	var v string
	err := a.DB.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", name).Scan(&v)
	if err == nil {
		return hex.DecodeString(v)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v = hex.EncodeToString(b)
	if _, err := a.DB.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", name, v); err != nil {
		return nil, fmt.Errorf("app: store %s: %w", name, err)
	}
	if err := a.DB.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", name).Scan(&v); err != nil {
		return nil, err
	}
	return hex.DecodeString(v)
}

// Close stops the resolver node if it runs (its query log is flushed and
// sealed) and releases the database.
func (a *App) Close() error {
	err := a.stopDNS()
	return errors.Join(err, a.DB.Close())
}

// printf writes an operator message.
func (a *App) printf(format string, args ...any) {
	fmt.Fprintf(a.Out, format, args...)
}

// FirstStart makes sure the office exists and, when nobody can administer
// it, prints a one-time link to set up the first office admin.
func (a *App) FirstStart(ctx context.Context) error {
	if _, err := a.Identity.OfficeID(ctx); err != nil {
		if _, err := a.Identity.CreateOffice(ctx, a.Cfg.OfficeName); err != nil {
			return err
		}
	}
	ok, err := a.Identity.HasActiveOfficeAdmin(ctx)
	if err != nil || ok {
		return err
	}
	officeID, err := a.Identity.OfficeID(ctx)
	if err != nil {
		return err
	}
	inv, link, err := a.Identity.CreateSetupLink(ctx, officeID, "office_admin", "", "")
	if err != nil {
		return err
	}
	a.printf("\nNo office admin exists yet. Open this one-time link to set up the first one (valid until %s UTC):\n\n    %s\n\n",
		inv.ExpiresAt.UTC().Format("2006-01-02 15:04"), link)
	return nil
}

// Serve runs the listeners and workers until ctx ends, then shuts down
// gracefully: new connections stop, in-flight requests finish (up to 15 s).
func (a *App) Serve(ctx context.Context) error {
	srv := &http.Server{
		Addr:              a.Cfg.HTTPAddr,
		Handler:           a.Kit.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	tlsConf, err := a.tlsConfig()
	if err != nil {
		return err
	}
	srv.TLSConfig = tlsConf
	ln, err := listen(a.Cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("portal: listen on %s: %w", a.Cfg.HTTPAddr, err)
	}
	if err := a.startDNS(ctx); err != nil {
		ln.Close()
		return err
	}
	a.printf("Press Ctrl-C to stop.\n")
	wctx, stopWorkers := context.WithCancel(context.Background())
	done := make(chan struct{})
	n := len(a.workers)
	finished := make(chan struct{}, n)
	for _, w := range a.workers {
		go func() {
			defer func() { finished <- struct{}{} }()
			w(wctx)
		}()
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if tlsConf != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
		close(done)
	}()
	a.Log.Info("portal listening", "addr", ln.Addr().String(), "tls", tlsConf != nil)
	select {
	case a.listening() <- ln.Addr().String():
	default:
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		stopWorkers()
		_ = a.stopDNS()
		return err
	}
	a.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-done
	// The portal (and DNS over HTTPS on it) is closed; the workers (the DNS
	// meter reads the query log) stop next; then the resolver's listeners
	// stop and its query log is flushed and sealed.
	stopWorkers()
	for range n {
		<-finished
	}
	if derr := a.stopDNS(); derr != nil {
		a.Log.Warn("dns shutdown", "err", derr)
	}
	a.Log.Info("stopped")
	return err
}

func (a *App) listening() chan string {
	if a.httpAddr == nil {
		a.httpAddr = make(chan string, 1)
	}
	return a.httpAddr
}

// Listening returns a channel that receives the portal's address once Serve
// listens (tests start it on port 0).
func (a *App) Listening() <-chan string { return a.listening() }

// Stdout is where operator messages go by default.
var Stdout io.Writer = os.Stdout
