package resolver

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// TestPortZeroSharesOnePort: "host:0" for UDP and TCP gives both the same
// free port, so tests and parallel servers can ask for any port and still
// point one dig at it.
func TestPortZeroSharesOnePort(t *testing.T) {
	e, err := New(Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Upstream: &fakeUpstream{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx)
	}()
	u, tc := e.Addr(querylog.UDP), e.Addr(querylog.TCP)
	_, up, _ := net.SplitHostPort(u)
	_, tp, _ := net.SplitHostPort(tc)
	if up == "0" || up != tp {
		t.Fatalf("udp %s, tcp %s: want one non-zero port", u, tc)
	}
}
