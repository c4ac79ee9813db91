package marketplace_test

import (
	"context"

	"github.com/qsmo/qsmo/internal/marketplace"
)

// fakeCX stands for the customer-experience area, which owns the scores.
type fakeCX map[string]marketplace.CXScore

func (f fakeCX) TrustByOffering(_ context.Context, ids []string) (map[string]marketplace.CXScore, error) {
	out := map[string]marketplace.CXScore{}
	for _, id := range ids {
		if s, ok := f[id]; ok {
			out[id] = s
		}
	}
	return out, nil
}
