package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// readBody decodes a POST's JSON body into v, answering the request itself
// (403, 413, 415 or 400 naming the field) when it cannot. shape shows the
// expected body in error messages.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	if !s.originAllowed(r) {
		writeError(w, http.StatusForbidden, "Origin", "requests from origin "+truncate(r.Header.Get("Origin"), 100)+" are not allowed")
		return false
	}
	// Requiring JSON also keeps plain HTML forms on other sites from
	// posting here (they cannot set this type without a CORS preflight).
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type", "send the body as application/json: "+shape)
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			writeError(w, http.StatusRequestEntityTooLarge, "body", fmt.Sprintf("body larger than %d bytes", MaxBodyBytes))
		case errors.As(err, &typ):
			writeError(w, http.StatusBadRequest, typ.Field, fmt.Sprintf("field %q must be a %s", typ.Field, typ.Type))
		case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			writeError(w, http.StatusBadRequest, "body", "body is not a JSON object: "+err.Error())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			writeError(w, http.StatusBadRequest, truncate(field, 64), "unknown field "+err.Error()[len("json: unknown field "):]+" (want "+shape+")")
		default:
			writeError(w, http.StatusBadRequest, "body", "body: "+err.Error())
		}
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "body", "body has data after the JSON object")
		return false
	}
	return true
}
