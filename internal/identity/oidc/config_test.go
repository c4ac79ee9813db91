package oidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	base := Config{
		Issuer:         "https://secure.login.gov/",
		ClientID:       "urn:gov:gsa:openidconnect.profiles:sp:sso:agency:qsmo",
		PrivateKeyFile: "/etc/qsmo/oidc.pem",
		RedirectURL:    "https://qsmo.example.gov/auth/callback",
		ACRValues:      "urn:acr.login.gov:auth-only",
		Prompt:         "select_account",
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("Login.gov-style config rejected: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // part of the message
	}{
		{"issuer missing", func(c *Config) { c.Issuer = "" }, "Issuer: is required"},
		{"issuer over http", func(c *Config) { c.Issuer = "http://idp.example.gov" }, "must use https"},
		{"issuer relative", func(c *Config) { c.Issuer = "/idp" }, "absolute"},
		{"issuer with fragment", func(c *Config) { c.Issuer = "https://idp.example.gov/#x" }, "fragment"},
		{"client ID missing", func(c *Config) { c.ClientID = " " }, "ClientID is required"},
		{"redirect over http", func(c *Config) { c.RedirectURL = "http://qsmo.example.gov/cb" }, "RedirectURL"},
		{"key file missing", func(c *Config) { c.PrivateKeyFile = "" }, "ClientSecret"},
		{"both key and secret", func(c *Config) { c.ClientSecret = "s" }, "remove one"},
		{"unknown algorithm", func(c *Config) { c.SigningAlg = "HS256" }, "not RS256 or ES256"},
		{"unknown auth method", func(c *Config) { c.ClientAuth = "none" }, "is not private_key_jwt"},
		{"secret method without secret", func(c *Config) { c.ClientAuth, c.PrivateKeyFile = ClientSecretPost, "" }, "needs ClientSecret"},
		{"scopes without openid", func(c *Config) { c.Scopes = []string{"email"} }, `include "openid"`},
		{"scope with a space", func(c *Config) { c.Scopes = []string{"openid", "a b"} }, "single printable word"},
		{"RequireACR without values", func(c *Config) { c.ACRValues, c.RequireACR = "", true }, "needs ACRValues"},
		{"unknown prompt", func(c *Config) { c.Prompt = "always" }, "Prompt value"},
		{"prompt none with others", func(c *Config) { c.Prompt = "none login" }, "cannot be combined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("http on loopback is allowed for tests", func(t *testing.T) {
		c := base
		c.Issuer, c.RedirectURL = "http://127.0.0.1:9000", "http://[::1]:8080/cb"
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
	})
	t.Run("secret methods", func(t *testing.T) {
		c := base
		c.PrivateKeyFile, c.ClientSecret = "", "s3cret"
		if err := c.Validate(); err != nil || c.clientAuth() != ClientSecretBasic {
			t.Errorf("Validate = %v, method %s; want client_secret_basic by default", err, c.clientAuth())
		}
	})
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// rsaPEM returns a 2048-bit RSA key in PKCS #1 PEM, made once per run.
func rsaPEM(t *testing.T) []byte {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
}

func TestParsePrivateKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384der, _ := x509.MarshalPKCS8PrivateKey(p384)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	enc := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	params := enc("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})

	for name, data := range map[string][]byte{
		"PKCS #1 RSA":              rsaPEM(t),
		"SEC 1 EC":                 enc("EC PRIVATE KEY", sec1),
		"PKCS #8 EC":               enc("PRIVATE KEY", pkcs8),
		"EC with parameters first": append(params, enc("EC PRIVATE KEY", sec1)...),
	} {
		if _, err := ParsePrivateKey(data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"empty":       {nil, "no PEM private key"},
		"certificate": {enc("CERTIFICATE", []byte{1, 2, 3}), "no PEM private key"},
		"P-384":       {enc("PRIVATE KEY", p384der), "P-256"},
		"RSA 1024":    {enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), "2048"},
		"encrypted":   {enc("ENCRYPTED PRIVATE KEY", []byte{1}), "encrypted"},
		"garbage DER": {enc("PRIVATE KEY", []byte("not der")), "parse PRIVATE KEY"},
	} {
		_, err := ParsePrivateKey(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}
