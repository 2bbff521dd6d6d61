package memdynamo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/ecsflow/ecsflow/internal/jsonwire"
)

// maxRequestBytes bounds a request body (DynamoDB's limit is 16 MB for
// BatchWriteItem; every other request is smaller).
const maxRequestBytes = 16 << 20

const targetPrefix = "DynamoDB_20120810."

// errNamespace prefixes the error types on the wire, as DynamoDB sends them.
const errNamespace = "com.amazonaws.dynamodb.v20120810#"

// operation adapts one DB method to the wire.
type operation struct {
	newInput func() any
	call     func(ctx context.Context, in any) (any, error)
}

func op[I, O any](f func(context.Context, *I, ...func(*dynamodb.Options)) (*O, error)) operation {
	return operation{
		newInput: func() any { return new(I) },
		call:     func(ctx context.Context, in any) (any, error) { return f(ctx, in.(*I)) },
	}
}

func (db *DB) operations() map[string]operation {
	return map[string]operation{
		"GetItem":            op(db.GetItem),
		"PutItem":            op(db.PutItem),
		"UpdateItem":         op(db.UpdateItem),
		"DeleteItem":         op(db.DeleteItem),
		"Query":              op(db.Query),
		"Scan":               op(db.Scan),
		"TransactWriteItems": op(db.TransactWriteItems),
		"TransactGetItems":   op(db.TransactGetItems),
		"BatchGetItem":       op(db.BatchGetItem),
		"BatchWriteItem":     op(db.BatchWriteItem),
		"CreateTable":        op(db.CreateTable),
		"DescribeTable":      op(db.DescribeTable),
		"DeleteTable":        op(db.DeleteTable),
		"ListTables":         op(db.ListTables),
		"UpdateTimeToLive":   op(db.UpdateTimeToLive),
		"DescribeTimeToLive": op(db.DescribeTimeToLive),
	}
}

// Handler serves the database over DynamoDB's JSON 1.0 protocol (POST,
// X-Amz-Target: DynamoDB_20120810.<Operation>), so the real SDK client,
// pointed at it with BaseEndpoint, works. Signatures are not checked.
func (db *DB) Handler() http.Handler {
	return &handler{db: db, ops: db.operations()}
}

type handler struct {
	db  *DB
	ops map[string]operation
	seq atomic.Uint64 // request ids
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A request id, as DynamoDB sends one (the SDK puts it in its errors).
	w.Header().Set("X-Amzn-Requestid", "memdynamo-"+strconv.FormatUint(h.seq.Add(1), 10))
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "DynamoDB takes POST requests")
		return
	}
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, targetPrefix)
	o, known := h.ops[name]
	if !ok || !known {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "unknown operation "+target)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "read the request: "+err.Error())
		return
	}
	if len(body) > maxRequestBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "ValidationException", "request too large")
		return
	}
	in := o.newInput()
	if err := decodeRequest(body, in); err != nil {
		h.fail(w, err)
		return
	}
	out, err := o.call(r.Context(), in)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeBody(w, http.StatusOK, encode(make([]byte, 0, 512), reflect.ValueOf(out)))
}

func (h *handler) fail(w http.ResponseWriter, err error) {
	var (
		we  *wireError
		ccf *types.ConditionalCheckFailedException
		tce *types.TransactionCanceledException
		api smithy.APIError
	)
	switch {
	case errors.As(err, &we):
		writeError(w, http.StatusBadRequest, we.code, we.msg)
	case errors.As(err, &ccf):
		b := []byte(`{"__type":"` + errNamespace + `ConditionalCheckFailedException","message":`)
		b = jsonwire.AppendString(b, ccf.ErrorMessage())
		if ccf.Item != nil {
			b = appendItem(append(b, `,"Item":`...), ccf.Item)
		}
		writeBody(w, http.StatusBadRequest, append(b, '}'))
	case errors.As(err, &tce):
		b := []byte(`{"__type":"` + errNamespace + `TransactionCanceledException","Message":`)
		b = jsonwire.AppendString(b, tce.ErrorMessage())
		b = append(b, `,"CancellationReasons":`...)
		b = encode(b, reflect.ValueOf(tce.CancellationReasons))
		writeBody(w, http.StatusBadRequest, append(b, '}'))
	case errors.As(err, &api):
		code := api.ErrorCode()
		if code == "ValidationException" {
			writeError(w, http.StatusBadRequest, "com.amazon.coral.validate#ValidationException", api.ErrorMessage())
			return
		}
		writeError(w, http.StatusBadRequest, errNamespace+code, api.ErrorMessage())
	default:
		writeError(w, http.StatusInternalServerError, errNamespace+"InternalServerError", err.Error())
	}
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	if !strings.Contains(typ, "#") {
		typ = errNamespace + typ
	}
	b := jsonwire.AppendString([]byte(`{"__type":`), typ)
	b = jsonwire.AppendString(append(b, `,"message":`...), msg)
	writeBody(w, status, append(b, '}'))
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
