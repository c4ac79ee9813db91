package marketplace

import (
	"context"
	"fmt"
	"strconv"

	"github.com/qsmo/qsmo/internal/apperr"
)

// CSFFunctions are the NIST Cybersecurity Framework functions service areas
// are tagged with.
var CSFFunctions = []string{"identify", "protect", "detect", "respond", "recover"}

// CSFLabel names a CSF function.
func CSFLabel(f string) string {
	switch f {
	case "identify":
		return "Identify"
	case "protect":
		return "Protect"
	case "detect":
		return "Detect"
	case "respond":
		return "Respond"
	case "recover":
		return "Recover"
	}
	return f
}

// ServiceArea is a catalog category; the office operates three of them.
type ServiceArea struct {
	ID             string
	Name           string
	Summary        string
	CSF            []string
	OfficeOperated bool
	Order          int
}

// CSFLabels names the area's CSF functions.
func (a ServiceArea) CSFLabels() []string {
	out := make([]string, len(a.CSF))
	for i, f := range a.CSF {
		out[i] = CSFLabel(f)
	}
	return out
}

// Areas returns every service area in catalog order. They are seeded by
// migration and read once.
func (s *Service) Areas(ctx context.Context) ([]ServiceArea, error) {
	s.mu.RLock()
	areas := s.areas
	s.mu.RUnlock()
	if areas != nil {
		return areas, nil
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT id, name, summary, csf_functions, office_operated, sort_order FROM market_service_areas ORDER BY sort_order")
	if err != nil {
		return nil, fmt.Errorf("marketplace: areas: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a ServiceArea
		var csf string
		if err := rows.Scan(&a.ID, &a.Name, &a.Summary, &csf, &a.OfficeOperated, &a.Order); err != nil {
			return nil, fmt.Errorf("marketplace: scan area: %w", err)
		}
		a.CSF = splitList(csf)
		areas = append(areas, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.areas = areas
	s.mu.Unlock()
	return areas, nil
}

// Area returns one service area.
func (s *Service) Area(ctx context.Context, id string) (ServiceArea, error) {
	areas, err := s.Areas(ctx)
	if err != nil {
		return ServiceArea{}, err
	}
	for _, a := range areas {
		if a.ID == id {
			return a, nil
		}
	}
	return ServiceArea{}, apperr.NotFoundf("Service area")
}

func (s *Service) areaName(ctx context.Context, id string) string {
	if a, err := s.Area(ctx, id); err == nil {
		return a.Name
	}
	return id
}

func notFound(what string) error { return apperr.NotFoundf(what) }

func itoa(n int) string { return strconv.Itoa(n) }
