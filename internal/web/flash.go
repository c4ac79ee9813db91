package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// FlashMsg is a one-time message shown on the next page (after a redirect).
type FlashMsg struct {
	Kind string `json:"k"` // success, info, warning, error
	Text string `json:"t"`
}

const flashCookie = "qsmo_flash"

// Flash queues a message for the next page the browser loads. The cookie is
// signed so nobody can make the site display their text.
func (k *Kit) Flash(w http.ResponseWriter, kind, text string) {
	payload, _ := json.Marshal([]FlashMsg{{Kind: kind, Text: text}})
	v := base64.RawURLEncoding.EncodeToString(payload)
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v + "." + k.sign(v), Path: "/", HttpOnly: true, Secure: k.Opts.TLS, SameSite: http.SameSiteLaxMode, MaxAge: 300})
}

func (k *Kit) sign(v string) string {
	m := hmac.New(sha256.New, k.Opts.CookieKey)
	m.Write([]byte("flash:" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// takeFlashes reads and clears pending messages.
func (k *Kit) takeFlashes(w http.ResponseWriter, r *http.Request) []FlashMsg {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: k.Opts.TLS, SameSite: http.SameSiteLaxMode})
	v, sig, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(k.sign(v))) {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil
	}
	var out []FlashMsg
	if json.Unmarshal(raw, &out) != nil {
		return nil
	}
	return out
}

// Redirect sends the browser to path with a flash message (the POST,
// redirect, GET pattern for every form).
func (k *Kit) Redirect(w http.ResponseWriter, r *http.Request, path, kind, text string) error {
	if text != "" {
		k.Flash(w, kind, text)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}
