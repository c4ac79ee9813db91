package feed_test

import (
	"testing"

	"github.com/qsmo/qsmo/internal/pdns/blocklist"
	"github.com/qsmo/qsmo/internal/pdns/feed"
)

// The resolver (and blocklist.AddEntry) converts actions with a cast, so the values must stay equal.
func TestActionValuesMatchBlocklist(t *testing.T) {
	for _, p := range []struct {
		feed feed.Action
		list blocklist.Action
	}{
		{feed.Passthru, blocklist.Passthru},
		{feed.LocalData, blocklist.LocalData},
		{feed.NXDomain, blocklist.NXDomain},
		{feed.NoData, blocklist.NoData},
		{feed.Block, blocklist.Block},
	} {
		if uint8(p.feed) != uint8(p.list) || p.feed.String() != p.list.String() {
			t.Errorf("feed %v (%d) != blocklist %v (%d)", p.feed, p.feed, p.list, p.list)
		}
	}
}
