package pdns

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/pdns/feed"
)

// Feed refresh intervals the office may choose.
const (
	MinFeedInterval = time.Minute
	MaxFeedInterval = 7 * 24 * time.Hour
)

// FeedInput is what the office sets for a feed.
type FeedInput struct {
	Name     string
	Source   string
	Format   string
	Category string
	Interval time.Duration
	Enabled  bool
}

var feedFileRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$`)

// validate checks a feed's settings; feedsDir, when set, is where a file
// source must exist.
func (in *FeedInput) validate(feedsDir string) map[string]string {
	in.Name = strings.TrimSpace(in.Name)
	in.Source = strings.TrimSpace(in.Source)
	in.Format = strings.ToLower(strings.TrimSpace(in.Format))
	in.Category = strings.TrimSpace(in.Category)
	errs := map[string]string{}
	if n := utf8.RuneCountInString(in.Name); n < 2 || n > 100 {
		errs["name"] = "Name the feed (2 to 100 characters), such as “Phishing domains (CERT)”."
	}
	if msg := checkSource(in.Source, feedsDir); msg != "" {
		errs["source"] = msg
	}
	if in.Format == "" {
		in.Format = "auto"
	}
	if f, err := feed.ParseFormat(in.Format); err != nil {
		errs["format"] = "Choose the feed's format: auto, plain, hosts, adblock or rpz."
	} else {
		in.Format = f.String()
	}
	if _, ok := CategoryByName(in.Category); !ok {
		errs["category"] = "Choose the threat category of the feed's names."
	}
	if in.Interval < MinFeedInterval || in.Interval > MaxFeedInterval {
		errs["interval"] = "Choose a refresh interval between 1 minute and 7 days."
	}
	return errs
}

// checkSource returns why src is not a usable feed source, or "". A source
// is an http(s) URL or the name of a file in the feeds folder of the data
// directory: the office cannot make the server read other local files.
func checkSource(src, feedsDir string) string {
	if src == "" {
		return "Enter where the feed comes from: an https:// URL, or the name of a file in the feeds folder of the data directory."
	}
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		if _, err := feed.ParseSource(src); err != nil {
			return "The URL is not valid: " + strings.TrimPrefix(err.Error(), "feed: ")
		}
		if len(src) > 2000 {
			return "The URL is longer than 2,000 characters."
		}
		return ""
	}
	if strings.Contains(src, "://") {
		return "Use an http:// or https:// URL, or a file name."
	}
	if !feedFileRE.MatchString(src) || strings.Contains(src, "..") || len(src) > 255 {
		return "A file source is a name inside the feeds folder of the data directory, such as office-blocklist.txt or vendor/rpz.zone (letters, digits, dots, dashes, underscores and folders; no “..”)."
	}
	if feedsDir != "" {
		st, err := os.Stat(filepath.Join(feedsDir, filepath.FromSlash(src)))
		if err != nil || !st.Mode().IsRegular() {
			return fmt.Sprintf("There is no file “%s” in the feeds folder (%s) of this server. Copy it there first.", src, feedsDir)
		}
	}
	return ""
}

// sourcePath turns a stored source into what the feed package reads: URLs
// as they are, file names under feedsDir.
func sourcePath(src, feedsDir string) string {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		return src
	}
	return filepath.Join(feedsDir, filepath.FromSlash(src))
}

// feedView is the audited form of a feed; credentials and query values of
// a URL are redacted (feed URLs often carry an API key).
func feedView(f Feed) map[string]any {
	return map[string]any{"name": f.Name, "source": redactSource(f.Source), "format": f.Format, "category": f.Category,
		"interval": f.Interval.String(), "enabled": f.Enabled}
}

// redactSource returns a source fit for logs, pages and the audit log.
func redactSource(src string) string {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		if s, err := feed.ParseSource(src); err == nil {
			return s.String()
		}
		return "(invalid URL)"
	}
	return src
}

// checkFeeds checks the principal may manage feeds (dns.feeds on the office).
func (s *Service) checkFeeds(ctx context.Context, p *authz.Principal) error {
	office, err := officeID(ctx, s.DB)
	if err != nil {
		return err
	}
	return s.Authz.Check(ctx, p, authz.DNSFeeds, office)
}

// FeedWithStatus is a feed with every resolver node's view of it.
type FeedWithStatus struct {
	Feed
	Status []FeedStatus
}

// ListFeeds returns the office's feeds with their status. Callers need
// dns.feeds.
func (s *Service) ListFeeds(ctx context.Context, p *authz.Principal) ([]FeedWithStatus, error) {
	if err := s.checkFeeds(ctx, p); err != nil {
		return nil, err
	}
	feeds, err := listFeeds(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	st, err := listFeedStatus(ctx, s.DB, "", s.DB.Now().Add(-nodeFresh))
	if err != nil {
		return nil, err
	}
	out := make([]FeedWithStatus, len(feeds))
	for i, f := range feeds {
		out[i].Feed = f
		for _, x := range st {
			if x.FeedID == f.ID {
				out[i].Status = append(out[i].Status, x)
			}
		}
	}
	return out, nil
}

// GetFeed returns one feed with its status. Callers need dns.feeds.
// Errors: not_found.
func (s *Service) GetFeed(ctx context.Context, p *authz.Principal, feedID string) (FeedWithStatus, error) {
	if err := s.checkFeeds(ctx, p); err != nil {
		return FeedWithStatus{}, err
	}
	if !id.Valid("fed", feedID) {
		return FeedWithStatus{}, apperr.NotFoundf("Feed")
	}
	f, err := getFeed(ctx, s.DB, feedID)
	if err != nil {
		return FeedWithStatus{}, err
	}
	st, err := listFeedStatus(ctx, s.DB, feedID, s.DB.Now().Add(-nodeFresh))
	if err != nil {
		return FeedWithStatus{}, err
	}
	return FeedWithStatus{Feed: f, Status: st}, nil
}

// CreateFeed adds a feed; every resolver starts fetching it. Callers need
// dns.feeds. Errors: invalid (with fields).
func (s *Service) CreateFeed(ctx context.Context, p *authz.Principal, in FeedInput) (Feed, error) {
	if err := s.checkFeeds(ctx, p); err != nil {
		return Feed{}, err
	}
	if errs := in.validate(s.FeedsDir); len(errs) > 0 {
		return Feed{}, apperr.Validation(errs)
	}
	var f Feed
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		f = Feed{ID: id.New("fed"), Name: in.Name, Source: in.Source, Format: in.Format, Category: in.Category, Interval: in.Interval,
			Enabled: in.Enabled, CreatedAt: now, UpdatedAt: now}
		if err := insertFeed(ctx, tx, f); err != nil {
			return err
		}
		if err := audit.Append(ctx, tx, audit.Event{Action: "dns.feed.create", TargetType: "dns_feed", TargetID: f.ID,
			Summary: fmt.Sprintf("Added the threat feed “%s”", f.Name), After: feedView(f)}); err != nil {
			return err
		}
		return bumpVersion(ctx, tx)
	})
	if err != nil {
		return Feed{}, err
	}
	s.changed()
	return f, nil
}

// UpdateFeed changes a feed's settings. Callers need dns.feeds. Errors:
// invalid (with fields), not_found.
func (s *Service) UpdateFeed(ctx context.Context, p *authz.Principal, feedID string, in FeedInput) (Feed, error) {
	cur, err := s.GetFeed(ctx, p, feedID)
	if err != nil {
		return Feed{}, err
	}
	feedsDir := s.FeedsDir
	if in.Source == cur.Source {
		feedsDir = "" // an unchanged file source is not checked again
	}
	if errs := in.validate(feedsDir); len(errs) > 0 {
		return Feed{}, apperr.Validation(errs)
	}
	return s.changeFeed(ctx, feedID, "dns.feed.update", func(f *Feed) string {
		f.Name, f.Source, f.Format, f.Category, f.Interval, f.Enabled = in.Name, in.Source, in.Format, in.Category, in.Interval, in.Enabled
		return fmt.Sprintf("Changed the threat feed “%s”", f.Name)
	})
}

// SetFeedEnabled turns a feed on or off; a disabled feed's names stop
// being blocked at once. Callers need dns.feeds.
func (s *Service) SetFeedEnabled(ctx context.Context, p *authz.Principal, feedID string, enabled bool) (Feed, error) {
	if _, err := s.GetFeed(ctx, p, feedID); err != nil {
		return Feed{}, err
	}
	action := map[bool]string{true: "dns.feed.enable", false: "dns.feed.disable"}[enabled]
	return s.changeFeed(ctx, feedID, action, func(f *Feed) string {
		f.Enabled = enabled
		if enabled {
			return fmt.Sprintf("Turned on the threat feed “%s”", f.Name)
		}
		return fmt.Sprintf("Turned off the threat feed “%s”: its names are no longer blocked", f.Name)
	})
}

// RefreshFeed asks every resolver to fetch the feed now. Callers need
// dns.feeds.
func (s *Service) RefreshFeed(ctx context.Context, p *authz.Principal, feedID string) (Feed, error) {
	if _, err := s.GetFeed(ctx, p, feedID); err != nil {
		return Feed{}, err
	}
	return s.changeFeed(ctx, feedID, "dns.feed.refresh", func(f *Feed) string {
		f.RefreshSeq++
		return fmt.Sprintf("Asked for the threat feed “%s” to be fetched now", f.Name)
	})
}

func (s *Service) changeFeed(ctx context.Context, feedID, action string, change func(*Feed) string) (Feed, error) {
	var f Feed
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		before, err := getFeed(ctx, tx, feedID)
		if err != nil {
			return err
		}
		f = before
		summary := change(&f)
		f.UpdatedAt = tx.Now()
		if err := updateFeed(ctx, tx, f); err != nil {
			return err
		}
		if err := audit.Append(ctx, tx, audit.Event{Action: action, TargetType: "dns_feed", TargetID: f.ID, Summary: summary,
			Before: feedView(before), After: feedView(f)}); err != nil {
			return err
		}
		return bumpVersion(ctx, tx)
	})
	if err != nil {
		return Feed{}, err
	}
	s.changed()
	return f, nil
}

// DeleteFeed removes a feed; its names stop being blocked at once. Callers
// need dns.feeds.
func (s *Service) DeleteFeed(ctx context.Context, p *authz.Principal, feedID string) error {
	if _, err := s.GetFeed(ctx, p, feedID); err != nil {
		return err
	}
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		f, err := getFeed(ctx, tx, feedID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM dns_feeds WHERE id = ?", feedID); err != nil {
			return fmt.Errorf("pdns: delete feed: %w", err)
		}
		if err := audit.Append(ctx, tx, audit.Event{Action: "dns.feed.delete", TargetType: "dns_feed", TargetID: f.ID,
			Summary: fmt.Sprintf("Removed the threat feed “%s”", f.Name), Before: feedView(f)}); err != nil {
			return err
		}
		return bumpVersion(ctx, tx)
	})
	if err != nil {
		return err
	}
	s.changed()
	return nil
}

// ListGlobalBlocks returns the names the office blocks for everyone.
// Callers need dns.feeds.
func (s *Service) ListGlobalBlocks(ctx context.Context, p *authz.Principal) ([]GlobalBlock, error) {
	if err := s.checkFeeds(ctx, p); err != nil {
		return nil, err
	}
	return listGlobalBlocks(ctx, s.DB)
}

// AddGlobalBlock blocks a name (and its subdomains; "*.name" for the
// subdomains only) for every agency. An agency's allow list still wins.
// Callers need dns.feeds. Errors: invalid, conflict (listed already).
func (s *Service) AddGlobalBlock(ctx context.Context, p *authz.Principal, name, reason string) (GlobalBlock, error) {
	if err := s.checkFeeds(ctx, p); err != nil {
		return GlobalBlock{}, err
	}
	n, err := parseDomain(strings.TrimSpace(name))
	if err != nil {
		return GlobalBlock{}, apperr.Validation(map[string]string{"name": fmt.Sprintf("“%s”: %s.", clip(strings.TrimSpace(name)), err)})
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > 500 {
		return GlobalBlock{}, apperr.Validation(map[string]string{"reason": "The reason is at most 500 characters."})
	}
	g := GlobalBlock{ID: id.New("gbl"), Name: n, Reason: reason, CreatedBy: p.Label()}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		g.CreatedAt = tx.Now()
		_, err := tx.ExecContext(ctx, "INSERT INTO dns_global_blocks (id, name, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
			g.ID, g.Name, g.Reason, g.CreatedBy, db.TS(g.CreatedAt))
		if db.IsUniqueViolation(err) {
			return apperr.Validation(map[string]string{"name": fmt.Sprintf("%s is blocked already.", g.Name)})
		}
		if err != nil {
			return fmt.Errorf("pdns: insert global block: %w", err)
		}
		if err := audit.Append(ctx, tx, audit.Event{Action: "dns.block.add", TargetType: "dns_global_block", TargetID: g.ID,
			Summary: fmt.Sprintf("Blocked %s for every agency", g.Name), After: map[string]string{"name": g.Name, "reason": g.Reason}}); err != nil {
			return err
		}
		return bumpVersion(ctx, tx)
	})
	if err != nil {
		return GlobalBlock{}, err
	}
	s.changed()
	return g, nil
}

// RemoveGlobalBlock lifts a global block. Callers need dns.feeds. Errors:
// not_found.
func (s *Service) RemoveGlobalBlock(ctx context.Context, p *authz.Principal, blockID string) error {
	if err := s.checkFeeds(ctx, p); err != nil {
		return err
	}
	if !id.Valid("gbl", blockID) {
		return apperr.NotFoundf("Global block")
	}
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var name, reason string
		if err := tx.QueryRowContext(ctx, "SELECT name, reason FROM dns_global_blocks WHERE id = ?", blockID).Scan(&name, &reason); err != nil {
			return apperr.NotFoundf("Global block")
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM dns_global_blocks WHERE id = ?", blockID); err != nil {
			return fmt.Errorf("pdns: delete global block: %w", err)
		}
		if err := audit.Append(ctx, tx, audit.Event{Action: "dns.block.remove", TargetType: "dns_global_block", TargetID: blockID,
			Summary: fmt.Sprintf("Lifted the global block of %s", name), Before: map[string]string{"name": name, "reason": reason}}); err != nil {
			return err
		}
		return bumpVersion(ctx, tx)
	})
	if err != nil {
		return err
	}
	s.changed()
	return nil
}

// GetSettings returns the office's service-wide settings. Callers need
// dns.read on any organization (agencies see the block page address their
// sinkhole mode would answer).
func (s *Service) GetSettings(ctx context.Context) (Settings, error) {
	st, err := loadStateRow(ctx, s.DB)
	return st.Settings, err
}

// UpdateSettings sets the block page addresses. Callers need dns.feeds.
// Errors: invalid (a bad address; no address left while agencies use the
// sinkhole mode).
func (s *Service) UpdateSettings(ctx context.Context, p *authz.Principal, v4, v6 string) (Settings, error) {
	if err := s.checkFeeds(ctx, p); err != nil {
		return Settings{}, err
	}
	errs := map[string]string{}
	var next Settings
	var err error
	if next.SinkholeV4, err = ParseSinkhole(v4, 4); err != nil {
		errs["sinkhole_v4"] = err.Error() + "."
	}
	if next.SinkholeV6, err = ParseSinkhole(v6, 6); err != nil {
		errs["sinkhole_v6"] = err.Error() + "."
	}
	if len(errs) > 0 {
		return Settings{}, apperr.Validation(errs)
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		before, err := loadStateRow(ctx, tx)
		if err != nil {
			return err
		}
		if !next.SinkholeV4.IsValid() && !next.SinkholeV6.IsValid() {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM dns_policies WHERE block_mode = ?", ModeSinkhole).Scan(&n); err != nil {
				return fmt.Errorf("pdns: count sinkhole policies: %w", err)
			}
			if n > 0 {
				return apperr.Validation(map[string]string{"sinkhole_v4": fmt.Sprintf("%d agencies answer blocked names with the block page; keep an address until they choose another way.", n)})
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE dns_state SET sinkhole_v4 = ?, sinkhole_v6 = ? WHERE id = 1", addrText(next.SinkholeV4), addrText(next.SinkholeV6)); err != nil {
			return fmt.Errorf("pdns: update settings: %w", err)
		}
		if err := audit.Append(ctx, tx, audit.Event{Action: "dns.settings.update", TargetType: "dns_settings", TargetID: "block_page",
			Summary: "Changed the block page addresses",
			Before:  map[string]string{"sinkhole_v4": addrText(before.Settings.SinkholeV4), "sinkhole_v6": addrText(before.Settings.SinkholeV6)},
			After:   map[string]string{"sinkhole_v4": addrText(next.SinkholeV4), "sinkhole_v6": addrText(next.SinkholeV6)}}); err != nil {
			return err
		}
		return bumpVersion(ctx, tx)
	})
	if err != nil {
		return Settings{}, err
	}
	s.changed()
	return next, nil
}

// nodeFresh is how recently a node must have reported to count as running
// (nodes report every 30 seconds).
const nodeFresh = 10 * time.Minute

// Nodes returns the resolver nodes seen in the last ten minutes. Callers
// need dns.read somewhere (the addresses are the service's public ones).
func (s *Service) Nodes(ctx context.Context) ([]NodeInfo, error) {
	return listNodes(ctx, s.DB, s.DB.Now().Add(-nodeFresh))
}
