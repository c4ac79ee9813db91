package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/identity/oidc/oidctest"
	"golang.org/x/oauth2"
)

const (
	clientID    = "urn:gov:gsa:openidconnect.profiles:sp:sso:qsmo:test"
	redirectURL = "http://127.0.0.1:8443/auth/callback"
)

// env is one provider with one registered client and a relying party for
// it.
type env struct {
	op  *oidctest.Provider
	rp  *RelyingParty
	cfg Config
}

var (
	sharedOnce sync.Once
	sharedOP   *oidctest.Provider
	sharedErr  error
)

// provider returns a provider shared by the tests that leave it in its
// default state, so the RSA keys are made once.
func provider(t *testing.T) *oidctest.Provider {
	t.Helper()
	sharedOnce.Do(func() { sharedOP, sharedErr = oidctest.New(oidctest.Options{}) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedOP
}

func newProvider(t *testing.T, o oidctest.Options) *oidctest.Provider {
	t.Helper()
	op, err := oidctest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	return op
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyFile(t *testing.T, k crypto.Signer) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "client.pem")
	if err := oidctest.WriteKeyFile(path, k); err != nil {
		t.Fatal(err)
	}
	return path
}

// setup registers a private_key_jwt client with a fresh P-256 key (a unique
// client ID per test, so tests sharing a provider do not meet) and builds
// the relying party; edit may change the config first.
func setup(t *testing.T, op *oidctest.Provider, edit func(*Config)) *env {
	t.Helper()
	k := ecKey(t)
	id := clientID + ":" + t.Name()
	op.RegisterClient(oidctest.Client{ID: id, RedirectURIs: []string{redirectURL}, PublicKey: k.Public()})
	cfg := Config{
		Issuer:         op.Issuer,
		ClientID:       id,
		PrivateKeyFile: keyFile(t, k),
		RedirectURL:    redirectURL,
		HTTPClient:     op.Client(),
	}
	if edit != nil {
		edit(&cfg)
	}
	rp, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{op: op, rp: rp, cfg: cfg}
}

// signIn runs Start and the provider's authorization, returning the state
// record and the callback query.
func (e *env) signIn(t *testing.T) (State, url.Values) {
	t.Helper()
	authURL, st := e.rp.Start()
	q, err := e.op.Authorize(authURL)
	if err != nil {
		t.Fatal(err)
	}
	return st, q
}

// noSecrets fails if err's text contains any of the secrets of a sign-in.
func noSecrets(t *testing.T, err error, st State, q url.Values) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{st.Nonce, st.Verifier, q.Get("code")} {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a secret", err)
		}
	}
}

func TestHappyPath(t *testing.T) {
	e := setup(t, provider(t), nil)
	st, q := e.signIn(t)
	c, err := e.rp.Finish(context.Background(), st, q)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	want := Claims{Issuer: e.op.Issuer, Subject: "user-1", Email: "user1@example.gov", EmailVerified: true, Name: "Test User One"}
	if *c != want {
		t.Errorf("claims = %+v, want %+v", *c, want)
	}
}

func TestRSAKeyAndKeyID(t *testing.T) {
	op := provider(t)
	k, err := ParsePrivateKey(rsaPEM(t))
	if err != nil {
		t.Fatal(err)
	}
	op.RegisterClient(oidctest.Client{ID: "rsa-client", RedirectURIs: []string{redirectURL}, PublicKey: k.Public()})
	rp, err := New(context.Background(), Config{
		Issuer: op.Issuer, ClientID: "rsa-client", PrivateKeyFile: keyFile(t, k), KeyID: "key-2026",
		SigningAlg: RS256, RedirectURL: redirectURL, HTTPClient: op.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	authURL, st := rp.Start()
	q, err := op.Authorize(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := rp.Finish(context.Background(), st, q); err != nil || c.Subject != "user-1" {
		t.Fatalf("Finish = %+v, %v", c, err)
	}
}

func TestClientSecret(t *testing.T) {
	op := provider(t)
	for _, method := range []ClientAuth{ClientSecretBasic, ClientSecretPost} {
		t.Run(string(method), func(t *testing.T) {
			id := "secret-client-" + string(method)
			// Characters that must be form-encoded in a Basic header.
			secret := "s3cr:et/with+symbols&=%"
			op.RegisterClient(oidctest.Client{ID: id, RedirectURIs: []string{redirectURL}, Secret: secret})
			cfg := Config{Issuer: op.Issuer, ClientID: id, ClientAuth: method, ClientSecret: secret,
				RedirectURL: redirectURL, HTTPClient: op.Client()}
			rp, err := New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			authURL, st := rp.Start()
			q, _ := op.Authorize(authURL)
			if _, err := rp.Finish(context.Background(), st, q); err != nil {
				t.Fatalf("Finish: %v", err)
			}
			cfg.ClientSecret = "wrong"
			rp, _ = New(context.Background(), cfg)
			authURL, st = rp.Start()
			q, _ = op.Authorize(authURL)
			_, err = rp.Finish(context.Background(), st, q)
			var pe *ProviderError
			if !errors.As(err, &pe) || pe.Code != "invalid_client" || !pe.AtToken {
				t.Errorf("wrong secret: %v, want invalid_client at the token endpoint", err)
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestStartURL(t *testing.T) {
	e := setup(t, provider(t), func(c *Config) {
		c.ACRValues = "urn:acr.login.gov:auth-only  http://idmanagement.gov/ns/assurance/ial/1"
		c.Prompt = "select_account"
	})
	authURL, st := e.rp.Start()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"response_type":         "code",
		"client_id":             e.cfg.ClientID,
		"redirect_uri":          redirectURL,
		"scope":                 "openid email",
		"state":                 st.State,
		"nonce":                 st.Nonce,
		"code_challenge":        oauth2.S256ChallengeFromVerifier(st.Verifier),
		"code_challenge_method": "S256",
		"acr_values":            "urn:acr.login.gov:auth-only http://idmanagement.gov/ns/assurance/ial/1",
		"prompt":                "select_account",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if u.Scheme+"://"+u.Host+u.Path != e.op.Issuer+oidctest.AuthorizePath {
		t.Errorf("authorization URL %s is not the discovered endpoint", authURL)
	}
	for name, v := range map[string]string{"state": st.State, "nonce": st.Nonce, "verifier": st.Verifier} {
		if len(v) != 43 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Errorf("%s %q is not 43 base64url characters (32 random bytes)", name, v)
		}
	}
	if _, st2 := e.rp.Start(); st2.State == st.State || st2.Nonce == st.Nonce || st2.Verifier == st.Verifier {
		t.Error("two attempts share a random value")
	}
	if st.Expired(time.Now()) || !st.Expired(time.Now().Add(StateTTL+time.Second)) {
		t.Error("state expiry does not follow StateTTL")
	}
}

func TestCallbackRejections(t *testing.T) {
	e := setup(t, provider(t), nil)
	ctx := context.Background()

	t.Run("wrong state", func(t *testing.T) {
		st, q := e.signIn(t)
		_, other := e.rp.Start()
		before := e.op.TokenRequests()
		_, err := e.rp.Finish(ctx, other, q)
		if !errors.Is(err, ErrStateMismatch) {
			t.Fatalf("err = %v, want ErrStateMismatch", err)
		}
		if e.op.TokenRequests() != before {
			t.Error("the code was sent to the token endpoint despite the wrong state")
		}
		noSecrets(t, err, st, q)
	})
	t.Run("missing state", func(t *testing.T) {
		st, q := e.signIn(t)
		q.Del("state")
		if _, err := e.rp.Finish(ctx, st, q); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("err = %v, want ErrStateMismatch", err)
		}
	})
	t.Run("empty record never matches an empty state", func(t *testing.T) {
		_, q := e.signIn(t)
		q.Set("state", "")
		if _, err := e.rp.Finish(ctx, State{}, q); !errors.Is(err, ErrStateExpired) {
			t.Errorf("err = %v, want ErrStateExpired", err)
		}
	})
	t.Run("replayed callback", func(t *testing.T) {
		st, q := e.signIn(t)
		if _, err := e.rp.Finish(ctx, st, q); err != nil {
			t.Fatal(err)
		}
		_, err := e.rp.Finish(ctx, st, q)
		var pe *ProviderError
		if !errors.As(err, &pe) || pe.Code != "invalid_grant" || !pe.AtToken {
			t.Errorf("second use: %v, want invalid_grant from the token endpoint", err)
		}
		noSecrets(t, err, st, q)
	})
	t.Run("expired state record", func(t *testing.T) {
		later := time.Now().Add(StateTTL + time.Minute)
		ex := setup(t, e.op, func(c *Config) { c.Now = func() time.Time { return later } })
		st, q := e.signIn(t) // made now, finished eleven minutes later
		if _, err := ex.rp.Finish(ctx, st, q); !errors.Is(err, ErrStateExpired) {
			t.Errorf("err = %v, want ErrStateExpired", err)
		}
	})
	t.Run("issuer parameter names another IdP", func(t *testing.T) {
		st, q := e.signIn(t)
		q.Set("iss", "https://attacker.example")
		if _, err := e.rp.Finish(ctx, st, q); !errors.Is(err, ErrBadCallback) {
			t.Errorf("err = %v, want ErrBadCallback", err)
		}
	})
	t.Run("bad PKCE verifier is refused by the provider", func(t *testing.T) {
		st, q := e.signIn(t)
		st.Verifier = oauth2.GenerateVerifier()
		_, err := e.rp.Finish(ctx, st, q)
		var pe *ProviderError
		if !errors.As(err, &pe) || pe.Code != "invalid_grant" || !strings.Contains(pe.Description, "PKCE") {
			t.Errorf("err = %v, want invalid_grant naming PKCE", err)
		}
		noSecrets(t, err, st, q)
	})
}

func TestProviderErrorSurfaced(t *testing.T) {
	op := newProvider(t, oidctest.Options{})
	e := setup(t, op, nil)
	op.SetAuthorizeError("access_denied", "The user cancelled\nlevel=ERROR forged=1 \u2603")
	st, q := e.signIn(t)
	_, err := e.rp.Finish(context.Background(), st, q)
	var pe *ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *ProviderError", err)
	}
	if pe.Code != "access_denied" || pe.AtToken {
		t.Errorf("ProviderError = %+v", pe)
	}
	if strings.ContainsAny(pe.Description, "\n\u2603") || !strings.HasPrefix(pe.Description, "The user cancelled?level") {
		t.Errorf("description %q is not reduced to one printable line", pe.Description)
	}
	if msg := Message(err); !strings.Contains(msg, "cancelled or refused") || strings.Contains(msg, "forged") {
		t.Errorf("Message = %q", msg)
	}
	if op.TokenRequests() != 0 {
		t.Error("token endpoint called after an authorization error")
	}
}

func TestAssertionRejectedByProvider(t *testing.T) {
	op := provider(t)
	ctx := context.Background()
	t.Run("signed with a key other than the registered one", func(t *testing.T) {
		registered, used := ecKey(t), ecKey(t)
		op.RegisterClient(oidctest.Client{ID: "wrong-key", RedirectURIs: []string{redirectURL}, PublicKey: registered.Public()})
		rp, err := New(ctx, Config{Issuer: op.Issuer, ClientID: "wrong-key", PrivateKeyFile: keyFile(t, used),
			RedirectURL: redirectURL, HTTPClient: op.Client()})
		if err != nil {
			t.Fatal(err)
		}
		authURL, st := rp.Start()
		q, _ := op.Authorize(authURL)
		_, err = rp.Finish(ctx, st, q)
		var pe *ProviderError
		if !errors.As(err, &pe) || pe.Code != "invalid_client" || !strings.Contains(pe.Description, "signature") {
			t.Errorf("err = %v, want invalid_client about the signature", err)
		}
	})
	t.Run("expired assertion", func(t *testing.T) {
		// The relying party's clock runs ten minutes slow: its assertion
		// expired five minutes ago by the provider's clock.
		slow := func() time.Time { return time.Now().Add(-10 * time.Minute) }
		e := setup(t, op, func(c *Config) { c.Now = slow })
		authURL, st := e.rp.Start()
		q, _ := op.Authorize(authURL)
		_, err := e.rp.Finish(ctx, st, q)
		var pe *ProviderError
		if !errors.As(err, &pe) || pe.Code != "invalid_client" || !strings.Contains(pe.Description, "exp") {
			t.Errorf("err = %v, want invalid_client about expiry", err)
		}
	})
}

func TestIDTokenRejected(t *testing.T) {
	op := newProvider(t, oidctest.Options{})
	e := setup(t, op, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		modify func(map[string]any)
		want   error
	}{
		{"wrong nonce", func(c map[string]any) { c["nonce"] = "another-attempt-nonce-000000000000000000000" }, ErrNonceMismatch},
		{"missing nonce", func(c map[string]any) { delete(c, "nonce") }, ErrNonceMismatch},
		{"wrong audience", func(c map[string]any) { c["aud"] = "someone-else" }, ErrIDToken},
		{"extra audience without azp", func(c map[string]any) { c["aud"] = []string{e.cfg.ClientID, "someone-else"} }, ErrIDToken},
		{"azp of another client", func(c map[string]any) { c["azp"] = "someone-else" }, ErrIDToken},
		{"wrong issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }, ErrIDToken},
		{"expired", func(c map[string]any) {
			c["iat"] = time.Now().Add(-time.Hour).Unix()
			c["exp"] = time.Now().Add(-30 * time.Minute).Unix()
		}, ErrIDToken},
		{"at_hash of another access token", func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }, ErrIDToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op.ModifyIDToken(tc.modify)
			defer op.ModifyIDToken(nil)
			st, q := e.signIn(t)
			c, err := e.rp.Finish(ctx, st, q)
			if !errors.Is(err, tc.want) || c != nil {
				t.Fatalf("Finish = %+v, %v; want %v", c, err, tc.want)
			}
			noSecrets(t, err, st, q)
		})
	}
	t.Run("signed with a key not in the JWKS", func(t *testing.T) {
		if err := op.SignWithUnknownKey(true); err != nil {
			t.Fatal(err)
		}
		defer op.SignWithUnknownKey(false)
		st, q := e.signIn(t)
		if _, err := e.rp.Finish(ctx, st, q); !errors.Is(err, ErrIDToken) {
			t.Fatalf("err = %v, want ErrIDToken", err)
		}
	})
	t.Run("provider back to normal", func(t *testing.T) {
		st, q := e.signIn(t)
		if _, err := e.rp.Finish(ctx, st, q); err != nil {
			t.Fatalf("Finish: %v", err)
		}
	})
}

func TestACR(t *testing.T) {
	op := newProvider(t, oidctest.Options{ACRValuesSupported: []string{"http://idmanagement.gov/ns/assurance/ial/1", "http://idmanagement.gov/ns/assurance/ial/2"}})
	ctx := context.Background()
	const ial1, ial2 = "http://idmanagement.gov/ns/assurance/ial/1", "http://idmanagement.gov/ns/assurance/ial/2"

	t.Run("requested level returned", func(t *testing.T) {
		e := setup(t, op, func(c *Config) { c.ACRValues, c.RequireACR = ial2, true })
		st, q := e.signIn(t)
		c, err := e.rp.Finish(ctx, st, q)
		if err != nil || c.ACR != ial2 {
			t.Fatalf("Finish = %+v, %v; want acr %s", c, err, ial2)
		}
	})
	t.Run("lower level refused when required", func(t *testing.T) {
		e := setup(t, op, func(c *Config) { c.ACRValues, c.RequireACR = ial2, true })
		lower := ial1
		op.SetACR(&lower)
		defer op.SetACR(nil)
		st, q := e.signIn(t)
		_, err := e.rp.Finish(ctx, st, q)
		if !errors.Is(err, ErrACRMismatch) || !strings.Contains(err.Error(), ial1) {
			t.Fatalf("err = %v, want ErrACRMismatch naming %s", err, ial1)
		}
		if !strings.Contains(Message(err), "level of assurance") {
			t.Errorf("Message = %q", Message(err))
		}
	})
	t.Run("missing acr refused when required", func(t *testing.T) {
		e := setup(t, op, func(c *Config) { c.ACRValues, c.RequireACR = ial2, true })
		none := ""
		op.SetACR(&none)
		defer op.SetACR(nil)
		st, q := e.signIn(t)
		if _, err := e.rp.Finish(ctx, st, q); !errors.Is(err, ErrACRMismatch) {
			t.Fatalf("err = %v, want ErrACRMismatch", err)
		}
	})
	t.Run("other level reported when not required", func(t *testing.T) {
		e := setup(t, op, func(c *Config) { c.ACRValues = ial2 })
		lower := ial1
		op.SetACR(&lower)
		defer op.SetACR(nil)
		st, q := e.signIn(t)
		c, err := e.rp.Finish(ctx, st, q)
		if err != nil || c.ACR != ial1 {
			t.Fatalf("Finish = %+v, %v; want acr %s reported", c, err, ial1)
		}
	})
}

func TestProfileFromUserInfo(t *testing.T) {
	op := newProvider(t, oidctest.Options{ProfileInUserInfoOnly: true})
	e := setup(t, op, nil)
	op.SetUser(oidctest.User{Subject: "8c2e-login-gov-uuid", Email: "analyst@agency.example.gov", EmailVerified: true, Name: "Ada Analyst"})
	st, q := e.signIn(t)
	c, err := e.rp.Finish(context.Background(), st, q)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{Issuer: op.Issuer, Subject: "8c2e-login-gov-uuid", Email: "analyst@agency.example.gov", EmailVerified: true, Name: "Ada Analyst"}
	if *c != want {
		t.Errorf("claims = %+v, want %+v", *c, want)
	}
}

func TestNewFailsClearly(t *testing.T) {
	op := provider(t)
	k := ecKey(t)
	good := Config{Issuer: op.Issuer, ClientID: "x", PrivateKeyFile: keyFile(t, k), RedirectURL: redirectURL, HTTPClient: op.Client()}
	ctx := context.Background()
	t.Run("issuer differs from discovery", func(t *testing.T) {
		c := good
		c.Issuer = op.Issuer + "/"
		if _, err := New(ctx, c); err == nil || !strings.Contains(err.Error(), "issuer") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		down := newProvider(t, oidctest.Options{})
		c := good
		c.Issuer, c.HTTPClient = down.Issuer, down.Client()
		down.Close()
		if _, err := New(ctx, c); err == nil || !strings.Contains(err.Error(), "discover") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("missing key file", func(t *testing.T) {
		c := good
		c.PrivateKeyFile = filepath.Join(t.TempDir(), "absent.pem")
		if _, err := New(ctx, c); err == nil || !strings.Contains(err.Error(), "private key") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("RSA algorithm with an EC key", func(t *testing.T) {
		c := good
		c.SigningAlg = RS256
		if _, err := New(ctx, c); err == nil || !strings.Contains(err.Error(), "ES256") {
			t.Errorf("err = %v", err)
		}
	})
}
