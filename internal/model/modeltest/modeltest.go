// Package modeltest builds valid example entities — a full Harness-style
// graph for one web service — for tests of the model, the store and the API.
// Each call returns fresh values that the caller may change.
package modeltest

import (
	"encoding/json"

	"github.com/ecsflow/ecsflow/internal/model"
)

// Account and Region are where the examples live.
const (
	Account = "123456789012"
	Region  = "us-east-1"
)

// Int32 returns a pointer to v.
func Int32(v int32) *int32 { return &v }

// Application is an example application.
func Application() *model.Application {
	return &model.Application{Name: "shop", Description: "the web shop"}
}

// CloudProvider is an example AWS account.
func CloudProvider() *model.CloudProvider {
	return &model.CloudProvider{
		Name: "prod-account", AccountID: Account,
		RoleARN:    "arn:aws:iam::" + Account + ":role/ecsflow-deployer",
		ExternalID: "ecsflow-shop", Regions: []string{Region},
	}
}

// ArtifactServer is an example ECR registry reached through cloudProviderID.
func ArtifactServer(cloudProviderID string) *model.ArtifactServer {
	return &model.ArtifactServer{Name: "ecr", Type: model.ArtifactServerECR,
		RegistryID: Account, Region: Region, CloudProviderID: cloudProviderID}
}

// Service is an example awsvpc REPLICA web service behind a load balancer.
func Service(appID, serverID string) *model.Service {
	return &model.Service{
		ApplicationID: appID, Name: "web",
		Artifact:  model.ArtifactSource{ServerID: serverID, Repository: "web"},
		Variables: map[string]string{"LOG_LEVEL": "info"},
		ECS: model.ECSSpec{
			ContainerDefinitions: json.RawMessage(`[{"name":"web","image":"${artifact.image}","essential":true,` +
				`"portMappings":[{"containerPort":8080}],"environment":[{"name":"ENV","value":"${env.name}"}]}]`),
			CPU: "256", Memory: "512",
			ExecutionRoleARN:        "arn:aws:iam::" + Account + ":role/web-execution",
			TaskRoleARN:             "arn:aws:iam::" + Account + ":role/web-task",
			NetworkMode:             model.NetworkAWSVPC,
			RequiresCompatibilities: []string{"FARGATE"},
			SchedulingStrategy:      model.SchedulingReplica,
			DesiredCount:            Int32(4),
			LoadBalancer:            &model.LoadBalancerSpec{ContainerName: "web", ContainerPort: 8080},
			Secrets: []model.Secret{{Name: "DB_PASSWORD",
				ValueFrom: "arn:aws:secretsmanager:" + Region + ":" + Account + ":secret:shop/db-AbCdEf"}},
		},
	}
}

// Environment is an example production environment.
func Environment(appID string) *model.Environment {
	return &model.Environment{ApplicationID: appID, Name: "prod", Type: model.EnvProd,
		Overrides: model.Overrides{EnvVars: map[string]string{"REGION": Region}}}
}

// Infrastructure is an example FARGATE infrastructure with blue and green
// target groups, a production and a test listener.
func Infrastructure(appID, envID, cloudProviderID string) *model.InfrastructureDefinition {
	elb := "arn:aws:elasticloadbalancing:" + Region + ":" + Account + ":"
	return &model.InfrastructureDefinition{
		ApplicationID: appID, EnvironmentID: envID, Name: "main",
		CloudProviderID: cloudProviderID, Region: Region, Cluster: "prod",
		LaunchType: model.LaunchFargate,
		Network:    model.Network{Subnets: []string{"subnet-0a1b2c3d"}, SecurityGroups: []string{"sg-0a1b2c3d"}},
		LoadBalancing: &model.LoadBalancing{
			TargetGroupARNs: []string{elb + "targetgroup/web-blue/0123456789abcdef", elb + "targetgroup/web-green/fedcba9876543210"},
			ProdListenerARN: elb + "listener/app/shop/0123456789abcdef/1111111111111111",
			TestListenerARN: elb + "listener/app/shop/0123456789abcdef/2222222222222222",
		},
	}
}

// RollingWorkflow is an example rolling workflow.
func RollingWorkflow(appID, envID, infraID string) *model.Workflow {
	return &model.Workflow{ApplicationID: appID, Name: "rolling", EnvironmentID: envID, InfrastructureID: infraID,
		Strategy: model.Strategy{Type: model.StrategyRolling, Rolling: &model.RollingStrategy{
			MinimumHealthyPercent: 100, MaximumPercent: 200,
			CircuitBreaker: &model.CircuitBreaker{Enable: true, Rollback: true}}},
		Verification: model.Verification{Alarms: []string{"web-5xx"}, BakeSeconds: 60}}
}

// CanaryWorkflow is an example three-phase canary with traffic weights.
func CanaryWorkflow(appID, envID, infraID string) *model.Workflow {
	return &model.Workflow{ApplicationID: appID, Name: "canary", EnvironmentID: envID, InfrastructureID: infraID,
		Strategy: model.Strategy{Type: model.StrategyCanary, Canary: &model.CanaryStrategy{
			Setup: model.ServiceSetup{CountMode: model.CountSameAsRunning, Resize: model.ResizeNewFirst},
			Phases: []model.CanaryPhase{
				{Percent: Int32(25), TrafficWeight: Int32(10), BakeSeconds: 60},
				{Percent: Int32(50), TrafficWeight: Int32(50), BakeSeconds: 60, Alarms: []string{"web-5xx"}},
				{Percent: Int32(100), TrafficWeight: Int32(100)},
			}}},
		ConcurrencyPolicy: model.ConcurrencyReject}
}

// BlueGreenWorkflow is an example ELB blue/green with a test listener.
func BlueGreenWorkflow(appID, envID, infraID string) *model.Workflow {
	return &model.Workflow{ApplicationID: appID, Name: "bluegreen", EnvironmentID: envID, InfrastructureID: infraID,
		Strategy: model.Strategy{Type: model.StrategyBlueGreen, BlueGreen: &model.BlueGreenStrategy{
			Mode: model.BlueGreenELB, UseTestListener: true, LinearSteps: []int32{20, 60, 100},
			StepBakeSeconds: 30, BlueBakeSeconds: 600}},
		Verification: model.Verification{Approval: &model.Approval{TimeoutSeconds: 3600, OnTimeout: model.ApprovalDefaultReject}}}
}

// Pipeline is an example pipeline: a workflow, an approval, a workflow.
func Pipeline(appID, firstWorkflowID, secondWorkflowID string) *model.Pipeline {
	return &model.Pipeline{ApplicationID: appID, Name: "release", Stages: []model.Stage{
		{Name: "dev", Type: model.StageWorkflow, WorkflowID: firstWorkflowID},
		{Name: "approve", Type: model.StageApproval, Approval: &model.Approval{TimeoutSeconds: 3600}},
		{Name: "prod", Type: model.StageWorkflow, WorkflowID: secondWorkflowID},
	}}
}

// Trigger is an example trigger on v* tags of the web repository.
func Trigger(appID, serverID, workflowID, serviceID string) *model.Trigger {
	return &model.Trigger{ApplicationID: appID, Name: "on-release-tag", ArtifactServerID: serverID,
		Repository: "web", TagFilter: `v[0-9]+\.[0-9]+\.[0-9]+`, WorkflowID: workflowID, ServiceID: serviceID}
}

// Graph is a full, valid example graph with IDs filled in, for pure tests.
func Graph() model.Graph {
	cp := CloudProvider()
	cp.ID = "cp-1"
	app := "app-1"
	svc := Service(app, "as-1")
	svc.ID = "svc-1"
	env := Environment(app)
	env.ID = "env-1"
	inf := Infrastructure(app, env.ID, cp.ID)
	inf.ID = "infra-1"
	wf := RollingWorkflow(app, env.ID, inf.ID)
	wf.ID = "wf-1"
	return model.Graph{Workflow: wf, Environment: env, Infrastructure: inf, CloudProvider: cp, Service: svc}
}
