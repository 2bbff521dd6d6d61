package pipeline_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
)

// taskDefinition returns the image and the environment of the first
// container of the task definition that service runs in cluster.
func (s *stack) taskDefinition(t *testing.T, cluster, service string) (string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	out, err := s.w.Clients.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	if err != nil {
		t.Fatalf("DescribeServices: %v", err)
	}
	if len(out.Services) == 0 || aws.ToString(out.Services[0].Status) != "ACTIVE" {
		t.Fatalf("no active service %s in %s", service, cluster)
	}
	td, err := s.w.Clients.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: out.Services[0].TaskDefinition})
	if err != nil {
		t.Fatalf("DescribeTaskDefinition: %v", err)
	}
	c := td.TaskDefinition.ContainerDefinitions[0]
	env := map[string]string{}
	for _, kv := range c.Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	return aws.ToString(c.Image), env
}

// TestPipelineVariablesReachTheTaskDefinition: the pipeline execution's
// variables fill ${workflow.variables.NAME} and win over the service's
// variable of the same name in the task definition the emulator registered;
// the artifact fills the image. A pipeline that does not set a variable the
// template names fails its first stage at PREPARE, naming the placeholder,
// and the pipeline ends FAILED (nothing is stuck, nothing deployed).
func TestPipelineVariablesReachTheTaskDefinition(t *testing.T) {
	s := newStack(t)

	var x model.PipelineExecution
	req := api.PipelineExecutionRequest{Artifact: api.ArtifactRequest{Tag: "v7"}, ServiceID: s.ids.apiSvc,
		Variables: map[string]string{"BUILD": "b-1234", "RELEASE": "r42"}}
	if code := s.call(t, http.MethodPost, "/v1/pipelines/"+s.ids.pipeline+"/executions", req, &x); code != http.StatusCreated {
		t.Fatalf("start pipeline: %d", code)
	}
	got := s.waitStage(t, x.ID, "approve-prod", model.PipelineWaitingApproval)
	dev := s.deployment(t, got.Stages[0].DeploymentID)
	if dev.Variables["BUILD"] != "b-1234" || dev.Variables["RELEASE"] != "r42" {
		t.Errorf("dev deployment variables %v, want the pipeline's", dev.Variables)
	}
	img, env := s.taskDefinition(t, "dev", "api")
	if img != image+":v7" {
		t.Errorf("dev image %q, want %s:v7", img, image)
	}
	want := map[string]string{"BUILD": "b-1234", "RELEASE": "r42", "WHERE": "api@dev"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("dev task definition %s = %q, want %q (environment %v)", k, env[k], v, env)
		}
	}
	if code := s.call(t, http.MethodPost, "/v1/pipeline-executions/"+x.ID+"/reject", nil, nil); code != http.StatusOK {
		t.Fatalf("reject: %d", code)
	}
	if _, fin := s.finish(t, &x); fin.Status != model.PipelineFailed || fin.FailedStage != "approve-prod" {
		t.Fatalf("rejected pipeline %s at %q (%s)", fin.Status, fin.FailedStage, fin.Reason)
	}

	// No BUILD: the dev stage fails at PREPARE naming the placeholder.
	var y model.PipelineExecution
	req = api.PipelineExecutionRequest{Artifact: api.ArtifactRequest{Tag: "v8"}, ServiceID: s.ids.apiSvc,
		Variables: map[string]string{"RELEASE": "r43"}}
	if code := s.call(t, http.MethodPost, "/v1/pipelines/"+s.ids.pipeline+"/executions", req, &y); code != http.StatusCreated {
		t.Fatalf("start pipeline: %d", code)
	}
	ex, fin := s.finish(t, &y)
	if ex.Status != "FAILED" || fin.Status != model.PipelineFailed || fin.FailedStage != "dev" ||
		!strings.Contains(fin.Reason, "${workflow.variables.BUILD}") {
		t.Fatalf("pipeline without BUILD: execution %s, record %s at %q (%s); want FAILED at dev naming ${workflow.variables.BUILD}",
			ex.Status, fin.Status, fin.FailedStage, fin.Reason)
	}
	d := s.deployment(t, fin.Stages[0].DeploymentID)
	if d.Status != model.StatusFailed || !strings.Contains(d.Reason, "no value for ${workflow.variables.BUILD}") {
		t.Fatalf("deployment %s (%s), want FAILED naming the placeholder", d.Status, d.Reason)
	}
	var prepare *model.StepRecord
	for i := range d.Steps {
		if d.Steps[i].Name == "PREPARE" {
			prepare = &d.Steps[i]
		}
	}
	if prepare == nil || prepare.Error != "Invalid" || d.NewRevision != nil {
		t.Fatalf("steps %+v, new revision %+v: want PREPARE failed with Invalid and nothing registered", d.Steps, d.NewRevision)
	}
	if img, env := s.taskDefinition(t, "dev", "api"); img != image+":v7" || env["RELEASE"] != "r42" {
		t.Errorf("dev runs %s %v after the failed pipeline, want still v7 / r42", img, env)
	}
}
