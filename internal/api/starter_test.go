package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
)

// sfnServer answers StartExecution over the awsJson1_0 wire protocol, as
// Step Functions does, and remembers the requests.
type sfnServer struct {
	mu   sync.Mutex
	reqs []map[string]string
	fail bool
}

func (s *sfnServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var in map[string]string
	_ = json.Unmarshal(b, &in)
	in["target"] = r.Header.Get("X-Amz-Target")
	s.mu.Lock()
	s.reqs = append(s.reqs, in)
	fail := s.fail
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if fail {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.swf.service.model.v20120125#StateMachineDoesNotExist","message":"State Machine Does Not Exist"}`))
		return
	}
	arn := strings.Replace(in["stateMachineArn"], ":stateMachine:", ":execution:", 1) + ":" + in["name"]
	_, _ = w.Write([]byte(`{"executionArn":"` + arn + `","startDate":1795741200.5}`))
}

func sfnClient(url string) *sfn.Client {
	return sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
}

func TestSFNStarter(t *testing.T) {
	fake := &sfnServer{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	rolling := "arn:aws:states:us-east-1:123456789012:stateMachine:ecsflow-rolling"
	s := api.NewSFNStarter(sfnClient(srv.URL), map[model.StrategyType]string{model.StrategyRolling: rolling})
	d := &model.Deployment{Meta: model.Meta{ID: "dep-1"}, ApplicationID: "app-1", WorkflowID: "wf-1", ServiceID: "svc-1",
		EnvironmentID: "env-1", InfrastructureID: "infra-1", Strategy: model.StrategyRolling,
		Artifact: model.Artifact{Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web", Tag: "v1"}}
	arn, err := s.Start(context.Background(), d)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if want := "arn:aws:states:us-east-1:123456789012:execution:ecsflow-rolling:dep-1"; arn != want {
		t.Errorf("arn %q, want %q", arn, want)
	}
	if len(fake.reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(fake.reqs))
	}
	req := fake.reqs[0]
	if req["target"] != "AWSStepFunctions.StartExecution" || req["name"] != "dep-1" || req["stateMachineArn"] != rolling {
		t.Errorf("request %v: want StartExecution of %s named dep-1", req, rolling)
	}
	var in api.ExecutionInput
	if err := json.Unmarshal([]byte(req["input"]), &in); err != nil {
		t.Fatalf("input %q: %v", req["input"], err)
	}
	if in.DeploymentID != "dep-1" || in.Image != "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1" || in.InfraID != "infra-1" {
		t.Errorf("input %+v", in)
	}

	d.Strategy = model.StrategyCanary
	if _, err := s.Start(context.Background(), d); err == nil || !strings.Contains(err.Error(), "CANARY") {
		t.Errorf("canary without a state machine: err %v, want one naming CANARY", err)
	}
	fake.fail = true
	d.Strategy = model.StrategyRolling
	_, err = s.Start(context.Background(), d)
	var dne *types.StateMachineDoesNotExist
	if !errors.As(err, &dne) {
		t.Errorf("err %v: want the SDK's StateMachineDoesNotExist", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    map[model.StrategyType]string
		wantErr string
	}{
		{"json", map[string]string{"TABLE_NAME": "t", "STATE_MACHINE_ARNS": `{"ROLLING":"a","CANARY":"b"}`},
			map[model.StrategyType]string{"ROLLING": "a", "CANARY": "b"}, ""},
		{"per strategy wins", map[string]string{"TABLE_NAME": "t", "STATE_MACHINE_ARNS": `{"ROLLING":"a"}`, "STATE_MACHINE_ARN_ROLLING": "z", "STATE_MACHINE_ARN_BLUE_GREEN": "g"},
			map[model.StrategyType]string{"ROLLING": "z", "BLUE_GREEN": "g"}, ""},
		{"no table", map[string]string{"STATE_MACHINE_ARN_ROLLING": "z"}, nil, "TABLE_NAME"},
		{"no machines", map[string]string{"TABLE_NAME": "t"}, nil, "STATE_MACHINE_ARNS"},
		{"bad json", map[string]string{"TABLE_NAME": "t", "STATE_MACHINE_ARNS": `[`}, nil, "STATE_MACHINE_ARNS"},
		{"unknown strategy", map[string]string{"TABLE_NAME": "t", "STATE_MACHINE_ARNS": `{"YOLO":"a"}`}, nil, "YOLO"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := api.ConfigFromEnv(func(k string) string { return c.env[k] })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err %v", err)
			}
			if got.Table != "t" || len(got.StateMachines) != len(c.want) {
				t.Fatalf("got %+v, want table t and %v", got, c.want)
			}
			for k, v := range c.want {
				if got.StateMachines[k] != v {
					t.Errorf("%s = %q, want %q", k, got.StateMachines[k], v)
				}
			}
		})
	}
}
