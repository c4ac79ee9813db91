package oidc

import (
	"crypto"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// assertionType is the client_assertion_type of RFC 7523 §2.2.
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// AssertionLifetime is how long a client assertion is valid. It is used once,
// seconds after it is made; the margin covers clock difference with the IdP.
const AssertionLifetime = 5 * time.Minute

func newAssertionSigner(key crypto.Signer, alg, kid string) (jose.Signer, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("oidc: assertion signer: %w", err)
	}
	return s, nil
}

// clientAssertion makes the private_key_jwt assertion of OpenID Connect
// Core §9: issuer and subject are the client ID, the audience is the token
// endpoint, and a random jti lets the IdP refuse a replay.
func (rp *RelyingParty) clientAssertion() (string, error) {
	now := rp.now()
	claims := jwt.Claims{
		Issuer:   rp.cfg.ClientID,
		Subject:  rp.cfg.ClientID,
		Audience: jwt.Audience{rp.tokenURL},
		ID:       randomString(),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(AssertionLifetime)),
	}
	s, err := jwt.Signed(rp.signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("oidc: sign client assertion: %w", err)
	}
	return s, nil
}
