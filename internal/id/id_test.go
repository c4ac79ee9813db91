package id

import "testing"

func TestNewIsValidAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		v := New("org")
		if !Valid("org", v) {
			t.Fatalf("New produced invalid id %q", v)
		}
		if seen[v] {
			t.Fatalf("duplicate id %q", v)
		}
		seen[v] = true
	}
}

func TestValidRejects(t *testing.T) {
	for _, s := range []string{"", "org_", "usr_" + New("org")[4:], "org_short", "org_" + "IIIIIIIIIIIIIIIIIIIIIIIIII", "org_0000000000000000000000000u"} {
		if Valid("org", s) {
			t.Errorf("Valid(%q) = true", s)
		}
	}
}

func FuzzValid(f *testing.F) {
	f.Add("org_5t3kq0m2x9c1v7b4n8r6w2y0za")
	f.Fuzz(func(t *testing.T, s string) {
		if Valid("org", s) && len(s) != 30 {
			t.Fatalf("accepted %q of length %d", s, len(s))
		}
	})
}
