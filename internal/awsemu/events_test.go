package awsemu

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// shape reduces a JSON value to its key structure: objects keep their keys,
// arrays the shape of their first element, scalars their JSON type.
func shape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = shape(e)
		}
		return out
	case []any:
		if len(x) == 0 {
			return []any{}
		}
		return []any{shape(x[0])}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// shapeDiff lists paths where the two shapes differ.
func shapeDiff(path string, want, got any) []string {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if wok && gok {
		var diffs []string
		keys := map[string]bool{}
		for k := range wm {
			keys[k] = true
		}
		for k := range gm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			w, inW := wm[k]
			g, inG := gm[k]
			switch {
			case !inW:
				diffs = append(diffs, path+"."+k+": emitted but not in the AWS sample")
			case !inG:
				diffs = append(diffs, path+"."+k+": in the AWS sample but not emitted")
			default:
				diffs = append(diffs, shapeDiff(path+"."+k, w, g)...)
			}
		}
		return diffs
	}
	wa, waok := want.([]any)
	ga, gaok := got.([]any)
	if waok && gaok {
		if len(wa) == 0 || len(ga) == 0 {
			if len(wa) != len(ga) {
				return []string{fmt.Sprintf("%s: array emptiness differs (sample %d, emitted %d)", path, len(wa), len(ga))}
			}
			return nil
		}
		return shapeDiff(path+"[0]", wa[0], ga[0])
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		return []string{fmt.Sprintf("%s: sample %v, emitted %v", path, want, got)}
	}
	return nil
}

func loadSample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatalf("read sample: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("sample %s: %v", name, err)
	}
	return m
}

func eventJSON(t *testing.T, ev Event) map[string]any {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEmittedEventsMatchAWSSamples(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	digest, err := h.emu.PushImage(ctx, "web", "crash-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.emu.SetFaultPlan(FaultPlan{Seed: 3, Rules: []FaultRule{{Image: "*web:crash*", Behavior: BehaviorCrash, AfterSeconds: 2}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	good := h.registerTD(ctx, "web", "repo/web:1")
	if _, err := h.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("prod"), ServiceName: aws.String("web"), TaskDefinition: good.TaskDefinitionArn, DesiredCount: aws.Int32(2),
		LaunchType:              ecstypes.LaunchTypeFargate,
		NetworkConfiguration:    &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true}},
	}); err != nil {
		t.Fatal(err)
	}
	h.waitStable(ctx, "prod", "web")
	bad, err := h.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("web"), NetworkMode: ecstypes.NetworkModeAwsvpc, Cpu: aws.String("256"), Memory: aws.String("512"),
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:crash-1"), Memory: aws.Int32(512),
			PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(8080)}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("web"), TaskDefinition: bad.TaskDefinition.TaskDefinitionArn}); err != nil {
		t.Fatal(err)
	}
	crashed, ok := h.sink.Wait(ctx, func(ev Event) bool {
		if ev.DetailType != DetailTypeTaskStateChange {
			return false
		}
		m := detailOf(t, ev)
		return m["lastStatus"] == "STOPPED" && m["stopCode"] == "EssentialContainerExited"
	})
	if !ok {
		t.Fatalf("no STOPPED task event for a crashed task\nstate: %s", h.stateJSON())
	}
	if d := detailOf(t, crashed); !strings.Contains(fmt.Sprint(d["containers"]), digest) {
		t.Errorf("crashed task's container lacks the ECR image digest %s: %v", digest, d["containers"])
	}
	failed, ok := h.sink.Wait(ctx, func(ev Event) bool {
		return ev.DetailType == DetailTypeDeploymentStateChange && detailOf(t, ev)["eventName"] == "SERVICE_DEPLOYMENT_FAILED"
	})
	if !ok {
		t.Fatalf("no SERVICE_DEPLOYMENT_FAILED event\nstate: %s", h.stateJSON())
	}
	steady, ok := h.sink.Wait(ctx, func(ev Event) bool {
		return ev.DetailType == DetailTypeServiceAction && detailOf(t, ev)["eventName"] == "SERVICE_STEADY_STATE"
	})
	if !ok {
		t.Fatal("no SERVICE_STEADY_STATE event")
	}
	push, ok := h.sink.Wait(ctx, func(ev Event) bool { return ev.DetailType == DetailTypeECRImageAction })
	if !ok {
		t.Fatal("no ECR Image Action event")
	}
	for _, tc := range []struct {
		sample string
		ev     Event
	}{
		{"ecs-task-state-change.json", crashed},
		{"ecs-deployment-state-change.json", failed},
		{"ecs-service-action.json", steady},
		{"ecr-image-action.json", push},
	} {
		t.Run(tc.sample, func(t *testing.T) {
			want := loadSample(t, tc.sample)
			got := eventJSON(t, tc.ev)
			if diffs := shapeDiff("", shape(want), shape(got)); len(diffs) > 0 {
				t.Fatalf("emitted %s differs in shape from events/%s:\n%s", tc.ev.DetailType, tc.sample, strings.Join(diffs, "\n"))
			}
			if got["detail-type"] != want["detail-type"] || got["source"] != want["source"] || got["version"] != "0" {
				t.Fatalf("envelope: got %v/%v/%v, want %v/%v/0", got["detail-type"], got["source"], got["version"], want["detail-type"], want["source"])
			}
		})
	}
}
