package steps

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/store"
)

// lambdaName is how aws-lambda-go (and sfnlocal) name a returned error.
func lambdaName(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func TestClassify(t *testing.T) {
	throttle := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"throttling", fmt.Errorf("update service: %w", throttle), ErrTransient},
		{"elb throttling", &smithy.GenericAPIError{Code: "Throttling"}, ErrTransient},
		{"5xx", &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}}, Err: errors.New("boom")}, ErrTransient},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), ErrTransient},
		{"store conflict", fmt.Errorf("update: %w", store.ErrConflict), ErrTransient},
		{"client error", &smithy.GenericAPIError{Code: "InvalidParameterException", Message: "bad", Fault: smithy.FaultClient}, ErrInvalid},
		{"unknown alarm", fmt.Errorf("verify: %w", ecsops.ErrUnknownAlarms), ErrInvalid},
		{"missing entity", fmt.Errorf("load: %w", store.ErrNotFound), ErrInvalid},
		{"wrapped step error keeps its name", fmt.Errorf("context: %w", &NotStable{errors.New("x")}), ErrNotStable},
		{"step error as is", &LockHeld{errors.New("held")}, ErrLockHeld},
		{"anything else", errors.New("mystery"), ErrTransient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(tc.err)
			if lambdaName(got) != tc.want || ErrorName(got) != tc.want {
				t.Fatalf("Classify(%v) is a %s (ErrorName %s), want %s", tc.err, lambdaName(got), ErrorName(got), tc.want)
			}
			if got.Error() != tc.err.Error() && !errors.Is(got, tc.err) {
				t.Fatalf("Classify lost the message: %q vs %q", got.Error(), tc.err.Error())
			}
		})
	}
	if Classify(nil) != nil {
		t.Fatal("Classify(nil) != nil")
	}
}

// TestErrorTypeNamesAreTheASLNames pins the type names the state machines match.
func TestErrorTypeNamesAreTheASLNames(t *testing.T) {
	for _, err := range []error{&Transient{}, &NotStable{}, &Invalid{}, &LockHeld{}, &VerificationFailed{},
		&ApprovalRejected{}, &RollbackRequired{}, &Aborted{}} {
		name := lambdaName(err)
		if named(name, errors.New("x")) == nil || lambdaName(named(name, errors.New("x"))) != name {
			t.Fatalf("%s does not round-trip through named", name)
		}
	}
}
