// Package config is the one place qsmo reads its settings: command-line
// flags, QSMO_* environment variables and defaults, described by a single
// table of options, validated once at start.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config holds every setting of qsmo.
type Config struct {
	// Core
	DataDir     string
	DatabaseURL string
	Demo        bool
	// DemoPassword is the password of every demo user; generated when empty.
	DemoPassword string
	LogLevel     string
	LogFormat    string

	// Portal
	HTTPAddr      string
	BaseURL       string
	TLSCert       string
	TLSKey        string
	TLSSelfSigned bool
	OfficeName    string

	// Sessions and sign-in
	SessionIdle     time.Duration
	SessionAbsolute time.Duration

	// Email
	SMTPAddr     string
	SMTPUser     string
	SMTPPassword string
	SMTPFrom     string
	SMTPTLS      string // "starttls" (default), "tls" or "none"

	// OIDC sign-in for an agency identity provider or Login.gov
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	OIDCKeyFile      string
	OIDCKeyID        string
	OIDCACRValues    string
	OIDCScopes       string
	OIDCLabel        string
	OIDCRequireACR   bool

	// Output
	BackupTo string

	// Protective DNS
	DNSAddr         string
	DoTAddr         string
	DNSUpstreams    string
	DNSLogRetention time.Duration
	DNSQueryLog     bool
}

// Option describes one setting: its flag, environment variable, default and
// how it is parsed and checked.
type Option struct {
	Name    string // flag name, e.g. "http-addr"; env is QSMO_HTTP_ADDR
	Default string
	Usage   string
	Secret  bool // never printed with its value
	// Bool options are switches: --demo alone means true.
	Bool bool
	set  func(c *Config, v string) error
}

// flagValue records a flag's raw text for Load; boolean switches work
// without a value.
type flagValue struct {
	v      string
	isBool bool
}

func (f *flagValue) String() string     { return f.v }
func (f *flagValue) Set(v string) error { f.v = v; return nil }
func (f *flagValue) IsBoolFlag() bool   { return f.isBool }

// Env is the option's environment variable.
func (o Option) Env() string {
	return "QSMO_" + strings.ToUpper(strings.ReplaceAll(o.Name, "-", "_"))
}

func str(f func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func boolean(f func(c *Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*f(c) = b
		return nil
	}
}

func duration(f func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 30m or 12h, got %q", v)
		}
		*f(c) = d
		return nil
	}
}

func hostPort(f func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v != "" {
			if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
				return fmt.Errorf("want HOST:PORT such as 127.0.0.1:8080, got %q", v)
			}
		}
		*f(c) = v
		return nil
	}
}

func oneOf(f func(c *Config) *string, allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if v == a {
				*f(c) = v
				return nil
			}
		}
		return fmt.Errorf("want one of %s, got %q", strings.Join(allowed, ", "), v)
	}
}

// Options is the table of every setting.
var Options = []Option{
	{Name: "data-dir", Default: "./qsmo-data", Usage: "directory for the SQLite database, generated certificates and DNS query logs", set: str(func(c *Config) *string { return &c.DataDir })},
	{Name: "database-url", Usage: "PostgreSQL URL (postgres://user:pass@host/db); empty uses SQLite in the data dir", Secret: true, set: func(c *Config, v string) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
				return errors.New("want a postgres:// URL")
			}
		}
		c.DatabaseURL = v
		return nil
	}},
	{Name: "demo", Default: "false", Bool: true, Usage: "fill an empty database with realistic demo organizations and users", set: boolean(func(c *Config) *bool { return &c.Demo })},
	{Name: "demo-password", Usage: "password of every demo user (default: generated and printed at start)", Secret: true, set: str(func(c *Config) *string { return &c.DemoPassword })},
	{Name: "log-level", Default: "info", Usage: "debug, info, warn or error", set: oneOf(func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error")},
	{Name: "log-format", Default: "json", Usage: "json or text", set: oneOf(func(c *Config) *string { return &c.LogFormat }, "json", "text")},
	{Name: "http-addr", Default: "127.0.0.1:8080", Usage: "address of the web portal and API", set: hostPort(func(c *Config) *string { return &c.HTTPAddr })},
	{Name: "base-url", Usage: "public URL of the portal, used in emailed links (default: derived from --http-addr)", set: func(c *Config, v string) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("want an absolute http(s) URL, got %q", v)
			}
			v = strings.TrimSuffix(v, "/")
		}
		c.BaseURL = v
		return nil
	}},
	{Name: "tls-cert", Usage: "PEM certificate file for HTTPS and DNS-over-TLS", set: str(func(c *Config) *string { return &c.TLSCert })},
	{Name: "tls-key", Usage: "PEM private key file for --tls-cert", set: str(func(c *Config) *string { return &c.TLSKey })},
	{Name: "tls-self-signed", Default: "false", Bool: true, Usage: "serve HTTPS with a self-signed certificate generated into the data dir (testing only)", set: boolean(func(c *Config) *bool { return &c.TLSSelfSigned })},
	{Name: "office-name", Default: "Cyber Quality Service Management Office", Usage: "the office's name shown in the portal and surveys", set: str(func(c *Config) *string { return &c.OfficeName })},
	{Name: "session-idle", Default: "30m", Usage: "sign users out after this long without activity", set: duration(func(c *Config) *time.Duration { return &c.SessionIdle })},
	{Name: "session-absolute", Default: "12h", Usage: "sign users out this long after they signed in, active or not", set: duration(func(c *Config) *time.Duration { return &c.SessionAbsolute })},
	{Name: "smtp-addr", Usage: "SMTP server HOST:PORT; empty keeps outgoing email in the outbox page", set: hostPort(func(c *Config) *string { return &c.SMTPAddr })},
	{Name: "smtp-user", Usage: "SMTP user name", set: str(func(c *Config) *string { return &c.SMTPUser })},
	{Name: "smtp-password", Usage: "SMTP password", Secret: true, set: str(func(c *Config) *string { return &c.SMTPPassword })},
	{Name: "smtp-from", Default: "qsmo@localhost", Usage: "sender address of outgoing email", set: str(func(c *Config) *string { return &c.SMTPFrom })},
	{Name: "smtp-tls", Default: "starttls", Usage: "starttls, tls or none (none only for a server on loopback)", set: oneOf(func(c *Config) *string { return &c.SMTPTLS }, "starttls", "tls", "none")},
	{Name: "oidc-issuer", Usage: "OpenID Connect issuer URL of an agency identity provider or Login.gov; enables single sign-on", set: str(func(c *Config) *string { return &c.OIDCIssuer })},
	{Name: "oidc-client-id", Usage: "client ID registered with the identity provider", set: str(func(c *Config) *string { return &c.OIDCClientID })},
	{Name: "oidc-client-secret", Usage: "client secret (client_secret_basic); prefer --oidc-key-file", Secret: true, set: str(func(c *Config) *string { return &c.OIDCClientSecret })},
	{Name: "oidc-key-file", Usage: "PEM private key for private_key_jwt client authentication", set: str(func(c *Config) *string { return &c.OIDCKeyFile })},
	{Name: "oidc-key-id", Usage: "key ID (kid) of --oidc-key-file as registered with the provider", set: str(func(c *Config) *string { return &c.OIDCKeyID })},
	{Name: "oidc-acr-values", Usage: "acr_values to request, e.g. urn:acr.login.gov:auth-only", set: str(func(c *Config) *string { return &c.OIDCACRValues })},
	{Name: "oidc-require-acr", Default: "false", Bool: true, Usage: "refuse sign-in unless the ID token's acr is one of --oidc-acr-values", set: boolean(func(c *Config) *bool { return &c.OIDCRequireACR })},
	{Name: "oidc-scopes", Default: "openid email", Usage: "space-separated scopes to request", set: str(func(c *Config) *string { return &c.OIDCScopes })},
	{Name: "oidc-label", Default: "Sign in with your agency account", Usage: "text of the single sign-on button", set: str(func(c *Config) *string { return &c.OIDCLabel })},
	{Name: "dns-addr", Default: "127.0.0.1:5353", Usage: "Protective DNS address for UDP and TCP; empty disables", set: hostPort(func(c *Config) *string { return &c.DNSAddr })},
	{Name: "dot-addr", Default: "127.0.0.1:8853", Usage: "DNS-over-TLS address; empty disables", set: hostPort(func(c *Config) *string { return &c.DoTAddr })},
	{Name: "dns-upstream", Usage: "comma-separated upstream resolvers: host:port, tls://host:port, https://host/dns-query", set: str(func(c *Config) *string { return &c.DNSUpstreams })},
	{Name: "dns-log-retention", Default: "720h", Usage: "how long DNS query logs are kept", set: duration(func(c *Config) *time.Duration { return &c.DNSLogRetention })},
	{Name: "dns-query-log", Default: "true", Bool: true, Usage: "log every DNS query for the dashboards, search, export and suspected-client alerts; false keeps no query log", set: boolean(func(c *Config) *bool { return &c.DNSQueryLog })},
	{Name: "to", Usage: "backup: file to write", set: str(func(c *Config) *string { return &c.BackupTo })},
}

func lookup(name string) (Option, bool) {
	for _, o := range Options {
		if o.Name == name {
			return o, true
		}
	}
	return Option{}, false
}

// Load builds a Config for a command from its arguments and the environment.
// Only the options named in use are accepted as flags and read from the
// environment; every other field keeps its default. Precedence: flag, then
// environment, then default. It returns the remaining positional arguments.
func Load(command string, use []string, args []string, getenv func(string) string, stderr io.Writer) (*Config, []string, error) {
	c := &Config{}
	for _, o := range Options {
		if o.Default != "" {
			if err := o.set(c, o.Default); err != nil {
				panic(fmt.Sprintf("config: default of %s: %v", o.Name, err))
			}
		}
	}
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	values := map[string]*flagValue{}
	for _, name := range use {
		o, ok := lookup(name)
		if !ok {
			panic("config: unknown option " + name)
		}
		fv := &flagValue{isBool: o.Bool}
		values[name] = fv
		fs.Var(fv, name, fmt.Sprintf("%s (env %s%s)", o.Usage, o.Env(), defaultNote(o.Default)))
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: qsmo %s [options]\n\nOptions:\n", command)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var problems []string
	names := append([]string(nil), use...)
	sort.Strings(names)
	for _, name := range names {
		o, _ := lookup(name)
		v, from := "", ""
		if given[name] {
			v, from = values[name].v, "--"+name
		} else if ev := getenv(o.Env()); ev != "" {
			v, from = ev, o.Env()
		} else {
			continue
		}
		if err := o.set(c, v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", from, err))
		}
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	if err := c.validate(use); err != nil {
		return nil, nil, err
	}
	return c, fs.Args(), nil
}

func defaultNote(def string) string {
	if def == "" {
		return ""
	}
	return ", default " + def
}

// validate checks rules that involve more than one option.
func (c *Config) validate(use []string) error {
	var problems []string
	if (c.TLSCert == "") != (c.TLSKey == "") {
		problems = append(problems, "--tls-cert and --tls-key must be given together")
	}
	if c.TLSCert != "" && c.TLSSelfSigned {
		problems = append(problems, "use either --tls-cert/--tls-key or --tls-self-signed, not both")
	}
	for _, f := range []string{c.TLSCert, c.TLSKey, c.OIDCKeyFile} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				problems = append(problems, fmt.Sprintf("cannot read %s: %v", f, errors.Unwrap(err)))
			}
		}
	}
	if c.OIDCIssuer != "" {
		if c.OIDCClientID == "" {
			problems = append(problems, "--oidc-client-id is required with --oidc-issuer")
		}
		if c.OIDCKeyFile == "" && c.OIDCClientSecret == "" {
			problems = append(problems, "--oidc-key-file (private_key_jwt) or --oidc-client-secret is required with --oidc-issuer")
		}
		if c.BaseURL == "" {
			problems = append(problems, "--base-url is required with --oidc-issuer (the redirect URL registered with the provider derives from it)")
		}
	}
	if c.SMTPTLS == "none" && c.SMTPAddr != "" {
		host, _, _ := net.SplitHostPort(c.SMTPAddr)
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			problems = append(problems, "--smtp-tls none is allowed only for an SMTP server on loopback")
		}
	}
	if c.SessionAbsolute < c.SessionIdle {
		problems = append(problems, "--session-absolute must not be shorter than --session-idle")
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	if c.DataDir != "" {
		abs, err := filepath.Abs(c.DataDir)
		if err == nil {
			c.DataDir = abs
		}
	}
	return nil
}

// TLS reports whether the portal serves HTTPS.
func (c *Config) TLS() bool { return c.TLSCert != "" || c.TLSSelfSigned }

// PublicURL is the portal's base URL for links in email and pages.
func (c *Config) PublicURL() string {
	if c.BaseURL != "" {
		return c.BaseURL
	}
	scheme := "http"
	if c.TLS() {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return scheme + "://" + c.HTTPAddr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
