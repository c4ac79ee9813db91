// Package oidctest runs a real OpenID Provider on a loopback address for
// tests: discovery, signing keys (JWKS), an authorization endpoint that
// signs in a chosen user at once and redirects back with a code, a token
// endpoint that enforces PKCE S256 and verifies client authentication
// (private_key_jwt signature, audience, expiry and single use, or a client
// secret), and a user info endpoint. Switches make it misbehave in the ways
// a relying party must survive.
//
// It is for tests only: codes and tokens live in memory and its keys are
// made at start.
package oidctest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Paths of the provider's endpoints under its issuer URL.
const (
	AuthorizePath = "/authorize"
	TokenPath     = "/token"
	UserInfoPath  = "/userinfo"
	JWKSPath      = "/jwks"
)

// Lifetimes the provider enforces.
const (
	CodeLifetime    = time.Minute
	TokenLifetime   = 5 * time.Minute
	MaxAssertionAge = 5 * time.Minute // longest exp - now accepted in a client assertion
	clockLeeway     = time.Minute
	signingKeyID    = "oidctest-1"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Client is a registered relying party. Set PublicKey for private_key_jwt
// (RSA or P-256) or Secret for client_secret_basic and client_secret_post.
type Client struct {
	ID           string
	RedirectURIs []string
	PublicKey    crypto.PublicKey
	Secret       string
}

// User is the person the authorization endpoint signs in.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
}

// Options shape the provider at start.
type Options struct {
	// ACRValuesSupported is advertised in discovery.
	ACRValuesSupported []string
	// ProfileInUserInfoOnly leaves email and name out of the ID token, as
	// Login.gov does; they are then only in the user info response.
	ProfileInUserInfoOnly bool
}

// Provider is a running OpenID Provider. Its methods are safe for
// concurrent use.
type Provider struct {
	// Issuer is the provider's issuer URL (http://127.0.0.1:port).
	Issuer string

	srv      *httptest.Server
	key      *rsa.PrivateKey
	otherKey *rsa.PrivateKey // signs when SignWithUnknownKey is set
	opts     Options

	mu          sync.Mutex
	clients     map[string]Client
	user        User
	codes       map[string]*grant
	accessToken map[string]User
	usedJTI     map[string]time.Time
	authErr     [2]string
	acr         *string
	modify      func(map[string]any)
	unknownKey  bool
	tokenCalls  int
}

// grant is an issued authorization code.
type grant struct {
	clientID, redirectURI, challenge, nonce, acr string
	user                                         User
	expires                                      time.Time
}

// New starts a provider on a loopback port; Close stops it. The default
// user is Subject "user-1", email user1@example.gov (verified), name
// "Test User One".
func New(opts Options) (*Provider, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("oidctest: signing key: %w", err)
	}
	p := &Provider{
		key: key, opts: opts,
		clients:     map[string]Client{},
		codes:       map[string]*grant{},
		accessToken: map[string]User{},
		usedJTI:     map[string]time.Time{},
		user:        User{Subject: "user-1", Email: "user1@example.gov", EmailVerified: true, Name: "Test User One"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET "+JWKSPath, p.jwks)
	mux.HandleFunc("GET "+AuthorizePath, p.authorize)
	mux.HandleFunc("POST "+TokenPath, p.token)
	mux.HandleFunc("GET "+UserInfoPath, p.userinfo)
	p.srv = httptest.NewServer(mux)
	p.Issuer = p.srv.URL
	return p, nil
}

// Close stops the server.
func (p *Provider) Close() { p.srv.Close() }

// Client returns an HTTP client for the provider's server.
func (p *Provider) Client() *http.Client { return p.srv.Client() }

// TokenURL is the token endpoint, the audience of client assertions.
func (p *Provider) TokenURL() string { return p.Issuer + TokenPath }

// RegisterClient adds or replaces a relying party registration.
func (p *Provider) RegisterClient(c Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[c.ID] = c
}

// SetUser chooses who the next authorizations sign in.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// SetAuthorizeError makes authorizations redirect back with this error
// (e.g. "access_denied") instead of a code; an empty code restores success.
func (p *Provider) SetAuthorizeError(code, description string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authErr = [2]string{code, description}
}

// SetACR makes ID tokens carry this acr whatever was requested; nil
// restores the default (the first requested acr_values entry, or none).
func (p *Provider) SetACR(acr *string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.acr = acr
}

// ModifyIDToken registers a function that may change the claims of each ID
// token before it is signed (to test wrong audience, issuer, nonce or
// expiry); nil removes it.
func (p *Provider) ModifyIDToken(f func(claims map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.modify = f
}

// SignWithUnknownKey makes ID tokens signed with a key absent from the
// JWKS, under the published key ID.
func (p *Provider) SignWithUnknownKey(on bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on && p.otherKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return fmt.Errorf("oidctest: second key: %w", err)
		}
		p.otherKey = k
	}
	p.unknownKey = on
	return nil
}

// TokenRequests is the number of token endpoint requests served.
func (p *Provider) TokenRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenCalls
}

// Authorize follows an authorization URL as a browser would, up to the
// redirect back to the relying party, and returns that redirect's query
// (code and state, or error). It does not follow the redirect.
func (p *Provider) Authorize(authURL string) (url.Values, error) {
	c := *p.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		return nil, fmt.Errorf("oidctest: authorize: %w", err)
	}
	defer resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || loc == "" {
		return nil, fmt.Errorf("oidctest: authorize: status %d, no redirect", resp.StatusCode)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("oidctest: authorize: %w", err)
	}
	return u.Query(), nil
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                           p.Issuer,
		"authorization_endpoint":                           p.Issuer + AuthorizePath,
		"token_endpoint":                                   p.Issuer + TokenPath,
		"userinfo_endpoint":                                p.Issuer + UserInfoPath,
		"jwks_uri":                                         p.Issuer + JWKSPath,
		"response_types_supported":                         []string{"code"},
		"subject_types_supported":                          []string{"public"},
		"id_token_signing_alg_values_supported":            []string{"RS256"},
		"token_endpoint_auth_methods_supported":            []string{"private_key_jwt", "client_secret_basic", "client_secret_post"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "ES256"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"scopes_supported":                                 []string{"openid", "email", "profile"},
		"claims_supported":                                 []string{"sub", "email", "email_verified", "name", "acr", "nonce"},
		"acr_values_supported":                             p.opts.ACRValuesSupported,
		"authorization_response_iss_parameter_supported":   true,
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &p.key.PublicKey, KeyID: signingKeyID, Algorithm: "RS256", Use: "sig",
	}}}
	writeJSON(w, http.StatusOK, set)
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	client, known := p.clients[q.Get("client_id")]
	p.mu.Unlock()
	redirect := q.Get("redirect_uri")
	// Without a known client and its exact redirect URI there is nowhere
	// safe to send an error (RFC 6749 §4.1.2.1).
	if !known || !slices.Contains(client.RedirectURIs, redirect) {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	back := func(v url.Values) {
		v.Set("state", q.Get("state"))
		v.Set("iss", p.Issuer)
		u, _ := url.Parse(redirect)
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(code, desc string) { back(url.Values{"error": {code}, "error_description": {desc}}) }
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only the code flow is supported")
		return
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		fail("invalid_scope", "openid scope is required")
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		fail("invalid_request", "PKCE with S256 is required")
		return
	case len(q.Get("state")) < 22 || len(q.Get("nonce")) < 22:
		fail("invalid_request", "state and nonce of at least 22 characters are required")
		return
	}
	p.mu.Lock()
	authErr, user := p.authErr, p.user
	p.mu.Unlock()
	if authErr[0] != "" {
		fail(authErr[0], authErr[1])
		return
	}
	code := random()
	acr := ""
	if a := strings.Fields(q.Get("acr_values")); len(a) > 0 {
		acr = a[0]
	}
	p.mu.Lock()
	p.codes[code] = &grant{
		clientID: client.ID, redirectURI: redirect, challenge: q.Get("code_challenge"),
		nonce: q.Get("nonce"), acr: acr, user: user, expires: time.Now().Add(CodeLifetime),
	}
	p.mu.Unlock()
	back(url.Values{"code": {code}})
}

// tokenError answers the token endpoint's errors as RFC 6749 §5.2 asks.
func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.tokenCalls++
	p.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	f := r.PostForm
	client, err := p.authenticateClient(r)
	if err != nil {
		tokenError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	if f.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code is supported")
		return
	}
	p.mu.Lock()
	g := p.codes[f.Get("code")]
	delete(p.codes, f.Get("code")) // a code is good for one request, whatever its outcome
	p.mu.Unlock()
	switch {
	case g == nil || time.Now().After(g.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case g.clientID != client.ID || g.redirectURI != f.Get("redirect_uri"):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code was issued to another client or redirect_uri")
		return
	case f.Get("code_verifier") == "" || s256(f.Get("code_verifier")) != g.challenge:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}
	access := random()
	idToken, err := p.idToken(client.ID, g, access)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", "could not sign the ID token")
		return
	}
	p.mu.Lock()
	p.accessToken[access] = g.user
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "token_type": "Bearer",
		"expires_in": int(TokenLifetime / time.Second), "id_token": idToken,
	})
}

// authenticateClient accepts exactly one client authentication method and
// returns the client it proves.
func (p *Provider) authenticateClient(r *http.Request) (Client, error) {
	f := r.PostForm
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.Get("client_assertion_type") != "" || f.Get("client_assertion") != "" {
		if f.Get("client_assertion_type") != assertionType {
			return Client{}, errors.New("unsupported client_assertion_type")
		}
		return p.verifyAssertion(f.Get("client_assertion"), f.Get("client_id"))
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || f.Get("client_secret") != "" {
			return Client{}, errors.New("malformed client authentication")
		}
	} else {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	c, ok := p.clients[id]
	if !ok || c.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return Client{}, errors.New("client authentication failed")
	}
	return c, nil
}

// verifyAssertion checks a private_key_jwt assertion (RFC 7523 §3); the
// caller holds p.mu.
func (p *Provider) verifyAssertion(raw, clientID string) (Client, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return Client{}, errors.New("client_assertion is not a signed JWT")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return Client{}, errors.New("client_assertion claims unreadable")
	}
	c, ok := p.clients[unverified.Issuer]
	if !ok || c.PublicKey == nil {
		return Client{}, errors.New("unknown client or no registered key")
	}
	var claims jwt.Claims
	if err := tok.Claims(c.PublicKey, &claims); err != nil {
		return Client{}, errors.New("client_assertion signature does not verify with the registered key")
	}
	now := time.Now()
	err = claims.ValidateWithLeeway(jwt.Expected{
		Issuer: c.ID, Subject: c.ID, AnyAudience: jwt.Audience{p.TokenURL()}, Time: now,
	}, clockLeeway)
	switch {
	case err != nil:
		return Client{}, fmt.Errorf("client_assertion rejected: %v", err)
	case clientID != "" && clientID != c.ID:
		return Client{}, errors.New("client_id differs from the assertion issuer")
	case claims.Expiry == nil || claims.Expiry.Time().After(now.Add(MaxAssertionAge+clockLeeway)):
		return Client{}, errors.New("client_assertion must expire within 5 minutes")
	case claims.ID == "":
		return Client{}, errors.New("client_assertion has no jti")
	}
	if _, used := p.usedJTI[claims.ID]; used {
		return Client{}, errors.New("client_assertion jti already used")
	}
	for jti, exp := range p.usedJTI { // forget identifiers that can no longer be replayed
		if now.After(exp.Add(clockLeeway)) {
			delete(p.usedJTI, jti)
		}
	}
	p.usedJTI[claims.ID] = claims.Expiry.Time()
	return c, nil
}

func (p *Provider) idToken(clientID string, g *grant, accessToken string) (string, error) {
	p.mu.Lock()
	acrOverride, modify, unknown, other := p.acr, p.modify, p.unknownKey, p.otherKey
	p.mu.Unlock()
	now := time.Now()
	sum := sha256.Sum256([]byte(accessToken))
	claims := map[string]any{
		"iss":       p.Issuer,
		"sub":       g.user.Subject,
		"aud":       clientID,
		"iat":       now.Unix(),
		"exp":       now.Add(TokenLifetime).Unix(),
		"auth_time": now.Unix(),
		"nonce":     g.nonce,
		"at_hash":   base64.RawURLEncoding.EncodeToString(sum[:16]),
	}
	acr := g.acr
	if acrOverride != nil {
		acr = *acrOverride
	}
	if acr != "" {
		claims["acr"] = acr
	}
	if !p.opts.ProfileInUserInfoOnly {
		claims["email"] = g.user.Email
		claims["email_verified"] = g.user.EmailVerified
		claims["name"] = g.user.Name
	}
	if modify != nil {
		modify(claims)
	}
	key := p.key
	if unknown {
		key = other
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), signingKeyID))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	u, known := p.accessToken[token]
	p.mu.Unlock()
	if !ok || !known {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sub": u.Subject, "email": u.Email, "email_verified": u.EmailVerified, "name": u.Name,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// WriteKeyFile writes key as an unencrypted PKCS #8 PEM file readable only
// by its owner, for a relying party's PrivateKeyFile.
func WriteKeyFile(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("oidctest: write key: %w", err)
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}
