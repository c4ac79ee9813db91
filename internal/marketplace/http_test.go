package marketplace_test

import (
	"testing"

	"github.com/qsmo/qsmo/internal/app/apptest"
)

func TestDemoLoads(t *testing.T) {
	e := apptest.New(t)
	_ = e
}
