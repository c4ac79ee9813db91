package web

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Doc documents an API route for the OpenAPI document.
type Doc struct {
	Summary     string
	Description string
	Tag         string
	Query       []Param
	// Request and Response are zero values of the body types; their JSON
	// shape is derived by reflection, so the document follows the code.
	Request  any
	Response any
	// Status is the success status (default 200).
	Status int
	// ContentType of a non-JSON success response (e.g. application/x-ndjson).
	ContentType string
}

// Param documents a query parameter.
type Param struct {
	Name        string
	Description string
	Type        string // string, integer, boolean
	Required    bool
	Enum        []string
}

var pathParamRE = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)\}`)

// OpenAPI builds the OpenAPI 3.1 document of every registered API route.
func (k *Kit) OpenAPI() map[string]any {
	schemas := map[string]any{
		"Error": map[string]any{
			"type": "object", "required": []string{"error"},
			"properties": map[string]any{"error": map[string]any{
				"type": "object", "required": []string{"code", "message"},
				"properties": map[string]any{
					"code":    map[string]any{"type": "string", "enum": []string{"invalid", "not_found", "conflict", "unauthorized", "forbidden", "rate_limited", "internal"}},
					"message": map[string]any{"type": "string", "description": "A sentence for people."},
					"fields":  map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": "Per-field messages for invalid input."},
				},
			}},
		},
	}
	gen := &schemaGen{schemas: schemas}
	paths := map[string]map[string]any{}
	opIDs := map[string]int{}
	for _, rt := range k.Router.Routes() {
		if !rt.API || rt.Doc == nil {
			continue
		}
		d := rt.Doc
		op := map[string]any{"summary": d.Summary, "operationId": operationID(rt, opIDs)}
		if d.Description != "" {
			op["description"] = d.Description
		}
		if d.Tag != "" {
			op["tags"] = []string{d.Tag}
		}
		var params []any
		for _, m := range pathParamRE.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range d.Query {
			typ := q.Type
			if typ == "" {
				typ = "string"
			}
			s := map[string]any{"type": typ}
			if len(q.Enum) > 0 {
				s["enum"] = q.Enum
			}
			params = append(params, map[string]any{"name": q.Name, "in": "query", "required": q.Required, "description": q.Description, "schema": s})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if d.Request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": gen.schema(reflect.TypeOf(d.Request))}}}
		}
		status := d.Status
		if status == 0 {
			status = http.StatusOK
		}
		okResp := map[string]any{"description": http.StatusText(status)}
		if d.Response != nil {
			ct := d.ContentType
			if ct == "" {
				ct = "application/json"
			}
			okResp["content"] = map[string]any{ct: map[string]any{"schema": gen.schema(reflect.TypeOf(d.Response))}}
		}
		errResp := func(text string) map[string]any {
			return map[string]any{"description": text, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
		}
		responses := map[string]any{itoa(status): okResp, "default": errResp("Error")}
		if rt.Access == Token {
			responses["401"] = errResp("Missing, revoked or expired token")
			responses["404"] = errResp("Not found, or not visible to this token's organization")
		}
		if d.Request != nil {
			responses["422"] = errResp("Invalid input; nothing changed")
		}
		op["responses"] = responses
		if rt.Access == Token {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		} else {
			op["security"] = []any{}
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "qsmo API", "version": "1",
			"description": "The JSON API of qsmo, the cybersecurity shared-services office platform. Authenticate with an API token: `Authorization: Bearer qsmo_...`. Tokens act for one organization with one role; records of other organizations answer 404."},
		"servers":    []any{map[string]any{"url": "/"}},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "An API token created on the organization's API tokens page or with `qsmo token create`."}}},
	}
}

func itoa(n int) string { return jsonNumber(n) }

func jsonNumber(n int) string { b, _ := json.Marshal(n); return string(b) }

func operationID(rt Route, seen map[string]int) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, part := range strings.Split(strings.TrimPrefix(rt.Path, "/api/v1/"), "/") {
		part = strings.Trim(part, "{}")
		if part == "" {
			continue
		}
		for _, w := range strings.FieldsFunc(part, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	id := b.String()
	seen[id]++
	if seen[id] > 1 {
		id += jsonNumber(seen[id])
	}
	return id
}

type schemaGen struct {
	schemas map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.String:
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return map[string]any{"type": "number"}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case t.Kind() == reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case t.Kind() == reflect.Interface:
		return map[string]any{}
	case t.Kind() == reflect.Struct:
		name := t.Name()
		if name == "" {
			return g.object(t)
		}
		if _, ok := g.schemas[name]; !ok {
			g.schemas[name] = map[string]any{} // placeholder against recursion
			g.schemas[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			// Embedded structs are flattened by encoding/json.
			inner := g.object(f.Type)
			for k, v := range inner["properties"].(map[string]any) {
				props[k] = v
			}
			if req, ok := inner["required"].([]string); ok {
				required = append(required, req...)
			}
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		s := g.schema(f.Type)
		if desc := f.Tag.Get("doc"); desc != "" {
			if _, isRef := s["$ref"]; isRef {
				s = map[string]any{"allOf": []any{s}, "description": desc}
			} else {
				s["description"] = desc
			}
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			required = append(required, name)
		}
	}
	sort.Strings(required)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// ServeOpenAPI serves the document at /api/openapi.json.
func (k *Kit) ServeOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(k.OpenAPI())
}
