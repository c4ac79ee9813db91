package feed

import (
	"bytes"
	"fmt"
	"net/netip"
)

// parsePlainLine handles one line of a plain domain list: a name, or
// "*.name" for its subdomains only. '#' and '!' start a comment line; a
// '#' after white space starts a trailing comment.
func parsePlainLine(c *collector, line []byte) error {
	line = trimSpace(line)
	if len(line) == 0 || line[0] == '#' || line[0] == '!' {
		return nil
	}
	line = trimSpace(cutComment(line))
	if len(line) > 0 && line[0] == '<' {
		c.invalid("markup, not a name (is the source serving an HTML page?)")
		return nil
	}
	if containsSpace(line) {
		c.invalid("more than one field (is this a hosts file?)")
		return nil
	}
	if wild, ok := bytes.CutPrefix(line, []byte("*.")); ok {
		return c.addBlock(wild, true)
	}
	return c.addBlock(line, false)
}

// localNames are the names hosts files list for the machine itself; they
// are never blocked.
var localNames = map[string]bool{
	"localhost":               true,
	"localhost.localdomain":   true,
	"localhost4":              true,
	"localhost4.localdomain4": true,
	"localhost6":              true,
	"localhost6.localdomain6": true,
	"local":                   true,
	"broadcasthost":           true,
	"ip6-localhost":           true,
	"ip6-loopback":            true,
	"ip6-localnet":            true,
	"ip6-mcastprefix":         true,
	"ip6-allnodes":            true,
	"ip6-allrouters":          true,
	"ip6-allhosts":            true,
	"0.0.0.0":                 true,
}

// parseHostsLine handles one line of a hosts file: an IPv4 or IPv6 address
// followed by names. The address does not matter: every name is blocked
// with the tenant's block mode, as the feed's intent is to make it
// unreachable.
func parseHostsLine(c *collector, line []byte) error {
	line = trimSpace(cutComment(line))
	if len(line) == 0 {
		return nil
	}
	addr, rest := nextField(line)
	if !isAddress(addr) {
		c.invalid(fmt.Sprintf("%q is not an IP address", clipText(addr)))
		return nil
	}
	name, rest := nextField(rest)
	if len(name) == 0 {
		c.invalid("address without host names")
		return nil
	}
	for ; len(name) > 0; name, rest = nextField(rest) {
		if isLocalName(name) {
			c.skip(SkipLocalHost)
			continue
		}
		if err := c.addBlock(name, false); err != nil {
			return err
		}
	}
	return nil
}

// isLocalName looks name up in localNames whatever its case, without
// allocating.
func isLocalName(name []byte) bool {
	var lower [32]byte
	if len(name) > len(lower) {
		return false
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return localNames[string(lower[:len(name)])]
}

// isAddress reports whether b is an IP address, with a fast answer for the
// two addresses nearly every blocklist uses.
func isAddress(b []byte) bool {
	switch string(b) {
	case "0.0.0.0", "127.0.0.1", "::", "::1":
		return true
	}
	if len(b) < 2 || len(b) > 64 {
		return false
	}
	_, err := netip.ParseAddr(string(b))
	return err == nil
}

// adblockOptions are the "$" options that keep "||domain^" meaning "block
// the whole domain": they raise priority or widen the request types.
// Others narrow the rule (third-party, script, domain=, client=,
// dnstype=...) or change it (badfilter, dnsrewrite), so the rule is skipped.
var adblockOptions = map[string]bool{
	"important": true,
	"all":       true,
	"document":  true,
	"doc":       true,
}

// parseAdBlockLine handles one line of AdBlock-style filter syntax.
func parseAdBlockLine(c *collector, line []byte) error {
	line = trimSpace(line)
	switch {
	case len(line) == 0, line[0] == '!', line[0] == '[':
		return nil // blank, comment, "[Adblock Plus 2.0]" header
	case isCosmetic(line):
		c.skip(SkipCosmetic)
		return nil
	case line[0] == '#':
		return nil // hosts-style comment, accepted by many list tools
	case bytes.HasPrefix(line, []byte("@@")):
		c.skip(SkipException)
		return nil
	case len(line) > 1 && line[0] == '/' && bytes.LastIndexByte(line, '/') > 0:
		c.skip(SkipRegexp)
		return nil
	case bytes.ContainsAny(line, " \t\v\f"):
		c.invalid("white space inside a filter rule")
		return nil
	}
	body, ok := bytes.CutPrefix(line, []byte("||"))
	if !ok {
		return adblockBare(c, line)
	}
	pattern, options, hasOptions := bytes.Cut(body, []byte("$"))
	if hasOptions {
		for opt := range bytes.SplitSeq(options, []byte(",")) {
			if !adblockOptions[string(bytes.ToLower(trimSpace(opt)))] {
				c.skip(SkipOption)
				return nil
			}
		}
	}
	host, ok := bytes.CutSuffix(pattern, []byte("^"))
	if !ok {
		host, ok = bytes.CutSuffix(pattern, []byte("^|"))
	}
	if !ok || len(host) == 0 || bytes.ContainsAny(host, "/*^|:?=&") {
		c.skip(SkipPattern)
		return nil
	}
	return c.addBlock(host, false)
}

// adblockBare handles a rule without "||". A bare host name with at least
// one inner dot blocks that domain, as DNS-level filter tools read it;
// anything else is a URL pattern this resolver cannot apply.
func adblockBare(c *collector, line []byte) error {
	host := bytes.TrimSuffix(line, []byte("."))
	if bytes.IndexByte(host, '.') <= 0 {
		c.skip(SkipPattern)
		return nil
	}
	for _, b := range host {
		if !(b >= 0x80 || b == '.' || b == '-' || b == '_' ||
			'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9') {
			c.skip(SkipPattern)
			return nil
		}
	}
	return c.addBlock(line, false)
}

// isCosmetic reports element-hiding and scriptlet rules ("##", "#@#",
// "#?#", "#$#", "#%#" and their exceptions) and HTML filters ("$$").
func isCosmetic(line []byte) bool {
	for i := 0; i+1 < len(line); i++ {
		switch {
		case line[i] == '#' && bytes.IndexByte([]byte("#@?$%"), line[i+1]) >= 0:
			return true
		case line[i] == '$' && (line[i+1] == '$' || line[i+1] == '@' && i+2 < len(line) && line[i+2] == '$'):
			return true
		}
	}
	return false
}
