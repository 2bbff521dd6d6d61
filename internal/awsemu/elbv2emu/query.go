package elbv2emu

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Namespace is the XML namespace of ELBv2 awsQuery responses.
const Namespace = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// APIVersion is the awsQuery Version parameter the SDK sends.
const APIVersion = "2015-12-01"

// Limits on what a request may carry; beyond them the request is refused
// with a ValidationError rather than parsed.
const (
	maxBodyBytes  = 1 << 20
	maxKeyDepth   = 12
	maxListIndex  = 1000
	maxFormFields = 10000
)

// apiError is an awsQuery error: HTTP status, error code and message.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func validationf(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "ValidationError", format, args...)
}

// formNode is one level of a decoded awsQuery form: "A.member.1.B=x" becomes
// A -> member -> 1 -> B with value x.
type formNode struct {
	val  string
	set  bool
	kids map[string]*formNode
}

// parseForm turns flat awsQuery parameters into a tree. It rejects keys that
// are too deep, list indexes out of range and empty key segments.
func parseForm(vals url.Values) (*formNode, error) {
	root := &formNode{}
	n := 0
	for key, vs := range vals {
		n++
		if n > maxFormFields {
			return nil, fmt.Errorf("too many parameters (more than %d)", maxFormFields)
		}
		parts := strings.Split(key, ".")
		if len(parts) > maxKeyDepth {
			return nil, fmt.Errorf("parameter %q is nested too deeply", key)
		}
		cur := root
		for i, p := range parts {
			if p == "" {
				return nil, fmt.Errorf("parameter %q has an empty segment", key)
			}
			if i > 0 && (parts[i-1] == "member" || parts[i-1] == "entry") {
				idx, err := strconv.Atoi(p)
				if err != nil || idx < 1 || idx > maxListIndex {
					return nil, fmt.Errorf("parameter %q has an invalid list index %q", key, p)
				}
			}
			if cur.kids == nil {
				cur.kids = map[string]*formNode{}
			}
			next := cur.kids[p]
			if next == nil {
				next = &formNode{}
				cur.kids[p] = next
			}
			cur = next
		}
		if len(vs) > 0 {
			cur.val = vs[0]
			cur.set = true
		}
	}
	return root, nil
}

// child returns the named child or nil; it is nil-safe.
func (n *formNode) child(name string) *formNode {
	if n == nil || n.kids == nil {
		return nil
	}
	return n.kids[name]
}

// str returns the value of a scalar child ("" when absent).
func (n *formNode) str(name string) string {
	c := n.child(name)
	if c == nil {
		return ""
	}
	return c.val
}

// has reports whether a child exists at all (a scalar or a structure).
func (n *formNode) has(name string) bool { return n.child(name) != nil }

// members returns the elements of a list child ("Name.member.N"), ordered by
// index. An empty list sent as "Name=" yields no elements.
func (n *formNode) members(name string) []*formNode {
	m := n.child(name).child("member")
	if m == nil || len(m.kids) == 0 {
		return nil
	}
	idx := make([]int, 0, len(m.kids))
	for k := range m.kids {
		i, err := strconv.Atoi(k)
		if err == nil {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	out := make([]*formNode, 0, len(idx))
	for _, i := range idx {
		out = append(out, m.kids[strconv.Itoa(i)])
	}
	return out
}

// strs returns a list of strings ("Name.member.N=v").
func (n *formNode) strs(name string) []string {
	ms := n.members(name)
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.val)
	}
	return out
}

// int32Opt parses an optional integer child.
func (n *formNode) int32Opt(name string) (int32, bool, *apiError) {
	c := n.child(name)
	if c == nil || !c.set {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(c.val, 10, 32)
	if err != nil {
		return 0, false, validationf("%s must be an integer, got %q", name, c.val)
	}
	return int32(v), true, nil
}

// boolOpt parses an optional boolean child.
func (n *formNode) boolOpt(name string) (bool, bool, *apiError) {
	c := n.child(name)
	if c == nil || !c.set {
		return false, false, nil
	}
	v, err := strconv.ParseBool(c.val)
	if err != nil {
		return false, false, validationf("%s must be a boolean, got %q", name, c.val)
	}
	return v, true, nil
}

// readForm reads and decodes an awsQuery request (body and URL query).
func readForm(w http.ResponseWriter, r *http.Request) (*formNode, *apiError) {
	vals := url.Values{}
	if r.URL != nil {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, errf(http.StatusBadRequest, "MalformedQueryString", "malformed query string: %v", err)
		}
		for k, v := range q {
			vals[k] = v
		}
	}
	if r.Body != nil {
		body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, validationf("request body exceeds %d bytes", maxBodyBytes)
			}
			return nil, validationf("read request body: %v", err)
		}
		q, err := url.ParseQuery(buf.String())
		if err != nil {
			return nil, errf(http.StatusBadRequest, "MalformedQueryString", "malformed form body: %v", err)
		}
		for k, v := range q {
			vals[k] = append(vals[k], v...)
		}
	}
	root, err := parseForm(vals)
	if err != nil {
		return nil, validationf("%v", err)
	}
	return root, nil
}

// WriteError writes an awsQuery XML error envelope:
// <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	reqID := newRequestID()
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	buf.WriteString(`<ErrorResponse xmlns="` + Namespace + `"><Error><Type>`)
	xmlEscape(&buf, typ)
	buf.WriteString("</Type><Code>")
	xmlEscape(&buf, code)
	buf.WriteString("</Code><Message>")
	xmlEscape(&buf, message)
	buf.WriteString("</Message></Error><RequestId>")
	buf.WriteString(reqID)
	buf.WriteString("</RequestId></ErrorResponse>")
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("x-amzn-RequestId", reqID)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func xmlEscape(buf *bytes.Buffer, s string) {
	_ = xml.EscapeText(buf, []byte(s))
}

// writeResult writes <ActionResponse><ActionResult>result</ActionResult>
// <ResponseMetadata><RequestId/></ResponseMetadata></ActionResponse>.
func writeResult(w http.ResponseWriter, action string, result any) {
	reqID := newRequestID()
	var buf bytes.Buffer
	buf.WriteString(`<` + action + `Response xmlns="` + Namespace + `">`)
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{Name: xml.Name{Local: action + "Result"}}
	var err error
	if result == nil {
		err = enc.EncodeElement(struct{}{}, start)
	} else {
		err = enc.EncodeElement(result, start)
	}
	if err == nil {
		err = enc.Flush()
	}
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "InternalFailure", fmt.Sprintf("encode %s response: %v", action, err))
		return
	}
	buf.WriteString(`<ResponseMetadata><RequestId>` + reqID + `</RequestId></ResponseMetadata></` + action + `Response>`)
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("x-amzn-RequestId", reqID)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// newRequestID returns a random UUID-shaped request id.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
