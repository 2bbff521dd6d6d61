package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsflow/ecsflow/internal/model"
)

// TestDeployWithVariables: --var sets a standalone deployment's workflow
// variables, which fill ${workflow.variables.NAME} in the task definition;
// without it the API refuses the deployment naming variables.<NAME>; a --var not of
// the form NAME=VALUE, or one the API refuses, is an error naming it.
func TestDeployWithVariables(t *testing.T) {
	c, s := newCLI(t)
	ctx := context.Background()
	ecsc := ecs.NewFromConfig(s.AWSConfig())
	if _, err := ecsc.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("cli")}); err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "rolling.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const marker = "              essential: true\n"
	if !strings.Contains(string(raw), marker) {
		t.Fatal("testdata/rolling.yaml changed: no container to add an environment to")
	}
	cfg := strings.Replace(string(raw), marker, marker+
		"              environment:\n"+
		"                - {name: ZONE, value: \"${workflow.variables.ZONE}\"}\n", 1)
	path := filepath.Join(t.TempDir(), "vars.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("apply", "-f", path)
	c.must("push", "worker:v1")

	// Bad forms are refused before anything is sent.
	for _, bad := range []string{"ZONE", "=eu", "ZONE=a --var ZONE=b"} {
		args := append([]string{"deploy", "shop/worker", "--env", "dev", "--image", "v1"}, varArgs(bad)...)
		if _, err := c.run(args...); err == nil || !strings.Contains(err.Error(), "--var") {
			t.Errorf("deploy %s: err %v, want one naming --var", strings.Join(args[5:], " "), err)
		}
	}
	// A name the API refuses comes back naming variables.<name>.
	if _, err := c.run("deploy", "shop/worker", "--env", "dev", "--image", "v1", "--var", "bad-name=x"); err == nil ||
		!strings.Contains(err.Error(), "variables.bad-name") || !strings.Contains(err.Error(), "400") {
		t.Errorf("deploy --var bad-name=x: err %v, want a 400 naming variables.bad-name", err)
	}
	if l := c.must("list", "deployments", "--app", "shop", "-o", "json"); strings.Contains(l, "dep-") {
		t.Errorf("refused deploys recorded deployments:\n%s", l)
	}

	// Without the variable the API refuses the deployment, naming it
	// (PREPARE's own check stays as the safety net, internal/steps).
	if out, err := c.run("deploy", "shop/worker", "--env", "dev", "--image", "v1", "--watch"); err == nil ||
		!strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "variables.ZONE") ||
		!strings.Contains(err.Error(), "${workflow.variables.ZONE}") {
		t.Fatalf("deploy without --var ZONE: err %v, want a 400 naming variables.ZONE\n%s", err, out)
	}
	if l := c.must("list", "deployments", "--app", "shop", "-o", "json"); strings.Contains(l, "dep-") {
		t.Errorf("the deploy without ZONE recorded a deployment:\n%s", l)
	}

	// With it, the task definition carries the value.
	out := c.must("deploy", "shop/worker", "--env", "dev", "--image", "v1", "--var", "ZONE=eu-west-1a", "--var", "EXTRA=a=b", "--watch")
	js := c.must("status", depID(t, out), "-o", "json")
	var d model.Deployment
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, js)
	}
	if d.Status != model.StatusSucceeded {
		t.Fatalf("deployment with ZONE: status %s (%s), want SUCCEEDED", d.Status, d.Reason)
	}
	if d.Variables["ZONE"] != "eu-west-1a" || d.Variables["EXTRA"] != "a=b" || len(d.Variables) != 2 {
		t.Errorf("deployment variables %v, want ZONE=eu-west-1a EXTRA=a=b", d.Variables)
	}
	if d.NewRevision == nil {
		t.Fatal("deployment has no new revision")
	}
	td, err := ecsc.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(d.NewRevision.TaskDefinitionARN)})
	if err != nil {
		t.Fatalf("DescribeTaskDefinition %s: %v", d.NewRevision.TaskDefinitionARN, err)
	}
	var zone []string
	for _, cd := range td.TaskDefinition.ContainerDefinitions {
		for _, kv := range cd.Environment {
			if aws.ToString(kv.Name) == "ZONE" {
				zone = append(zone, aws.ToString(kv.Value))
			}
		}
	}
	if len(zone) != 1 || zone[0] != "eu-west-1a" {
		t.Errorf("task definition environment ZONE = %v, want [eu-west-1a]", zone)
	}
}

// varArgs turns "A --var B" into ["--var", "A", "--var", "B"].
func varArgs(s string) []string {
	var out []string
	for _, v := range strings.Split(s, " --var ") {
		out = append(out, "--var", v)
	}
	return out
}
