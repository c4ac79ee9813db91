package main

import (
	"flag"
	"io"
	"strings"
)

// newFlags makes a flag set for a command's own flags; the shared options
// (data dir, database URL, …) are parsed by package config from what is
// left.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseOwn takes the command's own flags out of args and returns the rest
// for config.Load, so both kinds may be mixed in any order.
func parseOwn(fs *flag.FlagSet, args []string) ([]string, error) {
	var own, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		name, _, hasValue := strings.Cut(name, "=")
		if strings.HasPrefix(a, "-") && fs.Lookup(name) != nil {
			own = append(own, a)
			if !hasValue && i+1 < len(args) {
				if f := fs.Lookup(name); f != nil {
					if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
						own = append(own, args[i+1])
						i++
					}
				}
			}
			continue
		}
		rest = append(rest, a)
	}
	if err := fs.Parse(own); err != nil {
		return nil, err
	}
	return rest, nil
}
