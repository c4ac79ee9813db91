package marketplace

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
)

// File purposes.
const (
	FileDocument = "document" // a public document of an offering (service description, SLA, terms)
	FileEvidence = "evidence" // evidence for a conformance answer, seen by the provider and the office
)

// File is an uploaded document or evidence file (without its bytes).
type File struct {
	ID            string
	OrgID         string
	OfferingID    string
	RequirementID string
	Purpose       string
	Name          string
	ContentType   string
	Size          int64
	SHA256        string
	CreatedBy     string
	CreatedAt     time.Time
}

// SizeLabel formats the size for people.
func (f File) SizeLabel() string {
	switch {
	case f.Size >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(f.Size)/(1<<20))
	case f.Size >= 1<<10:
		return fmt.Sprintf("%d KB", f.Size>>10)
	default:
		return fmt.Sprintf("%d bytes", f.Size)
	}
}

// allowedTypes maps the content types qsmo stores to the file extensions
// that may carry them. Types are decided by sniffing the bytes, never by
// trusting the uploader's claim alone.
var allowedTypes = map[string][]string{
	"application/pdf":           {".pdf"},
	"image/png":                 {".png"},
	"image/jpeg":                {".jpg", ".jpeg"},
	"text/plain; charset=utf-8": {".txt", ".md", ".log"},
	"text/csv; charset=utf-8":   {".csv"},
}

// FileMeta is what an upload says about itself: its name and claimed type.
type FileMeta struct {
	Name         string
	DeclaredType string
}

// CheckUpload validates an upload's name, size and content, and returns
// the cleaned name and the content type to store. It is the parser of
// outside input for every upload (pages and API) and is fuzzed.
func CheckUpload(meta FileMeta, data []byte, maxBytes int64) (name, contentType string, err error) {
	if len(data) == 0 {
		return "", "", apperr.Validation(map[string]string{"file": "The file is empty."})
	}
	if int64(len(data)) > maxBytes {
		return "", "", apperr.Validation(map[string]string{"file": fmt.Sprintf("The file is larger than %d MB.", maxBytes>>20)})
	}
	name = cleanFileName(meta.Name)
	if name == "" {
		return "", "", apperr.Validation(map[string]string{"file": "Give the file a name, such as service-description.pdf."})
	}
	ext := strings.ToLower(path.Ext(name))
	sniffed := http.DetectContentType(data)
	switch {
	case sniffed == "text/plain; charset=utf-8" && ext == ".csv":
		contentType = "text/csv; charset=utf-8"
	case allowedTypes[sniffed] != nil:
		contentType = sniffed
	default:
		return "", "", apperr.Validation(map[string]string{"file": "Upload a PDF, PNG, JPEG, plain text or CSV file."})
	}
	if strings.HasPrefix(contentType, "text/") && !utf8.Valid(data) {
		return "", "", apperr.Validation(map[string]string{"file": "Text files must be UTF-8."})
	}
	okExt := false
	for _, e := range allowedTypes[contentType] {
		okExt = okExt || e == ext
	}
	if !okExt {
		return "", "", apperr.Validation(map[string]string{"file": fmt.Sprintf("The file's content is %s but its name ends in %q; rename it.", typeLabel(contentType), ext)})
	}
	if d := strings.TrimSpace(strings.ToLower(meta.DeclaredType)); d != "" && d != "application/octet-stream" {
		base, _, _ := strings.Cut(d, ";")
		want, _, _ := strings.Cut(contentType, ";")
		if strings.TrimSpace(base) != want && !(want == "text/csv" && base == "text/plain") && !(want == "text/plain" && base == "text/markdown") {
			return "", "", apperr.Validation(map[string]string{"file": fmt.Sprintf("The file was sent as %s but its content is %s.", base, typeLabel(contentType))})
		}
	}
	return name, contentType, nil
}

func typeLabel(ct string) string {
	switch {
	case strings.HasPrefix(ct, "application/pdf"):
		return "a PDF"
	case strings.HasPrefix(ct, "image/png"):
		return "a PNG image"
	case strings.HasPrefix(ct, "image/jpeg"):
		return "a JPEG image"
	case strings.HasPrefix(ct, "text/csv"):
		return "CSV"
	default:
		return "plain text"
	}
}

// cleanFileName keeps the base name, drops control and path characters and
// bounds the length, so a name is safe in a Content-Disposition header and
// on a page.
func cleanFileName(n string) string {
	n = strings.ReplaceAll(n, "\\", "/")
	n = path.Base(n)
	var b strings.Builder
	for _, r := range n {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), r == '"', r == '/', r == '<', r == '>', r == '\\':
			continue
		}
		b.WriteRune(r)
	}
	n = strings.TrimSpace(b.String())
	if n == "." || n == ".." || strings.HasPrefix(n, ".") {
		return ""
	}
	if utf8.RuneCountInString(n) > 120 {
		ext := path.Ext(n)
		if utf8.RuneCountInString(ext) > 10 {
			return ""
		}
		r := []rune(strings.TrimSuffix(n, ext))
		n = string(r[:120-utf8.RuneCountInString(ext)]) + ext
	}
	return n
}

// UploadInput is a file to attach to an offering.
type UploadInput struct {
	OfferingID    string
	RequirementID string // evidence only
	Purpose       string
	Meta          FileMeta
	Data          []byte
}

// UploadFile stores a document or evidence file of an offering. The
// provider's own people only; evidence belongs to a requirement of the
// current standard.
func (s *Service) UploadFile(ctx context.Context, p *authz.Principal, in UploadInput) (File, error) {
	o, err := s.GetOffering(ctx, p, in.OfferingID)
	if err != nil {
		return File{}, err
	}
	if err := s.actFor(ctx, p, authz.MarketOfferingManage, o.ProviderOrgID, "Only the provider's own people change its offerings."); err != nil {
		return File{}, err
	}
	if o.Status == "retired" {
		return File{}, apperr.New(apperr.Conflict, "A retired offering takes no new files.")
	}
	switch in.Purpose {
	case FileDocument:
		in.RequirementID = ""
	case FileEvidence:
		if _, _, err := s.requirementOfCurrent(ctx, o, in.RequirementID); err != nil {
			return File{}, err
		}
	default:
		return File{}, apperr.Validation(map[string]string{"purpose": "A file is a document or evidence."})
	}
	name, ct, err := CheckUpload(in.Meta, in.Data, s.MaxFileBytes)
	if err != nil {
		return File{}, err
	}
	sum := sha256.Sum256(in.Data)
	f := File{ID: id.New("fil"), OrgID: o.ProviderOrgID, OfferingID: o.ID, RequirementID: in.RequirementID, Purpose: in.Purpose, Name: name,
		ContentType: ct, Size: int64(len(in.Data)), SHA256: hex.EncodeToString(sum[:]), CreatedBy: actorLabel(p), CreatedAt: s.now()}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM market_files WHERE offering_id = ?", o.ID).Scan(&n); err != nil {
			return err
		}
		if n >= 100 {
			return apperr.New(apperr.Conflict, "An offering has at most 100 files; delete some first.")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO market_files (id, org_id, offering_id, requirement_id, purpose, name, content_type, size_bytes, sha256, data, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, f.OrgID, f.OfferingID, f.RequirementID, f.Purpose, f.Name, f.ContentType, f.Size, f.SHA256, in.Data, f.CreatedBy, db.TS(f.CreatedAt))
		if err != nil {
			return fmt.Errorf("marketplace: store file: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: f.OrgID, Action: "market.file.upload", TargetType: "file", TargetID: f.ID,
			Summary: fmt.Sprintf("Uploaded %s “%s” to “%s”", f.Purpose, f.Name, o.Name),
			After:   map[string]any{"name": f.Name, "content_type": f.ContentType, "size": f.Size, "sha256": f.SHA256, "requirement": f.RequirementID}})
	})
	return f, err
}

const fileColumns = "id, org_id, offering_id, requirement_id, purpose, name, content_type, size_bytes, sha256, created_by, created_at"

func scanFile(row interface{ Scan(...any) error }) (File, error) {
	var f File
	err := row.Scan(&f.ID, &f.OrgID, &f.OfferingID, &f.RequirementID, &f.Purpose, &f.Name, &f.ContentType, &f.Size, &f.SHA256, &f.CreatedBy, (*db.Time)(&f.CreatedAt))
	return f, err
}

// Documents returns an offering's public documents.
func (s *Service) Documents(ctx context.Context, p *authz.Principal, offeringID string) ([]File, error) {
	if _, err := s.GetOffering(ctx, p, offeringID); err != nil {
		return nil, err
	}
	return s.filesWhere(ctx, s.DB, "offering_id = ? AND purpose = 'document'", offeringID)
}

func (s *Service) filesWhere(ctx context.Context, q db.Queryer, where string, args ...any) ([]File, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+fileColumns+" FROM market_files WHERE "+where+" ORDER BY created_at, id", args...)
	if err != nil {
		return nil, fmt.Errorf("marketplace: files: %w", err)
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func (s *Service) evidenceFiles(ctx context.Context, q db.Queryer, offeringID string) (map[string][]File, error) {
	fs, err := s.filesWhere(ctx, q, "offering_id = ? AND purpose = 'evidence'", offeringID)
	out := map[string][]File{}
	for _, f := range fs {
		out[f.RequirementID] = append(out[f.RequirementID], f)
	}
	return out, err
}

// GetFile returns a file and its bytes: documents to whoever sees the
// offering, evidence to the provider and the office.
func (s *Service) GetFile(ctx context.Context, p *authz.Principal, fileID string) (File, []byte, error) {
	f, err := s.fileMeta(ctx, p, fileID)
	if err != nil {
		return File{}, nil, err
	}
	var data []byte
	if err := s.DB.QueryRowContext(ctx, "SELECT data FROM market_files WHERE id = ?", f.ID).Scan(&data); err != nil {
		return File{}, nil, fmt.Errorf("marketplace: read file: %w", err)
	}
	return f, data, nil
}

func (s *Service) fileMeta(ctx context.Context, p *authz.Principal, fileID string) (File, error) {
	if !id.Valid("fil", fileID) {
		return File{}, notFound("File")
	}
	f, err := scanFile(s.DB.QueryRowContext(ctx, "SELECT "+fileColumns+" FROM market_files WHERE id = ?", fileID))
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, notFound("File")
	}
	if err != nil {
		return File{}, fmt.Errorf("marketplace: file: %w", err)
	}
	if _, err := s.GetOffering(ctx, p, f.OfferingID); err != nil {
		return File{}, notFound("File")
	}
	if f.Purpose == FileEvidence {
		if err := s.Authz.Check(ctx, p, authz.MarketOfferingRead, f.OrgID); err != nil {
			return File{}, notFound("File")
		}
	}
	return f, nil
}

// DeleteFile removes a file (the provider's own people).
func (s *Service) DeleteFile(ctx context.Context, p *authz.Principal, fileID string) (File, error) {
	f, err := s.fileMeta(ctx, p, fileID)
	if err != nil {
		return File{}, err
	}
	if err := s.actFor(ctx, p, authz.MarketOfferingManage, f.OrgID, "Only the provider's own people change its offerings."); err != nil {
		return File{}, err
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM market_files WHERE id = ?", f.ID); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: f.OrgID, Action: "market.file.delete", TargetType: "file", TargetID: f.ID,
			Summary: fmt.Sprintf("Deleted %s “%s”", f.Purpose, f.Name), Before: map[string]any{"name": f.Name, "sha256": f.SHA256}})
	})
	return f, err
}
