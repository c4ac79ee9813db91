package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Source is where a feed comes from: a local file or an http(s) URL.
type Source struct {
	path string   // for a file
	url  *url.URL // for http and https
}

// ParseSource reads a feed location: "https://host/list.txt",
// "http://...", "file:///var/lib/feeds/list.txt" or a plain file path.
func ParseSource(s string) (Source, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Source{}, errors.New("feed: empty source")
	}
	scheme, _, hasScheme := strings.Cut(s, "://")
	if !hasScheme {
		return Source{path: s}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return Source{}, fmt.Errorf("feed: source is not a valid URL: %w", redactURLError(err))
	}
	switch strings.ToLower(scheme) {
	case "http", "https":
		if u.Host == "" {
			return Source{}, fmt.Errorf("feed: source %s has no host", redact(u))
		}
		return Source{url: u}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" || u.Path == "" {
			return Source{}, fmt.Errorf("feed: source %s is not a local file URL", redact(u))
		}
		return Source{path: u.Path}, nil
	}
	return Source{}, fmt.Errorf("feed: source scheme %q is not http, https or file", scheme)
}

// IsURL reports whether the source is fetched over HTTP.
func (s Source) IsURL() bool { return s.url != nil }

// String returns the source for logs and status pages. Credentials and
// query values (feed URLs often carry an API key) are replaced by
// "REDACTED".
func (s Source) String() string {
	if s.url != nil {
		return redact(s.url)
	}
	return s.path
}

func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("REDACTED")
	}
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		c.RawQuery = q.Encode()
	}
	c.Fragment, c.RawFragment = "", ""
	return c.String()
}

// redactURLError keeps the operation and cause of a *url.Error but not the
// URL, which may carry a secret.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// Validators identify the version of a source that was last accepted, so
// the next fetch can ask "has it changed?" instead of downloading again.
type Validators struct {
	ETag         string    // HTTP entity tag, as received
	LastModified string    // HTTP Last-Modified, as received
	ModTime      time.Time // file modification time
	Size         int64     // file size in bytes
}

// Response is an opened source.
type Response struct {
	// Body is the content; nil when NotModified. The caller must close it.
	// Reading it fails once the Fetcher's timeout or size limit is passed.
	Body io.ReadCloser
	// NotModified reports that the source still holds the version the
	// validators describe (HTTP 304, or a file with the same modification
	// time and size).
	NotModified bool
	// Validators of the version the source now holds.
	Validators Validators
}

// Defaults of Fetcher.
const (
	DefaultFetchTimeout = 2 * time.Minute
	DefaultMaxBytes     = 512 << 20
	DefaultUserAgent    = "qsmo-feed/1"
)

// ErrTooLarge is returned when a source holds more than Fetcher.MaxBytes.
var ErrTooLarge = errors.New("feed: source larger than the size limit")

// Fetcher opens feed sources with conditional requests, a time limit and a
// size limit. Its zero value is usable; fields left at zero take the
// defaults. It is safe for concurrent use.
type Fetcher struct {
	// Client makes HTTP requests; nil uses http.DefaultClient. Inject one
	// to set transport options (proxies, TLS roots) or, in tests, to talk
	// to an httptest server.
	Client *http.Client
	// Timeout bounds a whole fetch, from the request to the last byte read
	// (0: DefaultFetchTimeout).
	Timeout time.Duration
	// MaxBytes bounds the size of a source (0: DefaultMaxBytes). A larger
	// source fails with ErrTooLarge rather than being cut short, because a
	// truncated list would silently unblock its tail.
	MaxBytes int64
	// UserAgent is sent with HTTP requests (empty: DefaultUserAgent).
	UserAgent string
}

// Open starts reading src. prev holds the validators of the version
// already accepted (zero for none): an HTTP source gets If-None-Match and
// If-Modified-Since from them, a file is not read again when its
// modification time and size are unchanged. The timeout runs until the
// body is closed.
func (f *Fetcher) Open(ctx context.Context, src Source, prev Validators) (*Response, error) {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	var resp *Response
	var err error
	if src.url != nil {
		resp, err = f.openURL(ctx, src, prev)
	} else if src.path != "" {
		resp, err = f.openFile(ctx, src, prev)
	} else {
		err = errors.New("feed: empty source")
	}
	if err != nil || resp.Body == nil {
		cancel()
		return resp, err
	}
	resp.Body = &limitedBody{ctx: ctx, cancel: cancel, rc: resp.Body, left: f.maxBytes()}
	return resp, nil
}

func (f *Fetcher) maxBytes() int64 {
	if f.MaxBytes > 0 {
		return f.MaxBytes
	}
	return DefaultMaxBytes
}

func (f *Fetcher) openURL(ctx context.Context, src Source, prev Validators) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.url.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("feed: fetch %s: %w", src, redactURLError(err))
	}
	ua := f.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	req.Header.Set("User-Agent", ua)
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("feed: fetch %s: %w", src, redactURLError(err))
	}
	v := Validators{ETag: res.Header.Get("ETag"), LastModified: res.Header.Get("Last-Modified")}
	switch {
	case res.StatusCode == http.StatusNotModified:
		res.Body.Close()
		// A 304 may update validators; keep the old ones it leaves out.
		if v.ETag == "" {
			v.ETag = prev.ETag
		}
		if v.LastModified == "" {
			v.LastModified = prev.LastModified
		}
		return &Response{NotModified: true, Validators: v}, nil
	case res.StatusCode != http.StatusOK:
		// Drain a little so the connection can be reused, then give up.
		io.CopyN(io.Discard, res.Body, 4<<10)
		res.Body.Close()
		return nil, fmt.Errorf("feed: fetch %s: unexpected status %s", src, res.Status)
	case res.ContentLength > f.maxBytes():
		res.Body.Close()
		return nil, fmt.Errorf("feed: fetch %s: %w (%d bytes announced, limit %d)", src, ErrTooLarge, res.ContentLength, f.maxBytes())
	}
	return &Response{Body: res.Body, Validators: v}, nil
}

func (f *Fetcher) openFile(_ context.Context, src Source, prev Validators) (*Response, error) {
	file, err := os.Open(src.path)
	if err != nil {
		return nil, fmt.Errorf("feed: open: %w", err)
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("feed: open: %w", err)
	}
	if !st.Mode().IsRegular() {
		file.Close()
		return nil, fmt.Errorf("feed: open %s: not a regular file", src.path)
	}
	v := Validators{ModTime: st.ModTime().UTC(), Size: st.Size()}
	if !prev.ModTime.IsZero() && prev.ModTime.Equal(v.ModTime) && prev.Size == v.Size {
		file.Close()
		return &Response{NotModified: true, Validators: v}, nil
	}
	if v.Size > f.maxBytes() {
		file.Close()
		return nil, fmt.Errorf("feed: open %s: %w (%d bytes, limit %d)", src.path, ErrTooLarge, v.Size, f.maxBytes())
	}
	return &Response{Body: file, Validators: v}, nil
}

// limitedBody fails reads past the size limit or after the timeout, and
// releases the timeout when closed.
type limitedBody struct {
	ctx    context.Context
	cancel context.CancelFunc
	rc     io.ReadCloser
	left   int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, fmt.Errorf("feed: read: %w", err)
	}
	// Asking for one byte more than allowed tells a source exactly at the
	// limit from a larger one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		return int(b.left), ErrTooLarge
	}
	b.left -= int64(n)
	if err != nil && err != io.EOF {
		if cerr := b.ctx.Err(); cerr != nil {
			err = cerr
		}
		return n, fmt.Errorf("feed: read: %w", redactURLError(err))
	}
	return n, err
}

func (b *limitedBody) Close() error {
	b.cancel()
	return b.rc.Close()
}
