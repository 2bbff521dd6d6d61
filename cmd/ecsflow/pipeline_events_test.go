package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// TestPipelineVarsAbortAndEvents: `pipeline start --var` reaches the dev
// task definition (the pipeline variable wins over the service's
// LOG_LEVEL); `pipeline abort` at the approval ends the execution ABORTED
// recording the comment; `events --id` shows the pipeline's and its
// deployment's notifications, ending ABORTED.
func TestPipelineVarsAbortAndEvents(t *testing.T) {
	c, s := newCLI(t)
	c.must("apply", "-f", exampleWorld(t, s, true))
	c.must("push", "web:v1.0.0")
	var x model.PipelineExecution
	if err := json.Unmarshal([]byte(c.must("pipeline", "start", "shop/web-release", "--image", "v1.0.0", "--var", "LOG_LEVEL=debug", "-o", "json")), &x); err != nil {
		t.Fatal(err)
	}
	if x.Variables["LOG_LEVEL"] != "debug" {
		t.Fatalf("started with variables %v", x.Variables)
	}
	deadline := time.Now().Add(30 * time.Second)
	for x.Status != model.PipelineWaitingApproval {
		if x.Status.Final() || time.Now().After(deadline) {
			t.Fatalf("pipeline %s before its approval: %s", x.Status, c.must("pipeline", "status", x.ID))
		}
		time.Sleep(20 * time.Millisecond)
		if err := json.Unmarshal([]byte(c.must("pipeline", "status", x.ID, "-o", "json")), &x); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	dev, err := store.Get[*model.Deployment](ctx, s.Store(), x.Stages[0].DeploymentID)
	if err != nil || dev.NewRevision == nil {
		t.Fatalf("dev deployment: %+v, %v", dev, err)
	}
	td, err := ecs.NewFromConfig(s.AWSConfig()).DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(dev.NewRevision.TaskDefinitionARN)})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range td.TaskDefinition.ContainerDefinitions[0].Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	if env["LOG_LEVEL"] != "debug" || env["ENV"] != "dev" {
		t.Fatalf("dev task definition environment %v, want LOG_LEVEL=debug (the pipeline's) and ENV=dev", env)
	}

	if out := c.must("pipeline", "abort", x.ID, "--comment", "enough"); !strings.Contains(out, "abort accepted: pipeline execution "+x.ID) {
		t.Errorf("abort: %s", out)
	}
	for !x.Status.Final() {
		if time.Now().After(deadline) {
			t.Fatalf("pipeline still %s after the abort", x.Status)
		}
		time.Sleep(20 * time.Millisecond)
		// status exits non-zero once the execution ended other than SUCCEEDED.
		out, _ := c.run("pipeline", "status", x.ID, "-o", "json")
		if err := json.Unmarshal([]byte(out), &x); err != nil {
			t.Fatal(err)
		}
	}
	if x.Status != model.PipelineAborted || x.Abort == nil || x.Abort.Comment != "enough" {
		t.Fatalf("after the abort: %s, abort %+v", x.Status, x.Abort)
	}
	if _, err := c.run("pipeline", "abort", x.ID); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("second abort: %v, want a 409", err)
	}

	// The notifications, through `ecsflow events`.
	var out strings.Builder
	ectx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for !strings.Contains(out.String(), "PIPELINE    ABORTED") {
		if ectx.Err() != nil {
			t.Fatalf("events --id %s:\n%s", x.ID, out.String())
		}
		out.Reset()
		if err := runEvents(ectx, s.URL(), &out, "--id", x.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("events --id %s:\n%s", x.ID, out.String())
	for _, re := range []string{`PIPELINE +STARTED +` + x.ID, `DEPLOYMENT +STARTED +` + dev.ID, `DEPLOYMENT +SUCCEEDED +` + dev.ID,
		`PIPELINE +APPROVAL_NEEDED +` + x.ID, `PIPELINE +ABORTED +` + x.ID} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("events lack %s", re)
		}
	}
}
