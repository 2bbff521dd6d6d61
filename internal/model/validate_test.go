package model_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
)

var i32 = modeltest.Int32

// fieldsOf returns the field paths of a validation error, failing if err is
// not one.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *model.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got error %v (%T), want *model.ValidationError", err, err)
	}
	out := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		out[i] = f.Field
	}
	return out
}

func wantFields(t *testing.T, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("got %v, want no error", err)
		}
		return
	}
	got := fieldsOf(t, err)
	for _, w := range want {
		found := false
		for _, g := range got {
			if g == w {
				found = true
			}
		}
		if !found {
			t.Errorf("got fields %v, want one naming %q", got, w)
		}
	}
}

func TestFixturesAreValid(t *testing.T) {
	entities := []model.Entity{
		modeltest.Application(), modeltest.CloudProvider(), modeltest.ArtifactServer("cp-1"),
		modeltest.Service("app-1", "as-1"), modeltest.Environment("app-1"),
		modeltest.Infrastructure("app-1", "env-1", "cp-1"),
		modeltest.RollingWorkflow("app-1", "env-1", "infra-1"), modeltest.CanaryWorkflow("app-1", "env-1", "infra-1"),
		modeltest.BlueGreenWorkflow("app-1", "env-1", "infra-1"), modeltest.Pipeline("app-1", "wf-1", "wf-2"),
		modeltest.Trigger("app-1", "as-1", "wf-1", "svc-1"),
	}
	for _, e := range entities {
		if err := e.Validate(); err != nil {
			t.Errorf("%s fixture: %v", e.Kind(), err)
		}
	}
	if err := model.ValidateGraph(modeltest.Graph()); err != nil {
		t.Errorf("example graph: %v", err)
	}
}

func TestWorkflowValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(w *model.Workflow)
		want   []string
	}{
		{"valid canary", func(w *model.Workflow) {}, nil},
		{"phases not rising to 100", func(w *model.Workflow) {
			w.Strategy.Canary.Phases[2].Percent = i32(90)
		}, []string{"strategy.canary.phases[2].percent"}},
		{"phase percent falls", func(w *model.Workflow) {
			w.Strategy.Canary.Phases[1].Percent = i32(20)
		}, []string{"strategy.canary.phases[1].percent"}},
		{"traffic weight above 100", func(w *model.Workflow) {
			w.Strategy.Canary.Phases[0].TrafficWeight = i32(101)
		}, []string{"strategy.canary.phases[0].trafficWeight"}},
		{"traffic weight below 0", func(w *model.Workflow) {
			w.Strategy.Canary.Phases[0].TrafficWeight = i32(-1)
		}, []string{"strategy.canary.phases[0].trafficWeight"}},
		{"count and percent together", func(w *model.Workflow) {
			w.Strategy.Canary.Phases[0].Count = i32(1)
		}, []string{"strategy.canary.phases[0]"}},
		{"no phases", func(w *model.Workflow) {
			w.Strategy.Canary.Phases = nil
		}, []string{"strategy.canary.phases"}},
		{"every problem at once", func(w *model.Workflow) {
			w.Name = ""
			w.ConcurrencyPolicy = "LATER"
			w.Strategy.Canary.Phases[0].TrafficWeight = i32(300)
			w.Strategy.Canary.Phases[2].Percent = i32(99)
		}, []string{"name", "concurrencyPolicy", "strategy.canary.phases[0].trafficWeight", "strategy.canary.phases[2].percent"}},
		{"strategy body for another type", func(w *model.Workflow) {
			w.Strategy.Rolling = &model.RollingStrategy{MinimumHealthyPercent: 50, MaximumPercent: 200}
		}, []string{"strategy.rolling"}},
		{"unknown strategy", func(w *model.Workflow) {
			w.Strategy = model.Strategy{Type: "RECREATE"}
		}, []string{"strategy.type"}},
		{"fixed count without count", func(w *model.Workflow) {
			w.Strategy.Canary.Setup.CountMode = model.CountFixed
		}, []string{"strategy.canary.setup.fixedCount"}},
		{"bad alarm name", func(w *model.Workflow) {
			w.Verification.Alarms = []string{" "}
		}, []string{"verification.alarms[0]"}},
		{"approval default unknown", func(w *model.Workflow) {
			w.Verification.Approval = &model.Approval{OnTimeout: "MAYBE"}
		}, []string{"verification.approval.onTimeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := modeltest.CanaryWorkflow("app-1", "env-1", "infra-1")
			tt.mutate(w)
			wantFields(t, w.Validate(), tt.want...)
		})
	}
}

func TestBlueGreenAndRollingValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(w *model.Workflow)
		want   []string
	}{
		{"valid", func(w *model.Workflow) {}, nil},
		{"linear steps not ending at 100", func(w *model.Workflow) {
			w.Strategy.BlueGreen.LinearSteps = []int32{20, 60}
		}, []string{"strategy.blueGreen.linearSteps[1]"}},
		{"linear steps falling", func(w *model.Workflow) {
			w.Strategy.BlueGreen.LinearSteps = []int32{60, 20, 100}
		}, []string{"strategy.blueGreen.linearSteps[1]"}},
		{"no mode", func(w *model.Workflow) {
			w.Strategy.BlueGreen.Mode = ""
		}, []string{"strategy.blueGreen.mode"}},
		{"rolling max percent below 100", func(w *model.Workflow) {
			w.Strategy = model.Strategy{Type: model.StrategyRolling,
				Rolling: &model.RollingStrategy{MinimumHealthyPercent: 50, MaximumPercent: 90}}
		}, []string{"strategy.rolling.maximumPercent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := modeltest.BlueGreenWorkflow("app-1", "env-1", "infra-1")
			tt.mutate(w)
			wantFields(t, w.Validate(), tt.want...)
		})
	}
}

func TestServiceValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *model.Service)
		want   []string
	}{
		{"valid", func(s *model.Service) {}, nil},
		{"DAEMON with desired count", func(s *model.Service) {
			s.ECS.SchedulingStrategy = model.SchedulingDaemon
		}, []string{"ecs.desiredCount"}},
		{"FARGATE without awsvpc", func(s *model.Service) {
			s.ECS.NetworkMode = model.NetworkBridge
		}, []string{"ecs.networkMode"}},
		{"malformed role ARN", func(s *model.Service) {
			s.ECS.TaskRoleARN = "arn:aws:iam:role/web"
		}, []string{"ecs.taskRoleArn"}},
		{"role ARN of the wrong service", func(s *model.Service) {
			s.ECS.ExecutionRoleARN = "arn:aws:s3:::bucket"
		}, []string{"ecs.executionRoleArn"}},
		{"secret as a value", func(s *model.Service) {
			s.ECS.Secrets[0].ValueFrom = "hunter2"
		}, []string{"ecs.secrets[0].valueFrom"}},
		{"secret inside container definitions", func(s *model.Service) {
			s.ECS.ContainerDefinitions = json.RawMessage(`[{"name":"web","image":"x","secrets":[{"name":"A","valueFrom":"B"}]}]`)
		}, []string{"ecs.containerDefinitions[0].secrets"}},
		{"container definitions not an array", func(s *model.Service) {
			s.ECS.ContainerDefinitions = json.RawMessage(`{"name":"web"}`)
		}, []string{"ecs.containerDefinitions"}},
		{"container without image", func(s *model.Service) {
			s.ECS.ContainerDefinitions = json.RawMessage(`[{"name":"web"}]`)
		}, []string{"ecs.containerDefinitions[0].image"}},
		{"load balancer names unknown container", func(s *model.Service) {
			s.ECS.LoadBalancer.ContainerName = "api"
		}, []string{"ecs.loadBalancer.containerName"}},
		{"malformed Cloud Map ARN", func(s *model.Service) {
			s.ECS.ServiceRegistry = &model.ServiceRegistry{RegistryARN: "srv-123"}
		}, []string{"ecs.serviceRegistry.registryArn"}},
		{"bad name", func(s *model.Service) {
			s.Name = "web service!"
		}, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := modeltest.Service("app-1", "as-1")
			tt.mutate(s)
			wantFields(t, s.Validate(), tt.want...)
		})
	}
}

func TestAccountLevelValidation(t *testing.T) {
	cp := modeltest.CloudProvider()
	cp.RoleARN = "arn:aws:iam::999999999999:role/x"
	cp.Regions = []string{"moon-1"}
	wantFields(t, cp.Validate(), "roleArn", "regions[0]")

	as := modeltest.ArtifactServer("cp-1")
	as.Type = model.ArtifactServerDockerRegistry
	as.URL = "registry.example.com"
	as.CredentialsSecretARN = "arn:aws:ssm:us-east-1:123456789012:parameter/x"
	wantFields(t, as.Validate(), "url", "credentialsSecretArn")

	inf := modeltest.Infrastructure("app-1", "env-1", "cp-1")
	inf.LoadBalancing.TargetGroupARNs[1] = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
	inf.CapacityProviderStrategy = []model.CapacityProviderItem{{CapacityProvider: "FARGATE_SPOT", Weight: 1}}
	wantFields(t, inf.Validate(), "loadBalancing.targetGroupArns[1]", "launchType")

	tr := modeltest.Trigger("app-1", "as-1", "wf-1", "")
	tr.TagFilter = "v[0-9"
	tr.PipelineID = "pl-1"
	wantFields(t, tr.Validate(), "tagFilter", "pipelineId")

	pl := modeltest.Pipeline("app-1", "wf-1", "")
	wantFields(t, pl.Validate(), "stages[2].workflowId")
}

func TestGraphValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(g *model.Graph)
		want   []string
	}{
		{"valid rolling", func(g *model.Graph) {}, nil},
		{"FARGATE without awsvpc", func(g *model.Graph) {
			g.Service.ECS.NetworkMode = model.NetworkBridge
			g.Service.ECS.RequiresCompatibilities = nil
		}, []string{"service.ecs.networkMode"}},
		{"blue/green ELB with one target group", func(g *model.Graph) {
			g.Workflow.Strategy = modeltest.BlueGreenWorkflow("app-1", "env-1", "infra-1").Strategy
			g.Infrastructure.LoadBalancing.TargetGroupARNs = g.Infrastructure.LoadBalancing.TargetGroupARNs[:1]
		}, []string{"infrastructure.loadBalancing.targetGroupArns"}},
		{"blue/green Route 53 without a zone", func(g *model.Graph) {
			g.Workflow.Strategy = model.Strategy{Type: model.StrategyBlueGreen,
				BlueGreen: &model.BlueGreenStrategy{Mode: model.BlueGreenRoute53}}
		}, []string{"infrastructure.dns.hostedZoneId"}},
		{"test listener missing", func(g *model.Graph) {
			g.Workflow.Strategy = modeltest.BlueGreenWorkflow("app-1", "env-1", "infra-1").Strategy
			g.Infrastructure.LoadBalancing.TestListenerARN = ""
		}, []string{"infrastructure.loadBalancing.testListenerArn"}},
		{"canary weights without target groups", func(g *model.Graph) {
			g.Workflow.Strategy = modeltest.CanaryWorkflow("app-1", "env-1", "infra-1").Strategy
			g.Infrastructure.LoadBalancing = nil
			g.Service.ECS.LoadBalancer = nil
		}, []string{"workflow.strategy.canary.phases[0].trafficWeight"}},
		{"DAEMON service with desired count override", func(g *model.Graph) {
			g.Service.ECS.SchedulingStrategy = model.SchedulingDaemon
			g.Service.ECS.DesiredCount = nil
			g.Infrastructure.LaunchType = model.LaunchEC2
			g.Workflow.Strategy = model.Strategy{Type: model.StrategyDaemon}
			g.Environment.Overrides.DesiredCount = i32(3)
		}, []string{"environment.overrides.desiredCount"}},
		{"DAEMON service on FARGATE with rolling", func(g *model.Graph) {
			g.Service.ECS.SchedulingStrategy = model.SchedulingDaemon
			g.Service.ECS.DesiredCount = nil
		}, []string{"infrastructure.launchType", "workflow.strategy.type"}},
		{"infrastructure of another environment", func(g *model.Graph) {
			g.Infrastructure.EnvironmentID = "env-2"
		}, []string{"workflow.infraId"}},
		{"region outside the cloud provider", func(g *model.Graph) {
			g.Infrastructure.Region = "eu-west-1"
		}, []string{"infrastructure.region"}},
		{"service of another application", func(g *model.Graph) {
			g.Service.ApplicationID = "app-2"
		}, []string{"service.appId"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := modeltest.Graph()
			tt.mutate(&g)
			wantFields(t, model.ValidateGraph(g), tt.want...)
		})
	}
}

func TestStatusTransitions(t *testing.T) {
	tests := []struct {
		from, to model.Status
		want     bool
	}{
		{model.StatusQueued, model.StatusRunning, true},
		{model.StatusRunning, model.StatusWaitingApproval, true},
		{model.StatusWaitingApproval, model.StatusRunning, true},
		{model.StatusRunning, model.StatusRollingBack, true},
		{model.StatusRollingBack, model.StatusRolledBack, true},
		{model.StatusRunning, model.StatusSucceeded, true},
		{model.StatusQueued, model.StatusSucceeded, false},
		{model.StatusSucceeded, model.StatusRunning, false},
		{model.StatusRolledBack, model.StatusRolledBack, false},
		{model.StatusRunning, model.StatusRunning, true},
		{model.StatusAborted, model.StatusRollingBack, false},
	}
	for _, tt := range tests {
		if got := model.CanTransition(tt.from, tt.to); got != tt.want {
			t.Errorf("CanTransition(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	if err := model.Transition(model.StatusSucceeded, model.StatusRunning); err == nil {
		t.Error("Transition(SUCCEEDED, RUNNING) = nil, want an error")
	}
}

func TestIDsAreTimeOrderedAndKinded(t *testing.T) {
	a, b := model.NewID(model.KindService), model.NewID(model.KindService)
	if !(a < b) {
		t.Errorf("IDs not increasing: %s then %s", a, b)
	}
	for _, k := range model.Kinds {
		id := model.NewID(k)
		if got, ok := model.KindOfID(id); !ok || got != k {
			t.Errorf("KindOfID(%s) = %s, %v; want %s", id, got, ok, k)
		}
	}
	if _, ok := model.KindOfID("nope"); ok {
		t.Error("KindOfID(nope) reported a kind")
	}
}

func TestArtifactReferencePinsDigest(t *testing.T) {
	a := model.Artifact{Image: "r/web", Tag: "v1", Digest: "sha256:abc"}
	if got := a.Reference(); got != "r/web@sha256:abc" {
		t.Errorf("Reference() = %q, want digest-pinned", got)
	}
	a.Digest = ""
	if got := a.Reference(); got != "r/web:v1" {
		t.Errorf("Reference() = %q, want r/web:v1", got)
	}
}

func TestReferencesNameTheirFields(t *testing.T) {
	p := modeltest.Pipeline("app-1", "wf-1", "wf-2")
	refs := p.References()
	want := map[string]string{"appId": "app-1", "stages[0].workflowId": "wf-1", "stages[2].workflowId": "wf-2"}
	if len(refs) != len(want) {
		t.Fatalf("got %d refs %v, want %d", len(refs), refs, len(want))
	}
	for _, r := range refs {
		if want[r.Field] != r.ID {
			t.Errorf("ref %s = %s, want %s", r.Field, r.ID, want[r.Field])
		}
	}
}

func FuzzValidateWorkflow(f *testing.F) {
	seed, _ := json.Marshal(modeltest.CanaryWorkflow("app-1", "env-1", "infra-1"))
	f.Add(seed)
	f.Add([]byte(`{"strategy":{"type":"CANARY","canary":{"phases":[{"count":-1,"trafficWeight":900}]}}}`))
	f.Add([]byte(`{"strategy":{"type":"BLUE_GREEN","blueGreen":{"linearSteps":[0,0,-5]}}}`))
	f.Add([]byte(`{"strategy":{"type":"ROLLING"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var w model.Workflow
		if json.Unmarshal(data, &w) != nil {
			return
		}
		err := w.Validate()
		if err != nil {
			var ve *model.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("Validate returned %v, want a ValidationError with fields", err)
			}
		}
	})
}

func FuzzValidateService(f *testing.F) {
	seed, _ := json.Marshal(modeltest.Service("app-1", "as-1"))
	f.Add(seed)
	f.Add([]byte(`{"ecs":{"containerDefinitions":[{"name":1}],"secrets":[{"valueFrom":"arn:"}]}}`))
	f.Add([]byte(`{"ecs":{"containerDefinitions":"x","serviceRegistry":{}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s model.Service
		if json.Unmarshal(data, &s) != nil {
			return
		}
		_ = s.Validate()
		g := modeltest.Graph()
		g.Service = &s
		_ = model.ValidateGraph(g)
	})
}
