package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var serveOpts = []string{"data-dir", "database-url", "demo", "http-addr", "session-idle", "session-absolute", "tls-cert", "tls-key", "smtp-addr", "smtp-tls", "oidc-issuer", "oidc-client-id", "base-url"}

func TestDefaults(t *testing.T) {
	c, rest, err := Load("serve", serveOpts, nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || !strings.HasSuffix(c.DataDir, "qsmo-data") || c.Demo || c.SessionIdle != 30*time.Minute || len(rest) != 0 {
		t.Fatalf("defaults: %+v", c)
	}
	if got := c.PublicURL(); got != "http://127.0.0.1:8080" {
		t.Errorf("PublicURL = %q", got)
	}
}

func TestPrecedence(t *testing.T) {
	e := env(map[string]string{"QSMO_HTTP_ADDR": "127.0.0.1:9000", "QSMO_DEMO": "true"})
	c, _, err := Load("serve", serveOpts, []string{"--http-addr", "127.0.0.1:9100"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:9100" {
		t.Errorf("flag should win over env: %q", c.HTTPAddr)
	}
	if !c.Demo {
		t.Error("env should win over default")
	}
}

func TestInvalid(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad address", []string{"--http-addr", "8080"}, nil, "want HOST:PORT"},
		{"bad env bool names the variable", nil, map[string]string{"QSMO_DEMO": "yes please"}, "QSMO_DEMO"},
		{"bad duration", []string{"--session-idle", "soon"}, nil, "positive duration"},
		{"cert without key", []string{"--tls-cert", "/etc/hostname"}, nil, "together"},
		{"not a postgres url", []string{"--database-url", "mysql://x"}, nil, "postgres://"},
		{"oidc without client", []string{"--oidc-issuer", "https://idp.example"}, nil, "--oidc-client-id is required"},
		{"plain smtp off loopback", []string{"--smtp-addr", "mail.example.gov:25", "--smtp-tls", "none"}, nil, "only for an SMTP server on loopback"},
		{"unknown flag", []string{"--nope"}, nil, "flag provided but not defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Load("serve", serveOpts, c.args, env(c.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	_, _, err := Load("serve", serveOpts, []string{"--database-url", "mysql://u:hunter2secret@h/db"}, env(nil), io.Discard)
	if err == nil || strings.Contains(err.Error(), "hunter2secret") {
		t.Fatalf("error leaks the password or is missing: %v", err)
	}
}

func TestOptionsAreConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Options {
		if seen[o.Name] || o.Usage == "" || o.set == nil {
			t.Errorf("option %q duplicated or incomplete", o.Name)
		}
		seen[o.Name] = true
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("--http-addr", "127.0.0.1:1")
	f.Add("--session-idle", "5m")
	f.Fuzz(func(t *testing.T, flagName, value string) {
		c, _, err := Load("serve", serveOpts, []string{flagName, value}, env(nil), io.Discard)
		if err == nil && c.SessionAbsolute < c.SessionIdle {
			t.Fatalf("accepted an absolute timeout shorter than the idle one")
		}
	})
}
