package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// ClientAuth is how the relying party authenticates to the token endpoint
// (OpenID Connect Core §9).
type ClientAuth string

// The supported client authentication methods.
const (
	// PrivateKeyJWT signs a short-lived JWT with the client's private key;
	// the IdP holds only the public key. Login.gov requires it, and it is
	// the method to prefer: no shared secret to leak.
	PrivateKeyJWT ClientAuth = "private_key_jwt"
	// ClientSecretBasic sends the shared secret in an HTTP Basic header.
	ClientSecretBasic ClientAuth = "client_secret_basic"
	// ClientSecretPost sends the shared secret in the form body.
	ClientSecretPost ClientAuth = "client_secret_post"
)

// Signing algorithms for private_key_jwt client assertions.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// Config describes one OpenID Provider registration. Validate reports the
// first problem as an error naming the field.
type Config struct {
	// Issuer is the IdP's issuer URL, exactly as in its discovery document,
	// e.g. https://secure.login.gov/ (https required; http is allowed only
	// for loopback addresses, for tests).
	Issuer string
	// ClientID is the identifier the IdP assigned to this application.
	ClientID string
	// ClientAuth selects the token endpoint authentication; empty means
	// private_key_jwt when PrivateKeyFile is set, else client_secret_basic.
	ClientAuth ClientAuth
	// PrivateKeyFile is a PEM file holding the RSA (2048 bits or more) or
	// P-256 EC private key for private_key_jwt, unencrypted, in PKCS #8,
	// PKCS #1 or SEC 1 form.
	PrivateKeyFile string
	// KeyID is put in the assertion's "kid" header when the IdP needs it to
	// pick the registered key; optional.
	KeyID string
	// SigningAlg is RS256 or ES256; empty means the one that fits the key.
	SigningAlg string
	// ClientSecret for client_secret_basic and client_secret_post.
	ClientSecret string
	// RedirectURL is the callback URL registered with the IdP (https, or
	// http on a loopback address).
	RedirectURL string
	// Scopes to request; empty means openid and email. Must include openid.
	Scopes []string
	// ACRValues is the space-separated acr_values parameter, e.g.
	// "urn:acr.login.gov:auth-only" or
	// "http://idmanagement.gov/ns/assurance/ial/1"; optional.
	ACRValues string
	// RequireACR refuses an ID token whose acr claim is not one of
	// ACRValues.
	RequireACR bool
	// Prompt is the optional prompt parameter: space-separated values from
	// none, login, consent and select_account (Login.gov wants
	// select_account).
	Prompt string
	// HTTPClient for discovery, keys, token and user info requests; nil
	// means a client with a 10-second timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var defaultScopes = []string{"openid", "email"}

// Validate checks the configuration without network access or reading the
// key file.
func (c Config) Validate() error {
	if err := checkURL(c.Issuer); err != nil {
		return fmt.Errorf("oidc: config: Issuer: %w", err)
	}
	if strings.TrimSpace(c.ClientID) == "" {
		return errors.New("oidc: config: ClientID is required")
	}
	if err := checkURL(c.RedirectURL); err != nil {
		return fmt.Errorf("oidc: config: RedirectURL: %w", err)
	}
	switch c.clientAuth() {
	case PrivateKeyJWT:
		if c.PrivateKeyFile == "" {
			return errors.New("oidc: config: private_key_jwt needs PrivateKeyFile")
		}
		if c.ClientSecret != "" {
			return errors.New("oidc: config: ClientSecret is set but ClientAuth is private_key_jwt; remove one")
		}
		if c.SigningAlg != "" && c.SigningAlg != RS256 && c.SigningAlg != ES256 {
			return fmt.Errorf("oidc: config: SigningAlg %q is not RS256 or ES256", c.SigningAlg)
		}
	case ClientSecretBasic, ClientSecretPost:
		if c.ClientSecret == "" {
			return fmt.Errorf("oidc: config: %s needs ClientSecret", c.clientAuth())
		}
		if c.PrivateKeyFile != "" {
			return fmt.Errorf("oidc: config: PrivateKeyFile is set but ClientAuth is %s; remove one", c.clientAuth())
		}
	default:
		return fmt.Errorf("oidc: config: ClientAuth %q is not private_key_jwt, client_secret_basic or client_secret_post", c.ClientAuth)
	}
	scopes := c.scopes()
	if !slices.Contains(scopes, "openid") {
		return errors.New(`oidc: config: Scopes must include "openid"`)
	}
	for _, s := range scopes {
		if !isToken(s) {
			return fmt.Errorf("oidc: config: scope %q is not a single printable word", s)
		}
	}
	for _, a := range strings.Fields(c.ACRValues) {
		if !isToken(a) {
			return fmt.Errorf("oidc: config: ACRValues entry %q is not printable", a)
		}
	}
	if c.RequireACR && strings.TrimSpace(c.ACRValues) == "" {
		return errors.New("oidc: config: RequireACR needs ACRValues")
	}
	if p := strings.Fields(c.Prompt); len(p) > 0 {
		for _, v := range p {
			if !slices.Contains([]string{"none", "login", "consent", "select_account"}, v) {
				return fmt.Errorf("oidc: config: Prompt value %q is not none, login, consent or select_account", v)
			}
		}
		if len(p) > 1 && slices.Contains(p, "none") {
			return errors.New(`oidc: config: Prompt "none" cannot be combined with other values`)
		}
	}
	return nil
}

func (c Config) clientAuth() ClientAuth {
	switch {
	case c.ClientAuth != "":
		return c.ClientAuth
	case c.PrivateKeyFile != "":
		return PrivateKeyJWT
	default:
		return ClientSecretBasic
	}
}

func (c Config) scopes() []string {
	if len(c.Scopes) == 0 {
		return defaultScopes
	}
	return c.Scopes
}

// checkURL accepts an absolute https URL, or http on a loopback address,
// without a fragment or user information.
func checkURL(raw string) error {
	if raw == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	switch {
	case u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return fmt.Errorf("%q must use https (http is allowed only for loopback addresses)", raw)
	case u.Fragment != "" || u.User != nil:
		return fmt.Errorf("%q must not have a fragment or user information", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isToken reports whether s is non-empty printable ASCII without spaces or
// quotes: safe in a space-separated parameter.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\' {
			return false
		}
	}
	return true
}

// loadKey reads the private key file and decides the signing algorithm.
func loadKey(path, alg string) (crypto.Signer, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("oidc: read private key: %w", err)
	}
	key, err := ParsePrivateKey(b)
	if err != nil {
		return nil, "", fmt.Errorf("oidc: private key %s: %w", path, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg == "" {
			alg = RS256
		}
		if alg != RS256 {
			return nil, "", fmt.Errorf("oidc: private key %s is RSA, which signs RS256, not %s", path, alg)
		}
	case *ecdsa.PrivateKey:
		if alg == "" {
			alg = ES256
		}
		if alg != ES256 || k.Curve != elliptic.P256() {
			return nil, "", fmt.Errorf("oidc: private key %s is P-256 EC, which signs ES256, not %s", path, alg)
		}
	}
	return key, alg, nil
}

// ParsePrivateKey reads the first private key from PEM data: PKCS #8
// ("PRIVATE KEY"), PKCS #1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY").
// RSA keys must have at least 2048 bits and EC keys must be on P-256.
func ParsePrivateKey(pemData []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, pemData = pem.Decode(pemData)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("the private key is encrypted; store it unencrypted with restricted file permissions")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue // e.g. "EC PARAMETERS" before the key
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			if k.N.BitLen() < 2048 {
				return nil, fmt.Errorf("RSA key has %d bits; at least 2048 are needed", k.N.BitLen())
			}
			return k, nil
		case *ecdsa.PrivateKey:
			if k.Curve != elliptic.P256() {
				return nil, errors.New("EC key is not on curve P-256")
			}
			return k, nil
		default:
			return nil, fmt.Errorf("%T keys are not supported; use RSA or P-256 EC", key)
		}
	}
}
