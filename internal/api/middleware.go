package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

var logOutput = os.Stderr

type ctxKey int

const requestIDKey ctxKey = 1

// requestID is the request's id: API Gateway's when the request came through
// it, else one generated here.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Anonymous is the principal of requests that carry no IAM identity (local mode).
const Anonymous = "anonymous"

// principal is who made the request: the IAM identity API Gateway verified
// (from the Lambda adapter's context), else Anonymous. Headers are never
// trusted for identity.
func principal(r *http.Request) string {
	if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && gw.Authorizer != nil && gw.Authorizer.IAM != nil {
		if arn := gw.Authorizer.IAM.UserARN; arn != "" {
			return arn
		}
		if id := gw.Authorizer.IAM.UserID; id != "" {
			return id
		}
	}
	return Anonymous
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status and size written.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// accessLog assigns the request id (echoed in X-Request-Id) and writes one
// JSON log line per request: id, method, path, status, duration. Bodies are
// never logged.
func (h *Handler) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := ""
		if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
			id = gw.RequestID
		}
		if id == "" {
			id = newRequestID()
		}
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		h.log.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		)
	})
}
