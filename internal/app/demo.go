package app

import "github.com/qsmo/qsmo/internal/demo"

// DemoLoaders returns each service area's sample-data loader, run after
// the demo organizations and people exist.
func (a *App) DemoLoaders() []demo.Loader {
	return a.demoLoaders
}
