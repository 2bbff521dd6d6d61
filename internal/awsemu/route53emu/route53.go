// Package route53emu emulates Amazon Route 53 hosted zones and record sets
// over the restXml wire protocol, as the real aws-sdk-go-v2 route53 client
// speaks it.
package route53emu

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"sync"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// Namespace is the XML namespace of Route 53 requests and responses.
const Namespace = "https://route53.amazonaws.com/doc/2013-04-01/"

// Options configures a Route53.
type Options struct {
	Clock     simclock.Clock
	AccountID string
}

// Route53 is the emulated Route 53 service. It is safe for concurrent use.
type Route53 struct {
	clock     simclock.Clock
	accountID string
	mu        sync.Mutex
}

var _ http.Handler = (*Route53)(nil)

// New returns an empty Route 53.
func New(opts Options) *Route53 {
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	return &Route53{clock: opts.Clock, accountID: opts.AccountID}
}

// ServeHTTP handles one restXml request under /2013-04-01/.
func (r *Route53) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	WriteError(w, http.StatusBadRequest, "InvalidInput", "operation not implemented yet")
}

// WriteError writes a restXml ErrorResponse.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	buf.WriteString(`<ErrorResponse xmlns="` + Namespace + `"><Error><Type>` + typ + `</Type><Code>`)
	_ = xml.EscapeText(&buf, []byte(code))
	buf.WriteString(`</Code><Message>`)
	_ = xml.EscapeText(&buf, []byte(message))
	buf.WriteString(`</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Snapshot returns the state as a JSON-marshalable value.
func (r *Route53) Snapshot() any {
	return map[string]any{"hostedZones": []any{}}
}
