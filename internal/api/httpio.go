package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// readBody reads the request body, at most MaxBodyBytes, and checks that a
// non-empty body is JSON.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return nil, errorf(http.StatusUnsupportedMediaType, codeUnsupportedMedia,
			"the body must be JSON (Content-Type application/json), not %q", ct)
	}
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, codeTooLarge,
				"the body is larger than %d bytes", MaxBodyBytes)
		}
		return nil, errorf(http.StatusBadRequest, codeMalformed, "read body: %v", err)
	}
	if len(b) > 0 && r.Header.Get("Content-Type") == "" {
		return nil, errorf(http.StatusUnsupportedMediaType, codeUnsupportedMedia,
			"the body must be JSON; send Content-Type: application/json")
	}
	return b, nil
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// decodeStrict decodes one JSON value from b into v, refusing unknown
// fields and trailing data, and naming the offending field in the error.
func decodeStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return fieldError(http.StatusBadRequest, codeMalformed, "body", "a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldError(http.StatusBadRequest, codeMalformed, "body", "unexpected data after the JSON value")
	}
	return nil
}

func decodeError(err error) *apiError {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fieldError(http.StatusBadRequest, codeMalformed, "body", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fieldError(http.StatusBadRequest, codeMalformed, "body", "the JSON ends too early")
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return fieldError(http.StatusBadRequest, codeMalformed, "body", "must be a JSON %s, got %s", jsonTypeName(te.Type.Kind().String()), te.Value)
		}
		return fieldError(http.StatusBadRequest, codeValidation, field, "must be a JSON %s, got %s", jsonTypeName(te.Type.Kind().String()), te.Value)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return fieldError(http.StatusBadRequest, codeValidation, name, "is not a known field")
	}
	return fieldError(http.StatusBadRequest, codeMalformed, "body", "%s", strings.TrimPrefix(msg, "json: "))
}

func jsonTypeName(goKind string) string {
	switch goKind {
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	}
	return "value"
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"InternalError","message":"encode response"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// etag is the entity version as a strong entity tag.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch parses an If-Match header holding one version. any is true for "*".
func ifMatch(r *http.Request) (version int64, present, any bool, err error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" {
		return 0, false, false, nil
	}
	if v == "*" {
		return 0, true, true, nil
	}
	v = strings.TrimPrefix(v, "W/")
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	n, perr := strconv.ParseInt(v, 10, 64)
	if perr != nil || n < 1 {
		return 0, true, false, fieldError(http.StatusBadRequest, codeValidation, "If-Match",
			"must be one ETag this API returned, such as \"3\"")
	}
	return n, true, false, nil
}
