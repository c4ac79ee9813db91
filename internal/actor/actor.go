// Package actor carries who is acting (a person, an API token, the system)
// and from where, through a request's context, so the audit log can record
// it without every layer passing it along.
package actor

import "context"

// Actor is who caused a change and from where. The web layer puts it in the
// request context; CLI commands and background jobs set their own label.
type Actor struct {
	UserID    string
	TokenID   string
	Label     string // e.g. the user's email, "API token “Deploy bot”", "system", "cli"
	IP        string
	UserAgent string
}

type key struct{}

// With returns a context carrying a.
func With(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, key{}, a)
}

// From returns the actor stored in ctx, or a "system" actor.
func From(ctx context.Context) Actor {
	if a, ok := ctx.Value(key{}).(Actor); ok {
		return a
	}
	return Actor{Label: "system"}
}
