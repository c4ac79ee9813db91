package marketplace_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/app/apptest"
	"github.com/qsmo/qsmo/internal/authz"
)

// api sends a JSON request and decodes the answer into out (when given),
// failing unless the status is want.
func api(t *testing.T, e *apptest.Env, token, method, path string, body any, want int, out any) {
	t.Helper()
	var s string
	if body != nil {
		b, _ := json.Marshal(body)
		s = string(b)
	}
	res := e.API(token, method, path, s)
	raw := apptest.Body(res)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(raw), out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

type idOnly struct {
	ID             string `json:"id"`
	State          string `json:"state"`
	Tier           string `json:"tier"`
	SubscriptionID string `json:"subscription_id"`
	Replayed       bool   `json:"replayed"`
}

func offeringID(t *testing.T, e *apptest.Env, token, name string) string {
	t.Helper()
	var res struct {
		Offerings []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"offerings"`
	}
	api(t, e, token, "GET", "/api/v1/offerings?q="+url.QueryEscape(name)+"&per_page=48", nil, 200, &res)
	for _, o := range res.Offerings {
		if o.Name == name {
			return o.ID
		}
	}
	t.Fatalf("no listed offering %q", name)
	return ""
}

// TestOrderThroughTheAPI walks an order from assessment to active
// subscription and metered usage with API tokens of each party, and checks
// that another agency's token sees none of it.
func TestOrderThroughTheAPI(t *testing.T) {
	e := apptest.New(t)
	buyer := e.Token("energy", authz.AgencyBuyer)
	approver := e.Token("energy", authz.AgencyApprover)
	office := e.Token("office", authz.OfficeAnalyst)
	nwAdmin := e.Token("northwind", authz.ProviderAdmin)
	nwAnalyst := e.Token("northwind", authz.ProviderAnalyst)
	treasury := e.Token("treasury", authz.AgencyAdmin)
	bluewater := e.Token("bluewater", authz.ProviderAdmin)

	var asm idOnly
	api(t, e, buyer, "POST", "/api/v1/assessments", map[string]any{"service_area": "intrusion-detection",
		"answers": map[string]string{"sensors": "internal", "tuning": "team", "response": "review"}}, 201, &asm)
	if asm.Tier != "advanced" {
		t.Errorf("tier %s", asm.Tier)
	}
	var recs []struct {
		Recommendations []struct {
			OfferingID string                  `json:"offering_id"`
			Reasons    []struct{ Text string } `json:"reasons"`
		} `json:"recommendations"`
	}
	api(t, e, buyer, "GET", "/api/v1/recommendations?service_area=intrusion-detection", nil, 200, &recs)
	if len(recs) != 1 || len(recs[0].Recommendations) == 0 || len(recs[0].Recommendations[0].Reasons) < 3 {
		t.Fatalf("recommendations %+v", recs)
	}
	ips := offeringID(t, e, buyer, "Northwind Intrusion Prevention")
	if recs[0].Recommendations[0].OfferingID != ips {
		t.Errorf("the one listed IPS offering is not recommended first")
	}

	var o idOnly
	api(t, e, buyer, "POST", "/api/v1/orders", map[string]any{"offering_id": ips, "tier": "advanced", "quantity": 1, "needs": "Sensors at the two data centres and HQ egress."}, 201, &o)
	path := "/api/v1/orders/" + o.ID
	api(t, e, treasury, "GET", path, nil, 404, nil)
	api(t, e, bluewater, "GET", path, nil, 404, nil)
	// No skipping: the provider cannot quote before the office approves.
	api(t, e, nwAnalyst, "POST", path+"/quote", map[string]any{"lines": []map[string]any{{"kind": "recurring", "unit": "month", "unit_price_cents": 100}}}, 409, nil)
	api(t, e, buyer, "POST", path+"/approve", nil, 403, nil)
	api(t, e, office, "POST", path+"/approve", map[string]any{}, 200, &o)
	api(t, e, nwAnalyst, "POST", path+"/quote", map[string]any{"notes": "Listed price.", "lines": []map[string]any{
		{"kind": "recurring", "unit": "month", "quantity": 1, "unit_price_cents": 840_000},
		{"kind": "one_time", "unit": "each", "quantity": 1, "unit_price_cents": 250_000, "description": "Sensor installation"}}}, 200, &o)
	api(t, e, buyer, "POST", path+"/accept", map[string]any{"tas": "089-X-0228", "obligated_cents": 10_330_000}, 403, nil)
	api(t, e, approver, "POST", path+"/accept", map[string]any{"tas": "not a tas", "obligated_cents": 1}, 422, nil)
	api(t, e, approver, "POST", path+"/accept", map[string]any{"tas": "089-X-0228", "object_class": "25.3", "obligated_cents": 10_330_000}, 200, &o)
	var agr struct {
		Status      string `json:"status"`
		RequestingA string `json:"requesting_alc"`
		Authority   string `json:"authority"`
	}
	api(t, e, approver, "GET", path+"/agreement", nil, 200, &agr)
	if agr.Status != "draft" || agr.RequestingA != "89000001" || agr.Authority != "contract_vehicle" {
		t.Errorf("agreement %+v", agr)
	}
	api(t, e, nwAdmin, "POST", path+"/send", nil, 200, &o)
	api(t, e, approver, "POST", path+"/sign", map[string]any{"title": "Chief Information Officer", "tracking": "DOE-IAA-77"}, 200, &o)
	api(t, e, nwAdmin, "POST", path+"/sign", map[string]any{"title": "Contracts Director", "tracking": "NW-5512"}, 200, &o)
	if o.State != "provisioning" {
		t.Fatalf("after both signatures: %s", o.State)
	}
	var detail struct {
		Tasks []struct{ ID string } `json:"tasks"`
	}
	api(t, e, nwAnalyst, "GET", path, nil, 200, &detail)
	api(t, e, nwAnalyst, "POST", path+"/complete", nil, 409, nil)
	for _, task := range detail.Tasks {
		api(t, e, approver, "POST", path+"/tasks/"+task.ID, map[string]any{"done": true}, 403, nil)
		api(t, e, nwAnalyst, "POST", path+"/tasks/"+task.ID, map[string]any{"done": true, "note": "Done."}, 200, nil)
	}
	api(t, e, nwAnalyst, "POST", path+"/complete", nil, 200, &o)
	if o.State != "active" || o.SubscriptionID == "" {
		t.Fatalf("order %+v", o)
	}
	usage := map[string]any{"subscription_id": o.SubscriptionID, "metric": "reports", "quantity": 3, "occurred_at": time.Now().UTC().Format(time.RFC3339), "idempotency_key": "k1"}
	api(t, e, nwAnalyst, "POST", "/api/v1/usage", usage, 422, nil) // not priced for reports
	api(t, e, bluewater, "POST", "/api/v1/usage", usage, 404, nil)
	api(t, e, treasury, "GET", "/api/v1/subscriptions/"+o.SubscriptionID, nil, 404, nil)
	var sub struct {
		Status       string `json:"status"`
		MonthlyCents int64  `json:"monthly_cents"`
	}
	api(t, e, approver, "GET", "/api/v1/subscriptions/"+o.SubscriptionID, nil, 200, &sub)
	if sub.Status != "active" || sub.MonthlyCents != 840_000 {
		t.Errorf("subscription %+v", sub)
	}
}

// TestMeteringIsIdempotent records usage through the HTTP metering API.
func TestMeteringIsIdempotent(t *testing.T) {
	e := apptest.New(t)
	office := e.Token("office", authz.OfficeAdmin)
	var subs []struct {
		ID       string `json:"id"`
		Offering string `json:"offering"`
		Agency   string `json:"agency"`
	}
	api(t, e, office, "GET", "/api/v1/subscriptions?status=active", nil, 200, &subs)
	var pdns string
	for _, s := range subs {
		if s.Offering == "Protective DNS" && s.Agency == "Department of Energy" {
			pdns = s.ID
		}
	}
	if pdns == "" {
		t.Fatal("no Protective DNS subscription of Energy in the demo data")
	}
	body := map[string]any{"subscription_id": pdns, "metric": "dns_queries", "quantity": 12_500_000, "occurred_at": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339), "idempotency_key": "resolver-1:hour-42"}
	var u idOnly
	api(t, e, office, "POST", "/api/v1/usage", body, 201, &u)
	var again idOnly
	api(t, e, office, "POST", "/api/v1/usage", body, 200, &again)
	if !again.Replayed || again.ID != u.ID {
		t.Errorf("replay %+v, first %+v", again, u)
	}
	body["quantity"] = 1
	api(t, e, office, "POST", "/api/v1/usage", body, 409, nil)
	api(t, e, e.Token("energy", authz.AgencyAdmin), "POST", "/api/v1/usage", map[string]any{"subscription_id": pdns, "metric": "dns_queries", "quantity": 1,
		"occurred_at": time.Now().UTC().Format(time.RFC3339), "idempotency_key": "x"}, 403, nil)
	api(t, e, office, "POST", "/api/v1/usage", map[string]any{"subscription_id": pdns, "metric": "dns_queries", "quantity": -5,
		"occurred_at": time.Now().UTC().Format(time.RFC3339), "idempotency_key": "neg"}, 422, nil)
	var totals []struct {
		Metric   string `json:"metric"`
		Quantity int64  `json:"quantity"`
	}
	api(t, e, office, "GET", "/api/v1/subscriptions/"+pdns+"/usage", nil, 200, &totals)
	found := false
	for _, x := range totals {
		found = found || (x.Metric == "dns_queries" && x.Quantity >= 12_500_000)
	}
	if !found {
		t.Errorf("usage totals %+v", totals)
	}
}

// TestPagesRequestAndReview requests an offering through the pages, with
// a form error first, and has the office decline it with a reason.
func TestPagesRequestAndReview(t *testing.T) {
	e := apptest.New(t)
	buyer := e.SignIn("buyer@energy.example.gov")
	id := offeringID(t, e, e.Token("energy", authz.AgencyBuyer), "Bluewater Threat Intelligence")
	res := buyer.Get("/marketplace/offerings/" + id + "/request")
	if res.StatusCode != 200 || !strings.Contains(apptest.Body(res), "What do you need?") {
		t.Fatalf("request form: %d", res.StatusCode)
	}
	res = buyer.PostForm("/marketplace/orders", url.Values{"offering_id": {id}, "tier": {"intermediate"}, "quantity": {"1"}, "needs": {"short"}})
	if body := apptest.Body(res); res.StatusCode != 422 || !strings.Contains(body, "Describe what you need") {
		t.Fatalf("invalid request: %d", res.StatusCode)
	}
	res = buyer.PostForm("/marketplace/orders", url.Values{"offering_id": {id}, "tier": {"intermediate"}, "quantity": {"1"}, "needs": {"Indicator feeds into our SIEM and weekly reports."}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d %s", res.StatusCode, apptest.Body(res))
	}
	orderPath := res.Header.Get("Location")
	if !strings.HasPrefix(orderPath, "/marketplace/orders/ord_") {
		t.Fatalf("redirect to %q", orderPath)
	}
	// The viewer of another agency cannot open it; the office can.
	if res := e.SignIn("viewer@treasury.example.gov").Get(orderPath); res.StatusCode != 404 {
		t.Errorf("another agency opens the order: %d", res.StatusCode)
	}
	office := e.SignIn("analyst@office.example.gov")
	body := apptest.Body(office.Get(orderPath))
	if !strings.Contains(body, "Approve the request") || !strings.Contains(body, "Decline the request") {
		t.Fatal("the office sees no review actions")
	}
	res = office.PostForm(orderPath+"/decline", url.Values{"reason": {""}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("decline without reason: %d", res.StatusCode)
	}
	if body := apptest.Body(office.Get(orderPath)); !strings.Contains(body, "Give a reason") {
		t.Error("a decline without a reason is not explained")
	}
	res = office.PostForm(orderPath+"/decline", url.Values{"reason": {"Duplicates the agency's current feed contract."}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("decline: %d", res.StatusCode)
	}
	body = apptest.Body(buyer.Get(orderPath))
	if !strings.Contains(body, "Declined") || !strings.Contains(body, "Duplicates the agency") {
		t.Error("the buyer does not see the decline and its reason")
	}
	if body := apptest.Body(buyer.Get("/notifications")); !strings.Contains(body, "Request declined") {
		t.Error("the buyer was not notified")
	}
}

func multipartUpload(t *testing.T, c *apptest.Client, path, name, contentType string, data []byte) *http.Response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="file"; filename="%s"`, name)}
	h["Content-Type"] = []string{contentType}
	part, _ := mw.CreatePart(h)
	_, _ = part.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", c.Env.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.Do(req)
}

// TestDocumentsUploadAndDownload uploads documents through the page: a
// file whose content is not what its name says is refused, a PDF is kept
// and downloads byte for byte, and only the provider may add one.
func TestDocumentsUploadAndDownload(t *testing.T) {
	e := apptest.New(t)
	admin := e.SignIn("admin@northwind.example.com")
	id := offeringID(t, e, e.Token("northwind", authz.ProviderAdmin), "Northwind Network Defense")
	path := "/marketplace/offerings/" + id + "/documents"
	res := multipartUpload(t, admin, path, "brochure.pdf", "application/pdf", []byte("MZ\x90\x00 this is an executable"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d", res.StatusCode)
	}
	if body := apptest.Body(admin.Get("/marketplace/offerings/" + id)); !strings.Contains(body, "Upload a PDF, PNG, JPEG, plain text or CSV file") {
		t.Error("a disguised file was not refused with a clear message")
	}
	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n")
	res = multipartUpload(t, admin, path, "../../etc/service-description.pdf", "application/pdf", pdf)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d", res.StatusCode)
	}
	body := apptest.Body(admin.Get("/marketplace/offerings/" + id))
	i := strings.Index(body, "/marketplace/files/fil_")
	if i < 0 || !strings.Contains(body, ">service-description.pdf<") {
		t.Fatal("the document is not listed under its cleaned name")
	}
	filePath := body[i : i+len("/marketplace/files/")+30]
	// Any signed-in person sees a listed offering's documents.
	res = e.SignIn("viewer@treasury.example.gov").Get(filePath)
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !bytes.Equal(got, pdf) || res.Header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("download: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
	res = multipartUpload(t, e.SignIn("admin@bluewater.example.com"), path, "x.pdf", "application/pdf", pdf)
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("another provider uploads: %d", res.StatusCode)
	}
	big := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 6<<20)...)
	res = multipartUpload(t, admin, path, "big.pdf", "application/pdf", big)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("oversized upload: %d", res.StatusCode)
	}
	if body := apptest.Body(admin.Get("/marketplace/offerings/" + id)); !strings.Contains(body, "larger than 5 MB") {
		t.Error("an oversized file is not refused clearly")
	}
}

// TestPublicFeedAndExport: the catalog feed answers without sign-in and
// names no agency; the storefront's CSV export follows the filters.
func TestPublicFeedAndExport(t *testing.T) {
	e := apptest.New(t)
	res := e.Anonymous().Get("/api/v1/catalog")
	raw := apptest.Body(res)
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("feed: %d", res.StatusCode)
	}
	var feed struct {
		Offerings []struct {
			Status string                  `json:"status"`
			Tiers  []struct{ Tier string } `json:"tiers"`
		} `json:"offerings"`
		Standards []struct{ ID string } `json:"standards"`
	}
	if err := json.Unmarshal([]byte(raw), &feed); err != nil {
		t.Fatal(err)
	}
	if len(feed.Offerings) < 10 || len(feed.Standards) != 12 {
		t.Errorf("feed has %d offerings, %d standards", len(feed.Offerings), len(feed.Standards))
	}
	for _, name := range []string{"Department of", "example.gov", "Secret", "Bluewater SOC Lite"} {
		if strings.Contains(raw, name) {
			t.Errorf("the public feed mentions %q", name)
		}
	}
	c := e.SignIn("viewer@energy.example.gov")
	csv := apptest.Body(c.Get("/marketplace/export.csv?area=soc"))
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if !strings.HasPrefix(lines[0], "id,name,provider") || len(lines) < 3 {
		t.Fatalf("export: %q", csv)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, ",soc,") {
			t.Errorf("export row outside the filter: %s", l)
		}
	}
}

// TestDashboardsByRole: each side sees its dashboard; the others are
// refused.
func TestDashboardsByRole(t *testing.T) {
	e := apptest.New(t)
	cases := []struct {
		who, path string
		status    int
		want      string
	}{
		{"admin@office.example.gov", "/marketplace/dashboard/office", 200, "SLA attainment"},
		{"standards@office.example.gov", "/marketplace/dashboard/office", 200, "Conformance of listed offerings"},
		{"buyer@energy.example.gov", "/marketplace/dashboard/office", 403, ""},
		{"viewer@energy.example.gov", "/marketplace/dashboard/agency", 200, "Monthly charges"},
		{"admin@northwind.example.com", "/marketplace/dashboard/agency", 403, ""},
		{"analyst@northwind.example.com", "/marketplace/provider", 200, "Orders to fulfil"},
		{"admin@office.example.gov", "/", 200, "Marketplace adoption"},
		{"approver@energy.example.gov", "/", 200, "Marketplace services"},
		{"admin@fcssc.example.com", "/", 200, "Orders to fulfil"},
	}
	for _, c := range cases {
		res := e.SignIn(c.who).Get(c.path)
		body := apptest.Body(res)
		if res.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d, want %d with %q", c.who, c.path, res.StatusCode, c.status, c.want)
		}
	}
}
