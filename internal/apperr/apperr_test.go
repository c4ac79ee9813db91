package apperr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCodeOf(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want Code
	}{
		{"nil has no code", nil, ""},
		{"plain error is internal", errors.New("boom"), Internal},
		{"direct", New(Conflict, "x"), Conflict},
		{"wrapped", fmt.Errorf("store: %w", NotFoundf("Organization")), NotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := CodeOf(c.err); got != c.want {
				t.Errorf("CodeOf = %q, want %q", got, c.want)
			}
		})
	}
}

func TestInternalMessageHidesCause(t *testing.T) {
	err := Wrap(errors.New("pq: password authentication failed for user qsmo"), "open db")
	if m := MessageOf(err); m == "" || strings.Contains(m, "password") {
		t.Fatalf("internal message leaks the cause: %q", m)
	}
	if !errors.Is(err, err.Err) {
		t.Fatal("cause not kept")
	}
}
