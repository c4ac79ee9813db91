package web

import (
	"context"

	"github.com/qsmo/qsmo/internal/authz"
)

// Card is a dashboard tile: a figure or a short status with a link to act.
type Card struct {
	Title    string
	Stat     string // a headline figure, e.g. "12"
	Text     string
	Link     string
	LinkText string
	Order    int
}

// CardSource produces a principal's cards for the dashboard; each service
// area registers one.
type CardSource func(ctx context.Context, p *authz.Principal) ([]Card, error)

// AddCards registers a dashboard card source.
func (k *Kit) AddCards(src CardSource) { k.cards = append(k.cards, src) }

// Cards collects every source's cards for p. A failing source is logged
// and skipped so one broken area never blanks the dashboard.
func (k *Kit) Cards(ctx context.Context, p *authz.Principal) []Card {
	var out []Card
	for _, src := range k.cards {
		cs, err := src(ctx, p)
		if err != nil {
			k.Opts.Log.Error("dashboard card source failed", "err", err)
			continue
		}
		out = append(out, cs...)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Order < out[j-1].Order; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
