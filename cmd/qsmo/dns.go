package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/qsmo/qsmo/internal/app"
	"github.com/qsmo/qsmo/internal/config"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/pdns"
)

var dnsOpts = append(append([]string{}, dbOpts...), "dns-addr", "dot-addr", "dns-upstream", "dns-log-retention", "dns-query-log",
	"http-addr", "base-url", "tls-cert", "tls-key", "tls-self-signed")

// runDNS runs the resolver role alone, for extra DNS nodes: it serves the
// policy the portal keeps in the shared database and follows its changes.
func runDNS(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := config.Load("dns", dnsOpts, args, env, stderr)
	if err != nil {
		return err
	}
	if cfg.DNSAddr == "" {
		return fmt.Errorf("--dns-addr is required: the resolver is all this command runs")
	}
	log := app.NewLogger(cfg, stderr)
	slog.SetDefault(log)
	a, err := app.New(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	defer a.Close()
	fmt.Fprintf(stdout, "qsmo %s Protective DNS node is running:\n", app.Version)
	stopHUP := reloadOnHUP(a)
	defer stopHUP()
	return a.ServeDNS(ctx)
}

// reloadOnHUP rebuilds the resolver's lists and snapshot on SIGHUP, for an
// operator who changed a file feed and does not want to wait. The returned
// function stops listening and waits for the goroutine.
func reloadOnHUP(a *app.App) func() {
	if a.DNS == nil || a.DNS.Node == nil {
		return func() {}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-hup:
				a.Log.Info("SIGHUP: rebuilding the DNS lists")
				a.DNS.Node.ReloadAll()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
		<-stopped
	}
}

// runDNSProvision turns Protective DNS on (or off) for an agency, as the
// marketplace does when an order starts or ends.
func runDNSProvision(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("dns provision", stderr)
	org := fs.String("org", "", "the agency's short name or ID")
	off := fs.Bool("deprovision", false, "turn the service off instead: the agency's queries are refused")
	rest, err := parseOwn(fs, args)
	if err != nil {
		return err
	}
	if *org == "" {
		return fmt.Errorf("--org is required")
	}
	_, d, svc, err := openIdentity(ctx, "dns provision", dbOpts, rest, env, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx = cliActor(ctx)
	o, err := svc.LookupOrg(ctx, *org)
	if err != nil {
		return fmt.Errorf("no organization with the short name %q", *org)
	}
	err = d.InTx(ctx, func(tx *db.Tx) error {
		if *off {
			return pdns.Provisioner{}.Deprovision(ctx, tx, o.ID)
		}
		_, err := pdns.Provisioner{}.Provision(ctx, tx, o.ID)
		return err
	})
	if err != nil {
		return cliFail(err)
	}
	if *off {
		fmt.Fprintf(stdout, "Protective DNS is off for %s: the resolvers refuse its queries within seconds.\n", o.Name)
		return nil
	}
	fmt.Fprintf(stdout, "Protective DNS is set up for %s with the default policy. Its admins add the agency's egress networks on the policy page.\n", o.Name)
	return nil
}
