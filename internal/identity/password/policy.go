package password

import (
	"bufio"
	_ "embed"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// DefaultMinLength is the shortest password Check accepts, in characters.
// NIST SP 800-63B requires at least 8 and recommends longer; 12 characters
// keeps an online guessing attack hopeless even for passwords a person can
// remember, and is what OWASP's ASVS asks for.
const DefaultMinLength = 12

// minPersonalToken is the shortest part of a name or email address that
// Check looks for in a password. Shorter parts ("jo", "li") occur inside too
// many ordinary words to reject on.
const minPersonalToken = 4

// Rule names a policy rule, so that callers can count or test rejections
// without parsing messages.
type Rule string

// The rules Check enforces.
const (
	RuleTooShort Rule = "too_short"
	RuleTooLong  Rule = "too_long"
	RuleEncoding Rule = "encoding"
	RuleCommon   Rule = "common"
	RulePersonal Rule = "personal"
)

// PolicyError is a password rejected by a Policy. Its message is a sentence
// meant for the person choosing the password.
type PolicyError struct {
	Rule    Rule
	Message string
}

func (e *PolicyError) Error() string { return e.Message }

// Policy decides whether a new password is acceptable. The zero value uses
// DefaultMinLength.
type Policy struct {
	// MinLength in characters (Unicode code points); zero means
	// DefaultMinLength. Values below 8 are raised to 8, the NIST minimum.
	MinLength int
}

// Check applies the default policy; see Policy.Check.
func Check(pw string, context ...string) error { return Policy{}.Check(pw, context...) }

// Check returns a *PolicyError when pw is too short, longer than MaxLength
// bytes, not valid UTF-8, a commonly used password (also when only wrapped in
// digits and symbols, or repeated), or contains a part of the user's name or
// email address given as context. Context values may be full email addresses
// (only the local part is used) or names; parts shorter than four characters
// are ignored. It returns nil for an acceptable password.
func (p Policy) Check(pw string, context ...string) error {
	minLen := p.MinLength
	if minLen == 0 {
		minLen = DefaultMinLength
	}
	minLen = max(minLen, 8)
	switch {
	case !utf8.ValidString(pw):
		return &PolicyError{RuleEncoding, "Your password contains characters that could not be read. Please type it again."}
	case len(pw) > MaxLength:
		return &PolicyError{RuleTooLong, "Your password is too long. Use at most " + strconv.Itoa(MaxLength) +
			" characters (accented and non-Latin characters count as two or more)."}
	case utf8.RuneCountInString(pw) < minLen:
		return &PolicyError{RuleTooShort, "Your password is too short. Use at least " + strconv.Itoa(minLen) +
			" characters; a few unrelated words make a long password that is easy to remember."}
	}
	folded := fold(pw)
	if isCommon(folded) {
		return &PolicyError{RuleCommon, "This password is too easy to guess: it is a commonly used password or a simple variation of one. Choose something less predictable."}
	}
	if containsPersonal(folded, context) {
		return &PolicyError{RulePersonal, "Your password must not contain your name or email address."}
	}
	return nil
}

// fold normalises for comparison: NFKC, then lower case.
func fold(s string) string { return strings.ToLower(norm.NFKC.String(s)) }

//go:embed common-passwords.txt
var commonFile string

// common holds the embedded list, lower case, one entry per line.
var common = func() map[string]struct{} {
	m := make(map[string]struct{}, 10000)
	sc := bufio.NewScanner(strings.NewReader(commonFile))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			m[strings.ToLower(w)] = struct{}{}
		}
	}
	return m
}()

func inList(s string) bool { _, ok := common[s]; return ok }

// isCommon reports whether folded (already lower case) is on the list, is a
// listed password with digits or symbols added before or after it
// ("password2024!"), or is a short or listed unit repeated ("abcabcabcabc",
// "qwertyqwerty"). With a 12-character minimum almost no listed password is
// long enough on its own; these variations are how people lengthen them.
func isCommon(folded string) bool {
	if inList(folded) {
		return true
	}
	isPad := func(r rune) bool { return !unicode.IsLetter(r) }
	for _, c := range []string{
		strings.TrimRightFunc(folded, isPad),
		strings.TrimLeftFunc(folded, isPad),
		strings.TrimFunc(folded, isPad),
	} {
		if c != "" && inList(c) {
			return true
		}
	}
	if u := period(folded); u != "" && (utf8.RuneCountInString(u) <= 4 || inList(u)) {
		return true
	}
	return false
}

// period returns the shortest string whose repetition (two or more times)
// makes up s, or "" if there is none.
func period(s string) string {
	for n := 1; n <= len(s)/2; n++ {
		if len(s)%n == 0 && strings.Repeat(s[:n], len(s)/n) == s {
			return s[:n]
		}
	}
	return ""
}

// containsPersonal reports whether folded contains the local part of an
// email address or a word of a name given in context. Separators inside the
// password are ignored too, so "j.smith" is found in "J-Smith-rocks-2024".
func containsPersonal(folded string, context []string) bool {
	compact := strings.Map(keepLetterDigit, folded)
	for _, c := range context {
		c = fold(c)
		if at := strings.LastIndexByte(c, '@'); at >= 0 {
			c = c[:at]
		}
		tokens := strings.FieldsFunc(c, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		tokens = append(tokens, strings.Map(keepLetterDigit, c))
		for _, t := range tokens {
			if utf8.RuneCountInString(t) < minPersonalToken {
				continue
			}
			if strings.Contains(folded, t) || strings.Contains(compact, t) {
				return true
			}
		}
	}
	return false
}

func keepLetterDigit(r rune) rune {
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return r
	}
	return -1
}
