package cx

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/web"
)

type exportData struct {
	Export         Export
	Rows           []exportRow
	QuarterOptions []web.Option
}

type exportRow struct {
	a11.CollectionRow
	StageLabel string
}

// exportQuarter reads ?quarter=, defaulting to the last complete quarter,
// the one an A-11 report is due for.
func (h *Handlers) exportQuarter(r *http.Request) (a11.Quarter, error) {
	v := r.URL.Query().Get("quarter")
	if v == "" {
		return a11.QuarterOf(h.S.DB.Now()).Prev(), nil
	}
	q, err := a11.ParseQuarter(v)
	if err != nil {
		return q, apperr.Validation(map[string]string{"quarter": "Give the quarter like FY2026Q3."})
	}
	return q, nil
}

func (h *Handlers) exportPage(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	if err := h.S.checkOffice(r.Context(), p, authz.CXSurveyRead); err != nil {
		return err
	}
	q, err := h.exportQuarter(r)
	if err != nil {
		return err
	}
	ex, err := h.S.Export(r.Context(), p, q)
	if err != nil {
		return err
	}
	d := exportData{Export: ex}
	for _, c := range ex.Collection {
		d.Rows = append(d.Rows, exportRow{CollectionRow: c, StageLabel: Stage(c.Stage).Label()})
	}
	cur := a11.QuarterOf(h.S.DB.Now())
	for i := 0; i < 12; i++ {
		d.QuarterOptions = append(d.QuarterOptions, web.Option{Value: cur.String(), Label: cur.Label() + " (" + cur.Span() + ")"})
		cur = cur.Prev()
	}
	h.V.Render(w, r, http.StatusOK, "export", web.Page{Title: "A-11 data collection", Side: side, Crumbs: crumbs,
		Form: web.NewForm(map[string]string{"quarter": q.String()}), Data: d})
	return nil
}

func (h *Handlers) exportResponsesCSV(w http.ResponseWriter, r *http.Request) error {
	return h.writeExport(w, r, "responses")
}

func (h *Handlers) exportCollectionCSV(w http.ResponseWriter, r *http.Request) error {
	return h.writeExport(w, r, "collection")
}

// writeExport answers one of the two CSV files of a quarter; the pages and
// the API share it.
func (h *Handlers) writeExport(w http.ResponseWriter, r *http.Request, which string) error {
	q, err := h.exportQuarter(r)
	if err != nil {
		return err
	}
	ex, err := h.S.Export(r.Context(), web.PrincipalFrom(r.Context()), q)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	ctype, name := "text/csv; charset=utf-8", "a11-"+which+"-"+q.String()+".csv"
	switch which {
	case "responses":
		err = a11.WriteResponses(&buf, ex.Rows)
	case "collection":
		err = a11.WriteCollection(&buf, ex.Collection)
	default:
		ctype, name = "application/zip", "a11-"+q.String()+".zip"
		err = writeZip(&buf, ex)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
	return nil
}

func (h *Handlers) exportZip(w http.ResponseWriter, r *http.Request) error {
	return h.writeExport(w, r, "zip")
}

// writeZip bundles a quarter's two files, so the responses and the
// customers offered travel together.
func writeZip(w io.Writer, ex Export) error {
	zw := zip.NewWriter(w)
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"responses-" + ex.Quarter.String() + ".csv", func(w io.Writer) error { return a11.WriteResponses(w, ex.Rows) }},
		{"collection-" + ex.Quarter.String() + ".csv", func(w io.Writer) error { return a11.WriteCollection(w, ex.Collection) }},
	} {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: ex.Quarter.End()})
		if err != nil {
			return fmt.Errorf("cx: zip %s: %w", f.name, err)
		}
		if err := f.write(fw); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("cx: zip: %w", err)
	}
	return nil
}

type settingsData struct {
	Preview string
}

func (h *Handlers) renderSettings(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	preview := a11.TrustQuestion(f.Get("trust_question"), h.S.OfficeName)
	h.V.Render(w, r, status, "settings", web.Page{Title: "Survey settings", Side: side, Crumbs: crumbs, Form: f, Data: settingsData{Preview: preview}})
	return nil
}

func (h *Handlers) settingsForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.S.checkOffice(r.Context(), web.PrincipalFrom(r.Context()), authz.CXSettings); err != nil {
		return err
	}
	st, err := h.S.Settings(r.Context())
	if err != nil {
		return err
	}
	f := web.NewForm(map[string]string{"trust_question": st.TrustQuestion})
	if st.Classic {
		f.Values.Set("classic", "on")
	}
	return h.renderSettings(w, r, http.StatusOK, f)
}

func (h *Handlers) settingsSave(w http.ResponseWriter, r *http.Request) error {
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if _, err := h.S.UpdateSettings(r.Context(), web.PrincipalFrom(r.Context()), Settings{TrustQuestion: f.Get("trust_question"), Classic: f.Bool("classic")}); err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.renderSettings(w, r, failStatus(err), f)
	}
	return h.K.Redirect(w, r, "/cx/settings", "success", "Saved. Surveys sent from now on use these settings; surveys already sent keep theirs.")
}
