package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// tlsConfig returns the portal's TLS configuration: the configured
// certificate, a self-signed one generated into the data dir when asked, or
// nil for plain HTTP.
func (a *App) tlsConfig() (*tls.Config, error) {
	cert, err := a.Certificate()
	if err != nil || cert == nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert}, NextProtos: []string{"h2", "http/1.1"}}, nil
}

// Certificate loads or generates the certificate for HTTPS and DNS over
// TLS/HTTPS; nil when TLS is off.
func (a *App) Certificate() (*tls.Certificate, error) {
	certFile, keyFile := a.Cfg.TLSCert, a.Cfg.TLSKey
	if certFile == "" {
		if !a.Cfg.TLSSelfSigned {
			return nil, nil
		}
		var err error
		certFile, keyFile, err = SelfSigned(a.Cfg.DataDir)
		if err != nil {
			return nil, err
		}
		a.Log.Warn("serving TLS with a self-signed certificate: browsers and DNS clients will warn; use --tls-cert/--tls-key in production", "cert", certFile)
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load certificate: %w", err)
	}
	return &c, nil
}

// SelfSigned returns the paths of a self-signed certificate and key in the
// data directory, generating them (ECDSA P-256, one year, for localhost and
// loopback addresses) if missing or expired.
func SelfSigned(dataDir string) (certFile, keyFile string, err error) {
	dir := filepath.Join(dataDir, "tls")
	certFile, keyFile = filepath.Join(dir, "self-signed.crt"), filepath.Join(dir, "self-signed.key")
	if c, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && c.Leaf != nil && time.Now().Before(c.Leaf.NotAfter.Add(-24*time.Hour)) {
		return certFile, keyFile, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "qsmo self-signed", Organization: []string{"qsmo"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", host}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

func listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
