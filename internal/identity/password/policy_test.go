package password

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pw      string
		context []string
		want    Rule // "" means accepted
	}{
		{"a long passphrase is accepted", "mosaic harbour violin sunrise", nil, ""},
		{"twelve unrelated characters are accepted", "vT7#qLm2!xPz", nil, ""},
		{"eleven characters are too short", "vT7#qLm2!xP", nil, RuleTooShort},
		{"length counts characters, not bytes", "ééééééééééé", nil, RuleTooShort},
		{"twelve accented characters are enough", "ééééééééééèà", nil, ""},
		{"empty is too short", "", nil, RuleTooShort},
		{"128 bytes are accepted", strings.Repeat("abcdefgh-", 14) + "ab", nil, ""},
		{"129 bytes are too long", strings.Repeat("x", 129), nil, RuleTooLong},
		{"invalid UTF-8 is refused", "valid start \xff\xfe end", nil, RuleEncoding},
		{"a listed password of twelve characters", "qwertyuiop12", nil, RuleCommon},
		{"listed passwords ignore case", "QWERTYUIOP12", nil, RuleCommon},
		{"a listed password with digits after it", "password2024", nil, RuleCommon},
		{"a listed password with digits and symbols around it", "!!2024sunshine!!", nil, RuleCommon},
		{"a listed password repeated", "monkeymonkey", nil, RuleCommon},
		{"a short unit repeated", "abcabcabcabc", nil, RuleCommon},
		{"one character repeated", "zzzzzzzzzzzzzzzz", nil, RuleCommon},
		{"full-width letters fold to a listed password", "ｐａｓｓｗｏｒｄ1234", nil, RuleCommon},
		{"a listed word inside a longer phrase is fine", "dragon under the stairs", nil, ""},
		{"email local part is refused", "xx-jane.doe-2024", []string{"jane.doe@example.gov"}, RulePersonal},
		{"a part of the local part is refused", "rivers-bluebird-77", []string{"ann.bluebird@example.gov"}, RulePersonal},
		{"local part found across separators", "J-A-N-E-D-O-E-rocks-99", []string{"jane_doe@example.gov"}, RulePersonal},
		{"the domain alone is not personal", "example-garden-41", []string{"jane@example.gov"}, ""},
		{"a name word is refused, case-insensitively", "Fitzgerald-was-here", []string{"Ella Fitzgerald"}, RulePersonal},
		{"short name parts are ignored", "blue annex window 8", []string{"Ann Li"}, ""},
		{"empty context is ignored", "mosaic harbour violin", []string{"", "  "}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.pw, tc.context...)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tc.pw, err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check(%q) = %v, want a *PolicyError with rule %s", tc.pw, err, tc.want)
			}
			if pe.Rule != tc.want {
				t.Errorf("rule = %s, want %s (message %q)", pe.Rule, tc.want, pe.Message)
			}
		})
	}
}

func TestMessagesAreSentences(t *testing.T) {
	for _, pw := range []string{"", strings.Repeat("x", 200), "\xff" + strings.Repeat("a", 20), "password123456", "jane.doe.secret"} {
		err := Check(pw, "jane.doe@example.gov")
		if err == nil {
			t.Fatalf("Check(%q) accepted", pw)
		}
		msg := err.Error()
		if msg[0] < 'A' || msg[0] > 'Z' || !strings.HasSuffix(msg, ".") || strings.Contains(msg, "password:") {
			t.Errorf("message %q is not a sentence for a person", msg)
		}
		if pw != "" && strings.Contains(msg, pw) {
			t.Errorf("message %q repeats the password", msg)
		}
	}
}

func TestMinLength(t *testing.T) {
	p := Policy{MinLength: 16}
	if err := p.Check("vT7#qLm2!xPz-abc"); err != nil {
		t.Errorf("16 characters refused: %v", err)
	}
	err := p.Check("vT7#qLm2!xPz-ab")
	if err == nil || !strings.Contains(err.Error(), "at least 16 characters") {
		t.Errorf("15 characters: %v, want a message naming 16", err)
	}
	if err := (Policy{MinLength: 4}).Check("vT7#qLm"); err == nil {
		t.Error("a minimum below 8 was honoured; NIST's floor is 8")
	}
}

func TestCommonList(t *testing.T) {
	if n := len(common); n != 10000 {
		t.Fatalf("embedded list has %d distinct entries, want 10000", n)
	}
	for _, w := range []string{"123456", "password", "qwerty", "letmein", "trustno1"} {
		if !inList(w) {
			t.Errorf("%q missing from the embedded list", w)
		}
	}
}
