package awsemu

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// benchWorld is an emulator with services×tasks RUNNING Fargate tasks
// (services of `tasks` tasks each, in one cluster) and one ECR image per
// service, on a manual clock.
func benchWorld(b *testing.B, services, tasks int) (*Emulator, *simclock.Manual) {
	b.Helper()
	clock := simclock.NewManual(testStart)
	emu := New(Options{Clock: clock, Seed: 5})
	var err error
	emu.w.run(func() {
		if _, err = emu.w.createCluster(&ecs.CreateClusterInput{ClusterName: aws.String("bench")}); err != nil {
			return
		}
		for i := range services {
			name := fmt.Sprintf("svc-%03d", i)
			if _, err = emu.w.pushImage(name, "v1"); err != nil {
				return
			}
			var td *ecs.RegisterTaskDefinitionOutput
			td, err = emu.w.registerTaskDefinition(&ecs.RegisterTaskDefinitionInput{Family: aws.String(name), NetworkMode: ecstypes.NetworkModeAwsvpc,
				RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate}, Cpu: aws.String("256"), Memory: aws.String("512"),
				ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("app"), Image: aws.String(name + ":v1"), Essential: aws.Bool(true)}}})
			if err != nil {
				return
			}
			_, err = emu.w.createService(&ecs.CreateServiceInput{Cluster: aws.String("bench"), ServiceName: aws.String(name),
				TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(int32(tasks)), LaunchType: ecstypes.LaunchTypeFargate,
				NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}})
			if err != nil {
				return
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	if st := emu.State(); len(st.Clusters) != 1 || len(st.Clusters[0].Tasks) != services*tasks {
		b.Fatalf("bench world has %d tasks, want %d", len(st.Clusters[0].Tasks), services*tasks)
	}
	b.Cleanup(emu.Close)
	return emu, clock
}

// BenchmarkEmulatorSave: saving a world of 50 services with 10 RUNNING
// tasks each (what `ecsflow local --data-dir` does every second while the
// world changes). Reports the file size.
func BenchmarkEmulatorSave(b *testing.B) {
	emu, _ := benchWorld(b, 50, 10)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := emu.Save(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/file")
}

// BenchmarkEmulatorLoad: loading that world into a new emulator (the
// restart of `ecsflow local --data-dir`).
func BenchmarkEmulatorLoad(b *testing.B) {
	emu, clock := benchWorld(b, 50, 10)
	var buf bytes.Buffer
	if err := emu.Save(&buf); err != nil {
		b.Fatal(err)
	}
	raw := buf.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		e2 := New(Options{Clock: clock, Seed: 5})
		if err := e2.Load(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
		e2.Close()
	}
}
