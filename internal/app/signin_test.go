package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/app"
	"github.com/qsmo/qsmo/internal/app/apptest"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/config"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/identity/oidc"
	"github.com/qsmo/qsmo/internal/identity/oidc/oidctest"
)

// TestSingleSignOn signs in through the portal with an OpenID provider on
// loopback: authorization code with PKCE, private_key_jwt, acr values.
func TestSingleSignOn(t *testing.T) {
	e := apptest.New(t)
	idp, err := oidctest.New(oidctest.Options{ACRValuesSupported: []string{"urn:acr.login.gov:auth-only"}})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyFile := filepath.Join(t.TempDir(), "rp.pem")
	if err := oidctest.WriteKeyFile(keyFile, key); err != nil {
		t.Fatal(err)
	}
	redirect := e.URL + "/auth/oidc/callback"
	idp.RegisterClient(oidctest.Client{ID: "qsmo-test", RedirectURIs: []string{redirect}, PublicKey: key.Public()})
	rp, err := oidc.New(context.Background(), oidc.Config{Issuer: idp.Issuer, ClientID: "qsmo-test", PrivateKeyFile: keyFile,
		RedirectURL: redirect, ACRValues: "urn:acr.login.gov:auth-only", RequireACR: true, HTTPClient: idp.Client()})
	if err != nil {
		t.Fatal(err)
	}
	e.App.IdentityPages.OIDC, e.App.IdentityPages.OIDCLabel = rp, "Sign in with your agency account"

	login := func(t *testing.T, email, subject string) (*apptest.Client, *http.Response, url.Values) {
		t.Helper()
		idp.SetUser(oidctest.User{Subject: subject, Email: email, EmailVerified: true, Name: "Someone"})
		c := e.Anonymous()
		if body := apptest.Body(c.Get("/sign-in")); !strings.Contains(body, "Sign in with your agency account") {
			t.Fatal("sign-in page has no single sign-on button")
		}
		res := c.PostForm("/auth/oidc/start", nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("start: %d", res.StatusCode)
		}
		authURL := res.Header.Get("Location")
		u, _ := url.Parse(authURL)
		q := u.Query()
		if q.Get("code_challenge_method") != "S256" || len(q.Get("state")) < 22 || len(q.Get("nonce")) < 22 || q.Get("acr_values") != "urn:acr.login.gov:auth-only" {
			t.Fatalf("authorization request lacks PKCE, state, nonce or acr: %v", q)
		}
		cb, err := idp.Authorize(authURL)
		if err != nil {
			t.Fatal(err)
		}
		return c, c.Get("/auth/oidc/callback?" + cb.Encode()), cb
	}

	t.Run("an invited person signs in and the account is linked", func(t *testing.T) {
		before := e.AuditHead()
		c, res, cb := login(t, "analyst@energy.example.gov", "sub-energy-analyst")
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
			t.Fatalf("callback: %d -> %s", res.StatusCode, res.Header.Get("Location"))
		}
		if body := apptest.Body(c.Get("/")); !strings.Contains(body, "Welcome") {
			t.Fatal("not signed in after callback")
		}
		if e.AuditHead() <= before {
			t.Fatal("sign-in and linking not audited")
		}
		// Replaying the callback does not open another session.
		again := e.Anonymous().Get("/auth/oidc/callback?" + cb.Encode())
		if again.StatusCode != http.StatusSeeOther || again.Header.Get("Location") != "/sign-in" {
			t.Fatalf("replayed callback: %d -> %s", again.StatusCode, again.Header.Get("Location"))
		}
	})
	t.Run("the linked subject signs in even if the email changes at the provider", func(t *testing.T) {
		_, res, _ := login(t, "renamed@energy.example.gov", "sub-energy-analyst")
		if res.Header.Get("Location") != "/" {
			t.Fatalf("linked subject refused: %s", res.Header.Get("Location"))
		}
	})
	t.Run("nobody gets an account just by signing in at the provider", func(t *testing.T) {
		c, res, _ := login(t, "stranger@example.com", "sub-stranger")
		if res.Header.Get("Location") != "/sign-in" {
			t.Fatalf("stranger: %s", res.Header.Get("Location"))
		}
		if body := apptest.Body(c.Get("/sign-in")); !strings.Contains(body, "There is no qsmo account for this sign-in") {
			t.Fatalf("no clear message: %s", body)
		}
	})
	t.Run("a provider answer without the required acr is refused", func(t *testing.T) {
		other := "urn:acr.login.gov:verified"
		idp.SetACR(&other)
		defer idp.SetACR(nil)
		_, res, _ := login(t, "analyst@energy.example.gov", "sub-energy-analyst")
		if res.Header.Get("Location") != "/sign-in" {
			t.Fatalf("acr mismatch accepted: %s", res.Header.Get("Location"))
		}
	})
}

// TestServeTLS starts the real server with a self-signed certificate and
// checks HTTPS, HSTS and the __Host- session cookie, then a graceful stop.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	// Free ports for the resolver too: the default 5353 may be taken.
	cfg, _, err := config.Load("serve", []string{"data-dir", "http-addr", "tls-self-signed", "dns-addr", "dot-addr"},
		[]string{"--data-dir", dir, "--http-addr", "127.0.0.1:0", "--tls-self-signed", "--dns-addr", "127.0.0.1:0", "--dot-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := dbtest.SQLite(t)
	log := quietLog()
	a, err := app.NewWithDB(context.Background(), cfg, d, log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	var addr string
	select {
	case addr = <-a.Listening():
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not listen")
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // #nosec G402 -- the test's own self-signed certificate
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "https://" + addr
	res, err := client.Get(base + "/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if hsts := res.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("no HSTS over TLS: %q", hsts)
	}
	if res.TLS == nil || len(res.TLS.PeerCertificates) == 0 || res.TLS.PeerCertificates[0].Subject.CommonName != "qsmo self-signed" {
		t.Errorf("not served with the generated certificate")
	}
	if _, _, err := app.SelfSigned(dir); err != nil {
		t.Errorf("certificate not kept in the data dir: %v", err)
	}
	// A person signs in over HTTPS: the cookie is Secure and __Host- prefixed.
	svc := a.Identity
	office, err := svc.CreateOffice(context.Background(), "Office")
	if err != nil {
		t.Fatal(err)
	}
	_, link, err := svc.CreateSetupLink(context.Background(), office.ID, authz.OfficeAdmin, "tls@example.gov", "")
	if err != nil {
		t.Fatal(err)
	}
	secret := link[strings.LastIndexByte(link, '/')+1:]
	post := func(path string, v url.Values) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	if r := post("/invite/"+secret, url.Values{"name": {"Tess"}, "password": {"a long enough passphrase 9"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d", r.StatusCode)
	}
	r := post("/sign-in", url.Values{"email": {"tls@example.gov"}, "password": {"a long enough passphrase 9"}})
	var got *http.Cookie
	for _, c := range r.Cookies() {
		if strings.Contains(c.Name, "session") {
			got = c
		}
	}
	if got == nil || got.Name != "__Host-qsmo_session" || !got.Secure || !got.HttpOnly || got.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie over TLS: %+v", got)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("graceful stop: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop")
	}
}
