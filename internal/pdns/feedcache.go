package pdns

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/qsmo/qsmo/internal/pdns/feed"
)

// The feed cache keeps the last good version of every feed in the data
// directory (DATA_DIR/dns-feeds/<feed id>.feed), so that a restarted
// resolver blocks what it blocked before at once, and asks the source only
// whether it changed.
//
// File format (text, written whole and renamed into place):
//
//	qsmo-feed-cache 1
//	{"feed":"fed_…","source":"…","format":"plain","version":{…}}
//	<action><e><s> <name>         one entry; e: matches the name, s: its subdomains
//	\t<record>                    local data of the entry above, in zone-file form
//	end <entries>
//
// The last line guards against a file cut short: without it the cache is
// ignored and the feed fetched again.

const feedCacheMagic = "qsmo-feed-cache 1"

// cachedFeed is one feed's last good version.
type cachedFeed struct {
	FeedID  string       `json:"feed"`
	Source  string       `json:"source"`
	Format  string       `json:"format"`
	Version feed.Version `json:"version"`
	Entries []feed.Entry `json:"-"`
}

func feedCachePath(dir, feedID string) string { return filepath.Join(dir, feedID+".feed") }

// writeFeedCache stores c atomically: a crash leaves the old file or the
// new one, never a mix.
func writeFeedCache(dir string, c cachedFeed) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pdns: feed cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, c.FeedID+".*.tmp")
	if err != nil {
		return fmt.Errorf("pdns: feed cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	w := bufio.NewWriterSize(tmp, 1<<20)
	head, err := json.Marshal(c)
	if err != nil {
		tmp.Close()
		return fmt.Errorf("pdns: feed cache: %w", err)
	}
	fmt.Fprintf(w, "%s\n%s\n", feedCacheMagic, head)
	for _, e := range c.Entries {
		w.WriteByte('0' + byte(e.Action))
		w.WriteByte(flag(e.Exact, 'e'))
		w.WriteByte(flag(e.Subdomains, 's'))
		w.WriteByte(' ')
		w.WriteString(e.Name)
		w.WriteByte('\n')
		for _, rr := range e.Local {
			w.WriteByte('\t')
			w.WriteString(rr.String())
			w.WriteByte('\n')
		}
	}
	fmt.Fprintf(w, "end %d\n", len(c.Entries))
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("pdns: feed cache: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("pdns: feed cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pdns: feed cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), feedCachePath(dir, c.FeedID)); err != nil {
		return fmt.Errorf("pdns: feed cache: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func flag(on bool, c byte) byte {
	if on {
		return c
	}
	return '-'
}

var errCacheDamaged = errors.New("pdns: feed cache damaged")

// readFeedCache loads a cached feed; a damaged or cut file is an error and
// the caller fetches the feed again.
func readFeedCache(path string) (cachedFeed, error) {
	f, err := os.Open(path)
	if err != nil {
		return cachedFeed{}, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	line := func() (string, error) {
		s, err := r.ReadString('\n')
		if err == io.EOF && s == "" {
			return "", io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return "", err
		}
		return strings.TrimSuffix(s, "\n"), nil
	}
	magic, err := line()
	if err != nil || magic != feedCacheMagic {
		return cachedFeed{}, errCacheDamaged
	}
	head, err := line()
	if err != nil {
		return cachedFeed{}, errCacheDamaged
	}
	var c cachedFeed
	if err := json.Unmarshal([]byte(head), &c); err != nil {
		return cachedFeed{}, errCacheDamaged
	}
	c.Entries = make([]feed.Entry, 0, c.Version.Entries)
	for {
		s, err := line()
		if err != nil {
			return cachedFeed{}, errCacheDamaged
		}
		switch {
		case strings.HasPrefix(s, "\t"):
			if len(c.Entries) == 0 {
				return cachedFeed{}, errCacheDamaged
			}
			rr, err := dns.NewRR(s[1:])
			if err != nil || rr == nil {
				return cachedFeed{}, errCacheDamaged
			}
			last := &c.Entries[len(c.Entries)-1]
			last.Local = append(last.Local, rr)
		case strings.HasPrefix(s, "end "):
			n, err := strconv.Atoi(s[4:])
			if err != nil || n != len(c.Entries) {
				return cachedFeed{}, errCacheDamaged
			}
			return c, nil
		default:
			if len(s) < 5 || s[3] != ' ' || s[0] < '1' || s[0] > '0'+byte(feed.Block) {
				return cachedFeed{}, errCacheDamaged
			}
			c.Entries = append(c.Entries, feed.Entry{Action: feed.Action(s[0] - '0'), Exact: s[1] == 'e', Subdomains: s[2] == 's', Name: s[4:]})
		}
	}
}
