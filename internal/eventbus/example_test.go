package eventbus_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ecsflow/ecsflow/internal/eventbus"
	"github.com/ecsflow/ecsflow/internal/simclock"
)

func ExampleCompile() {
	p, err := eventbus.Compile([]byte(`{"source":["aws.ecs"],"detail":{"lastStatus":["STOPPED"],"stopCode":[{"anything-but":"UserInitiated"}]}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Match([]byte(`{"source":"aws.ecs","detail":{"lastStatus":"STOPPED","stopCode":"EssentialContainerExited"}}`)))
	fmt.Println(p.Match([]byte(`{"source":"aws.ecs","detail":{"lastStatus":"STOPPED","stopCode":"UserInitiated"}}`)))

	_, err = eventbus.Compile([]byte(`{"source":"aws.ecs"}`))
	fmt.Println(err)
	// Output:
	// true
	// false
	// Event pattern is not valid. Reason: "source" must be an object or an array at [Source: (String)"{\"source\":\"aws.ecs\"}"; line: 1, column: 20]
}

func ExampleBus() {
	clock := simclock.NewScaled(simclock.Real().Now(), 1000)
	defer clock.Close()
	bus := eventbus.New(eventbus.Options{Clock: clock})
	defer bus.Close()

	const fn = "arn:aws:lambda:us-east-1:123456789012:function:ecs-events"
	bus.RegisterLambda(fn, func(_ context.Context, ev json.RawMessage) error {
		fmt.Println("handler got", string(ev))
		return nil
	})
	if _, err := bus.PutRule(eventbus.Rule{Name: "stopped-tasks",
		EventPattern: `{"detail-type":["ECS Task State Change"],"detail":{"lastStatus":["STOPPED"]}}`}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := bus.PutTargets("stopped-tasks", "", []eventbus.Target{{Id: "fn", Arn: fn,
		InputTransformer: &eventbus.InputTransformer{
			InputPathsMap: map[string]string{"reason": "$.detail.stoppedReason"},
			InputTemplate: `{"reason": <reason>, "rule": "<aws.events.rule-name>"}`,
		}}}); err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	_, err := bus.Put(ctx,
		eventbus.Entry{Source: "aws.ecs", DetailType: "ECS Task State Change",
			Detail: json.RawMessage(`{"lastStatus":"STOPPED","stoppedReason":"Essential container in task exited"}`)},
		eventbus.Entry{Source: "aws.ecs", DetailType: "ECS Task State Change", Detail: json.RawMessage(`{"lastStatus":"RUNNING"}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := bus.Drain(ctx); err != nil {
		fmt.Println(err)
		return
	}
	s := bus.Stats()
	fmt.Printf("matched %d, unmatched %d, delivered %d\n", s.Matched, s.Unmatched, s.Delivered)
	// Output:
	// handler got {"reason": "Essential container in task exited", "rule": "stopped-tasks"}
	// matched 1, unmatched 1, delivered 1
}
