package totp

import (
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// svgDoc is the part of the SVG the tests read back.
type svgDoc struct {
	XMLName   xml.Name `xml:"svg"`
	NS        string   `xml:"xmlns,attr"`
	ViewBox   string   `xml:"viewBox,attr"`
	Role      string   `xml:"role,attr"`
	AriaLabel string   `xml:"aria-label,attr"`
	Title     string   `xml:"title"`
	Rect      struct {
		Width  int    `xml:"width,attr"`
		Height int    `xml:"height,attr"`
		Fill   string `xml:"fill,attr"`
	} `xml:"rect"`
	Path struct {
		D    string `xml:"d,attr"`
		Fill string `xml:"fill,attr"`
	} `xml:"path"`
}

// parseSVG checks that svg is well-formed XML and rebuilds the module grid
// (quiet zone included) from its path, which is made only of
// "M x y h n v1 h-n z" rectangles.
func parseSVG(t *testing.T, svg string) (svgDoc, [][]bool) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	dec.Strict = true
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
	var doc svgDoc
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("unmarshal SVG: %v", err)
	}
	var n int
	if _, err := fmt.Sscanf(doc.ViewBox, "0 0 %d %d", &n, &n); err != nil {
		t.Fatalf("viewBox %q: %v", doc.ViewBox, err)
	}
	grid := make([][]bool, n)
	for i := range grid {
		grid[i] = make([]bool, n)
	}
	for _, cmd := range strings.Split(strings.TrimSuffix(doc.Path.D, "z"), "z") {
		var x, y, w, w2 int
		if _, err := fmt.Sscanf(cmd, "M%d %dh%dv1h-%d", &x, &y, &w, &w2); err != nil || w != w2 || w < 1 {
			t.Fatalf("path command %q is not a one-row rectangle (%v)", cmd, err)
		}
		for i := x; i < x+w; i++ {
			if grid[y][i] {
				t.Fatalf("module %d,%d drawn twice", i, y)
			}
			grid[y][i] = true
		}
	}
	return doc, grid
}

// byteModeCapacityM is the number of 8-bit characters a symbol holds at
// error correction level M, versions 1 to 20 (ISO/IEC 18004:2015 Table 7).
var byteModeCapacityM = []int{14, 26, 42, 62, 84, 106, 122, 152, 180, 213,
	251, 287, 331, 362, 412, 450, 504, 560, 624, 666}

func wantVersion(n int) int {
	for v, c := range byteModeCapacityM {
		if n <= c {
			return v + 1
		}
	}
	return -1
}

func decodeGrid(t *testing.T, grid [][]bool, pure bool) string {
	t.Helper()
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, len(grid)*scale, len(grid)*scale))
	for y, row := range grid {
		for x, dark := range row {
			c := color.Gray{Y: 255}
			if dark {
				c = color.Gray{}
			}
			for dy := range scale {
				for dx := range scale {
					img.SetGray(x*scale+dx, y*scale+dy, c)
				}
			}
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	hints := map[gozxing.DecodeHintType]any{}
	if pure {
		hints[gozxing.DecodeHintType_PURE_BARCODE] = true
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		t.Fatalf("decode QR (pure=%v): %v", pure, err)
	}
	return res.GetText()
}

func TestQRCodeSVG(t *testing.T) {
	long, _ := URI("Cybersecurity Quality Service Management Office", "firstname.lastname@subdomain.agency.example.gov", NewSecret())
	typical, _ := URI("QSMO", "jane.doe@example.gov", NewSecret())
	for _, text := range []string{"otpauth://x", typical, long, strings.Repeat("a", 213)} {
		t.Run(fmt.Sprintf("%d bytes", len(text)), func(t *testing.T) {
			svg, err := QRCodeSVG(text, "")
			if err != nil {
				t.Fatal(err)
			}
			doc, grid := parseSVG(t, string(svg))
			if doc.NS != "http://www.w3.org/2000/svg" || doc.Role != "img" {
				t.Errorf("xmlns %q role %q", doc.NS, doc.Role)
			}
			if doc.AriaLabel != DefaultQRLabel || doc.Title != DefaultQRLabel {
				t.Errorf("accessible name %q / title %q, want the default label", doc.AriaLabel, doc.Title)
			}
			v := wantVersion(len(text))
			size := 17 + 4*v
			if len(grid) != size+2*QuietZone {
				t.Fatalf("grid is %d modules, want version %d: %d + 2×%d quiet zone", len(grid), v, size, QuietZone)
			}
			if doc.Rect.Width != len(grid) || doc.Rect.Height != len(grid) || doc.Rect.Fill != "#fff" || doc.Path.Fill != "#000" {
				t.Errorf("background %+v / fill %q do not cover the symbol in black on white", doc.Rect, doc.Path.Fill)
			}
			for y, row := range grid {
				for x, dark := range row {
					inZone := x < QuietZone || y < QuietZone || x >= QuietZone+size || y >= QuietZone+size
					if inZone && dark {
						t.Fatalf("dark module %d,%d inside the quiet zone", x, y)
					}
				}
			}
			if got := decodeGrid(t, grid, true); got != text {
				t.Errorf("pure decode = %q, want %q", got, text)
			}
			if got := decodeGrid(t, grid, false); got != text {
				t.Errorf("detector decode = %q, want %q", got, text)
			}
		})
	}
}

func TestQRCodeSVGEscapesLabel(t *testing.T) {
	label := `Scan <this> & "that"`
	svg, err := QRCodeSVG("otpauth://totp/x", label)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(svg), "<this>") {
		t.Fatal("label markup reached the SVG unescaped")
	}
	doc, _ := parseSVG(t, string(svg))
	if doc.AriaLabel != label || doc.Title != label {
		t.Errorf("label read back as %q / %q, want %q", doc.AriaLabel, doc.Title, label)
	}
}

func TestQRCodeSVGTooLong(t *testing.T) {
	if _, err := QRCodeSVG(strings.Repeat("x", 3000), ""); err == nil {
		t.Error("3000 bytes encoded; a version-40 M symbol holds 2331")
	}
}

func TestPenaltyPrefersFewerPatterns(t *testing.T) {
	const n = 21
	plain := make([][]bool, n) // all light: long runs, 2×2 blocks, 0% dark
	checker := make([][]bool, n)
	for y := range n {
		plain[y] = make([]bool, n)
		checker[y] = make([]bool, n)
		for x := range n {
			checker[y][x] = (x+y)%2 == 0
		}
	}
	// All light: rule 1 gives 2×21 lines × (3+16), rule 2 gives 20×20×3,
	// rule 4 gives 10×10.
	if got, want := penalty(plain), 2*21*(3+16)+20*20*3+100; got != want {
		t.Errorf("penalty(all light) = %d, want %d", got, want)
	}
	if got := penalty(checker); got != 0 {
		t.Errorf("penalty(checkerboard) = %d, want 0", got)
	}
}
