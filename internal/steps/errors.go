package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/store"
)

// The step errors. Each type's name is the ASL error name that Retry and
// Catch match: aws-lambda-go reports a returned error by its type name
// (pointer stripped), and sfnlocal does the same in-process. Do not rename.

// Transient is a failure worth retrying: throttling, 5xx, timeouts, a lost
// optimistic-concurrency race.
type Transient struct{ err error }

// NotStable says the service did not reach a steady state on the expected
// revision (a failed rollout, a circuit breaker rollback, a timeout).
type NotStable struct{ err error }

// Invalid says the deployment cannot proceed as configured (bad template,
// missing entity, unknown alarm, a refused AWS request).
type Invalid struct{ err error }

// LockHeld says another deployment holds the (cluster, service) lease and
// the workflow's policy is REJECT.
type LockHeld struct{ err error }

// VerificationFailed says an alarm was in ALARM during verification.
type VerificationFailed struct{ err error }

// ApprovalRejected says a person rejected the deployment (or the approval
// timed out with a REJECT default).
type ApprovalRejected struct{ err error }

// RollbackRequired says a rollback was requested through the API.
type RollbackRequired struct{ err error }

// Aborted says the deployment was aborted through the API.
type Aborted struct{ err error }

func (e *Transient) Error() string          { return e.err.Error() }
func (e *NotStable) Error() string          { return e.err.Error() }
func (e *Invalid) Error() string            { return e.err.Error() }
func (e *LockHeld) Error() string           { return e.err.Error() }
func (e *VerificationFailed) Error() string { return e.err.Error() }
func (e *ApprovalRejected) Error() string   { return e.err.Error() }
func (e *RollbackRequired) Error() string   { return e.err.Error() }
func (e *Aborted) Error() string            { return e.err.Error() }

func (e *Transient) Unwrap() error          { return e.err }
func (e *NotStable) Unwrap() error          { return e.err }
func (e *Invalid) Unwrap() error            { return e.err }
func (e *LockHeld) Unwrap() error           { return e.err }
func (e *VerificationFailed) Unwrap() error { return e.err }
func (e *ApprovalRejected) Unwrap() error   { return e.err }
func (e *RollbackRequired) Unwrap() error   { return e.err }
func (e *Aborted) Unwrap() error            { return e.err }

// Error names, as ASL sees them.
const (
	ErrTransient          = "Transient"
	ErrNotStable          = "NotStable"
	ErrInvalid            = "Invalid"
	ErrLockHeld           = "LockHeld"
	ErrVerificationFailed = "VerificationFailed"
	ErrApprovalRejected   = "ApprovalRejected"
	ErrRollbackRequired   = "RollbackRequired"
	ErrAborted            = "Aborted"
)

func invalidf(format string, a ...any) error { return &Invalid{fmt.Errorf(format, a...)} }
func notStablef(format string, a ...any) error {
	return &NotStable{fmt.Errorf(format, a...)}
}

// ErrorName is the ASL name of err: one of the step error names when err
// is (or wraps) a step error, else "".
func ErrorName(err error) string {
	var (
		t  *Transient
		ns *NotStable
		in *Invalid
		lh *LockHeld
		vf *VerificationFailed
		ar *ApprovalRejected
		rr *RollbackRequired
		ab *Aborted
	)
	switch {
	case errors.As(err, &t):
		return ErrTransient
	case errors.As(err, &ns):
		return ErrNotStable
	case errors.As(err, &in):
		return ErrInvalid
	case errors.As(err, &lh):
		return ErrLockHeld
	case errors.As(err, &vf):
		return ErrVerificationFailed
	case errors.As(err, &ar):
		return ErrApprovalRejected
	case errors.As(err, &rr):
		return ErrRollbackRequired
	case errors.As(err, &ab):
		return ErrAborted
	}
	return ""
}

// transientCodes are AWS error codes that a retry can cure.
var transientCodes = map[string]bool{
	"ThrottlingException": true, "Throttling": true, "ThrottledException": true, "RequestLimitExceeded": true,
	"TooManyRequestsException": true, "ServiceUnavailable": true, "ServiceUnavailableException": true,
	"ServerException": true, "InternalFailure": true, "InternalServerError": true, "InternalServiceFault": true,
	"RequestTimeout": true, "RequestTimeoutException": true, "PriorRequestNotComplete": true,
	"ProvisionedThroughputExceededException": true, "TransactionConflictException": true,
}

// Classify turns any error into a step error, so that the handler's error
// type is one of the stable names: a step error is returned as is;
// throttling, 5xx, network failures, timeouts and store conflicts are
// Transient; other AWS client errors, unknown alarms and missing entities
// are Invalid; anything else is Transient (Retry is bounded, and Catch
// then rolls back).
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if name := ErrorName(err); name != "" {
		if ErrorName(errors.Unwrap(err)) == "" || isStepError(err) {
			return err
		}
		// A step error wrapped with context: the outermost error must be
		// the step type (its name is the ASL error), keeping the message.
		return named(name, err)
	}
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, store.ErrConflict), errors.As(err, &ne):
		return &Transient{err}
	case errors.As(err, &ae) && transientCodes[ae.ErrorCode()]:
		return &Transient{err}
	case errors.As(err, &re) && re.HTTPStatusCode() >= 500:
		return &Transient{err}
	case errors.Is(err, ecsops.ErrUnknownAlarms), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidWait):
		return &Invalid{err}
	case errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultClient:
		return &Invalid{err}
	case errors.As(err, &ae) && strings.HasSuffix(ae.ErrorCode(), "Exception") && ae.ErrorFault() != smithy.FaultServer:
		return &Invalid{err}
	}
	return &Transient{err}
}

func isStepError(err error) bool {
	switch err.(type) {
	case *Transient, *NotStable, *Invalid, *LockHeld, *VerificationFailed, *ApprovalRejected, *RollbackRequired, *Aborted:
		return true
	}
	return false
}

// named wraps err in the step error type called name.
func named(name string, err error) error {
	switch name {
	case ErrTransient:
		return &Transient{err}
	case ErrNotStable:
		return &NotStable{err}
	case ErrInvalid:
		return &Invalid{err}
	case ErrLockHeld:
		return &LockHeld{err}
	case ErrVerificationFailed:
		return &VerificationFailed{err}
	case ErrApprovalRejected:
		return &ApprovalRejected{err}
	case ErrRollbackRequired:
		return &RollbackRequired{err}
	case ErrAborted:
		return &Aborted{err}
	}
	return &Transient{err}
}
