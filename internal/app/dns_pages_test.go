package app_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/app/apptest"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/notify"
	"github.com/qsmo/qsmo/internal/pdns"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// TestDNSPages walks the agency's and the office's pages and their forms
// through the portal, as people do.
func TestDNSPages(t *testing.T) {
	e := apptest.New(t)
	energy := e.World.Agencies["energy"]
	admin := e.SignIn("admin@energy.example.gov")
	for _, path := range []string{"/dns/agencies/energy", "/dns/agencies/" + energy.ID + "/connect", "/dns/agencies/energy/policy",
		"/dns/agencies/energy/queries?action=blocked", "/dns/agencies/energy?range=7d"} {
		if res := admin.Get(path); res.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, res.StatusCode)
		}
	}
	if res := admin.Get("/dns"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dns/agencies/"+energy.ID {
		t.Errorf("landing: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	t.Run("the policy form saves and explains bad input", func(t *testing.T) {
		form := url.Values{"mode": {"nxdomain"}, "categories": {"malware", "c2"}, "cname_inspection": {"on"},
			"egress": {"198.51.100.0/24\n2001:db8:e::/48"}, "deny": {"one.example\n*.two.example"}, "allow": {""}, "blocked_answers": {""}}
		res := admin.PostForm("/dns/agencies/"+energy.ID+"/policy", form)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("save: %d %s", res.StatusCode, apptest.Body(res))
		}
		pol, err := e.App.DNS.GetPolicy(e.Ctx, e.SignInPrincipal("admin@energy.example.gov"), energy.ID)
		if err != nil || strings.Join(pol.Deny, ",") != "*.two.example,one.example" || len(pol.Categories) != 2 {
			t.Fatalf("saved %+v %v", pol, err)
		}
		before := e.AuditHead()
		form.Set("egress", "203.0.113.0/25") // the Treasury's
		res = admin.PostForm("/dns/agencies/"+energy.ID+"/policy", form)
		body := apptest.Body(res)
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "overlaps a network registered by another agency") || strings.Contains(body, "Treasury") {
			t.Fatalf("overlap: %d", res.StatusCode)
		}
		if e.AuditHead() != before {
			t.Fatal("a refused form changed state")
		}
	})
	t.Run("viewers read, cannot change, and never see the token", func(t *testing.T) {
		viewer := e.SignIn("viewer@energy.example.gov")
		body := apptest.Body(viewer.Get("/dns/agencies/" + energy.ID + "/connect"))
		pol, _ := e.App.DNS.GetPolicy(e.Ctx, e.SignInPrincipal("admin@energy.example.gov"), energy.ID)
		if strings.Contains(body, pol.DoHToken) || !strings.Contains(body, "Your role does not show the agency’s token") && !strings.Contains(body, "No resolver is running") {
			t.Fatal("the viewer sees the DoH token")
		}
		if strings.Contains(apptest.Body(viewer.Get("/dns/agencies/energy/policy")), "Save the policy") {
			t.Fatal("the viewer gets the policy form")
		}
		if res := viewer.PostForm("/dns/agencies/"+energy.ID+"/policy", url.Values{"mode": {"refused"}}); res.StatusCode != http.StatusForbidden {
			t.Fatalf("viewer saves: %d", res.StatusCode)
		}
	})
	t.Run("the office manages feeds and global blocks", func(t *testing.T) {
		office := e.SignIn(apptest.RoleUsers[authz.OfficeAdmin])
		for _, path := range []string{"/dns/office", "/dns/feeds", "/dns/feeds/new", "/dns/blocks", "/dns/agencies/treasury"} {
			if res := office.Get(path); res.StatusCode != 200 {
				t.Errorf("GET %s: %d", path, res.StatusCode)
			}
		}
		res := office.PostForm("/dns/blocks", url.Values{"name": {"exfil.example"}, "reason": {"incident"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("add block: %d", res.StatusCode)
		}
		if !strings.Contains(apptest.Body(office.Get("/dns/blocks")), "exfil.example") {
			t.Fatal("the block is not listed")
		}
		res = office.PostForm("/dns/feeds", url.Values{"name": {"Vendor"}, "source": {"../../etc/passwd"}, "format": {"auto"}, "category": {"malware"}, "interval": {"60"}})
		if body := apptest.Body(res); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "no “..”") {
			t.Fatalf("bad source: %d", res.StatusCode)
		}
		// An agency admin has none of it.
		if res := admin.Get("/dns/feeds"); res.StatusCode != http.StatusNotFound {
			t.Fatalf("agency admin on /dns/feeds: %d", res.StatusCode)
		}
	})
}

// TestDNSAPI uses the API twins with tokens of several roles.
func TestDNSAPI(t *testing.T) {
	e := apptest.New(t)
	energy := e.World.Agencies["energy"]
	viewer, analyst := e.Token("energy", authz.AgencyViewer), e.Token("energy", authz.AgencyAnalyst)
	office := e.Token("office", authz.OfficeAdmin)
	get := func(tok, path string, v any) int {
		t.Helper()
		res := e.API(tok, "GET", path, "")
		if v != nil {
			_ = json.NewDecoder(res.Body).Decode(v)
		}
		return res.StatusCode
	}
	var pol pdns.DNSPolicyJSON
	if code := get(viewer, "/api/v1/dns/agencies/energy/policy", &pol); code != 200 || pol.DoHToken != "" || pol.BlockMode != "nxdomain" {
		t.Fatalf("viewer: %d %+v", code, pol)
	}
	if code := get(analyst, "/api/v1/dns/agencies/"+energy.ID+"/policy", &pol); code != 200 || len(pol.DoHToken) != 32 {
		t.Fatalf("analyst: %d %+v", code, pol)
	}
	if res := e.API(analyst, "PATCH", "/api/v1/dns/agencies/energy/policy", `{"block_mode":"refused"}`); res.StatusCode != http.StatusForbidden {
		t.Fatalf("analyst changes the policy: %d", res.StatusCode)
	}
	res := e.API(e.Token("energy", authz.AgencyAdmin), "PATCH", "/api/v1/dns/agencies/energy/policy", `{"egress_networks":["10.0.0.300"],"block_mode":"drop"}`)
	var errBody struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	_ = json.NewDecoder(res.Body).Decode(&errBody)
	if res.StatusCode != 422 || errBody.Error.Fields["egress"] == "" || errBody.Error.Fields["mode"] == "" {
		t.Fatalf("bad PATCH: %d %+v", res.StatusCode, errBody)
	}
	var list []pdns.DNSAgencyJSON
	if code := get(viewer, "/api/v1/dns/agencies", &list); code != 200 {
		t.Fatal(code)
	}
	for _, a := range list {
		if a.OrgID == e.World.Agencies["treasury"].ID {
			t.Fatal("an agency lists another agency")
		}
	}
	if code := get(office, "/api/v1/dns/agencies", &list); code != 200 || len(list) < 10 {
		t.Fatalf("office list: %d %d", code, len(list))
	}
	var stats pdns.DNSStatsJSON
	if code := get(viewer, "/api/v1/dns/agencies/energy/stats", &stats); code != 200 || stats.Totals.Queries == 0 || len(stats.Series) == 0 {
		t.Fatalf("stats: %d %+v", code, stats.Totals)
	}
	var page pdns.DNSQueriesJSON
	if code := get(viewer, "/api/v1/dns/agencies/energy/queries?action=blocked&limit=5", &page); code != 200 || len(page.Records) != 5 || page.Next == "" {
		t.Fatalf("queries: %d %d %q", code, len(page.Records), page.Next)
	}
	for _, r := range page.Records {
		if r.Action != "blocked" {
			t.Fatalf("unblocked record %+v", r)
		}
	}
	if code := get(viewer, "/api/v1/dns/agencies/energy/queries?from=yesterday", nil); code != 422 {
		t.Fatalf("bad from: %d", code)
	}
	t.Run("OCSF export", func(t *testing.T) {
		res := e.API(viewer, "GET", "/api/v1/dns/agencies/energy/queries/ocsf?limit=20", "")
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		sc := bufio.NewScanner(res.Body)
		n := 0
		for sc.Scan() {
			var ev struct {
				ClassUID int `json:"class_uid"`
				Metadata struct {
					TenantUID string `json:"tenant_uid"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.ClassUID != 4003 || ev.Metadata.TenantUID != energy.ID {
				t.Fatalf("line %d: %s (%v)", n, sc.Text(), err)
			}
			n++
		}
		if n != 20 {
			t.Fatalf("%d events, want 20", n)
		}
	})
	t.Run("feeds through the API", func(t *testing.T) {
		res := e.API(office, "POST", "/api/v1/dns/feeds", `{"name":"Vendor","source":"https://user:pw@feeds.example/list.txt?key=k","category":"phishing"}`)
		var f pdns.DNSFeedJSON
		_ = json.NewDecoder(res.Body).Decode(&f)
		if res.StatusCode != 201 || f.IntervalMinutes != 60 || !f.Enabled || strings.Contains(f.Source, "pw") || strings.Contains(f.Source, "key=k") {
			t.Fatalf("create: %d %+v", res.StatusCode, f)
		}
		res = e.API(office, "PATCH", "/api/v1/dns/feeds/"+f.ID, `{"enabled":false,"interval_minutes":15}`)
		_ = json.NewDecoder(res.Body).Decode(&f)
		if res.StatusCode != 200 || f.Enabled || f.IntervalMinutes != 15 {
			t.Fatalf("patch: %d %+v", res.StatusCode, f)
		}
		if res := e.API(viewer, "GET", "/api/v1/dns/feeds/"+f.ID, ""); res.StatusCode != 404 {
			t.Fatalf("agency reads a feed: %d", res.StatusCode)
		}
		if res := e.API(office, "DELETE", "/api/v1/dns/feeds/"+f.ID, ""); res.StatusCode != 204 {
			t.Fatalf("delete: %d", res.StatusCode)
		}
	})
}

// TestSuspectedClientNotification: the demo history has a device at the
// Department of Energy that keeps asking for malware names; its admins and
// analysts are told once per device and hour, even when the query log
// reports it again (another node, a restart).
func TestSuspectedClientNotification(t *testing.T) {
	e := apptest.New(t)
	energy := e.World.Agencies["energy"]
	recipients := []string{"admin@energy.example.gov", "analyst@energy.example.gov"}
	count := func(email string) int {
		items, err := notify.ForUser(e.Ctx, e.App.DB, e.World.Users[email], 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, it := range items {
			if strings.Contains(it.Subject, "Possibly infected device at 198.51.100.23") && it.OrgID == energy.ID {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for count(recipients[0]) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	want := map[string]int{}
	for _, r := range recipients {
		if want[r] = count(r); want[r] == 0 {
			t.Fatalf("%s was not told", r)
		}
	}
	if n := count("viewer@energy.example.gov"); n != 0 {
		t.Fatalf("the viewer was told %d times", n)
	}
	if n := count("admin@treasury.example.gov"); n != 0 {
		t.Fatal("another agency was told")
	}
	var start string
	if err := e.App.DB.QueryRowContext(e.Ctx, "SELECT window_start FROM dns_suspect_alerts WHERE org_id = ? ORDER BY window_start DESC LIMIT 1", energy.ID).Scan(&start); err != nil {
		t.Fatal(err)
	}
	ws, err := time.Parse("2006-01-02T15:04:05.000000Z", start)
	if err != nil {
		t.Fatal(err)
	}
	e.App.DNS.NotifySuspect(querylog.SuspectEvent{Tenant: energy.ID, Client: netip.MustParseAddr("198.51.100.23"), Hits: 5, WindowStart: ws, Window: time.Hour,
		QName: "again.example", Category: "malware"})
	for _, r := range recipients {
		if got := count(r); got != want[r] {
			t.Fatalf("%s told again: %d, want %d", r, got, want[r])
		}
	}
}
