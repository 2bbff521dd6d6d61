package memdynamo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/jsonwire"
)

// This file converts between the DynamoDB JSON 1.0 wire format and the
// SDK's input and output structs. The SDK's member names are the wire
// names, so one reflective walk serves every operation; attribute values
// use DynamoDB JSON ({"S": "x"}, {"N": "1"}, {"B": base64}, {"M": {...}},
// {"L": [...]}, {"SS": [...]}, {"BOOL": true}, {"NULL": true}).

var (
	avType   = reflect.TypeFor[types.AttributeValue]()
	timeType = reflect.TypeFor[time.Time]()
)

// decodeRequest fills the SDK input struct dst (a pointer) from body.
func decodeRequest(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return &wireError{code: "SerializationException", msg: "Start of structure or map found where not expected: " + err.Error()}
	}
	if raw == nil {
		raw = map[string]any{}
	}
	return assign(reflect.ValueOf(dst).Elem(), raw, "")
}

type wireError struct{ code, msg string }

func (e *wireError) Error() string { return e.code + ": " + e.msg }

func serialization(path string, want string) error {
	return &wireError{code: "SerializationException", msg: fmt.Sprintf("Unexpected value at %s: expected %s", path, want)}
}

func assign(v reflect.Value, raw any, path string) error {
	if raw == nil {
		return nil
	}
	if v.Type() == avType {
		av, err := decodeAV(raw, path)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(&av).Elem())
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		n := reflect.New(v.Type().Elem())
		if err := assign(n.Elem(), raw, path); err != nil {
			return err
		}
		v.Set(n)
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return serialization(path, "a string")
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return serialization(path, "a boolean")
		}
		v.SetBool(b)
	case reflect.Int32, reflect.Int64, reflect.Int:
		n, ok := raw.(json.Number)
		if !ok {
			return serialization(path, "a number")
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || v.OverflowInt(i) {
			return serialization(path, "an integer")
		}
		v.SetInt(i)
	case reflect.Float64:
		n, ok := raw.(json.Number)
		if !ok {
			return serialization(path, "a number")
		}
		f, err := n.Float64()
		if err != nil {
			return serialization(path, "a number")
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			s, ok := raw.(string)
			b, err := base64.StdEncoding.DecodeString(s)
			if !ok || err != nil {
				return serialization(path, "base64 bytes")
			}
			v.SetBytes(b)
			return nil
		}
		list, ok := raw.([]any)
		if !ok {
			return serialization(path, "a list")
		}
		s := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, e := range list {
			if err := assign(s.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok {
			return serialization(path, "a map")
		}
		out := reflect.MakeMapWithSize(v.Type(), len(m))
		for k, e := range m {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := assign(ev, e, path+"."+k); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
		v.Set(out)
	case reflect.Struct:
		if v.Type() == timeType {
			n, ok := raw.(json.Number)
			f, err := n.Float64()
			if !ok || err != nil {
				return serialization(path, "a timestamp")
			}
			sec, frac := math.Modf(f)
			v.Set(reflect.ValueOf(time.Unix(int64(sec), int64(frac*1e9)).UTC()))
			return nil
		}
		m, ok := raw.(map[string]any)
		if !ok {
			return serialization(path, "a structure")
		}
		for k, e := range m {
			f, ok := v.Type().FieldByName(k)
			if !ok || !f.IsExported() || len(f.Index) != 1 {
				continue // unknown members are ignored, as AWS does
			}
			if err := assign(v.Field(f.Index[0]), e, path+"."+k); err != nil {
				return err
			}
		}
	default:
		return serialization(path, v.Type().String())
	}
	return nil
}

func decodeAV(raw any, path string) (types.AttributeValue, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, serialization(path, "an AttributeValue")
	}
	if len(m) != 1 {
		if len(m) == 0 {
			return nil, validationf("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
		}
		return nil, validationf("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	for t, x := range m {
		strs := func() ([]string, error) {
			l, ok := x.([]any)
			if !ok {
				return nil, serialization(path+"."+t, "a list of strings")
			}
			out := make([]string, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, serialization(path+"."+t, "a list of strings")
				}
				out[i] = s
			}
			return out, nil
		}
		switch t {
		case "S", "N", "B":
			s, ok := x.(string)
			if !ok {
				return nil, serialization(path+"."+t, "a string")
			}
			switch t {
			case "S":
				return &types.AttributeValueMemberS{Value: s}, nil
			case "N":
				return &types.AttributeValueMemberN{Value: s}, nil
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, serialization(path+".B", "base64 bytes")
			}
			return &types.AttributeValueMemberB{Value: b}, nil
		case "BOOL", "NULL":
			b, ok := x.(bool)
			if !ok {
				return nil, serialization(path+"."+t, "a boolean")
			}
			if t == "BOOL" {
				return &types.AttributeValueMemberBOOL{Value: b}, nil
			}
			return &types.AttributeValueMemberNULL{Value: b}, nil
		case "M":
			mm, ok := x.(map[string]any)
			if !ok {
				return nil, serialization(path+".M", "a map")
			}
			out := make(item, len(mm))
			for k, e := range mm {
				v, err := decodeAV(e, path+".M."+k)
				if err != nil {
					return nil, err
				}
				out[k] = v
			}
			return &types.AttributeValueMemberM{Value: out}, nil
		case "L":
			l, ok := x.([]any)
			if !ok {
				return nil, serialization(path+".L", "a list")
			}
			out := make([]types.AttributeValue, len(l))
			for i, e := range l {
				v, err := decodeAV(e, fmt.Sprintf("%s.L[%d]", path, i))
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return &types.AttributeValueMemberL{Value: out}, nil
		case "SS", "NS":
			s, err := strs()
			if err != nil {
				return nil, err
			}
			if t == "SS" {
				return &types.AttributeValueMemberSS{Value: s}, nil
			}
			return &types.AttributeValueMemberNS{Value: s}, nil
		case "BS":
			s, err := strs()
			if err != nil {
				return nil, err
			}
			out := make([][]byte, len(s))
			for i, e := range s {
				b, err := base64.StdEncoding.DecodeString(e)
				if err != nil {
					return nil, serialization(path+".BS", "base64 bytes")
				}
				out[i] = b
			}
			return &types.AttributeValueMemberBS{Value: out}, nil
		}
		return nil, validationf("Supplied AttributeValue has an unknown datatype %s", t)
	}
	return nil, nil
}

// encode appends the JSON of an SDK output value: nil pointers, nil
// slices and maps and empty enums are left out; ResultMetadata is skipped.
func encode(b []byte, v reflect.Value) []byte {
	if v.Type() == avType {
		if v.IsNil() {
			return append(b, "null"...)
		}
		return appendAV(b, v.Interface().(types.AttributeValue))
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return append(b, "null"...)
		}
		return encode(b, v.Elem())
	case reflect.String:
		return jsonwire.AppendString(b, v.String())
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.Int32, reflect.Int64, reflect.Int:
		return strconv.AppendInt(b, v.Int(), 10)
	case reflect.Float64:
		return strconv.AppendFloat(b, v.Float(), 'g', -1, 64)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return jsonwire.AppendString(b, base64.StdEncoding.EncodeToString(v.Bytes()))
		}
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			b = encode(b, v.Index(i))
		}
		return append(b, ']')
	case reflect.Map:
		b = append(b, '{')
		iter := v.MapRange()
		first := true
		for iter.Next() {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = jsonwire.AppendString(b, iter.Key().String())
			b = append(b, ':')
			b = encode(b, iter.Value())
		}
		return append(b, '}')
	case reflect.Struct:
		if v.Type() == timeType {
			t := v.Interface().(time.Time)
			return strconv.AppendFloat(b, float64(t.UnixNano())/1e9, 'f', 3, 64)
		}
		b = append(b, '{')
		first := true
		for i := range v.NumField() {
			f := v.Type().Field(i)
			fv := v.Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" || omit(fv) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = jsonwire.AppendString(b, f.Name)
			b = append(b, ':')
			b = encode(b, fv)
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

func omit(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return v.IsNil()
	case reflect.String:
		return v.Len() == 0
	}
	return false
}

// appendAV appends v in DynamoDB JSON.
func appendAV(b []byte, v types.AttributeValue) []byte {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return append(jsonwire.AppendString(append(b, `{"S":`...), x.Value), '}')
	case *types.AttributeValueMemberN:
		return append(jsonwire.AppendString(append(b, `{"N":`...), x.Value), '}')
	case *types.AttributeValueMemberB:
		return append(jsonwire.AppendString(append(b, `{"B":`...), base64.StdEncoding.EncodeToString(x.Value)), '}')
	case *types.AttributeValueMemberBOOL:
		return append(strconv.AppendBool(append(b, `{"BOOL":`...), x.Value), '}')
	case *types.AttributeValueMemberNULL:
		return append(strconv.AppendBool(append(b, `{"NULL":`...), x.Value), '}')
	case *types.AttributeValueMemberM:
		return append(appendItem(append(b, `{"M":`...), x.Value), '}')
	case *types.AttributeValueMemberL:
		b = append(b, `{"L":[`...)
		for i, e := range x.Value {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAV(b, e)
		}
		return append(b, "]}"...)
	case *types.AttributeValueMemberSS:
		return append(appendStrings(append(b, `{"SS":`...), x.Value), '}')
	case *types.AttributeValueMemberNS:
		return append(appendStrings(append(b, `{"NS":`...), x.Value), '}')
	case *types.AttributeValueMemberBS:
		s := make([]string, len(x.Value))
		for i, e := range x.Value {
			s[i] = base64.StdEncoding.EncodeToString(e)
		}
		return append(appendStrings(append(b, `{"BS":`...), s), '}')
	}
	return append(b, "null"...)
}

func appendItem(b []byte, m item) []byte {
	b = append(b, '{')
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonwire.AppendString(b, k)
		b = append(b, ':')
		b = appendAV(b, v)
	}
	return append(b, '}')
}

func appendStrings(b []byte, s []string) []byte {
	b = append(b, '[')
	for i, e := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonwire.AppendString(b, e)
	}
	return append(b, ']')
}
