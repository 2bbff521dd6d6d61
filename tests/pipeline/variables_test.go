package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
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
// the artifact fills the image. A pipeline start that does not set a
// variable the template names is refused with 400 naming variables.<NAME>,
// and nothing is recorded or deployed.
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

	// No BUILD: the API refuses the start with 400 naming variables.BUILD
	// and records nothing (PREPARE's own check stays as the safety net,
	// internal/steps).
	req = api.PipelineExecutionRequest{Artifact: api.ArtifactRequest{Tag: "v8"}, ServiceID: s.ids.apiSvc,
		Variables: map[string]string{"RELEASE": "r43"}}
	b, _ := json.Marshal(req)
	resp, err := http.Post(s.apiURL+"/v1/pipelines/"+s.ids.pipeline+"/executions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("start pipeline without BUILD: %v", err)
	}
	var eb api.ErrorBody
	derr := json.NewDecoder(resp.Body).Decode(&eb)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || derr != nil || len(eb.Error.Fields) != 1 || eb.Error.Fields[0].Field != "variables.BUILD" ||
		!strings.Contains(eb.Error.Fields[0].Message, "${workflow.variables.BUILD}") {
		t.Fatalf("start pipeline without BUILD: %d %+v (%v), want 400 naming variables.BUILD", resp.StatusCode, eb, derr)
	}
	var list api.ListBody[*model.PipelineExecution]
	if code := s.call(t, http.MethodGet, "/v1/pipelines/"+s.ids.pipeline+"/executions", nil, &list); code != http.StatusOK ||
		len(list.Items) != 1 || list.Items[0].ID != x.ID {
		t.Fatalf("executions after the refused start: %d %d items, want only %s", code, len(list.Items), x.ID)
	}
	if img, env := s.taskDefinition(t, "dev", "api"); img != image+":v7" || env["RELEASE"] != "r42" {
		t.Errorf("dev runs %s %v after the failed pipeline, want still v7 / r42", img, env)
	}
}
