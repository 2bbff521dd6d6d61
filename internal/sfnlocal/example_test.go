package sfnlocal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/simclock"
)

func Example() {
	ctx := context.Background()
	clock := simclock.NewScaled(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 10000)
	defer clock.Close()
	svc := sfnlocal.New(sfnlocal.Options{Clock: clock})
	defer svc.Close()

	svc.RegisterLambda("greet", func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
		var in struct{ Name string }
		if err := json.Unmarshal(payload, &in); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		return json.Marshal(map[string]string{"greeting": "hello " + in.Name})
	})
	arn, err := svc.CreateStateMachine(ctx, "hello", `{
	  "StartAt": "Bake",
	  "States": {
	    "Bake": {"Type": "Wait", "Seconds": 60, "Next": "Greet"},
	    "Greet": {
	      "Type": "Task",
	      "Resource": "arn:aws:states:::lambda:invoke",
	      "Parameters": {"FunctionName": "greet", "Payload.$": "$"},
	      "OutputPath": "$.Payload",
	      "End": true
	    }
	  }
	}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	exec, _ := svc.StartExecution(ctx, arn, "first", `{"Name":"ops"}`)
	x, _ := svc.WaitExecution(ctx, exec)
	fmt.Println(x.Status, x.Output, x.StateTransitions)
	// Output: SUCCEEDED {"greeting":"hello ops"} 2
}
