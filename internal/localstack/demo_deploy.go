package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
)

// DemoDeployment shows the deployment engine at work on a running stack,
// the way a user would drive it: with the AWS SDK against the emulator it
// creates a cluster, a load balancer with a target group and an alarm;
// through the REST API it models a service and a rolling workflow; then it
// deploys v1 (the service is created), v2 (a rolling update) and v3, whose
// image crash-loops (a fault plan), and shows v3 rolled back to v2. It
// prints each deployment's steps, ECS events and usage, and returns an
// error naming the first thing that did not behave. Real time follows the
// stack's clock: start the stack with a ClockScale of 50 or more.
func DemoDeployment(ctx context.Context, s *Stack, out io.Writer) error {
	d := &demo{ctx: ctx, base: strings.TrimSuffix(s.URL(), "/"), out: out, client: &http.Client{Timeout: 30 * time.Second}}
	return d.deployments(s)
}

const (
	demoCluster = "demo"
	demoAlarm   = "checkout-5xx"
)

func (d *demo) deployments(s *Stack) error {
	d.say("ecsflow deployments on the local stack (API %s, AWS %s)", d.base, s.AWSURL())
	d.step("Create the AWS side with the AWS SDK (AWS_ENDPOINT_URL=" + s.AWSURL() + ")")
	tg, err := demoWorld(d.ctx, s)
	if err != nil {
		return err
	}
	d.say("  cluster %s, load balancer with target group %s, alarm %s", demoCluster, tg, demoAlarm)

	d.step("Model the service through the API")
	cp, err := d.create("cloud provider", "/v1/cloud-providers", &model.CloudProvider{Name: "local-account", AccountID: s.AccountID(),
		RoleARN: "arn:aws:iam::" + s.AccountID() + ":role/ecsflow-deployer", ExternalID: "ecsflow-demo", Regions: []string{s.Region()}})
	if err != nil {
		return err
	}
	as, err := d.create("artifact server (ECR)", "/v1/artifact-servers", &model.ArtifactServer{Name: "local-ecr", Type: model.ArtifactServerECR,
		RegistryID: s.AccountID(), Region: s.Region(), CloudProviderID: cp})
	if err != nil {
		return err
	}
	app, err := d.create("application", "/v1/applications", &model.Application{Name: "payments", Description: "demo deployments"})
	if err != nil {
		return err
	}
	ap := "/v1/applications/" + app
	count := int32(3)
	svc, err := d.create("service", ap+"/services", &model.Service{ApplicationID: app, Name: "checkout",
		Artifact: model.ArtifactSource{ServerID: as, Repository: "checkout"},
		ECS: model.ECSSpec{
			ContainerDefinitions: json.RawMessage(`[{"name":"checkout","image":"${artifact.image}","essential":true,` +
				`"portMappings":[{"containerPort":8080}],"environment":[{"name":"ENV","value":"${env.name}"}]}]`),
			CPU: "256", Memory: "512", NetworkMode: model.NetworkAWSVPC, RequiresCompatibilities: []string{"FARGATE"},
			SchedulingStrategy: model.SchedulingReplica, DesiredCount: &count,
			LoadBalancer: &model.LoadBalancerSpec{ContainerName: "checkout", ContainerPort: 8080},
		}})
	if err != nil {
		return err
	}
	env, err := d.create("environment", ap+"/environments", &model.Environment{ApplicationID: app, Name: "staging", Type: model.EnvNonProd})
	if err != nil {
		return err
	}
	infra, err := d.create("infrastructure", ap+"/environments/"+env+"/infrastructures", &model.InfrastructureDefinition{
		ApplicationID: app, EnvironmentID: env, Name: "local", CloudProviderID: cp, Region: s.Region(), Cluster: demoCluster,
		LaunchType: model.LaunchFargate, Network: model.Network{Subnets: []string{"subnet-1"}, SecurityGroups: []string{"sg-1"}},
		LoadBalancing: &model.LoadBalancing{TargetGroupARNs: []string{tg}}})
	if err != nil {
		return err
	}
	wf, err := d.create("rolling workflow", ap+"/workflows", &model.Workflow{ApplicationID: app, Name: "rolling", EnvironmentID: env, InfrastructureID: infra,
		Strategy: model.Strategy{Type: model.StrategyRolling, Rolling: &model.RollingStrategy{MinimumHealthyPercent: 100, MaximumPercent: 200,
			CircuitBreaker: &model.CircuitBreaker{Enable: true, Rollback: true}}},
		Verification: model.Verification{Alarms: []string{demoAlarm}, BakeSeconds: 30}})
	if err != nil {
		return err
	}

	deploy := func(tag string, want model.Status) (*model.Deployment, error) {
		r, err := d.expect(http.StatusCreated, http.MethodPost, "/v1/deployments",
			map[string]any{"appId": app, "workflowId": wf, "serviceId": svc, "artifact": map[string]any{"tag": tag}}, nil)
		if err != nil {
			return nil, err
		}
		id, _ := r.body["id"].(string)
		dep, ledger, err := d.awaitEnd(id)
		if err != nil {
			return nil, err
		}
		d.say("  %s of checkout:%s -> %s in %s (simulated)", id, tag, dep.Status, dep.EndedAt.Sub(dep.CreatedAt).Round(time.Second))
		for _, st := range dep.Steps {
			line := fmt.Sprintf("    step %-24s %5s  %s", st.Name, st.EndedAt.Sub(st.StartedAt).Round(time.Second), st.Result)
			if st.Error != "" {
				line += "  " + st.Error
			}
			d.say("%s", line)
		}
		shown := 0
		for _, l := range ledger {
			if (l.Kind == model.LedgerECSEvent || l.Kind == model.LedgerTaskStopped || l.Kind == model.LedgerRollback) && shown < 6 {
				d.say("    %-12s %s", l.Kind, l.Message)
				shown++
			}
		}
		d.say("    usage: %d state transitions, %d AWS calls, ~$%.6f", dep.Usage.StateTransitions, sum(dep.Usage.APICalls), dep.Usage.EstimatedCostUSD)
		if dep.Status != want {
			return dep, fmt.Errorf("deployment of %s ended %s (%s), want %s", tag, dep.Status, dep.Reason, want)
		}
		return dep, nil
	}

	d.step("Deploy v1: the service is created")
	if _, err := deploy("v1", model.StatusSucceeded); err != nil {
		return err
	}
	d.step("Deploy v2: a rolling update")
	v2, err := deploy("v2", model.StatusSucceeded)
	if err != nil {
		return err
	}
	d.step("Deploy v3, whose image crash-loops: the circuit breaker fails it and ecsflow rolls back to v2")
	if err := s.Emulator().SetFaultPlan(awsemu.FaultPlan{Rules: []awsemu.FaultRule{{Image: "*:v3", Behavior: awsemu.BehaviorCrash, AfterSeconds: 1}}}); err != nil {
		return fmt.Errorf("fault plan: %w", err)
	}
	if _, err := deploy("v3", model.StatusRolledBack); err != nil {
		return err
	}
	out, err := ecs.NewFromConfig(s.AWSConfig()).DescribeServices(d.ctx, &ecs.DescribeServicesInput{Cluster: aws.String(demoCluster), Services: []string{"checkout"}})
	if err != nil || len(out.Services) != 1 {
		return fmt.Errorf("describe the checkout service: %v", err)
	}
	if got := aws.ToString(out.Services[0].TaskDefinition); got != v2.NewRevision.TaskDefinitionARN {
		return fmt.Errorf("after the rollback the service runs %s, want v2's %s", got, v2.NewRevision.TaskDefinitionARN)
	}
	d.say("  the service runs %s again (%d/%d tasks)", aws.ToString(out.Services[0].TaskDefinition), out.Services[0].RunningCount, out.Services[0].DesiredCount)
	d.say("\nSummary: %d steps, every one behaved as it should.", d.steps)
	return nil
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// awaitEnd polls the deployment until it ends (at most 2 real minutes).
func (d *demo) awaitEnd(id string) (*model.Deployment, []model.LedgerEntry, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, err := d.expect(http.StatusOK, http.MethodGet, "/v1/deployments/"+id, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		var body struct {
			model.Deployment
			Ledger []model.LedgerEntry `json:"ledger"`
		}
		if err := json.Unmarshal(r.raw, &body); err != nil {
			return nil, nil, fmt.Errorf("decode deployment %s: %w", id, err)
		}
		if body.Status.Final() && body.EndedAt != nil {
			return &body.Deployment, body.Ledger, nil
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("deployment %s still %s after 2 minutes", id, body.Status)
		}
		select {
		case <-d.ctx.Done():
			return nil, nil, fmt.Errorf("await deployment %s: %w", id, d.ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// demoWorld creates the cluster, load balancer, target group, listener and
// alarm the demo deploys into; it returns the target group ARN.
func demoWorld(ctx context.Context, s *Stack) (string, error) {
	cfg := s.AWSConfig()
	if _, err := ecs.NewFromConfig(cfg).CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(demoCluster)}); err != nil {
		return "", fmt.Errorf("create cluster: %w", err)
	}
	lbc := elb.NewFromConfig(cfg)
	lb, err := lbc.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("checkout"), Subnets: []string{"subnet-1", "subnet-2"}})
	if err != nil {
		return "", fmt.Errorf("create load balancer: %w", err)
	}
	tg, err := lbc.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("checkout"), Protocol: elbtypes.ProtocolEnumHttp,
		Port: aws.Int32(8080), VpcId: aws.String("vpc-1"), TargetType: elbtypes.TargetTypeEnumIp,
		HealthCheckIntervalSeconds: aws.Int32(6), HealthCheckTimeoutSeconds: aws.Int32(5), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2)})
	if err != nil {
		return "", fmt.Errorf("create target group: %w", err)
	}
	arn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	if _, err := lbc.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(arn),
		Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("5")}}}); err != nil {
		return "", fmt.Errorf("set the drain time: %w", err)
	}
	if _, err := lbc.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
		Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(arn)}}}); err != nil {
		return "", fmt.Errorf("create listener: %w", err)
	}
	if _, err := cloudwatch.NewFromConfig(cfg).PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(demoAlarm),
		Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"), Statistic: cwtypes.StatisticSum,
		Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold}); err != nil {
		return "", fmt.Errorf("create alarm: %w", err)
	}
	return arn, nil
}
