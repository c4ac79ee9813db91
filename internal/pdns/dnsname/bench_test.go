package dnsname

import "testing"

var sink []byte

func BenchmarkAppendNormalizedASCII(b *testing.B) {
	in := []byte("paket.info.158-158-1-61.cPanel.site")
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var err error
		buf, err = AppendNormalized(buf[:0], in)
		if err != nil {
			b.Fatal(err)
		}
	}
	sink = buf
}

func BenchmarkNormalizeCanonical(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize("paket.info.158-158-1-61.cpanel.site"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizeIDNA(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize("Bücher.Example."); err != nil {
			b.Fatal(err)
		}
	}
}
