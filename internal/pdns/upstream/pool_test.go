package upstream

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/qsmo/qsmo/internal/pdns/upstream/upstreamtest"
)

var www = Question{Name: "www.example.test.", Type: dns.TypeA, Class: dns.ClassINET}

// newPool builds a Pool over specs for a test, trusting the fake servers'
// certificate, with exploration off (unless opts sets it) so that the
// order of tries is deterministic.
func newPool(t testing.TB, opts Options, specs ...string) *Pool {
	t.Helper()
	ss, err := ParseSpecs(strings.Join(specs, ","))
	if err != nil {
		t.Fatal(err)
	}
	opts.TLSConfig = upstreamtest.ClientTLSConfig()
	opts.Logger = slog.New(slog.DiscardHandler)
	if opts.ExploreRatio == 0 {
		opts.ExploreRatio = -1
	}
	p, err := New(ss, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// wantA checks that resp is the real answer for www.example.test.
func wantA(t testing.TB, resp *dns.Msg, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Fatalf("reply rcode %s answers %v, want one A", dns.RcodeToString[resp.Rcode], resp.Answer)
	}
	a, ok := resp.Answer[0].(*dns.A)
	if !ok || a.A.String() != "192.0.2.10" {
		t.Fatalf("answer %v, want www.example.test. A 192.0.2.10 (%s is the forgery)", resp.Answer[0], upstreamtest.ForgedA)
	}
}

func (p *Pool) upstream(name string) *upstream {
	for _, u := range p.ups {
		if u.name == name {
			return u
		}
	}
	return nil
}

func counter(p *Pool, name string, r result) float64 {
	return counterValue(p.upstream(name).results[r])
}

func TestResolveOverEachTransport(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{TLS: true, HTTPS: true})
	tests := []struct {
		spec string
		tr   upstreamtest.Transport
	}{
		{s.UDPSpec(), upstreamtest.UDP},
		{s.TCPSpec(), upstreamtest.TCP},
		{s.TLSSpec(), upstreamtest.TLS},
		{s.HTTPSSpec(), upstreamtest.HTTPS},
	}
	for _, tt := range tests {
		t.Run(string(tt.tr), func(t *testing.T) {
			p := newPool(t, Options{}, tt.spec)
			before := s.Count(tt.tr)
			resp, info, err := p.ResolveFrom(ctxTimeout(t, 2*time.Second), www)
			wantA(t, resp, err)
			if info.Upstream != tt.spec || info.Attempts != 1 || info.RTT <= 0 {
				t.Errorf("info = %+v, want upstream %s, 1 attempt, RTT > 0", info, tt.spec)
			}
			if got := s.Count(tt.tr) - before; got != 1 {
				t.Errorf("server saw %d queries over %s, want 1", got, tt.tr)
			}
			if tt.tr == upstreamtest.HTTPS {
				qs := s.Queries()
				if proto := qs[len(qs)-1].Proto; proto != "HTTP/2.0" {
					t.Errorf("DoH request went over %s, want HTTP/2.0", proto)
				}
			}
		})
	}
}

func TestResolveNegativeAnswerIsAnAnswer(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{})
	p := newPool(t, Options{}, s.UDPSpec())
	resp, err := p.Resolve(ctxTimeout(t, 2*time.Second), Question{Name: "nope.example.test.", Type: dns.TypeA, Class: dns.ClassINET})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rcode != dns.RcodeNameError || len(resp.Ns) != 1 || resp.Ns[0].Header().Ttl != 60 {
		t.Errorf("reply %v, want NXDOMAIN with the SOA (TTL 60) for negative caching", resp)
	}
}

func TestFailover(t *testing.T) {
	tests := []struct {
		mode   upstreamtest.Mode
		result result
	}{
		{upstreamtest.Timeout, resultTimeout},
		{upstreamtest.ServFail, resultServfail},
		{upstreamtest.Refused, resultRefused},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			t.Parallel()
			bad := upstreamtest.Start(t, upstreamtest.Config{})
			good := upstreamtest.Start(t, upstreamtest.Config{})
			bad.SetMode(tt.mode)
			p := newPool(t, Options{Strategy: Sequential, TryTimeout: 200 * time.Millisecond}, bad.UDPSpec(), good.UDPSpec())

			// Without the per-try timeout a silent first upstream would use
			// the whole 1.8s and the second would never be asked.
			resp, info, err := p.ResolveFrom(ctxTimeout(t, 1800*time.Millisecond), www)
			wantA(t, resp, err)
			if info.Upstream != good.UDPSpec() || info.Attempts != 2 {
				t.Errorf("info = %+v, want the answer from %s on the 2nd attempt", info, good.UDPSpec())
			}
			if bad.Count(upstreamtest.UDP) == 0 {
				t.Error("the failing upstream was never tried")
			}
			if got := counter(p, bad.UDPSpec(), tt.result); got != 1 {
				t.Errorf("%s count for the failing upstream = %v, want 1", resultNames[tt.result], got)
			}
			// The other upstream answered, so the failure counts against it.
			if got := p.upstream(bad.UDPSpec()).fails.Load(); got != 1 {
				t.Errorf("consecutive failures = %d, want 1", got)
			}
		})
	}
}

func TestEveryUpstreamFailsTheQuestion(t *testing.T) {
	a := upstreamtest.Start(t, upstreamtest.Config{})
	b := upstreamtest.Start(t, upstreamtest.Config{})
	a.SetMode(upstreamtest.Refused)
	b.SetMode(upstreamtest.ServFail)
	p := newPool(t, Options{Strategy: Sequential}, a.UDPSpec(), b.UDPSpec())

	resp, info, err := p.ResolveFrom(ctxTimeout(t, 2*time.Second), www)
	if !errors.Is(err, ErrServerFailure) {
		t.Fatalf("err = %v, want ErrServerFailure", err)
	}
	if resp == nil || resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("response = %v, want the last one (SERVFAIL)", resp)
	}
	if info.Upstream != b.UDPSpec() || info.Attempts != 2 {
		t.Errorf("info = %+v, want the last upstream and 2 attempts", info)
	}
	// Nobody could answer: likely the domain's fault, so no health penalty.
	for _, name := range p.Upstreams() {
		if f := p.upstream(name).fails.Load(); f != 0 {
			t.Errorf("%s has %d failures, want 0", name, f)
		}
	}
}

func TestForgedRepliesAreIgnored(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{TLS: true})
	for _, mode := range []upstreamtest.Mode{upstreamtest.ForgeID, upstreamtest.ForgeQuestion} {
		for _, spec := range []string{s.UDPSpec(), s.TCPSpec(), s.TLSSpec()} {
			t.Run(mode.String()+"/"+strings.SplitN(spec, ":", 2)[0], func(t *testing.T) {
				s.SetMode(mode)
				defer s.SetMode(upstreamtest.Answer)
				p := newPool(t, Options{}, spec)
				resp, info, err := p.ResolveFrom(ctxTimeout(t, 2*time.Second), www)
				wantA(t, resp, err) // the real reply that followed, never the forgery
				if info.Attempts != 1 {
					t.Errorf("attempts = %d, want 1: the forgery must not end the try", info.Attempts)
				}
				if got := counter(p, spec, resultForged); got != 1 {
					t.Errorf("forged count = %v, want 1", got)
				}
			})
		}
	}
}

func TestForgedDoHReplyFailsOver(t *testing.T) {
	doh := upstreamtest.Start(t, upstreamtest.Config{HTTPS: true})
	good := upstreamtest.Start(t, upstreamtest.Config{})
	doh.SetMode(upstreamtest.ForgeQuestion)
	p := newPool(t, Options{Strategy: Sequential}, doh.HTTPSSpec(), good.UDPSpec())
	resp, info, err := p.ResolveFrom(ctxTimeout(t, 2*time.Second), www)
	wantA(t, resp, err)
	if info.Upstream != good.UDPSpec() {
		t.Errorf("answered by %s, want %s", info.Upstream, good.UDPSpec())
	}
	if got := counter(p, doh.HTTPSSpec(), resultForged); got != 1 {
		t.Errorf("forged count = %v, want 1", got)
	}
}

func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{})
	p := newPool(t, Options{}, s.UDPSpec())

	t.Run("forced", func(t *testing.T) {
		s.SetMode(upstreamtest.Truncate)
		defer s.SetMode(upstreamtest.Answer)
		before := s.Count(upstreamtest.TCP)
		resp, err := p.Resolve(ctxTimeout(t, 2*time.Second), www)
		wantA(t, resp, err)
		if resp.Truncated {
			t.Error("returned the truncated reply")
		}
		if got := s.Count(upstreamtest.TCP) - before; got != 1 {
			t.Errorf("TCP queries = %d, want 1", got)
		}
	})
	t.Run("answer larger than 1232 bytes", func(t *testing.T) {
		big := make([]string, 0, 20)
		for i := range 20 {
			big = append(big, "huge.example.test. 60 IN TXT \""+strings.Repeat("x", 100)+"\" \""+strings.Repeat(string(rune('a'+i)), 5)+"\"")
		}
		if err := s.Zone().Add(big...); err != nil {
			t.Fatal(err)
		}
		resp, err := p.Resolve(ctxTimeout(t, 2*time.Second), Question{Name: "huge.example.test.", Type: dns.TypeTXT, Class: dns.ClassINET})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Answer) != 20 || resp.Truncated {
			t.Errorf("got %d records (TC=%v), want all 20 over TCP", len(resp.Answer), resp.Truncated)
		}
	})
	if got := counter(p, s.UDPSpec(), resultTruncatedRetry); got != 2 {
		t.Errorf("truncated_retry count = %v, want 2", got)
	}
}

func TestDeadUpstreamIsMarkedDownAndRecovers(t *testing.T) {
	servers := []*upstreamtest.Server{
		upstreamtest.Start(t, upstreamtest.Config{}),
		upstreamtest.Start(t, upstreamtest.Config{}),
		upstreamtest.Start(t, upstreamtest.Config{}),
	}
	dead := servers[0]
	p := newPool(t, Options{
		Strategy:      Sequential, // the dead one is first in line
		TryTimeout:    100 * time.Millisecond,
		FailThreshold: 2,
		ProbeInterval: 30 * time.Millisecond,
		ProbeTimeout:  100 * time.Millisecond,
	}, servers[0].UDPSpec(), servers[1].UDPSpec(), servers[2].UDPSpec())
	p.Start(t.Context())

	dead.Kill()
	for i := range 5 {
		resp, err := p.Resolve(ctxTimeout(t, 1800*time.Millisecond), www)
		if err != nil {
			t.Fatalf("query %d with one dead upstream: %v", i, err)
		}
		wantA(t, resp, err)
	}
	if p.Healthy(dead.UDPSpec()) {
		t.Fatal("dead upstream still healthy after 5 queries")
	}
	// While down it is skipped: the first try goes to a healthy one.
	_, info, err := p.ResolveFrom(ctxTimeout(t, 1800*time.Millisecond), www)
	if err != nil || info.Attempts != 1 || info.Upstream == dead.UDPSpec() {
		t.Errorf("info %+v err %v, want one attempt at a healthy upstream", info, err)
	}

	if err := dead.Revive(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !p.Healthy(dead.UDPSpec()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !p.Healthy(dead.UDPSpec()) {
		t.Fatal("revived upstream not back in service after 3s of probing")
	}
	_, info, err = p.ResolveFrom(ctxTimeout(t, 1800*time.Millisecond), www)
	if err != nil || info.Upstream != dead.UDPSpec() {
		t.Errorf("after recovery answered by %s (err %v), want the primary %s", info.Upstream, err, dead.UDPSpec())
	}
}

func TestIdleUpstreamThatDiesIsMarkedDownByProbes(t *testing.T) {
	primary := upstreamtest.Start(t, upstreamtest.Config{})
	backup := upstreamtest.Start(t, upstreamtest.Config{})
	p := newPool(t, Options{
		Strategy:      Sequential,
		FailThreshold: 2,
		ProbeInterval: 20 * time.Millisecond,
		ProbeTimeout:  50 * time.Millisecond,
	}, primary.UDPSpec(), backup.UDPSpec())
	p.Start(t.Context())
	backup.SetMode(upstreamtest.Timeout)

	deadline := time.Now().Add(3 * time.Second)
	for p.Healthy(backup.UDPSpec()) && time.Now().Before(deadline) {
		p.Resolve(ctxTimeout(t, time.Second), www) // keeps the primary busy, so only probes reach the backup
		time.Sleep(5 * time.Millisecond)
	}
	if p.Healthy(backup.UDPSpec()) {
		t.Fatal("silent backup still healthy after 3s of probes")
	}
	if !p.Healthy(primary.UDPSpec()) {
		t.Error("busy primary was marked down")
	}
}

func TestAllDead(t *testing.T) {
	t.Run("closed ports fail fast", func(t *testing.T) {
		t.Parallel()
		a := upstreamtest.Start(t, upstreamtest.Config{})
		b := upstreamtest.Start(t, upstreamtest.Config{})
		p := newPool(t, Options{}, a.UDPSpec(), b.UDPSpec())
		a.Kill()
		b.Kill()
		start := time.Now()
		_, err := p.Resolve(ctxTimeout(t, 1800*time.Millisecond), www)
		if !errors.Is(err, ErrAllUnavailable) {
			t.Fatalf("err = %v, want ErrAllUnavailable", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("took %v with a 1.8s deadline", took)
		}
	})
	t.Run("silent upstreams time out within the deadline", func(t *testing.T) {
		t.Parallel()
		a := upstreamtest.Start(t, upstreamtest.Config{TLS: true})
		b := upstreamtest.Start(t, upstreamtest.Config{HTTPS: true})
		c := upstreamtest.Start(t, upstreamtest.Config{})
		for _, s := range []*upstreamtest.Server{a, b, c} {
			s.SetMode(upstreamtest.Timeout)
		}
		p := newPool(t, Options{}, a.TLSSpec(), b.HTTPSSpec(), c.UDPSpec())
		start := time.Now()
		resp, info, err := p.ResolveFrom(ctxTimeout(t, 1800*time.Millisecond), www)
		took := time.Since(start)
		if !errors.Is(err, ErrAllUnavailable) || resp != nil {
			t.Fatalf("resp %v err %v, want nil and ErrAllUnavailable", resp, err)
		}
		if took > 2*time.Second {
			t.Errorf("took %v with a 1.8s deadline", took)
		}
		// Each try but the last is capped at TryTimeout, so the first
		// silent upstream cannot use the whole budget.
		if info.Attempts < 2 {
			t.Errorf("attempts = %d, want the budget shared among the upstreams", info.Attempts)
		}
	})
}

func TestCallerCancellation(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{})
	s.SetMode(upstreamtest.Timeout)
	p := newPool(t, Options{}, s.UDPSpec())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := p.Resolve(ctx, www)
	if !errors.Is(err, ErrAllUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrAllUnavailable wrapping context.Canceled", err)
	}
	// Without cancellation it would wait for the 2s default timeout.
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("returned %v after the start; cancelled at 50ms", took)
	}
	if got := p.upstream(s.UDPSpec()).fails.Load(); got != 0 {
		t.Errorf("cancellation counted as %d upstream failures", got)
	}
}

func TestNoDeadlineUsesDefaultTimeout(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{})
	s.SetMode(upstreamtest.Timeout)
	p := newPool(t, Options{Timeout: 150 * time.Millisecond}, s.UDPSpec())
	start := time.Now()
	if _, err := p.Resolve(context.Background(), www); !errors.Is(err, ErrAllUnavailable) {
		t.Fatalf("err = %v, want ErrAllUnavailable", err)
	}
	// Without the default the call would wait forever on a silent server.
	if took := time.Since(start); took < 150*time.Millisecond || took > 5*time.Second {
		t.Errorf("took %v with a 150ms default timeout", took)
	}
}

func TestUDPRetransmitsOnTheSameSocket(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{})
	p := newPool(t, Options{}, s.UDPSpec())
	p.upstream(s.UDPSpec()).ex.(*udpExchanger).retransmit = 100 * time.Millisecond
	s.SetMode(upstreamtest.Timeout) // the first copy is "lost"
	time.AfterFunc(50*time.Millisecond, func() { s.SetMode(upstreamtest.Answer) })
	resp, info, err := p.ResolveFrom(ctxTimeout(t, 1800*time.Millisecond), www)
	wantA(t, resp, err)
	if info.Attempts != 1 || s.Count(upstreamtest.UDP) < 2 {
		t.Errorf("attempts %d, server saw %d packets; want 1 try with copies", info.Attempts, s.Count(upstreamtest.UDP))
	}
	for _, q := range s.Queries() {
		if q.Msg.Id != s.Queries()[0].Msg.Id {
			t.Error("a copy has another ID; an answer to the first copy would be dropped")
		}
	}
}

func TestFreshQueries(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{})
	p := newPool(t, Options{}, s.UDPSpec())

	// A client query as the engine would receive it; Resolve gets only its
	// question, so nothing of the packet can leak upstream.
	client := new(dns.Msg)
	client.SetQuestion("www.example.test.", dns.TypeA)
	client.Id = 0x4242
	client.CheckingDisabled = true
	client.SetEdns0(4096, true)
	q := Question{Name: client.Question[0].Name, Type: client.Question[0].Qtype, Class: client.Question[0].Qclass}

	const n = 200
	for range n {
		if _, err := p.Resolve(ctxTimeout(t, 2*time.Second), q); err != nil {
			t.Fatal(err)
		}
	}
	ids := make(map[uint16]bool)
	clientIDs := 0
	for _, rq := range s.Queries() {
		m := rq.Msg
		ids[m.Id] = true
		if m.Id == client.Id {
			clientIDs++
		}
		if m.Response || !m.RecursionDesired || m.CheckingDisabled || m.AuthenticatedData || m.Opcode != dns.OpcodeQuery {
			t.Fatalf("query header %v, want a plain recursive query", m.MsgHdr)
		}
		if len(m.Question) != 1 || m.Question[0] != client.Question[0] || len(m.Answer)+len(m.Ns) != 0 || len(m.Extra) != 1 {
			t.Fatalf("query sections %v, want the one question and an OPT record", m)
		}
		opt := m.IsEdns0()
		if opt == nil || opt.UDPSize() != 1232 || opt.Do() {
			t.Fatalf("OPT %v, want payload 1232 and no DO bit (not the client's 4096/DO)", opt)
		}
	}
	if len(s.Queries()) != n {
		t.Fatalf("server saw %d queries, want %d", len(s.Queries()), n)
	}
	// 200 uniform 16-bit IDs: about 0.3 collisions expected.
	if len(ids) < n-5 {
		t.Errorf("%d distinct IDs in %d queries", len(ids), n)
	}
	if clientIDs > 1 {
		t.Errorf("the client's ID went upstream %d times", clientIDs)
	}
}

func TestFastestFirst(t *testing.T) {
	slow := upstreamtest.Start(t, upstreamtest.Config{})
	fast := upstreamtest.Start(t, upstreamtest.Config{})
	slow.SetDelay(40 * time.Millisecond)

	t.Run("prefers the lower RTT", func(t *testing.T) {
		p := newPool(t, Options{}, slow.UDPSpec(), fast.UDPSpec())
		before := slow.Count(upstreamtest.UDP)
		for range 10 {
			if _, err := p.Resolve(ctxTimeout(t, 2*time.Second), www); err != nil {
				t.Fatal(err)
			}
		}
		// Both start unmeasured: the first query measures the slow one,
		// the second the fast one, and from then on the fast one wins.
		if got := slow.Count(upstreamtest.UDP) - before; got != 1 {
			t.Errorf("slow upstream got %d of 10 queries, want 1", got)
		}
	})
	t.Run("explores the others", func(t *testing.T) {
		p := newPool(t, Options{ExploreRatio: 1}, slow.UDPSpec(), fast.UDPSpec())
		p.upstream(slow.UDPSpec()).observeRTT(40 * time.Millisecond)
		p.upstream(fast.UDPSpec()).observeRTT(time.Millisecond)
		before := slow.Count(upstreamtest.UDP)
		for range 3 {
			if _, err := p.Resolve(ctxTimeout(t, 2*time.Second), www); err != nil {
				t.Fatal(err)
			}
		}
		if got := slow.Count(upstreamtest.UDP) - before; got != 3 {
			t.Errorf("with exploration always on, the slower upstream got %d of 3 queries first", got)
		}
	})
	t.Run("sequential keeps configured order", func(t *testing.T) {
		p := newPool(t, Options{Strategy: Sequential}, slow.UDPSpec(), fast.UDPSpec())
		before := slow.Count(upstreamtest.UDP)
		for range 3 {
			if _, err := p.Resolve(ctxTimeout(t, 2*time.Second), www); err != nil {
				t.Fatal(err)
			}
		}
		if got := slow.Count(upstreamtest.UDP) - before; got != 3 {
			t.Errorf("primary got %d of 3 queries, want all", got)
		}
	})
}

func TestStreamConnectionsArePipelinedAndReused(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{TLS: true})
	s.SetDelay(100 * time.Millisecond)
	p := newPool(t, Options{MaxConns: 1, TryTimeout: time.Second}, s.TLSSpec())

	// 40 queries at once on one connection: answered one by one they would
	// need 4s, far past the deadline; pipelined they all fit.
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			resp, err := p.Resolve(ctxTimeout(t, 1500*time.Millisecond), www)
			if err == nil && len(resp.Answer) != 1 {
				err = errors.New("no answer")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.Conns(upstreamtest.TLS); got != 1 {
		t.Errorf("server accepted %d TLS connections, want 1", got)
	}
}

func TestStreamSaturation(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{})
	s.SetMode(upstreamtest.Timeout)
	p := newPool(t, Options{MaxConns: 1}, s.TCPSpec())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range maxInflightPerConn {
		wg.Go(func() { p.Resolve(ctx, www) })
	}
	// Let them take every slot, then one more must fail at once.
	deadline := time.Now().Add(time.Second)
	for s.Count(upstreamtest.TCP) < maxInflightPerConn && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	_, err := p.Resolve(ctx, www)
	if !errors.Is(err, errSaturated) {
		t.Errorf("err = %v, want errSaturated", err)
	}
	wg.Wait()
}

func TestStreamReconnects(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{TLS: true})
	p := newPool(t, Options{IdleTimeout: 50 * time.Millisecond}, s.TLSSpec())
	resolve := func() {
		t.Helper()
		resp, err := p.Resolve(ctxTimeout(t, 2*time.Second), www)
		wantA(t, resp, err)
	}

	resolve()
	resolve()
	if got := s.Conns(upstreamtest.TLS); got != 1 {
		t.Fatalf("2 queries used %d connections, want 1", got)
	}
	time.Sleep(200 * time.Millisecond) // past the idle timeout
	resolve()
	if got := s.Conns(upstreamtest.TLS); got != 2 {
		t.Errorf("after idling, %d connections, want a second one", got)
	}

	// The server drops connections and comes back: the next query, which
	// may find the old connection, must still succeed.
	p2 := newPool(t, Options{}, s.TLSSpec())
	if _, err := p2.Resolve(ctxTimeout(t, 2*time.Second), www); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := s.Revive(); err != nil {
		t.Fatal(err)
	}
	resp, err := p2.Resolve(ctxTimeout(t, 2*time.Second), www)
	wantA(t, resp, err)
}

func TestLateStreamReplyIsNotForged(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{})
	p := newPool(t, Options{}, s.TCPSpec())
	s.SetDelay(100 * time.Millisecond)
	if _, err := p.Resolve(ctxTimeout(t, 30*time.Millisecond), www); err == nil {
		t.Fatal("answered before the server's delay")
	}
	s.SetDelay(0)
	time.Sleep(150 * time.Millisecond) // the late reply arrives on the kept connection
	resp, err := p.Resolve(ctxTimeout(t, 2*time.Second), www)
	wantA(t, resp, err)
	if got := counter(p, s.TCPSpec(), resultForged); got != 0 {
		t.Errorf("a late reply to an abandoned query counted as %v forged", got)
	}
	if got := s.Conns(upstreamtest.TCP); got != 1 {
		t.Errorf("%d connections, want 1: a timeout must not cost the connection", got)
	}
}

func TestInvalidQuestion(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{})
	p := newPool(t, Options{}, s.UDPSpec())
	_, err := p.Resolve(ctxTimeout(t, time.Second), Question{Name: "not-qualified", Type: dns.TypeA, Class: dns.ClassINET})
	if !errors.Is(err, ErrInvalidQuestion) {
		t.Errorf("err = %v, want ErrInvalidQuestion", err)
	}
	if s.Count(upstreamtest.UDP) != 0 {
		t.Error("an invalid question was sent upstream")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	one := []Spec{{Transport: UDP, Addr: mustAddrPort("127.0.0.1:53")}}
	tests := []struct {
		name  string
		specs []Spec
		opts  Options
	}{
		{"no upstreams", nil, Options{}},
		{"zero spec", []Spec{{}}, Options{}},
		{"duplicate", append(one, one[0]), Options{}},
		{"negative try timeout", one, Options{TryTimeout: -1}},
		{"negative threshold", one, Options{FailThreshold: -1}},
		{"explore above 1", one, Options{ExploreRatio: 2}},
		{"unknown strategy", one, Options{Strategy: 9}},
		{"bad probe question", one, Options{ProbeQuestion: Question{Name: "x", Type: 1, Class: 1}}},
	}
	for _, tt := range tests {
		if _, err := New(tt.specs, tt.opts); err == nil {
			t.Errorf("%s: New accepted it", tt.name)
		}
	}
}

func TestCloseStopsEverything(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{TLS: true})
	baseline := runtime.NumGoroutine()
	p := newPool(t, Options{ProbeInterval: 10 * time.Millisecond}, s.TLSSpec(), s.UDPSpec())
	p.Start(context.Background())
	if _, err := p.Resolve(ctxTimeout(t, 2*time.Second), www); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.Resolve(ctxTimeout(t, time.Second), www); !errors.Is(err, ErrClosed) {
		t.Errorf("Resolve after Close: %v, want ErrClosed", err)
	}
	p.Start(context.Background()) // no-op: must not start a prober
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before the pool:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}

func TestSilentStreamConnectionIsReplaced(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{})
	p := newPool(t, Options{}, s.TCPSpec())
	s.SetMode(upstreamtest.Timeout) // reads queries, never answers
	for range maxSilentTimeouts {
		if _, err := p.Resolve(ctxTimeout(t, 30*time.Millisecond), www); err == nil {
			t.Fatal("a silent server answered")
		}
	}
	s.SetMode(upstreamtest.Answer)
	resp, err := p.Resolve(ctxTimeout(t, 2*time.Second), www)
	wantA(t, resp, err)
	if got := s.Conns(upstreamtest.TCP); got != 2 {
		t.Errorf("%d connections, want the silent one replaced by a second", got)
	}
}

func TestCertificateIsVerified(t *testing.T) {
	s := upstreamtest.Start(t, upstreamtest.Config{TLS: true, HTTPS: true})
	t.Run("DoT with another server name", func(t *testing.T) {
		p := newPool(t, Options{}, "tls://"+s.TLSAddr()+"#other.test")
		if _, err := p.Resolve(ctxTimeout(t, time.Second), www); !errors.Is(err, ErrAllUnavailable) {
			t.Errorf("err = %v, want ErrAllUnavailable", err)
		}
	})
	for _, spec := range []string{s.TLSSpec(), s.HTTPSSpec()} {
		t.Run("untrusted root "+spec[:5], func(t *testing.T) {
			ss, _ := ParseSpecs(spec)
			p, err := New(ss, Options{Logger: slog.New(slog.DiscardHandler)}) // system roots only
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if _, err := p.Resolve(ctxTimeout(t, time.Second), www); !errors.Is(err, ErrAllUnavailable) {
				t.Errorf("err = %v, want ErrAllUnavailable", err)
			}
		})
	}
	if n := s.Count(upstreamtest.TLS) + s.Count(upstreamtest.HTTPS); n != 0 {
		t.Errorf("%d queries reached a server whose certificate failed verification", n)
	}
}
