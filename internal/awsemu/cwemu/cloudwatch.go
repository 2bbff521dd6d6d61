// Package cwemu emulates Amazon CloudWatch metric alarms over the Smithy
// rpcv2Cbor wire protocol, as the real aws-sdk-go-v2 cloudwatch client
// speaks it.
package cwemu

import (
	"errors"
	"net/http"
	"sync"

	"github.com/fxamacker/cbor/v2"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// Options configures a CloudWatch.
type Options struct {
	Clock             simclock.Clock
	Region, AccountID string
	// OnAlarmChange, if set, is called after an alarm changes state.
	OnAlarmChange func(alarmName, alarmARN, oldState, newState, reason string)
}

// CloudWatch is the emulated CloudWatch alarms service.
type CloudWatch struct {
	opts Options
	mu   sync.Mutex
}

var _ http.Handler = (*CloudWatch)(nil)

// New returns an empty CloudWatch.
func New(opts Options) *CloudWatch {
	return &CloudWatch{opts: opts}
}

// ServeHTTP handles POST /service/GraniteServiceVersion20100801/operation/<Op>.
func (c *CloudWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	WriteError(w, http.StatusBadRequest, "UnknownOperationException", "operation not implemented yet")
}

// WriteError writes an rpcv2Cbor error body {"__type": code, "message": ...}.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	b, _ := cbor.Marshal(map[string]string{"__type": code, "message": message})
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// SetAlarmState sets an alarm's state as the SetAlarmState API does.
func (c *CloudWatch) SetAlarmState(name, state, reason string) error {
	return errors.New("set alarm state: not implemented yet")
}

// AlarmState returns an alarm's current state.
func (c *CloudWatch) AlarmState(name string) (string, bool) { return "", false }

// Snapshot returns the state as a JSON-marshalable value.
func (c *CloudWatch) Snapshot() any { return map[string]any{"alarms": []any{}} }
