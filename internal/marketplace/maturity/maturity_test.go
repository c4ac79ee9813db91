package maturity

import (
	"strings"
	"testing"
)

var areas = []string{"protective-dns", "vulnerability-management", "soc", "network-defense", "incident-management", "threat-intelligence",
	"intrusion-detection", "supply-chain-risk", "asset-management", "identity-access", "data-protection", "mobile-security"}

func TestEveryAreaHasAQuestionnaire(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range areas {
		q, ok := c.Latest(a)
		if !ok {
			t.Errorf("no questionnaire for %s", a)
			continue
		}
		// Every tier is reachable: all-best answers reach advanced, all-worst
		// answers stay foundational.
		best, worst := map[string]string{}, map[string]string{}
		for _, qu := range q.Questions {
			hi, lo := qu.Options[0], qu.Options[0]
			for _, o := range qu.Options {
				if o.Points > hi.Points {
					hi = o
				}
				if o.Points < lo.Points {
					lo = o
				}
			}
			best[qu.ID], worst[qu.ID] = hi.Value, lo.Value
		}
		if r, errs := q.Score(best); errs != nil || r.Tier != Advanced || r.Score != q.MaxScore() {
			t.Errorf("%s: best answers give %+v %v", a, r, errs)
		}
		if r, errs := q.Score(worst); errs != nil || r.Tier != Foundational {
			t.Errorf("%s: worst answers give %+v %v", a, r, errs)
		}
	}
	if len(c.Areas()) != len(areas) {
		t.Errorf("areas %v", c.Areas())
	}
	v1, ok1 := c.Version("protective-dns", 1)
	v2, ok2 := c.Version("protective-dns", 2)
	if !ok1 || !ok2 || len(v2.Questions) != len(v1.Questions)+1 {
		t.Error("protective-dns keeps both versions")
	}
	if q, _ := c.Latest("protective-dns"); q.Version != 2 {
		t.Errorf("latest protective-dns is v%d", q.Version)
	}
}

func TestScoreExplainsTheTier(t *testing.T) {
	c := MustLoad()
	q, _ := c.Version("protective-dns", 2)
	strong := map[string]string{"resolution": "filtered", "logging": "long", "siem": "siem", "egress": "yes", "sites": "some", "encrypted": "managed"}
	r, errs := q.Score(strong)
	if errs != nil || r.Tier != Advanced {
		t.Fatalf("strong agency: %+v %v", r, errs)
	}
	if !strings.HasPrefix(r.Reasons[0], "You scored 11 of 12 points, which is advanced") {
		t.Errorf("first reason %q", r.Reasons[0])
	}
	if strings.Join(r.Capabilities, ",") != "central_dns,dns_logging,egress_control,encrypted_dns,siem" {
		t.Errorf("capabilities %v", r.Capabilities)
	}
	// The same strengths without a resolver of its own: the gate caps the
	// tier and says why.
	gated := map[string]string{}
	for k, v := range strong {
		gated[k] = v
	}
	gated["resolution"] = "isp"
	r, errs = q.Score(gated)
	if errs != nil || r.Tier != Foundational {
		t.Fatalf("gated agency: %+v %v", r, errs)
	}
	if !strings.Contains(strings.Join(r.Reasons, " "), "Capped at foundational") {
		t.Errorf("the gate is not explained: %v", r.Reasons)
	}
	if !strings.Contains(r.Reasons[0], "advanced by score") {
		t.Errorf("the score's own tier is not stated: %q", r.Reasons[0])
	}
}

func TestScoreRefusesIncompleteAnswers(t *testing.T) {
	q, _ := MustLoad().Latest("soc")
	_, errs := q.Score(map[string]string{"collection": "all", "edr": "maybe", "bogus": "x"})
	for _, id := range []string{"m2131", "hours", "ir", "edr", "bogus"} {
		if errs[id] == "" {
			t.Errorf("no problem reported for %s: %v", id, errs)
		}
	}
}

func TestParseRefusesBrokenQuestionnaires(t *testing.T) {
	good := `{"area":"x","version":1,"title":"T","intro":"","capabilities":{"c":"C"},
	"questions":[{"id":"a","text":"A?","options":[{"value":"n","label":"No","points":0},{"value":"y","label":"Yes","points":2,"capabilities":["c"]}]}],
	"tiers":[{"tier":"foundational","min":0,"meaning":"m"},{"tier":"intermediate","min":1,"meaning":"m"},{"tier":"advanced","min":2,"meaning":"m"}],"gates":[]}`
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatalf("good questionnaire refused: %v", err)
	}
	for name, bad := range map[string]string{
		"unknown capability": strings.Replace(good, `"capabilities":["c"]`, `"capabilities":["zz"]`, 1),
		"unreachable tier":   strings.Replace(good, `"min":2`, `"min":3`, 1),
		"tiers out of order": strings.Replace(good, `"tier":"intermediate"`, `"tier":"advanced"`, 1),
		"duplicate option":   strings.Replace(good, `"value":"y"`, `"value":"n"`, 1),
		"unknown field":      strings.Replace(good, `"intro":""`, `"intro":"","extra":1`, 1),
		"gate on nothing":    strings.Replace(good, `"gates":[]`, `"gates":[{"question":"zz","values":["n"],"max_tier":"foundational","reason":"r"}]`, 1),
		"trailing data":      good + "{}",
		"no version":         strings.Replace(good, `"version":1`, `"version":0`, 1),
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
