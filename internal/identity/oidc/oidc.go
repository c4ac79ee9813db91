// Package oidc signs people in through an OpenID Connect provider (an
// agency IdP or Login.gov) with the authorization code flow, PKCE (S256)
// and a nonce, authenticating the client with private_key_jwt or a client
// secret, and returns the verified identity claims.
//
// A sign-in is two calls. Start returns the IdP URL to redirect the browser
// to and a State record that the caller keeps server-side, bound to the
// browser. When the IdP redirects back, Finish takes that record and the
// callback's query, checks the state, exchanges the code, verifies the ID
// token (signature from the IdP's published keys, issuer, audience, expiry,
// nonce, and optionally acr) and returns Claims.
//
// This package never logs. Its errors carry no tokens, codes, assertions or
// secrets; text the IdP sends back is reduced to bounded printable ASCII.
package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// Claims is the verified identity of the person who signed in.
type Claims struct {
	Issuer        string // the IdP's issuer URL
	Subject       string // the IdP's stable identifier for the person: key accounts on (Issuer, Subject)
	Email         string
	EmailVerified bool
	Name          string
	ACR           string // authentication context class the IdP reports, e.g. Login.gov's IAL
}

// RelyingParty is one configured IdP registration, ready to sign people in.
// It is safe for concurrent use.
type RelyingParty struct {
	cfg         Config
	provider    *gooidc.Provider
	verifier    *gooidc.IDTokenVerifier
	oauth       oauth2.Config
	client      *http.Client
	tokenURL    string
	signer      jose.Signer // nil unless private_key_jwt
	acrValues   []string
	now         func() time.Time
	hasUserInfo bool
}

// discovery holds the metadata fields go-oidc does not expose.
type discovery struct {
	TokenAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	PKCEMethods      []string `json:"code_challenge_methods_supported"`
	JWKSURI          string   `json:"jwks_uri"`
}

// New validates cfg, loads the private key, and fetches the IdP's discovery
// document (ctx bounds that request). It fails when the IdP is unreachable,
// names another issuer, lacks an endpoint, or does not support the
// configured client authentication or PKCE S256; the caller may retry later.
func New(ctx context.Context, cfg Config) (*RelyingParty, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rp := &RelyingParty{cfg: cfg, client: cfg.HTTPClient, now: cfg.Now}
	if rp.client == nil {
		rp.client = &http.Client{Timeout: 10 * time.Second}
	}
	if rp.now == nil {
		rp.now = time.Now
	}
	if cfg.clientAuth() == PrivateKeyJWT {
		key, alg, err := loadKey(cfg.PrivateKeyFile, cfg.SigningAlg)
		if err != nil {
			return nil, err
		}
		if rp.signer, err = newAssertionSigner(key, alg, cfg.KeyID); err != nil {
			return nil, err
		}
	}

	p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, rp.client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: discover %s: %w", cfg.Issuer, outside(err))
	}
	var meta discovery
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("oidc: discover %s: %w", cfg.Issuer, outside(err))
	}
	ep := p.Endpoint()
	for name, u := range map[string]string{"authorization_endpoint": ep.AuthURL, "token_endpoint": ep.TokenURL, "jwks_uri": meta.JWKSURI} {
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("oidc: discover %s: %s: %w", cfg.Issuer, name, err)
		}
	}
	if ui := p.UserInfoEndpoint(); ui != "" {
		if err := checkURL(ui); err != nil {
			return nil, fmt.Errorf("oidc: discover %s: userinfo_endpoint: %w", cfg.Issuer, err)
		}
		rp.hasUserInfo = true
	}
	if m := meta.TokenAuthMethods; len(m) > 0 && !slices.Contains(m, string(cfg.clientAuth())) {
		return nil, fmt.Errorf("oidc: %s does not support client authentication %s (it offers %s)",
			cfg.Issuer, cfg.clientAuth(), cleanText(strings.Join(m, ", ")))
	}
	if m := meta.PKCEMethods; len(m) > 0 && !slices.Contains(m, "S256") {
		return nil, fmt.Errorf("oidc: %s does not support PKCE S256", cfg.Issuer)
	}

	rp.provider = p
	rp.tokenURL = ep.TokenURL
	rp.verifier = p.Verifier(&gooidc.Config{ClientID: cfg.ClientID, Now: rp.now})
	rp.acrValues = strings.Fields(cfg.ACRValues)
	style := oauth2.AuthStyleInParams
	if cfg.clientAuth() == ClientSecretBasic {
		style = oauth2.AuthStyleInHeader
	}
	rp.oauth = oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: ep.AuthURL, TokenURL: ep.TokenURL, AuthStyle: style},
		RedirectURL:  cfg.RedirectURL,
		Scopes:       cfg.scopes(),
	}
	return rp, nil
}

// Start begins a sign-in: it returns the URL to redirect the browser to and
// the State record to keep until the callback. Each call makes fresh random
// state, nonce and PKCE verifier.
func (rp *RelyingParty) Start() (authURL string, st State) {
	st = State{
		State:    randomString(),
		Nonce:    randomString(),
		Verifier: oauth2.GenerateVerifier(),
		Created:  rp.now().UTC(),
	}
	opts := []oauth2.AuthCodeOption{
		gooidc.Nonce(st.Nonce),
		oauth2.S256ChallengeOption(st.Verifier),
	}
	if len(rp.acrValues) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", strings.Join(rp.acrValues, " ")))
	}
	if p := strings.Join(strings.Fields(rp.cfg.Prompt), " "); p != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", p))
	}
	return rp.oauth.AuthCodeURL(st.State, opts...), st
}

// Finish completes the sign-in attempt st with the query of the IdP's
// redirect to the callback URL. It returns ErrStateExpired, ErrStateMismatch
// or ErrBadCallback for a callback that does not belong to st, a
// *ProviderError when the IdP refused (on the callback or at the token
// endpoint), ErrIDToken, ErrNonceMismatch, ErrACRMismatch or
// ErrSubjectMismatch when the tokens do not check out, and a wrapped
// network error otherwise. The caller must delete st before calling, so a
// callback is honoured once.
func (rp *RelyingParty) Finish(ctx context.Context, st State, callback url.Values) (*Claims, error) {
	code, err := parseCallback(st, rp.cfg.Issuer, callback, rp.now())
	if err != nil {
		return nil, err
	}
	ctx = gooidc.ClientContext(ctx, rp.client)
	opts := []oauth2.AuthCodeOption{oauth2.VerifierOption(st.Verifier)}
	if rp.signer != nil {
		assertion, err := rp.clientAssertion()
		if err != nil {
			return nil, err
		}
		opts = append(opts,
			oauth2.SetAuthURLParam("client_assertion_type", assertionType),
			oauth2.SetAuthURLParam("client_assertion", assertion))
	}
	tok, err := rp.oauth.Exchange(ctx, code, opts...)
	if err != nil {
		return nil, exchangeError(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, fmt.Errorf("%w: token response has no id_token", ErrIDToken)
	}
	idt, err := rp.verifier.Verify(ctx, rawID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIDToken, outside(err))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return nil, ErrNonceMismatch
	}
	var extra struct {
		AZP           string `json:"azp"`
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"`
		Name          string `json:"name"`
		ACR           string `json:"acr"`
	}
	if err := idt.Claims(&extra); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIDToken, outside(err))
	}
	// OpenID Connect Core §3.1.3.7: with several audiences the authorized
	// party must be present, and when present it must be us.
	if (len(idt.Audience) > 1 && extra.AZP == "") || (extra.AZP != "" && extra.AZP != rp.cfg.ClientID) {
		return nil, fmt.Errorf("%w: authorized party (azp) is not this client", ErrIDToken)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrIDToken, err)
		}
	}
	if rp.cfg.RequireACR && !slices.Contains(rp.acrValues, extra.ACR) {
		return nil, fmt.Errorf("%w: got %q", ErrACRMismatch, cleanText(extra.ACR))
	}
	c := &Claims{
		Issuer:        idt.Issuer,
		Subject:       idt.Subject,
		Email:         extra.Email,
		EmailVerified: truthy(extra.EmailVerified),
		Name:          extra.Name,
		ACR:           extra.ACR,
	}
	// Some IdPs, Login.gov among them, put profile claims only in the user
	// info response.
	if c.Email == "" && rp.hasUserInfo {
		if err := rp.fillFromUserInfo(ctx, tok, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (rp *RelyingParty) fillFromUserInfo(ctx context.Context, tok *oauth2.Token, c *Claims) error {
	ui, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("oidc: user info: %w", outside(err))
	}
	if ui.Subject != c.Subject {
		return ErrSubjectMismatch
	}
	var extra struct {
		Name string `json:"name"`
	}
	if err := ui.Claims(&extra); err != nil {
		return fmt.Errorf("oidc: user info: %w", outside(err))
	}
	c.Email, c.EmailVerified = ui.Email, ui.EmailVerified
	if c.Name == "" {
		c.Name = extra.Name
	}
	return nil
}

// exchangeError turns a token endpoint failure into a ProviderError keeping
// only the RFC 6749 error fields: the response body is dropped.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" && re.Response != nil {
			code = fmt.Sprintf("http_%d", re.Response.StatusCode)
		}
		return &ProviderError{Code: cleanText(code), Description: cleanText(re.ErrorDescription), AtToken: true}
	}
	return fmt.Errorf("oidc: exchange code: %w", outside(err))
}

// truthy reads email_verified, which some IdPs send as a string.
func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "true"
	}
	return false
}
