package totp

import (
	"fmt"
	"html/template"
	"strings"

	"rsc.io/qr/coding"
)

// The QR symbol is built with rsc.io/qr's coding package (the same code as
// rsc.io/qr, by the Go team's Russ Cox, kept small and without dependencies):
// it does the Reed-Solomon and module placement. rsc.io/qr's own Encode
// always uses mask 0, which can leave finder-like patterns that slow camera
// scanning; qrMatrix below tries all eight masks and keeps the one with the
// lowest ISO/IEC 18004 penalty, as the standard asks.

const (
	// qrLevel is error correction level M (15% of codewords recoverable):
	// enough for a screen, keeping the symbol small for a ~120-byte URI.
	qrLevel = coding.M
	// QuietZone is the light margin, in modules, required around a symbol.
	QuietZone = 4
	// moduleSize is the default drawn size of one module, in CSS pixels;
	// an enrolment URI (version 8, 57 modules with the quiet zone) is 285 px,
	// about 7.5 cm on a 96 dpi screen: easy to scan, and CSS may resize it.
	moduleSize = 5
)

// DefaultQRLabel is the accessible name given to the QR image when the
// caller provides none.
const DefaultQRLabel = "QR code to add this account to your authenticator app. " +
	"If you cannot scan it, enter the setup key shown on this page instead."

// QRCodeSVG renders text (an otpauth URI from URI) as an SVG QR code to embed
// in a page: role="img" with label as its accessible name (aria-label and
// <title>; DefaultQRLabel when empty), dark modules on a white square with
// a 4-module quiet zone. The page should also show the secret as text for
// people who cannot scan. The result contains no text from outside other
// than label, which is escaped, so it is safe to embed as HTML.
func QRCodeSVG(text, label string) (template.HTML, error) {
	m, err := qrMatrix(text)
	if err != nil {
		return "", fmt.Errorf("totp: qr code: %w", err)
	}
	if strings.TrimSpace(label) == "" {
		label = DefaultQRLabel
	}
	esc := template.HTMLEscapeString(label)
	n := len(m) + 2*QuietZone
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" shape-rendering="crispEdges">`,
		n, n, n*moduleSize, n*moduleSize, esc)
	fmt.Fprintf(&b, `<title>%s</title><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, esc, n, n)
	for y, row := range m {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x+QuietZone, y+QuietZone, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}

// qrMatrix encodes text in byte mode at the smallest version that holds it
// and returns the symbol (true = dark) with the lowest-penalty mask.
func qrMatrix(text string) ([][]bool, error) {
	enc := coding.String(text)
	v := coding.Version(coding.MinVersion)
	for ; enc.Bits(v) > v.DataBytes(qrLevel)*8; v++ {
		if v == coding.MaxVersion {
			return nil, fmt.Errorf("%d bytes is too long for a QR code", len(text))
		}
	}
	var best [][]bool
	bestScore := -1
	for mask := coding.Mask(0); mask < 8; mask++ {
		plan, err := coding.NewPlan(v, qrLevel, mask)
		if err != nil {
			return nil, err
		}
		code, err := plan.Encode(enc)
		if err != nil {
			return nil, err
		}
		m := make([][]bool, code.Size)
		for y := range m {
			m[y] = make([]bool, code.Size)
			for x := range m[y] {
				m[y][x] = code.Black(x, y)
			}
		}
		if s := penalty(m); bestScore < 0 || s < bestScore {
			best, bestScore = m, s
		}
	}
	return best, nil
}

// penalty scores a symbol by the four rules of ISO/IEC 18004:2015 §7.8.3.1;
// lower is easier to scan.
func penalty(m [][]bool) int {
	n := len(m)
	at := func(x, y int, vertical bool) bool {
		if vertical {
			return m[x][y]
		}
		return m[y][x]
	}
	score := 0
	for _, vertical := range []bool{false, true} {
		for y := range n {
			// Rule 1: runs of five or more modules of one colour.
			run := 1
			for x := 1; x <= n; x++ {
				if x < n && at(x, y, vertical) == at(x-1, y, vertical) {
					run++
					continue
				}
				if run >= 5 {
					score += 3 + run - 5
				}
				run = 1
			}
			// Rule 3: 1:1:3:1:1 finder-like pattern with four light
			// modules on either side.
			for x := 0; x+11 <= n; x++ {
				if matchFinder(x, y, vertical, at) {
					score += 40
				}
			}
		}
	}
	// Rule 2: 2×2 blocks of one colour.
	dark := 0
	for y := range n {
		for x := range n {
			if m[y][x] {
				dark++
			}
			if x+1 < n && y+1 < n && m[y][x] == m[y][x+1] && m[y][x] == m[y+1][x] && m[y][x] == m[y+1][x+1] {
				score += 3
			}
		}
	}
	// Rule 4: deviation of the dark share from 50%, in steps of 5%.
	dev := dark*100/(n*n) - 50
	if dev < 0 {
		dev = -dev
	}
	return score + 10*(dev/5)
}

var finderA = [11]bool{true, false, true, true, true, false, true, false, false, false, false}
var finderB = [11]bool{false, false, false, false, true, false, true, true, true, false, true}

func matchFinder(x, y int, vertical bool, at func(x, y int, vertical bool) bool) bool {
	a, b := true, true
	for i := range 11 {
		v := at(x+i, y, vertical)
		a = a && v == finderA[i]
		b = b && v == finderB[i]
	}
	return a || b
}
