package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/app"
	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/config"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/demo"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/identity"
)

var dbOpts = []string{"data-dir", "database-url", "log-level", "log-format"}

var serveOpts = append(append([]string{}, dbOpts...), "demo", "demo-password", "http-addr", "base-url", "tls-cert", "tls-key", "tls-self-signed",
	"office-name", "session-idle", "session-absolute", "smtp-addr", "smtp-user", "smtp-password", "smtp-from", "smtp-tls",
	"oidc-issuer", "oidc-client-id", "oidc-client-secret", "oidc-key-file", "oidc-key-id", "oidc-acr-values", "oidc-require-acr", "oidc-scopes", "oidc-label",
	"dns-addr", "dot-addr", "dns-upstream", "dns-log-retention", "dns-query-log")

// cliFail prints a service error the way a person reads it.
func cliFail(err error) error {
	if f := apperr.FieldsOf(err); len(f) > 0 {
		var parts []string
		for k, v := range f {
			parts = append(parts, k+": "+v)
		}
		return fmt.Errorf("%s", strings.Join(parts, "; "))
	}
	if c := apperr.CodeOf(err); c != apperr.Internal && c != "" {
		return fmt.Errorf("%s", apperr.MessageOf(err))
	}
	return err
}

func runServe(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := config.Load("serve", serveOpts, args, env, stderr)
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, stderr)
	slog.SetDefault(log)
	a, err := app.New(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.Demo {
		pw := cfg.DemoPassword
		generated := pw == ""
		if generated {
			pw = "demo-" + id.Secret(10)
		}
		w, created, err := demo.Seed(ctx, a.Identity, pw, log, a.DemoLoaders()...)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		if created {
			fmt.Fprintf(stdout, "\nDemo data loaded: %d agencies and sub-organizations, %d providers, %d people.\n", len(w.Agencies), len(w.Providers), len(w.Users))
			fmt.Fprintf(stdout, "Sign in as admin@office.example.gov (office admin), admin@energy.example.gov (agency admin),\nviewer@energy.example.gov, admin@northwind.example.com (provider admin) … with the password:\n\n    %s\n\n", pw)
			if generated {
				fmt.Fprintln(stdout, "(Set QSMO_DEMO_PASSWORD to choose the demo password; it is only shown when the demo data is first loaded.)")
			}
		} else {
			fmt.Fprintln(stdout, "\nDemo data was loaded earlier; sign in with the demo password shown then (or QSMO_DEMO_PASSWORD).")
		}
	}
	if err := a.FirstStart(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "qsmo %s is running:\n  portal   %s/\n  API      %s/api/openapi.json\n  metrics  %s/metrics\n", app.Version, cfg.PublicURL(), cfg.PublicURL(), cfg.PublicURL())
	if cfg.DNSAddr != "" {
		fmt.Fprintf(stdout, "  doh      %s/dns-query (DNS over HTTPS)\n", cfg.PublicURL())
	}
	stopHUP := reloadOnHUP(a)
	defer stopHUP()
	return a.Serve(ctx)
}

func runMigrate(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := config.Load("migrate", dbOpts, args, env, stderr)
	if err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := d.Migrate(ctx)
	if err != nil {
		return err
	}
	v, _ := d.Version(ctx)
	fmt.Fprintf(stdout, "Applied %d migration(s); the %s database is at version %d.\n", n, d.Dialect, v)
	return nil
}

// openIdentity opens the database and the identity service for a command.
func openIdentity(ctx context.Context, cmd string, opts []string, args []string, env func(string) string, stderr io.Writer) (*config.Config, *db.DB, *identity.Service, error) {
	cfg, _, err := config.Load(cmd, opts, args, env, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	svc := identity.New(d, app.NewLogger(cfg, stderr))
	svc.PublicURL = cfg.PublicURL()
	svc.OfficeName = cfg.OfficeName
	return cfg, d, svc, nil
}

func cliActor(ctx context.Context) context.Context {
	user := os.Getenv("USER")
	if user == "" {
		user = "operator"
	}
	return actor.With(ctx, actor.Actor{Label: "command line (" + user + ")"})
}

func runUserCreate(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("user create", stderr)
	org := fs.String("org", "", "organization slug (the office is \"office\")")
	role := fs.String("role", "", "role, e.g. office_admin, agency_admin, provider_admin")
	email := fs.String("email", "", "the person's email address")
	name := fs.String("name", "", "the person's name (optional)")
	rest, err := parseOwn(fs, args)
	if err != nil {
		return err
	}
	if *org == "" || *role == "" || *email == "" {
		return fmt.Errorf("--org, --role and --email are required")
	}
	_, d, svc, err := openIdentity(ctx, "user create", append(dbOpts, "base-url", "http-addr", "office-name", "tls-self-signed"), rest, env, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx = cliActor(ctx)
	if _, err := svc.OfficeID(ctx); err != nil {
		if _, err := svc.CreateOffice(ctx, svc.OfficeName); err != nil {
			return cliFail(err)
		}
	}
	o, err := svc.LookupOrg(ctx, *org)
	if err != nil {
		return fmt.Errorf("no organization with the short name %q", *org)
	}
	inv, link, err := svc.CreateSetupLink(ctx, o.ID, authz.Role(*role), *email, *name)
	if err != nil {
		return cliFail(err)
	}
	fmt.Fprintf(stdout, "Send this one-time link to %s to set up their account as %s in %s (valid until %s UTC):\n\n%s\n",
		inv.Email, authz.Role(*role).Label(), o.Name, inv.ExpiresAt.UTC().Format("2006-01-02 15:04"), link)
	return nil
}

func runTokenCreate(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("token create", stderr)
	org := fs.String("org", "", "organization slug")
	role := fs.String("role", "", "role the token acts with")
	name := fs.String("name", "created on the command line", "what uses the token")
	days := fs.Int("expires-in-days", 0, "days until the token expires (0: never)")
	rest, err := parseOwn(fs, args)
	if err != nil {
		return err
	}
	if *org == "" || *role == "" {
		return fmt.Errorf("--org and --role are required")
	}
	if *days < 0 {
		return fmt.Errorf("--expires-in-days must not be negative")
	}
	_, d, svc, err := openIdentity(ctx, "token create", dbOpts, rest, env, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx = cliActor(ctx)
	o, err := svc.LookupOrg(ctx, *org)
	if err != nil {
		return fmt.Errorf("no organization with the short name %q", *org)
	}
	t, err := svc.CreateTokenSystem(ctx, identity.TokenInput{OrgID: o.ID, Role: authz.Role(*role), Name: *name, ExpiresIn: time.Duration(*days) * 24 * time.Hour})
	if err != nil {
		return cliFail(err)
	}
	fmt.Fprintln(stdout, t.Secret)
	return nil
}

func runAuditVerify(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := config.Load("audit verify", dbOpts, args, env, stderr)
	if err != nil {
		return err
	}
	d, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	res, err := audit.Verify(ctx, d)
	if err != nil {
		return err
	}
	if !res.OK() {
		for _, p := range res.Problems {
			fmt.Fprintln(stdout, "TAMPERED:", p)
		}
		return fmt.Errorf("the audit log failed verification: %d problem(s) in %d records", len(res.Problems), res.Count)
	}
	fmt.Fprintf(stdout, "The audit log is intact: %d records, head #%d %s\n", res.Count, res.HeadSeq, res.HeadHash)
	fmt.Fprintln(stdout, "Keep the head hash somewhere else: a later run that shows fewer records or another hash at this number means the newest records were removed.")
	return nil
}

func runBackup(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := config.Load("backup", append(dbOpts, "to"), args, env, stderr)
	if err != nil {
		return err
	}
	if cfg.BackupTo == "" {
		return fmt.Errorf("--to FILE is required")
	}
	if cfg.DatabaseURL != "" {
		return fmt.Errorf("backup copies the embedded SQLite database; for PostgreSQL use pg_dump")
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "qsmo.db")); err != nil {
		return fmt.Errorf("no database in %s", cfg.DataDir)
	}
	d, err := db.Open(ctx, "", cfg.DataDir)
	if err != nil {
		return err
	}
	defer d.Close()
	to, err := filepath.Abs(cfg.BackupTo)
	if err != nil {
		return err
	}
	if _, err := os.Stat(to); err == nil {
		return fmt.Errorf("%s exists; choose a new file name", to)
	}
	// VACUUM INTO writes a consistent snapshot while the server keeps running.
	if _, err := d.ExecContext(ctx, "VACUUM INTO ?", to); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	st, _ := os.Stat(to)
	fmt.Fprintf(stdout, "Wrote a consistent copy of the database to %s (%d bytes).\nTo restore: stop qsmo, copy the file to %s, remove any qsmo.db-wal and qsmo.db-shm files there, start qsmo.\n",
		to, st.Size(), filepath.Join(cfg.DataDir, "qsmo.db"))
	return nil
}

func runVersion(_ context.Context, _ []string, _ func(string) string, stdout, _ io.Writer) error {
	fmt.Fprintf(stdout, "qsmo %s\n", app.Version)
	return nil
}
