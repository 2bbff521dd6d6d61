package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsflow/ecsflow/examples"
	"github.com/ecsflow/ecsflow/internal/apply"
	"github.com/ecsflow/ecsflow/internal/client"
)

// ExamplePath is examples/ecsflow.yaml relative to the repository root.
const ExamplePath = "examples/ecsflow.yaml"

// ExampleOptions tunes CreateExampleWorld.
type ExampleOptions struct {
	// DisableTrigger turns the example's push trigger off, so that pushes
	// start no pipeline (tests that deploy by hand).
	DisableTrigger bool
}

// exampleARN prefixes the ARNs written in examples/ecsflow.yaml.
const exampleARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:"

// exampleEnvs is the AWS side of the example, per environment: the alarm,
// the two target groups and the listeners as the example names them.
var exampleEnvs = []struct {
	name, alarm, stable, canary, prod, test string
}{
	{"dev", "dev-web-5xx", "targetgroup/dev-web-stable/1a2b3c4d5e6f7a8b", "targetgroup/dev-web-canary/8b7a6f5e4d3c2b1a",
		"listener/app/dev-shop/0123456789abcdef/1111111111111111", ""},
	{"prod", "prod-web-5xx", "targetgroup/prod-web-blue/0123456789abcdef", "targetgroup/prod-web-green/fedcba9876543210",
		"listener/app/prod-shop/0123456789abcdef/2222222222222222", "listener/app/prod-shop/0123456789abcdef/3333333333333333"},
}

// CreateExampleWorld creates, in the stack's emulator, the AWS resources
// examples/ecsflow.yaml refers to — per environment (dev, prod): an ECS
// cluster, an ALB with two target groups, the production listener (and
// prod's test listener) and the 5XX alarm — and returns src (the example's
// text) with the emulator's ARNs in place of the example's. It fails if src
// lacks one of the example's ARNs (an edited example) or a resource cannot
// be created (for example, on a stack that already has them).
func CreateExampleWorld(ctx context.Context, s *Stack, src []byte, opts ExampleOptions) ([]byte, error) {
	cfg := s.AWSConfig()
	lbc := elb.NewFromConfig(cfg)
	ecsc := ecs.NewFromConfig(cfg)
	cw := cloudwatch.NewFromConfig(cfg)
	var pairs []string
	for _, env := range exampleEnvs {
		if _, err := ecsc.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(env.name)}); err != nil {
			return nil, fmt.Errorf("create cluster %s: %w", env.name, err)
		}
		lb, err := lbc.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String(env.name + "-shop"), Subnets: []string{"subnet-1", "subnet-2"}})
		if err != nil {
			return nil, fmt.Errorf("create load balancer %s-shop: %w", env.name, err)
		}
		var tgs []string
		for _, n := range []string{env.name + "-web-a", env.name + "-web-b"} {
			tg, err := lbc.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String(n), Protocol: elbtypes.ProtocolEnumHttp,
				Port: aws.Int32(8080), VpcId: aws.String("vpc-1"), TargetType: elbtypes.TargetTypeEnumIp,
				HealthCheckIntervalSeconds: aws.Int32(6), HealthCheckTimeoutSeconds: aws.Int32(5), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2)})
			if err != nil {
				return nil, fmt.Errorf("create target group %s: %w", n, err)
			}
			tgs = append(tgs, aws.ToString(tg.TargetGroups[0].TargetGroupArn))
		}
		pairs = append(pairs, exampleARN+env.stable, tgs[0], exampleARN+env.canary, tgs[1])
		for i, l := range []string{env.prod, env.test} {
			if l == "" {
				continue
			}
			got, err := lbc.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
				Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(80 + i)),
				DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tgs[i])}}})
			if err != nil {
				return nil, fmt.Errorf("create listener on %s-shop: %w", env.name, err)
			}
			pairs = append(pairs, exampleARN+l, aws.ToString(got.Listeners[0].ListenerArn))
		}
		if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(env.alarm),
			Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"), Statistic: cwtypes.StatisticSum,
			Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold}); err != nil {
			return nil, fmt.Errorf("create alarm %s: %w", env.alarm, err)
		}
	}
	if opts.DisableTrigger {
		pairs = append(pairs, "pipelineId: web-release\n", "pipelineId: web-release\n        disabled: true\n")
	}
	out := string(src)
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(out, pairs[i]) {
			return nil, fmt.Errorf("the example lacks %q: is it examples/ecsflow.yaml?", strings.TrimSpace(pairs[i]))
		}
		out = strings.ReplaceAll(out, pairs[i], pairs[i+1])
	}
	return []byte(out), nil
}

// SeedExample creates the example's AWS world (CreateExampleWorld) and
// applies the rewritten example to the stack's API through internal/apply,
// as `ecsflow apply` does. It writes the plan to w (nil: nowhere) and
// returns the applied plan, whose changes carry the entities' IDs.
func SeedExample(ctx context.Context, s *Stack, filename string, src []byte, opts ExampleOptions, w io.Writer) (*apply.Plan, error) {
	if w == nil {
		w = io.Discard
	}
	text, err := CreateExampleWorld(ctx, s, src, opts)
	if err != nil {
		return nil, fmt.Errorf("create the example's aws world: %w", err)
	}
	f, perr := apply.Parse(filename, text)
	if f == nil {
		return nil, fmt.Errorf("parse %s: %w", filename, perr)
	}
	c, err := client.New(ctx, s.URL(), client.Options{})
	if err != nil {
		return nil, fmt.Errorf("api client: %w", err)
	}
	p, err := apply.MakePlan(ctx, c, f)
	if err := apply.Merge(perr, err); err != nil {
		return nil, fmt.Errorf("plan %s: %w", filename, err)
	}
	p.Write(w)
	if !p.Empty() {
		if err := apply.Apply(ctx, c, p); err != nil {
			return nil, fmt.Errorf("apply %s: %w", filename, err)
		}
	}
	return p, nil
}

// ReadExample reads an example configuration. For the default ExamplePath it
// falls back to the copy built into the binary when the file is not there
// (the command runs outside the repository), so the demo works anywhere.
func ReadExample(path string) ([]byte, error) {
	src, err := os.ReadFile(path)
	if err == nil {
		return src, nil
	}
	if path == ExamplePath && errors.Is(err, fs.ErrNotExist) {
		return examples.ECSFlow, nil
	}
	return nil, fmt.Errorf("read example %s: %w", path, err)
}
