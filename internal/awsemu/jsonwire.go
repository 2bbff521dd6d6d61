package awsemu

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"time"

	smithy "github.com/aws/smithy-go"
	"github.com/aws/smithy-go/document"
	"github.com/aws/smithy-go/traits"

	"github.com/ecsflow/ecsflow/internal/jsonwire"
)

// jsonWriter is a smithy.ShapeSerializer that writes the awsJson1_x body of a
// shape. The SDK's output types describe themselves to it through their
// schemas, so member names and shapes on the wire are exactly the model's.
type jsonWriter struct {
	buf   []byte
	stack []frame
}

type frameKind uint8

const (
	frameObject frameKind = iota // struct or union: members carry keys
	frameList
	frameMap // a key was written by WriteKey; the value follows
)

type frame struct {
	kind  frameKind
	comma bool
	keyed bool // map: a key is pending
}

var _ smithy.ShapeSerializer = (*jsonWriter)(nil)

func (w *jsonWriter) Bytes() []byte { return w.buf }

// prefix writes the separator and, inside an object, the member key.
func (w *jsonWriter) prefix(s *smithy.Schema) {
	if len(w.stack) == 0 {
		return
	}
	f := &w.stack[len(w.stack)-1]
	switch f.kind {
	case frameMap:
		if f.keyed {
			f.keyed = false
			return
		}
		if f.comma {
			w.buf = append(w.buf, ',')
		}
		f.comma = true
	case frameList:
		if f.comma {
			w.buf = append(w.buf, ',')
		}
		f.comma = true
	case frameObject:
		if f.comma {
			w.buf = append(w.buf, ',')
		}
		f.comma = true
		name := ""
		if s != nil {
			name = s.MemberName()
		}
		w.str(name)
		w.buf = append(w.buf, ':')
	}
}

func (w *jsonWriter) str(v string) {
	w.buf = jsonwire.AppendStringHTML(w.buf, v)
}

func (w *jsonWriter) WriteInt8(s *smithy.Schema, v int8)   { w.WriteInt64(s, int64(v)) }
func (w *jsonWriter) WriteInt16(s *smithy.Schema, v int16) { w.WriteInt64(s, int64(v)) }
func (w *jsonWriter) WriteInt32(s *smithy.Schema, v int32) { w.WriteInt64(s, int64(v)) }
func (w *jsonWriter) WriteInt64(s *smithy.Schema, v int64) {
	w.prefix(s)
	w.buf = strconv.AppendInt(w.buf, v, 10)
}
func (w *jsonWriter) WriteFloat32(s *smithy.Schema, v float32) { w.float(s, float64(v), 32) }
func (w *jsonWriter) WriteFloat64(s *smithy.Schema, v float64) { w.float(s, v, 64) }

func (w *jsonWriter) float(s *smithy.Schema, v float64, bits int) {
	w.prefix(s)
	switch {
	case math.IsNaN(v):
		w.buf = append(w.buf, `"NaN"`...)
	case math.IsInf(v, 1):
		w.buf = append(w.buf, `"Infinity"`...)
	case math.IsInf(v, -1):
		w.buf = append(w.buf, `"-Infinity"`...)
	default:
		w.buf = strconv.AppendFloat(w.buf, v, 'f', -1, bits)
	}
}

func (w *jsonWriter) WriteBool(s *smithy.Schema, v bool) {
	w.prefix(s)
	w.buf = strconv.AppendBool(w.buf, v)
}

func (w *jsonWriter) WriteString(s *smithy.Schema, v string) {
	w.prefix(s)
	w.str(v)
}

func (w *jsonWriter) WriteBigInt(s *smithy.Schema, v *big.Int) {
	w.prefix(s)
	w.buf = v.Append(w.buf, 10)
}

func (w *jsonWriter) WriteBigFloat(s *smithy.Schema, v *big.Float) {
	w.prefix(s)
	w.buf = v.Append(w.buf, 'g', -1)
}

func (w *jsonWriter) WriteBlob(s *smithy.Schema, v []byte) {
	w.prefix(s)
	w.str(base64.StdEncoding.EncodeToString(v))
}

// WriteTime writes epoch seconds (the awsJson default) unless the member
// carries a timestampFormat trait.
func (w *jsonWriter) WriteTime(s *smithy.Schema, v time.Time) {
	w.prefix(s)
	if s != nil {
		if tf, ok := smithy.SchemaTrait[*traits.TimestampFormat](s); ok {
			switch tf.Format {
			case "date-time":
				w.str(v.UTC().Format(time.RFC3339Nano))
				return
			case "http-date":
				w.str(v.UTC().Format(http.TimeFormat))
				return
			}
		}
	}
	ms := v.UnixMilli()
	w.buf = strconv.AppendFloat(w.buf, float64(ms)/1000, 'f', -1, 64)
}

func (w *jsonWriter) WriteUnion(s, variant *smithy.Schema) {
	w.prefix(s)
	w.buf = append(w.buf, '{')
	w.stack = append(w.stack, frame{kind: frameObject})
}

func (w *jsonWriter) CloseUnion() { w.close('}') }

func (w *jsonWriter) WriteDocument(s *smithy.Schema, v document.Value) {
	w.prefix(s)
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	w.buf = append(w.buf, b...)
}

func (w *jsonWriter) WriteNil(s *smithy.Schema) {
	w.prefix(s)
	w.buf = append(w.buf, "null"...)
}

func (w *jsonWriter) WriteStruct(s *smithy.Schema) {
	w.prefix(s)
	w.buf = append(w.buf, '{')
	w.stack = append(w.stack, frame{kind: frameObject})
}

func (w *jsonWriter) CloseStruct() { w.close('}') }

func (w *jsonWriter) WriteList(s *smithy.Schema) {
	w.prefix(s)
	w.buf = append(w.buf, '[')
	w.stack = append(w.stack, frame{kind: frameList})
}

func (w *jsonWriter) CloseList() { w.close(']') }

func (w *jsonWriter) WriteMap(s *smithy.Schema) {
	w.prefix(s)
	w.buf = append(w.buf, '{')
	w.stack = append(w.stack, frame{kind: frameMap})
}

func (w *jsonWriter) WriteKey(s *smithy.Schema, key string) {
	f := &w.stack[len(w.stack)-1]
	if f.comma {
		w.buf = append(w.buf, ',')
	}
	f.comma = true
	w.str(key)
	w.buf = append(w.buf, ':')
	f.keyed = true
}

func (w *jsonWriter) CloseMap() { w.close('}') }

func (w *jsonWriter) close(c byte) {
	if len(w.stack) > 0 {
		w.stack = w.stack[:len(w.stack)-1]
	}
	w.buf = append(w.buf, c)
}

// maxBody caps every request body the emulator reads.
const maxBody = 10 << 20

// apiError is an error as an AWS service reports it.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Common awsJson error codes.
const (
	codeInvalidParameter = "InvalidParameterException"
	codeClusterNotFound  = "ClusterNotFoundException"
	codeServiceNotFound  = "ServiceNotFoundException"
	codeServiceNotActive = "ServiceNotActiveException"
	codeClient           = "ClientException"
	codeSerialization    = "SerializationException"
	codeUnknownOperation = "UnknownOperationException"
	codeThrottling       = "ThrottlingException"
	codeValidation       = "ValidationException"
)

// writeJSONError writes an awsJson1_x error: status, x-amzn-ErrorType and a
// body with __type and message.
func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	b := make([]byte, 0, 64+len(message))
	b = append(b, `{"__type":`...)
	b = jsonwire.AppendStringHTML(b, code)
	b = append(b, `,"message":`...)
	b = jsonwire.AppendStringHTML(b, message)
	b = append(b, '}')
	_, _ = w.Write(b)
}

func writeAPIError(w http.ResponseWriter, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeJSONError(w, ae.Status, ae.Code, ae.Message)
		return
	}
	writeJSONError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
}

// decodeInput reads an awsJson1_x request body into in. Member names are
// matched as the model spells them (encoding/json also accepts other cases).
func decodeInput(body []byte, in any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, in); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return errf(codeSerialization, "cannot deserialize field %q: expected %s, got %s", ute.Field, ute.Type, ute.Value)
		}
		return errf(codeSerialization, "malformed request body: %v", err)
	}
	return nil
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(b) > maxBody {
		return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeSerialization, Message: "request body exceeds 10 MiB"}
	}
	return b, nil
}

// encodeOutput appends an operation's output, as an awsJson body, to buf.
func encodeOutput(buf []byte, v any) []byte {
	if s, ok := v.(smithy.Serializable); ok {
		jw := jsonWriter{buf: buf, stack: make([]frame, 0, 16)}
		s.Serialize(&jw)
		return jw.buf
	}
	return appendReflect(buf, reflect.ValueOf(v))
}

// bufPool recycles response buffers; outsized ones are dropped.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

var timeType = reflect.TypeOf(time.Time{})

// appendReflect encodes SDK structs whose wire member names equal their Go
// field names (the older, non-schema SDK code generation): nil pointers and
// slices are omitted, timestamps are epoch seconds, and unexported fields
// and ResultMetadata are skipped.
func appendReflect(b []byte, v reflect.Value) []byte {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return append(b, "null"...)
		}
		v = v.Elem()
	}
	if v.Type() == timeType {
		t := v.Interface().(time.Time)
		return strconv.AppendFloat(b, float64(t.UnixMilli())/1000, 'f', -1, 64)
	}
	switch v.Kind() {
	case reflect.Struct:
		b = append(b, '{')
		first := true
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" {
				continue
			}
			fv := v.Field(i)
			switch fv.Kind() {
			case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
				if fv.IsNil() {
					continue
				}
			case reflect.String:
				if fv.Len() == 0 { // unset enum
					continue
				}
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = jsonwire.AppendStringHTML(b, f.Name)
			b = append(b, ':')
			b = appendReflect(b, fv)
		}
		return append(b, '}')
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return jsonwire.AppendStringHTML(b, base64.StdEncoding.EncodeToString(v.Bytes()))
		}
		b = append(b, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendReflect(b, v.Index(i))
		}
		return append(b, ']')
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonwire.AppendStringHTML(b, k.String())
			b = append(b, ':')
			b = appendReflect(b, v.MapIndex(k))
		}
		return append(b, '}')
	case reflect.String:
		return jsonwire.AppendStringHTML(b, v.String())
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(b, v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	return append(b, "null"...)
}
