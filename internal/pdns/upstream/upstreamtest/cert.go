package upstreamtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"time"
)

// ServerName is the DNS name in the certificate every DoT and DoH server of
// this package presents (alongside the IP addresses 127.0.0.1 and ::1).
const ServerName = "dns.test"

var (
	certOnce sync.Once
	certPair tls.Certificate
	certPool *x509.CertPool
	certErr  error
)

// loadCert makes one self-signed certificate per test binary: generating a
// key per server would cost more than most tests, and a single root lets a
// client trust every server of the run with one pool.
func loadCert() (tls.Certificate, *x509.CertPool, error) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
		if err != nil {
			certErr = err
			return
		}
		now := time.Now()
		tmpl := &x509.Certificate{
			SerialNumber:          serial,
			Subject:               pkix.Name{CommonName: ServerName},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			DNSNames:              []string{ServerName},
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			certErr = err
			return
		}
		certPair = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		certPool = x509.NewCertPool()
		certPool.AddCert(leaf)
	})
	return certPair, certPool, certErr
}

// RootCAs returns a pool trusting the certificate of every DoT and DoH
// server started by this package in this process.
func RootCAs() *x509.CertPool {
	_, pool, err := loadCert()
	if err != nil {
		panic("upstreamtest: generate certificate: " + err.Error())
	}
	return pool
}

// ClientTLSConfig returns a client configuration that trusts this package's
// servers; each call returns a new value the caller may modify.
func ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: RootCAs(), MinVersion: tls.VersionTLS12}
}
