package awsemu

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

const (
	benchServices = 1000
	benchTasks    = 10
)

// buildBigWorld creates benchServices services of benchTasks running tasks
// each on a manual clock and advances it until every task runs.
func buildBigWorld(tb testing.TB) (*Emulator, *simclock.Manual) {
	tb.Helper()
	clock := simclock.NewManual(testStart)
	emu := New(Options{Clock: clock, Seed: 11})
	must := func(op, body string) {
		status, _, out := rawCallF(emu, "AmazonEC2ContainerServiceV20141113."+op, []byte(body))
		if status != 200 {
			tb.Fatalf("%s: %d %s", op, status, out)
		}
	}
	must("CreateCluster", `{"clusterName":"big"}`)
	must("RegisterTaskDefinition", `{"family":"app","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512",
		"containerDefinitions":[{"name":"app","image":"repo/app:1","portMappings":[{"containerPort":8080}]}]}`)
	for i := 0; i < benchServices; i++ {
		must("CreateService", fmt.Sprintf(`{"cluster":"big","serviceName":"svc-%04d","taskDefinition":"app","desiredCount":%d,"launchType":"FARGATE",
			"networkConfiguration":{"awsvpcConfiguration":{"subnets":["subnet-1"]}}}`, i, benchTasks))
	}
	clock.Advance(10 * time.Minute)
	st := emu.State()
	running := 0
	for _, s := range st.Clusters[0].Services {
		running += int(s.Running)
	}
	if running != benchServices*benchTasks {
		tb.Fatalf("running tasks = %d, want %d", running, benchServices*benchTasks)
	}
	return emu, clock
}

// BenchmarkDescribeServicesHTTP measures DescribeServices (10 services per
// call, as pollers batch them) over real loopback HTTP against a world of
// 1,000 services with 10 tasks each.
func BenchmarkDescribeServicesHTTP(b *testing.B) {
	emu, _ := buildBigWorld(b)
	defer emu.Close()
	srv := httptest.NewServer(emu)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	var n atomic.Int64
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		var buf bytes.Buffer
		for pb.Next() {
			i := int(n.Add(1))
			buf.Reset()
			buf.WriteString(`{"cluster":"big","services":[`)
			for k := 0; k < 10; k++ {
				if k > 0 {
					buf.WriteByte(',')
				}
				buf.WriteString(`"svc-` + fmt.Sprintf("%04d", (i*10+k)%benchServices) + `"`)
			}
			buf.WriteString(`]}`)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", bytes.NewReader(buf.Bytes()))
			req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DescribeServices")
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"runningCount":10`)) {
				b.Fatalf("DescribeServices: %d %.200s", resp.StatusCode, body)
			}
		}
	})
	reportThroughput(b, start, cpu0)
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportThroughput reports wall-clock req/s and the CPU cost per request
// (client and server together), whose inverse times two cores is the
// throughput on an otherwise idle 2-core machine.
func reportThroughput(b *testing.B, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	perOp := (cpuTime() - cpu0).Seconds() / float64(b.N)
	b.ReportMetric(perOp*1e6, "cpu-us/op")
	if perOp > 0 {
		b.ReportMetric(2/perOp, "req/s-2cores-by-cpu")
	}
}

// BenchmarkDescribeServicesSDK is the same call through the real SDK client
// (signing, retries and deserialization included).
func BenchmarkDescribeServicesSDK(b *testing.B) {
	emu, _ := buildBigWorld(b)
	defer emu.Close()
	srv := httptest.NewServer(emu)
	defer srv.Close()
	client := ecs.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: staticCreds()})
	var n atomic.Int64
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			names := make([]string, 10)
			for k := range names {
				names[k] = fmt.Sprintf("svc-%04d", (i*10+k)%benchServices)
			}
			out, err := client.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String("big"), Services: names})
			if err != nil || len(out.Services) != 10 || out.Services[0].RunningCount != benchTasks {
				b.Fatalf("DescribeServices: %v", err)
			}
		}
	})
	reportThroughput(b, start, cpu0)
}

func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize()) / (1 << 20)
}

// BenchmarkWorldMemory reports the heap the 1,000 x 10 world holds and the
// process RSS once it is built.
func BenchmarkWorldMemory(b *testing.B) {
	var heap, rss float64
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		emu, _ := buildBigWorld(b)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapInuse-min(before.HeapInuse, after.HeapInuse)) / (1 << 20)
		rss = rssMiB()
		runtime.KeepAlive(emu)
		emu.Close()
	}
	b.ReportMetric(heap, "world-heap-MiB")
	b.ReportMetric(rss, "rss-MiB")
}

// BenchmarkRollingUpdate10Tasks times a 10-task rolling update behind an
// ALB target group with AWS's default health check (30s x 5) and
// deregistration delay (300s) at clock scale 200.
func BenchmarkRollingUpdate10Tasks(b *testing.B) {
	var simTotal, realTotal time.Duration
	for i := 0; i < b.N; i++ {
		sim, real := rollingUpdateOnce(b)
		simTotal += sim
		realTotal += real
	}
	b.ReportMetric(simTotal.Seconds()/float64(b.N), "sim-s/op")
	b.ReportMetric(realTotal.Seconds()/float64(b.N), "real-s/op")
	b.ReportMetric(simTotal.Seconds()/realTotal.Seconds(), "sim/real")
}

func rollingUpdateOnce(b *testing.B) (sim, real time.Duration) {
	b.StopTimer()
	clock := simclock.NewScaled(testStart, 200)
	defer clock.Close()
	sink := NewRecordingSink()
	emu := New(Options{Clock: clock, Sink: sink, Seed: int64(b.N)})
	defer emu.Close()
	srv := httptest.NewServer(emu)
	defer srv.Close()
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: staticCreds()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ec := ecs.NewFromConfig(cfg)
	lc := elb.NewFromConfig(cfg)
	lb, err := lc.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: []string{"subnet-1", "subnet-2"}})
	if err != nil {
		b.Fatal(err)
	}
	tg, err := lc.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("web"), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(8080), VpcId: aws.String("vpc-1"), TargetType: elbtypes.TargetTypeEnumIp})
	if err != nil {
		b.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	if _, err := lc.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tgARN}}}); err != nil {
		b.Fatal(err)
	}
	if _, err := ec.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		b.Fatal(err)
	}
	reg := func(image string) *string {
		out, err := ec.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("web"), NetworkMode: ecstypes.NetworkModeAwsvpc,
			RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate}, Cpu: aws.String("256"), Memory: aws.String("512"),
			ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("app"), Image: aws.String(image), PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(8080)}}}}})
		if err != nil {
			b.Fatal(err)
		}
		return out.TaskDefinition.TaskDefinitionArn
	}
	if _, err := ec.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("prod"), ServiceName: aws.String("web"), TaskDefinition: reg("repo/web:1"),
		DesiredCount: aws.Int32(10), LaunchType: ecstypes.LaunchTypeFargate, HealthCheckGracePeriodSeconds: aws.Int32(60),
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		LoadBalancers:        []ecstypes.LoadBalancer{{TargetGroupArn: tgARN, ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)}}}); err != nil {
		b.Fatal(err)
	}
	completed := func(id string) bool {
		_, ok := sink.Wait(ctx, func(ev Event) bool {
			var m map[string]any
			return ev.DetailType == DetailTypeDeploymentStateChange && jsonUnmarshal(ev.Detail, &m) && m["eventName"] == "SERVICE_DEPLOYMENT_COMPLETED" && (id == "" || m["deploymentId"] == id)
		})
		return ok
	}
	if !completed("") {
		b.Fatal("initial deployment did not complete")
	}
	td2 := reg("repo/web:2")
	b.StartTimer()
	simStart, realStart := clock.Now(), time.Now()
	up, err := ec.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("web"), TaskDefinition: td2})
	if err != nil {
		b.Fatal(err)
	}
	if !completed(aws.ToString(up.Service.Deployments[0].Id)) {
		b.Fatal("rolling update did not complete")
	}
	sim, real = clock.Now().Sub(simStart), time.Since(realStart)
	b.StopTimer()
	return sim, real
}

// BenchmarkDescribeServicesHandler measures the emulator's own cost of a
// 10-service DescribeServices (no network, no client).
func BenchmarkDescribeServicesHandler(b *testing.B) {
	emu, _ := buildBigWorld(b)
	defer emu.Close()
	body := []byte(`{"cluster":"big","services":["svc-0001","svc-0002","svc-0003","svc-0004","svc-0005","svc-0006","svc-0007","svc-0008","svc-0009","svc-0010"]}`)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			status, _, out := rawCallF(emu, "AmazonEC2ContainerServiceV20141113.DescribeServices", body)
			if status != 200 || len(out) < 1000 {
				b.Fatalf("%d %d", status, len(out))
			}
		}
	})
}
