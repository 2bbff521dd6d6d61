package awsemu

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	sd "github.com/aws/aws-sdk-go-v2/service/servicediscovery"
)

// normalize truncates every time.Time reachable from v to milliseconds in
// UTC (the wire's precision), in place.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == timeType {
			if v.CanSet() {
				t := v.Interface().(time.Time)
				v.Set(reflect.ValueOf(time.UnixMilli(t.UnixMilli()).UTC()))
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				normalize(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			normalize(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			normalize(e)
			v.SetMapIndex(k, e)
		}
	}
}

// firstDiff names the first path where a and b differ.
func firstDiff(path string, a, b reflect.Value) string {
	if a.Kind() != b.Kind() {
		return path + ": kinds differ"
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: nil %v vs %v", path, a.IsNil(), b.IsNil())
			}
			return ""
		}
		return firstDiff(path, a.Elem(), b.Elem())
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !a.Type().Field(i).IsExported() || a.Type().Field(i).Name == "ResultMetadata" {
				continue
			}
			if d := firstDiff(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: len %d vs %d", path, a.Len(), b.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if d := firstDiff(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i)); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return fmt.Sprintf("%s: %v vs %v", path, a.Interface(), b.Interface())
	}
	return ""
}

func sameOnTheWire(t *testing.T, what string, sent, received any) {
	t.Helper()
	// Work on a deep copy: sent's pointers lead into the world's state.
	b, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	cp := reflect.New(reflect.TypeOf(sent).Elem())
	if err := json.Unmarshal(b, cp.Interface()); err != nil {
		t.Fatal(err)
	}
	sent = cp.Interface()
	normalize(reflect.ValueOf(sent))
	normalize(reflect.ValueOf(received))
	if d := firstDiff(what, reflect.ValueOf(sent), reflect.ValueOf(received)); d != "" {
		t.Fatalf("%s does not survive the wire: %s", what, d)
	}
}

// TestShapesSurviveTheWire compares what the world holds with what the real
// SDK decodes from the emulator's responses, field by field, for the main
// ECS shapes and the reflection-encoded Cloud Map shapes.
func TestShapesSurviveTheWire(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	h.fargateService(ctx, "prod", "web", "repo/web:v1", 2, true)
	h.waitStable(ctx, "prod", "web")
	if _, err := aas.NewFromConfig(h.cfg).RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/prod/web"),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(4),
	}); err != nil {
		t.Fatal(err)
	}
	ns, err := sd.NewFromConfig(h.cfg).CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("apps")})
	if err != nil {
		t.Fatal(err)
	}
	w := h.emu.w

	gotSvc := h.describe(ctx, "prod", "web")
	w.mu.RLock()
	s := w.clusters["prod"].services["web"]
	wantSvc := *w.serviceView(s, false)
	var taskIDs []string
	for id := range s.tasks {
		taskIDs = append(taskIDs, id)
	}
	wantTask := w.clusters["prod"].tasks[taskIDs[0]].t
	wantTD := *w.families["web"].revs[0]
	wantTarget := *w.aas.targets[aasKey(aastypes.ServiceNamespaceEcs, "service/prod/web", ecsDesiredCount)]
	wantOp := *w.sd.ops[aws.ToString(ns.OperationId)]
	w.mu.RUnlock()
	sameOnTheWire(t, "Service", &wantSvc, &gotSvc)

	dt, err := h.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("prod"), Tasks: []string{taskIDs[0]}})
	if err != nil {
		t.Fatal(err)
	}
	sameOnTheWire(t, "Task", &wantTask, &dt.Tasks[0])

	dtd, err := h.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web:1")})
	if err != nil {
		t.Fatal(err)
	}
	sameOnTheWire(t, "TaskDefinition", &wantTD, dtd.TaskDefinition)

	dst, err := aas.NewFromConfig(h.cfg).DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
	if err != nil {
		t.Fatal(err)
	}
	sameOnTheWire(t, "ScalableTarget", &wantTarget, &dst.ScalableTargets[0])

	op, err := sd.NewFromConfig(h.cfg).GetOperation(ctx, &sd.GetOperationInput{OperationId: ns.OperationId})
	if err != nil {
		t.Fatal(err)
	}
	sameOnTheWire(t, "Cloud Map Operation", &wantOp, op.Operation)
}
