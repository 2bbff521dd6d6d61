package steps

import (
	"context"
	"encoding/json"
	"fmt"
)

// Handler is a Lambda handler in the shape sfnlocal.RegisterLambda and
// lambda.Start take. Its errors are step errors, so their type names are
// the ASL error names.
type Handler func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error)

// Function names (functions/<name>); the CDK app and the ASL placeholders
// (${StepPrepareArn}, ...) use them.
const (
	FnPrepare       = "step-prepare"
	FnNext          = "step-next"
	FnRegister      = "step-register-taskdef"
	FnUpdateService = "step-update-service"
	FnWaitSteady    = "step-wait-steady"
	FnCheckSteady   = "step-check-steady"
	FnVerify        = "step-verify"
	FnApproval      = "step-approval"
	FnRollback      = "step-rollback"
	FnFinish        = "step-finish"
)

// Handlers returns every step's handler by function name (Functions).
func (e *Engine) Handlers() map[string]Handler {
	hs := make(map[string]Handler)
	for _, f := range Functions() {
		hs[f.Name] = f.Handler(e)
	}
	return hs
}

// Handler returns the named function's handler, or an error naming it.
func (e *Engine) Handler(name string) (Handler, error) {
	h, ok := e.Handlers()[name]
	if !ok {
		return nil, fmt.Errorf("steps: no step function %q", name)
	}
	return h, nil
}

func adapt[I, O any](f func(context.Context, I) (O, error)) Handler {
	return func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
		var in I
		if err := json.Unmarshal(payload, &in); err != nil {
			return nil, invalidf("decode input: %v", err)
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, Classify(err)
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, invalidf("encode output: %v", err)
		}
		return b, nil
	}
}
