package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

const redirect = "http://127.0.0.1:1/cb"

func start(t *testing.T) (*Provider, *ecdsa.PrivateKey) {
	t.Helper()
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.RegisterClient(Client{ID: "c1", RedirectURIs: []string{redirect}, PublicKey: k.Public()})
	return p, k
}

func authURL(p *Provider, edit func(url.Values)) string {
	v := url.Values{
		"client_id": {"c1"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email"},
		"state": {strings.Repeat("s", 43)}, "nonce": {strings.Repeat("n", 43)},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(strings.Repeat("v", 43))}, "code_challenge_method": {"S256"},
	}
	if edit != nil {
		edit(v)
	}
	return p.Issuer + AuthorizePath + "?" + v.Encode()
}

func assertion(t *testing.T, p *Provider, k *ecdsa.PrivateKey, edit func(*jwt.Claims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.Claims{Issuer: "c1", Subject: "c1", Audience: jwt.Audience{p.TokenURL()}, ID: random(),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}
	if edit != nil {
		edit(&c)
	}
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, nil)
	raw, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// exchange posts a token request and returns the status and error code.
func exchange(t *testing.T, p *Provider, form url.Values) (int, string) {
	t.Helper()
	resp, err := p.Client().PostForm(p.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error
}

func code(t *testing.T, p *Provider) string {
	t.Helper()
	q, err := p.Authorize(authURL(p, nil))
	if err != nil || q.Get("code") == "" {
		t.Fatalf("authorize: %v %v", q, err)
	}
	return q.Get("code")
}

func TestAuthorizeRequirements(t *testing.T) {
	p, _ := start(t)
	t.Run("unregistered redirect gets no redirect", func(t *testing.T) {
		_, err := p.Authorize(authURL(p, func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:2/evil") }))
		if err == nil || !strings.Contains(err.Error(), "status 400") {
			t.Errorf("err = %v, want a 400 without redirect", err)
		}
	})
	for name, edit := range map[string]func(url.Values){
		"no PKCE":           func(v url.Values) { v.Del("code_challenge") },
		"plain PKCE":        func(v url.Values) { v.Set("code_challenge_method", "plain") },
		"short state":       func(v url.Values) { v.Set("state", "abc") },
		"no nonce":          func(v url.Values) { v.Del("nonce") },
		"no openid scope":   func(v url.Values) { v.Set("scope", "email") },
		"implicit response": func(v url.Values) { v.Set("response_type", "token") },
	} {
		t.Run(name, func(t *testing.T) {
			q, err := p.Authorize(authURL(p, edit))
			if err != nil || q.Get("error") == "" || q.Get("code") != "" {
				t.Errorf("query %v, err %v; want an error redirect", q, err)
			}
		})
	}
}

func TestTokenEndpoint(t *testing.T) {
	p, k := start(t)
	verifier := strings.Repeat("v", 43)
	form := func(c, a string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect},
			"code_verifier": {verifier}, "client_assertion_type": {assertionType}, "client_assertion": {a}}
	}
	t.Run("valid request, then the code is spent", func(t *testing.T) {
		c := code(t, p)
		if st, e := exchange(t, p, form(c, assertion(t, p, k, nil))); st != http.StatusOK {
			t.Fatalf("status %d %s", st, e)
		}
		if _, e := exchange(t, p, form(c, assertion(t, p, k, nil))); e != "invalid_grant" {
			t.Errorf("reused code: %q, want invalid_grant", e)
		}
	})
	t.Run("replayed assertion", func(t *testing.T) {
		a := assertion(t, p, k, nil)
		if st, _ := exchange(t, p, form(code(t, p), a)); st != http.StatusOK {
			t.Fatal("first use refused")
		}
		if _, e := exchange(t, p, form(code(t, p), a)); e != "invalid_client" {
			t.Errorf("replayed jti: %q, want invalid_client", e)
		}
	})
	for name, edit := range map[string]func(*jwt.Claims){
		"audience is the issuer": func(c *jwt.Claims) { c.Audience = jwt.Audience{p.Issuer} },
		"expired":                func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(-2 * time.Minute)) },
		"expires too late":       func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(time.Hour)) },
		"subject differs":        func(c *jwt.Claims) { c.Subject = "c2" },
		"no jti":                 func(c *jwt.Claims) { c.ID = "" },
	} {
		t.Run(name, func(t *testing.T) {
			if _, e := exchange(t, p, form(code(t, p), assertion(t, p, k, edit))); e != "invalid_client" {
				t.Errorf("got %q, want invalid_client", e)
			}
		})
	}
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		f := form(code(t, p), assertion(t, p, k, nil))
		f.Set("code_verifier", strings.Repeat("w", 43))
		if _, e := exchange(t, p, f); e != "invalid_grant" {
			t.Errorf("got %q, want invalid_grant", e)
		}
	})
	t.Run("redirect_uri differs from the authorization", func(t *testing.T) {
		f := form(code(t, p), assertion(t, p, k, nil))
		f.Set("redirect_uri", "http://127.0.0.1:1/other")
		if _, e := exchange(t, p, f); e != "invalid_grant" {
			t.Errorf("got %q, want invalid_grant", e)
		}
	})
	t.Run("no client authentication", func(t *testing.T) {
		f := form(code(t, p), "")
		f.Del("client_assertion")
		f.Del("client_assertion_type")
		f.Set("client_id", "c1")
		if _, e := exchange(t, p, f); e != "invalid_client" {
			t.Errorf("got %q, want invalid_client", e)
		}
	})
}

func TestUserInfoNeedsToken(t *testing.T) {
	p, _ := start(t)
	req, _ := http.NewRequest("GET", p.Issuer+UserInfoPath, nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", resp.StatusCode)
	}
}
