// Command qsmo runs the cybersecurity shared-services office platform: the
// portal and API, the Protective DNS resolver and the background workers,
// plus administration commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand.
type command struct {
	name  string
	usage string
	run   func(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the portal, API, Protective DNS resolver and workers (use --demo for sample data)", runServe},
		{"dns provision", "set up Protective DNS for an agency with the default policy: --org SLUG [--deprovision]", runDNSProvision},
		{"dns", "run only the Protective DNS resolver, reading policy from the shared database", runDNS},
		{"migrate", "apply database migrations and exit", runMigrate},
		{"user create", "create a one-time setup link for a person with a role: --org SLUG --role ROLE --email EMAIL", runUserCreate},
		{"token create", "create an API token: --org SLUG --role ROLE [--name NAME]", runTokenCreate},
		{"audit verify", "check the audit log's hash chain and print its head", runAuditVerify},
		{"backup", "write a consistent copy of the SQLite database: --to FILE", runBackup},
		{"version", "print the version", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: qsmo COMMAND [options]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun qsmo COMMAND -h for the options of a command. Every option can also be set as a QSMO_* environment variable.")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		words := len(splitWords(c.name))
		if len(args) >= words && joinWords(args[:words]) == c.name {
			err := c.run(ctx, args[words:], env, stdout, stderr)
			if err == nil {
				return 0
			}
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintf(stderr, "qsmo %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "qsmo: unknown command %q\n\n", joinWords(args[:min(2, len(args))]))
	usage(stderr)
	return 2
}

func splitWords(s string) []string {
	var out []string
	word := ""
	for _, r := range s {
		if r == ' ' {
			out = append(out, word)
			word = ""
			continue
		}
		word += string(r)
	}
	return append(out, word)
}

func joinWords(ws []string) string {
	s := ""
	for i, w := range ws {
		if i > 0 {
			s += " "
		}
		s += w
	}
	return s
}
