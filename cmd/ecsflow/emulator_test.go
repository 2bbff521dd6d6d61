package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// TestEmulatorServesECSStepFunctionsAndEventBridge: one endpoint, the real
// SDK clients of the three services, and an ECS event that reaches a Step
// Functions execution through an EventBridge rule made with the SDK.
func TestEmulatorServesECSStepFunctionsAndEventBridge(t *testing.T) {
	clock := simclock.NewScaled(time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC), 500)
	defer clock.Close()
	stack := newEmulatorStack(emulatorConfig{region: "us-east-1", account: "123456789012", seed: 1}, clock, slog.New(slog.DiscardHandler))
	defer stack.Close()
	srv := httptest.NewServer(stack.emu)
	defer srv.Close()
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	ecsc, sfnc, ebc := ecs.NewFromConfig(cfg), sfn.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	sm, err := sfnc.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("on-steady"),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/sfn"),
		Definition: aws.String(`{"StartAt":"Note","States":{"Note":{"Type":"Pass","Parameters":{"event.$":"$.detail.eventName","service.$":"$.resources[0]"},"End":true}}}`)})
	if err != nil {
		t.Fatalf("sfn CreateStateMachine: %v", err)
	}
	if _, err := ebc.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("steady"),
		EventPattern: aws.String(`{"source":["aws.ecs"],"detail-type":["ECS Service Action"],"detail":{"eventName":["SERVICE_STEADY_STATE"]}}`)}); err != nil {
		t.Fatalf("events PutRule: %v", err)
	}
	pt, err := ebc.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("steady"), Targets: []ebtypes.Target{{
		Id: aws.String("sm"), Arn: sm.StateMachineArn, RoleArn: aws.String("arn:aws:iam::123456789012:role/events")}}})
	if err != nil || pt.FailedEntryCount != 0 {
		t.Fatalf("events PutTargets: %v %+v", err, pt)
	}
	rules, err := ebc.ListRules(ctx, &eventbridge.ListRulesInput{})
	if err != nil || len(rules.Rules) != 1 || aws.ToString(rules.Rules[0].Name) != "steady" {
		t.Fatalf("events ListRules = %+v, %v", rules, err)
	}

	if _, err := ecsc.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatalf("ecs CreateCluster: %v", err)
	}
	td, err := ecsc.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("web"),
		NetworkMode: ecstypes.NetworkModeAwsvpc, RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		Cpu: aws.String("256"), Memory: aws.String("512"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String("repo/web:v1"), Essential: aws.Bool(true)}}})
	if err != nil {
		t.Fatalf("ecs RegisterTaskDefinition: %v", err)
	}
	if _, err := ecsc.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("prod"), ServiceName: aws.String("web"),
		TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(1), LaunchType: ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}}); err != nil {
		t.Fatalf("ecs CreateService: %v", err)
	}

	// The service reaches steady state; the event starts an execution.
	var exec sfntypes.ExecutionListItem
	for {
		out, err := sfnc.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn})
		if err != nil {
			t.Fatalf("sfn ListExecutions: %v", err)
		}
		if len(out.Executions) > 0 {
			exec = out.Executions[0]
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no execution started by the ECS steady-state event")
		case <-time.After(20 * time.Millisecond):
		}
	}
	for {
		d, err := sfnc.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: exec.ExecutionArn})
		if err != nil {
			t.Fatalf("sfn DescribeExecution: %v", err)
		}
		if d.Status == sfntypes.ExecutionStatusRunning {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		want := `{"event":"SERVICE_STEADY_STATE","service":"arn:aws:ecs:us-east-1:123456789012:service/prod/web"}`
		if d.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(d.Output) != want {
			t.Fatalf("execution %s output %s, want SUCCEEDED %s", d.Status, aws.ToString(d.Output), want)
		}
		break
	}
	if !strings.HasPrefix(aws.ToString(exec.ExecutionArn), "arn:aws:states:us-east-1:123456789012:execution:on-steady:") {
		t.Errorf("execution ARN %s", aws.ToString(exec.ExecutionArn))
	}
}
