package feed

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// feedServer serves one feed over HTTP the way list providers do: with an
// ETag and Last-Modified, answering conditional requests with 304.
type feedServer struct {
	mu       sync.Mutex
	body     string
	etag     string
	modified string
	status   int  // answer with this status instead, when set
	hang     bool // wait for the client to give up
	headers  []http.Header
}

func (s *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.headers = append(s.headers, r.Header.Clone())
	body, etag, modified, status, hang := s.body, s.etag, s.modified, s.status, s.hang
	s.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	if status != 0 {
		http.Error(w, "upstream trouble", status)
		return
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if modified != "" {
		w.Header().Set("Last-Modified", modified)
	}
	inm := r.Header.Get("If-None-Match")
	if inm != "" && inm == etag || inm == "" && modified != "" && r.Header.Get("If-Modified-Since") == modified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write([]byte(body))
}

func (s *feedServer) set(body, etag, modified string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag, s.modified = body, etag, modified
}

func (s *feedServer) setStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

func (s *feedServer) requests() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.headers...)
}

func startServer(t *testing.T) (*feedServer, *httptest.Server) {
	t.Helper()
	fs := &feedServer{}
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	return fs, srv
}

// sampleNames returns n real names from the test data, one a line.
func sampleNames(t testing.TB, n int) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "malicious-domains-sample.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if n > len(lines) {
		t.Fatalf("only %d sample names", len(lines))
	}
	return strings.Join(lines[:n], "")
}

func newTestFeed(t *testing.T, cfg Config, fetcher *Fetcher) *Feed {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "threats"
	}
	f, err := NewFeed(cfg, fetcher, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustRefresh(t *testing.T, f *Feed) *Result {
	t.Helper()
	res, err := f.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return res
}

func TestConditionalFetch(t *testing.T) {
	fs, srv := startServer(t)
	const modified = "Sat, 22 Aug 2026 04:00:00 GMT"
	fs.set(sampleNames(t, 20), `"v1"`, modified)
	f := newTestFeed(t, Config{Source: srv.URL + "/list.txt", Format: FormatPlain}, &Fetcher{Client: srv.Client()})

	t.Run("first fetch returns the entries", func(t *testing.T) {
		res := mustRefresh(t, f)
		if res == nil || len(res.Entries) != 20 || res.Version.ETag != `"v1"` || res.Version.Hash == "" {
			t.Fatalf("result %+v", res)
		}
		h := fs.requests()[0]
		if h.Get("If-None-Match") != "" || h.Get("If-Modified-Since") != "" {
			t.Fatalf("first request was conditional: %v", h)
		}
		if h.Get("User-Agent") != DefaultUserAgent {
			t.Fatalf("user agent %q", h.Get("User-Agent"))
		}
	})
	t.Run("unchanged source answers 304 and gives no result", func(t *testing.T) {
		if res := mustRefresh(t, f); res != nil {
			t.Fatalf("result for a 304: %d entries", len(res.Entries))
		}
		h := fs.requests()[1]
		if h.Get("If-None-Match") != `"v1"` || h.Get("If-Modified-Since") != modified {
			t.Fatalf("second request not conditional: %v", h)
		}
		st := f.Status()
		if st.State != StateOK || st.Entries != 20 || st.ETag != `"v1"` || st.LastModified != modified {
			t.Fatalf("status %+v", st)
		}
	})
	t.Run("Last-Modified alone is enough", func(t *testing.T) {
		fs.set(sampleNames(t, 21), "", "Sun, 23 Aug 2026 04:00:00 GMT")
		if res := mustRefresh(t, f); res == nil || len(res.Entries) != 21 {
			t.Fatalf("changed source gave %+v", res)
		}
		if res := mustRefresh(t, f); res != nil {
			t.Fatal("result for a 304 on Last-Modified")
		}
		if h := fs.requests()[3]; h.Get("If-Modified-Since") != "Sun, 23 Aug 2026 04:00:00 GMT" || h.Get("If-None-Match") != "" {
			t.Fatalf("request %v", h)
		}
	})
	t.Run("same content without validators gives no result", func(t *testing.T) {
		fs.set(sampleNames(t, 21), "", "")
		if res := mustRefresh(t, f); res != nil {
			t.Fatal("result for identical content")
		}
		if st := f.Status(); st.State != StateOK || st.Entries != 21 {
			t.Fatalf("status %+v", st)
		}
	})
}

func TestGuard(t *testing.T) {
	fs, srv := startServer(t)
	fs.set(sampleNames(t, 100), `"good"`, "")
	f := newTestFeed(t, Config{Source: srv.URL, MaxEntries: 150}, &Fetcher{Client: srv.Client()})
	good := mustRefresh(t, f)
	if good == nil || len(good.Entries) != 100 {
		t.Fatalf("first version: %+v", good)
	}

	tests := []struct {
		name   string
		body   string
		reason string
	}{
		{"shrinking below half is rejected", sampleNames(t, 49), "shrank to 49 entries from 100"},
		{"too many invalid lines are rejected", sampleNames(t, 80) + strings.Repeat("not a name\n", 20), "20 of 100 rules invalid"},
		{"an error page is rejected", "<html>\n<body>Service unavailable</body>\n</html>\n", "rules invalid"},
		{"more entries than the cap fail the parse", sampleNames(t, 151), "too many entries"},
		{"an empty file is rejected", "", "shrank to 0 entries"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs.set(tt.body, `"bad"`, "")
			res, err := f.Refresh(context.Background())
			var rej *RejectedError
			if res != nil || !errors.As(err, &rej) || !strings.Contains(rej.Reason, tt.reason) {
				t.Fatalf("Refresh = %v, %v; want rejection with %q", res, err, tt.reason)
			}
			st := f.Status()
			if st.State != StateRejected || st.Entries != 100 || st.ETag != `"good"` || st.Failures != 2*i+1 ||
				!strings.Contains(st.Reason, tt.reason) || st.Report == nil {
				t.Fatalf("status %+v", st)
			}
			// The next request still asks relative to the last good version.
			fs.set(tt.body, `"bad"`, "")
			f.Refresh(context.Background())
			reqs := fs.requests()
			if got := reqs[len(reqs)-1].Get("If-None-Match"); got != `"good"` {
				t.Fatalf("If-None-Match %q; want the last good version's", got)
			}
		})
	}
	t.Run("shrinking to half is accepted", func(t *testing.T) {
		fs.set(sampleNames(t, 50), `"smaller"`, "")
		res := mustRefresh(t, f)
		if res == nil || len(res.Entries) != 50 {
			t.Fatalf("result %+v", res)
		}
		if st := f.Status(); st.State != StateOK || st.Failures != 0 || st.Reason != "" || st.Entries != 50 {
			t.Fatalf("status %+v", st)
		}
	})
	t.Run("guard checks can be disabled", func(t *testing.T) {
		g := newTestFeed(t, Config{Source: srv.URL, Guard: Guard{MaxInvalidRatio: -1, MinSizeRatio: -1}},
			&Fetcher{Client: srv.Client()})
		g.Restore(Version{Entries: 1000})
		fs.set("a.example\nnot a name\n", `"tiny"`, "")
		if res := mustRefresh(t, g); res == nil || len(res.Entries) != 1 {
			t.Fatalf("result %+v", res)
		}
	})
}

func TestFetchFailures(t *testing.T) {
	fs, srv := startServer(t)
	fs.set(sampleNames(t, 10), `"v1"`, "")

	t.Run("HTTP error keeps the last good version and hides the key", func(t *testing.T) {
		f := newTestFeed(t, Config{Source: srv.URL + "/list?apikey=s3cr3t"}, &Fetcher{Client: srv.Client()})
		mustRefresh(t, f)
		fs.setStatus(http.StatusServiceUnavailable)
		defer fs.setStatus(0)
		_, err := f.Refresh(context.Background())
		st := f.Status()
		if err == nil || st.State != StateError || st.Entries != 10 || st.Failures != 1 ||
			!strings.Contains(st.Reason, "503") {
			t.Fatalf("err %v, status %+v", err, st)
		}
		for _, s := range []string{err.Error(), st.Reason, st.Source} {
			if strings.Contains(s, "s3cr3t") {
				t.Fatalf("secret in %q", s)
			}
		}
		if !strings.Contains(st.Source, "apikey=REDACTED") {
			t.Fatalf("source %q", st.Source)
		}
	})
	t.Run("size limit", func(t *testing.T) {
		f := newTestFeed(t, Config{Source: srv.URL}, &Fetcher{Client: srv.Client(), MaxBytes: 100})
		_, err := f.Refresh(context.Background())
		if !errors.Is(err, ErrTooLarge) || f.Status().State != StateError {
			t.Fatalf("err %v, status %+v", err, f.Status())
		}
	})
	t.Run("size limit on a body without length", func(t *testing.T) {
		chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for range 100 {
				w.Write([]byte("a.example\n"))
				w.(http.Flusher).Flush()
			}
		}))
		defer chunked.Close()
		f := newTestFeed(t, Config{Source: chunked.URL}, &Fetcher{Client: chunked.Client(), MaxBytes: 500})
		if _, err := f.Refresh(context.Background()); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err %v", err)
		}
		g := newTestFeed(t, Config{Source: chunked.URL}, &Fetcher{Client: chunked.Client(), MaxBytes: 1000})
		if res := mustRefresh(t, g); res == nil || res.Report.Lines != 100 {
			t.Fatalf("a body exactly at the limit: %+v", res)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		fs.mu.Lock()
		fs.hang = true
		fs.mu.Unlock()
		defer func() { fs.mu.Lock(); fs.hang = false; fs.mu.Unlock() }()
		f := newTestFeed(t, Config{Source: srv.URL}, &Fetcher{Client: srv.Client(), Timeout: 100 * time.Millisecond})
		_, err := f.Refresh(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) || f.Status().State != StateError {
			t.Fatalf("err %v, status %+v", err, f.Status())
		}
	})
	t.Run("cancelled refresh leaves the status alone", func(t *testing.T) {
		f := newTestFeed(t, Config{Source: srv.URL}, &Fetcher{Client: srv.Client()})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := f.Refresh(ctx); err == nil {
			t.Fatal("no error from a cancelled refresh")
		}
		if st := f.Status(); st.State != StateNever || st.Failures != 0 {
			t.Fatalf("status %+v", st)
		}
	})
}

func TestFileSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	write := func(body string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 8, 22, 4, 0, 0, 0, time.UTC)
	write("0.0.0.0 a.example\n0.0.0.0 b.example\n", t0)
	f := newTestFeed(t, Config{Source: "file://" + path}, nil)
	res := mustRefresh(t, f)
	if res == nil || len(res.Entries) != 2 || res.Report.Format != FormatHosts || !res.Version.ModTime.Equal(t0) {
		t.Fatalf("result %+v", res)
	}
	if res := mustRefresh(t, f); res != nil {
		t.Fatal("result for an untouched file")
	}
	if st := f.Status(); st.LastModified != "Sat, 22 Aug 2026 04:00:00 GMT" {
		t.Fatalf("status %+v", st)
	}
	write("0.0.0.0 a.example\n0.0.0.0 c.example\n", t0.Add(time.Hour)) // same size, new time
	if res := mustRefresh(t, f); res == nil || res.Entries[1].Name != "c.example" {
		t.Fatalf("changed file gave %+v", res)
	}
	write("0.0.0.0 a.example\n0.0.0.0 c.example\n", t0.Add(2*time.Hour)) // touched only
	if res := mustRefresh(t, f); res != nil {
		t.Fatal("result for a touched but identical file")
	}

	missing := newTestFeed(t, Config{Source: filepath.Join(t.TempDir(), "none")}, nil)
	if _, err := missing.Refresh(context.Background()); err == nil || missing.Status().State != StateError {
		t.Fatalf("missing file: %v", err)
	}
	dir := newTestFeed(t, Config{Source: t.TempDir()}, nil)
	if _, err := dir.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("directory: %v", err)
	}
}

func TestRestore(t *testing.T) {
	fs, srv := startServer(t)
	fs.set(sampleNames(t, 10), `"v1"`, "")
	f := newTestFeed(t, Config{Source: srv.URL}, &Fetcher{Client: srv.Client()})
	v := mustRefresh(t, f).Version

	g := newTestFeed(t, Config{Source: srv.URL}, &Fetcher{Client: srv.Client()})
	g.Restore(v)
	if res := mustRefresh(t, g); res != nil {
		t.Fatal("restored feed downloaded an unchanged version")
	}
	if st := g.Status(); st.State != StateOK || st.Entries != 10 {
		t.Fatalf("status %+v", st)
	}
}

func TestConfigAndSourceValidation(t *testing.T) {
	bad := []Config{
		{Name: "", Source: "/x"},
		{Name: "a", Source: ""},
		{Name: "a", Source: "ftp://host/list"},
		{Name: "a", Source: "https:///list"},
		{Name: "a", Source: "file://remote/list"},
		{Name: "a", Source: "/x", Interval: time.Second},
		{Name: "a", Source: "/x", Guard: Guard{MinSizeRatio: 2}},
		{Name: "a", Source: "/x", MaxEntries: -5},
		{Name: "a", Source: "/x", Origin: "bad..origin"},
	}
	for _, c := range bad {
		if _, err := NewFeed(c, nil, nil); err == nil {
			t.Errorf("NewFeed(%+v) succeeded", c)
		}
	}
	src, err := ParseSource("https://user:pw@feeds.example/list.txt?key=abc&fmt=txt#x")
	if err != nil {
		t.Fatal(err)
	}
	if got := src.String(); got != "https://REDACTED@feeds.example/list.txt?fmt=REDACTED&key=REDACTED" {
		t.Errorf("redacted source %q", got)
	}
	if !src.IsURL() {
		t.Error("https source is not a URL")
	}
}
