package cx

import (
	"context"
	"strings"

	"github.com/qsmo/qsmo/internal/db"
)

// ServiceArea is a family of services surveys can be about.
type ServiceArea struct {
	Key  string // stable identifier, e.g. "protective-dns"
	Name string // for people, e.g. "Protective DNS"
}

// Catalog names the records of the service catalog that surveys and reports
// refer to. The marketplace implements it over its catalog; until then
// StaticCatalog serves the office's standard service areas.
type Catalog interface {
	// ServiceAreas lists the service areas, in display order.
	ServiceAreas(ctx context.Context) ([]ServiceArea, error)
	// OfferingName returns an offering's name, or "" when the catalog does
	// not know it. q is the caller's transaction or database.
	OfferingName(ctx context.Context, q db.Queryer, offeringID string) (string, error)
}

// StandardServiceAreas are the office's three operated services and the
// wider catalog categories.
var StandardServiceAreas = []ServiceArea{
	{"protective-dns", "Protective DNS"},
	{"vulnerability-management", "Vulnerability disclosure and management"},
	{"soc", "SOC as a service"},
	{"network-defense", "Network defense"},
	{"incident-management", "Incident management"},
	{"threat-intelligence", "Threat intelligence"},
	{"intrusion-detection", "Intrusion detection and prevention"},
	{"supply-chain-risk", "Supply-chain risk"},
	{"asset-management", "Asset management"},
	{"identity-access", "Identity and access"},
	{"data-protection", "Data protection"},
	{"mobile-security", "Mobile security"},
}

// StaticCatalog knows the standard service areas and no offerings.
type StaticCatalog struct{}

// ServiceAreas returns StandardServiceAreas.
func (StaticCatalog) ServiceAreas(context.Context) ([]ServiceArea, error) {
	return StandardServiceAreas, nil
}

// OfferingName knows no offerings.
func (StaticCatalog) OfferingName(context.Context, db.Queryer, string) (string, error) {
	return "", nil
}

// serviceName returns the name of a service area, or a readable form of an
// unknown key so a survey about a service the catalog has not heard of yet
// still reads well.
func (s *Service) serviceName(ctx context.Context, key string) (string, bool, error) {
	areas, err := s.Catalog.ServiceAreas(ctx)
	if err != nil {
		return "", false, err
	}
	for _, a := range areas {
		if a.Key == key {
			return a.Name, true, nil
		}
	}
	name := strings.ReplaceAll(key, "-", " ")
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	return name, false, nil
}
