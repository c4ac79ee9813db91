package querylog

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/miekg/dns"
)

// OCSF 1.8.0 DNS Activity (class 4003, category 4 Network Activity). A
// Record is one query and the response sent for it, so it maps to activity 6
// "Traffic" ("bidirectional DNS request and response traffic"):
// type_uid = 4003*100 + 6 = 400306. The allow/block outcome uses the
// attributes of the security_control profile (action_id, disposition_id,
// firewall_rule). The mapping is documented in README.md (OCSF MAPPING).
const (
	OCSFVersion     = "1.8.0"
	OCSFProductName = "qsmo Protective DNS"
	OCSFVendorName  = "qsmo"

	ocsfClassUID    = 4003
	ocsfCategoryUID = 4
	ocsfActivityID  = 6
)

// OCSFEvent is the OCSF DNS Activity event of one Record, ready for
// encoding/json. Field order follows the schema's grouping: classification,
// occurrence, primary, context.
type OCSFEvent struct {
	ActivityID    int    `json:"activity_id"`
	ActivityName  string `json:"activity_name"`
	CategoryUID   int    `json:"category_uid"`
	CategoryName  string `json:"category_name"`
	ClassUID      int    `json:"class_uid"`
	ClassName     string `json:"class_name"`
	TypeUID       int    `json:"type_uid"`
	TypeName      string `json:"type_name"`
	SeverityID    int    `json:"severity_id"`
	Severity      string `json:"severity"`
	StatusID      int    `json:"status_id"`
	Status        string `json:"status"`
	Time          int64  `json:"time"`
	QueryTime     int64  `json:"query_time"`
	ResponseTime  int64  `json:"response_time"`
	ActionID      int    `json:"action_id"`
	Action        string `json:"action"`
	DispositionID int    `json:"disposition_id"`
	Disposition   string `json:"disposition"`

	Query          OCSFQuery          `json:"query"`
	RCodeID        int                `json:"rcode_id"`
	RCode          string             `json:"rcode"`
	SrcEndpoint    *OCSFEndpoint      `json:"src_endpoint,omitempty"`
	ConnectionInfo OCSFConnectionInfo `json:"connection_info"`
	FirewallRule   *OCSFRule          `json:"firewall_rule,omitempty"`
	Metadata       OCSFMetadata       `json:"metadata"`
	Unmapped       OCSFUnmapped       `json:"unmapped"`
}

// OCSFQuery is the dns_query object.
type OCSFQuery struct {
	Hostname string `json:"hostname"`
	Type     string `json:"type,omitempty"`
	Class    string `json:"class,omitempty"`
}

// OCSFEndpoint is the network_endpoint object (address only).
type OCSFEndpoint struct {
	IP string `json:"ip"`
}

// OCSFConnectionInfo is the network_connection_info object.
type OCSFConnectionInfo struct {
	ProtocolName  string `json:"protocol_name,omitempty"`
	ProtocolNum   int    `json:"protocol_num,omitempty"`
	ProtocolVerID int    `json:"protocol_ver_id,omitempty"`
	ProtocolVer   string `json:"protocol_ver,omitempty"`
	DirectionID   int    `json:"direction_id"`
	Direction     string `json:"direction"`
}

// OCSFRule is the firewall_rule object: the listed name that matched and
// its threat category.
type OCSFRule struct {
	Name     string `json:"name"`
	Category string `json:"category,omitempty"`
}

// OCSFProduct is the product object.
type OCSFProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
}

// OCSFMetadata is the metadata object.
type OCSFMetadata struct {
	Version   string      `json:"version"`
	Product   OCSFProduct `json:"product"`
	Profiles  []string    `json:"profiles"`
	TenantUID string      `json:"tenant_uid,omitempty"`
}

// OCSFUnmapped carries qsmo fields that have no OCSF attribute.
type OCSFUnmapped struct {
	Action    string `json:"qsmo_action"`
	Transport string `json:"transport"`
	Cache     string `json:"cache"`
	Feed      string `json:"feed,omitempty"`
	Upstream  string `json:"upstream,omitempty"`
	LatencyUS uint32 `json:"latency_us"`
}

// OCSF codes used by the mapping.
const (
	ocsfActionAllowed = 1
	ocsfActionDenied  = 2

	ocsfDispAllowed      = 1
	ocsfDispBlocked      = 2
	ocsfDispDropped      = 6
	ocsfDispUnauthorized = 26
	ocsfDispError        = 27

	ocsfSevInformational = 1
	ocsfSevLow           = 2
	ocsfSevMedium        = 3

	ocsfStatusSuccess = 1
	ocsfStatusFailure = 2
)

var (
	ocsfSeverityNames = map[int]string{1: "Informational", 2: "Low", 3: "Medium"}
	ocsfStatusNames   = map[int]string{1: "Success", 2: "Failure"}
	ocsfActionNames   = map[int]string{1: "Allowed", 2: "Denied"}
)

var ocsfDispositionNames = map[int]string{1: "Allowed", 2: "Blocked", 6: "Dropped", 26: "Unauthorized", 27: "Error"}

// ocsfRCodeNames are the captions of the rcode_id values in OCSF 1.8.0.
// Value 16 is captioned "BADSIG_VERS" in 1.8.0 (1.9.0 renames it "BADVERS").
var ocsfRCodeNames = map[int]string{
	0: "NoError", 1: "FormError", 2: "ServError", 3: "NXDomain", 4: "NotImp", 5: "Refused",
	6: "YXDomain", 7: "YXRRSet", 8: "NXRRSet", 9: "NotAuth", 10: "NotZone", 11: "DSOTYPENI",
	16: "BADSIG_VERS", 17: "BADKEY", 18: "BADTIME", 19: "BADMODE", 20: "BADNAME", 21: "BADALG",
	22: "BADTRUNC", 23: "BADCOOKIE", 24: "Unassigned", 25: "Reserved",
}

// ocsfRCode maps a DNS response code to the OCSF rcode_id enum: codes the
// enum lists map to themselves, the rest to 24 "Unassigned" or 25 "Reserved"
// as RFC 6895 classes them.
func ocsfRCode(rc uint16) (int, string) {
	id := int(rc)
	switch {
	case rc <= 11 || (rc >= 16 && rc <= 23):
	case rc >= 3841 && rc <= 4095, rc == 65535:
		id = 25
	default:
		id = 24
	}
	return id, ocsfRCodeNames[id]
}

// ocsfOutcome maps an Action to action_id, disposition_id, severity_id and
// status_id.
func ocsfOutcome(r *Record) (action, disposition, severity, status int) {
	switch r.Action {
	case Blocked, Sinkholed:
		sev := ocsfSevLow
		if isCategory(r.Category, CategoryC2) || isCategory(r.Category, CategoryMalware) || isCategory(r.Category, "phishing") {
			sev = ocsfSevMedium
		}
		return ocsfActionDenied, ocsfDispBlocked, sev, ocsfStatusSuccess
	case Refused:
		return ocsfActionDenied, ocsfDispUnauthorized, ocsfSevInformational, ocsfStatusFailure
	case RateLimited:
		return ocsfActionDenied, ocsfDispDropped, ocsfSevInformational, ocsfStatusFailure
	case Failed:
		return ocsfActionAllowed, ocsfDispError, ocsfSevInformational, ocsfStatusFailure
	default: // Allowed, LocalData
		return ocsfActionAllowed, ocsfDispAllowed, ocsfSevInformational, ocsfStatusSuccess
	}
}

// OCSF returns the OCSF 1.8.0 DNS Activity event for r.
func OCSF(r *Record) OCSFEvent {
	action, disp, sev, status := ocsfOutcome(r)
	rcID, rcName := ocsfRCode(r.RCode)
	ms := r.Time / 1e6
	ev := OCSFEvent{
		ActivityID:    ocsfActivityID,
		ActivityName:  "Traffic",
		CategoryUID:   ocsfCategoryUID,
		CategoryName:  "Network Activity",
		ClassUID:      ocsfClassUID,
		ClassName:     "DNS Activity",
		TypeUID:       ocsfClassUID*100 + ocsfActivityID,
		TypeName:      "DNS Activity: Traffic",
		SeverityID:    sev,
		Severity:      ocsfSeverityNames[sev],
		StatusID:      status,
		Status:        ocsfStatusNames[status],
		Time:          ms,
		QueryTime:     ms,
		ResponseTime:  (r.Time + int64(r.Latency)*1e3) / 1e6,
		ActionID:      action,
		Action:        ocsfActionNames[action],
		DispositionID: disp,
		Disposition:   ocsfDispositionNames[disp],
		Query:         OCSFQuery{Hostname: r.QName(), Type: qtypeName(r.QType), Class: qclassName(r.QClass)},
		RCodeID:       rcID,
		RCode:         rcName,
		ConnectionInfo: OCSFConnectionInfo{
			DirectionID: 1, // the resolver observes queries arriving from clients
			Direction:   "Inbound",
		},
		Metadata: OCSFMetadata{
			Version:   OCSFVersion,
			Product:   OCSFProduct{Name: OCSFProductName, VendorName: OCSFVendorName},
			Profiles:  []string{"security_control"},
			TenantUID: r.Tenant,
		},
		Unmapped: OCSFUnmapped{
			Action:    r.Action.String(),
			Transport: r.Transport.String(),
			Cache:     r.Cache.String(),
			Feed:      r.Feed,
			Upstream:  r.Upstream,
			LatencyUS: r.Latency,
		},
	}
	switch r.Transport {
	case UDP, DoQ:
		ev.ConnectionInfo.ProtocolName, ev.ConnectionInfo.ProtocolNum = "udp", 17
	case TCP, DoT:
		ev.ConnectionInfo.ProtocolName, ev.ConnectionInfo.ProtocolNum = "tcp", 6
	}
	if a := r.Client.Unmap(); a.IsValid() {
		ev.SrcEndpoint = &OCSFEndpoint{IP: a.String()}
		if a.Is4() {
			ev.ConnectionInfo.ProtocolVerID, ev.ConnectionInfo.ProtocolVer = 4, "Internet Protocol version 4 (IPv4)"
		} else {
			ev.ConnectionInfo.ProtocolVerID, ev.ConnectionInfo.ProtocolVer = 6, "Internet Protocol version 6 (IPv6)"
		}
	}
	if r.Rule != "" {
		ev.FirewallRule = &OCSFRule{Name: r.Rule, Category: r.Category}
	}
	return ev
}

// qtypeName returns the mnemonic of a query type, or the RFC 3597 form
// "TYPE65280" for types without one.
func qtypeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// qclassName returns the mnemonic of a query class; "" when the producer did
// not record it (QClass 0).
func qclassName(c uint16) string {
	if c == 0 {
		return ""
	}
	if s, ok := dns.ClassToString[c]; ok {
		return s
	}
	return "CLASS" + strconv.Itoa(int(c))
}

// NDJSONEncoder writes OCSF events as newline-delimited JSON.
type NDJSONEncoder struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

// NewNDJSONEncoder returns an encoder writing to w. Call Flush at the end.
func NewNDJSONEncoder(w io.Writer) *NDJSONEncoder {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &NDJSONEncoder{bw: bw, enc: enc}
}

// Encode writes the OCSF event of r as one line.
func (e *NDJSONEncoder) Encode(r *Record) error {
	ev := OCSF(r)
	if err := e.enc.Encode(&ev); err != nil {
		return fmt.Errorf("querylog: encode OCSF: %w", err)
	}
	return nil
}

// Flush writes buffered lines to the underlying writer.
func (e *NDJSONEncoder) Flush() error {
	if err := e.bw.Flush(); err != nil {
		return fmt.Errorf("querylog: write NDJSON: %w", err)
	}
	return nil
}

// Searcher is what StreamNDJSON reads from; *Store implements it.
type Searcher interface {
	Search(ctx context.Context, f Filter) (Page, error)
}

// StreamNDJSON writes the OCSF events of every record matching f (newest
// first) to w, following the cursor page after page, up to limit records
// (limit <= 0: no limit). It returns how many records were written. Pages of
// f.Limit records (default DefaultSearchLimit) bound the memory used.
func StreamNDJSON(ctx context.Context, w io.Writer, s Searcher, f Filter, limit int) (int, error) {
	enc := NewNDJSONEncoder(w)
	n := 0
	for {
		page, err := s.Search(ctx, f)
		if err != nil {
			enc.Flush()
			return n, err
		}
		for i := range page.Records {
			if limit > 0 && n >= limit {
				return n, enc.Flush()
			}
			if err := enc.Encode(&page.Records[i]); err != nil {
				return n, err
			}
			n++
		}
		if page.Next == "" || (limit > 0 && n >= limit) {
			return n, enc.Flush()
		}
		f.Cursor = page.Next
	}
}
