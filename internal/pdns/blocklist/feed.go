package blocklist

import "github.com/qsmo/qsmo/internal/pdns/feed"

// AddEntry lists a parsed feed entry under the given feed id and category
// mask. The entry's flags are kept as the feed set them (an RPZ "*.name"
// arrives as Subdomains only).
func (b *Builder) AddEntry(feedID uint16, category uint32, e feed.Entry) error {
	r := Rule{Feed: feedID, Category: category, Action: Action(e.Action), Exact: e.Exact, Subdomains: e.Subdomains, Local: e.Local}
	if !e.Exact && !e.Subdomains {
		return errorf("name %q: entry matches neither the name nor its subdomains", e.Name)
	}
	return b.Add(e.Name, r)
}
