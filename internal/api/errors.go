package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// Error codes, stable for clients.
const (
	codeValidation           = "ValidationError"
	codeMalformed            = "MalformedRequest"
	codeInvalidReference     = "InvalidReference"
	codeNotFound             = "NotFound"
	codeNoRoute              = "NoRoute"
	codeMethodNotAllowed     = "MethodNotAllowed"
	codeAlreadyExists        = "AlreadyExists"
	codeReferenced           = "Referenced"
	codeLockHeld             = "LockHeld"
	codeWrongState           = "InvalidDeploymentState"
	codeNoEngine             = "EngineUnavailable"
	codePreconditionFailed   = "PreconditionFailed"
	codePreconditionRequired = "PreconditionRequired"
	codeTooLarge             = "PayloadTooLarge"
	codeUnsupportedMedia     = "UnsupportedMediaType"
	codeStartFailed          = "StartFailed"
	codeArtifactUnavailable  = "ArtifactUnavailable"
	codeInternal             = "InternalError"
)

// ErrorBody is the JSON every error answers with.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong; Fields name the offending input by path.
// ReferencedBy lists, for a refused delete, who still points at the entity.
type ErrorDetail struct {
	Code         string             `json:"code"`
	Message      string             `json:"message"`
	Fields       []model.FieldError `json:"fields,omitempty"`
	ReferencedBy []Referrer         `json:"referencedBy,omitempty"`
}

// Referrer is an entity that references the one being deleted, and the field.
type Referrer struct {
	Kind  model.Kind `json:"kind"`
	ID    string     `json:"id"`
	Field string     `json:"field"`
}

// apiError is an error with its HTTP status.
type apiError struct {
	status int
	body   ErrorDetail
	cause  error // logged for 5xx, never sent
}

func (e *apiError) Error() string { return e.body.Code + ": " + e.body.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, body: ErrorDetail{Code: code, Message: fmt.Sprintf(format, args...)}}
}

func fieldError(status int, code, field, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	return &apiError{status: status, body: ErrorDetail{Code: code, Message: field + ": " + msg,
		Fields: []model.FieldError{{Field: field, Message: msg}}}}
}

func validationError(fields []model.FieldError) *apiError {
	ve := &model.ValidationError{Fields: fields}
	return &apiError{status: http.StatusBadRequest, body: ErrorDetail{Code: codeValidation,
		Message: ve.Error(), Fields: fields}}
}

// ErrWrongState is returned (wrapped) by a Controller when the deployment is
// not in a status that accepts the request; the API answers 409.
var ErrWrongState = errors.New("deployment is not in a state that accepts this request")

// ErrNoEngine is returned (wrapped) when no deployment engine is connected to
// act on a request; the API answers 409 for control requests and 503 for
// starts.
var ErrNoEngine = errors.New("no deployment engine is connected")

// toAPIError maps any error from the store, the model or a collaborator to
// the API's answer.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ve *model.ValidationError
	if errors.As(err, &ve) {
		return validationError(ve.Fields)
	}
	var refd *store.ReferencedError
	if errors.As(err, &refd) {
		parts := make([]string, len(refd.By))
		by := make([]Referrer, len(refd.By))
		for i, r := range refd.By {
			parts[i] = fmt.Sprintf("%s %s (%s)", r.Kind, r.ID, r.Field)
			by[i] = Referrer{Kind: r.Kind, ID: r.ID, Field: r.Field}
		}
		msg := "the entity is still referenced"
		if len(parts) > 0 {
			msg += " by " + strings.Join(parts, ", ")
		}
		return &apiError{status: http.StatusConflict, body: ErrorDetail{Code: codeReferenced, Message: msg, ReferencedBy: by}}
	}
	var inv *store.InvalidReferenceError
	if errors.As(err, &inv) {
		fields := make([]model.FieldError, 0, len(inv.Refs))
		for _, r := range inv.Refs {
			fields = append(fields, model.FieldError{Field: r.Field, Message: fmt.Sprintf("no %s with id %q", r.Kind, r.ID)})
		}
		if len(fields) == 0 {
			fields = append(fields, model.FieldError{Field: "body", Message: err.Error()})
		}
		return &apiError{status: http.StatusBadRequest, body: ErrorDetail{Code: codeInvalidReference,
			Message: (&model.ValidationError{Fields: fields}).Error(), Fields: fields}}
	}
	var held *store.LeaseHeldError
	if errors.As(err, &held) {
		return errorf(http.StatusConflict, codeLockHeld, "%s is locked by %s until %s",
			held.Key, held.Holder, held.Expires.UTC().Format("2006-01-02T15:04:05Z"))
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, codeNotFound, "%s", err.Error())
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusPreconditionFailed, codePreconditionFailed,
			"the entity changed since the version in If-Match; GET it again and retry")
	case errors.Is(err, store.ErrAlreadyExists):
		return fieldError(http.StatusConflict, codeAlreadyExists, "name", "%s", err.Error())
	case errors.Is(err, store.ErrReferenced):
		return errorf(http.StatusConflict, codeReferenced, "%s", err.Error())
	case errors.Is(err, store.ErrInvalidReference):
		return errorf(http.StatusBadRequest, codeInvalidReference, "%s", err.Error())
	case errors.Is(err, store.ErrLeaseHeld):
		return errorf(http.StatusConflict, codeLockHeld, "%s", err.Error())
	case errors.Is(err, store.ErrBadFilter):
		return fieldError(http.StatusBadRequest, codeValidation, "appId", "%s", err.Error())
	case errors.Is(err, store.ErrBadCursor):
		return fieldError(http.StatusBadRequest, codeValidation, "cursor", "is not a cursor this API returned")
	case errors.Is(err, ErrWrongState):
		return errorf(http.StatusConflict, codeWrongState, "%s", err.Error())
	case errors.Is(err, ErrNoEngine):
		return errorf(http.StatusConflict, codeNoEngine, "%s", err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusServiceUnavailable, body: ErrorDetail{Code: codeInternal,
			Message: "the request was cancelled or timed out"}, cause: err}
	}
	return &apiError{status: http.StatusInternalServerError,
		body: ErrorDetail{Code: codeInternal, Message: "internal error; see the logs for the request id"}, cause: err}
}

// writeError answers err as JSON; 5xx causes are logged, never sent.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.status >= 500 {
		h.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(r.Context())), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Any("error", errOrSelf(ae)))
	}
	writeJSON(w, ae.status, ErrorBody{Error: ae.body})
}

func errOrSelf(ae *apiError) error {
	if ae.cause != nil {
		return ae.cause
	}
	return ae
}
