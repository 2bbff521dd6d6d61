package eventbus

import (
	"fmt"
	"testing"
)

// benchRules builds 1,000 patterns shaped like the ones ecsflow and typical
// EventBridge users write: per-service deployment rules, per-cluster task
// rules, and a tail of content filters with no exact-value field.
func benchRules(tb testing.TB) []*Pattern {
	var pats []*Pattern
	add := func(s string) {
		p, err := Compile([]byte(s))
		if err != nil {
			tb.Fatalf("compile %s: %v", s, err)
		}
		pats = append(pats, p)
	}
	for i := 0; i < 800; i++ {
		add(fmt.Sprintf(`{"source":["aws.ecs"],"detail-type":["ECS Deployment State Change","ECS Service Action"],
			"resources":["arn:aws:ecs:us-east-1:123456789012:service/cluster-%d/svc-%d"]}`, i%20, i))
	}
	for i := 0; i < 100; i++ {
		add(fmt.Sprintf(`{"source":["aws.ecs"],"detail-type":["ECS Task State Change"],
			"detail":{"clusterArn":["arn:aws:ecs:us-east-1:123456789012:cluster/cluster-%d"],"lastStatus":["STOPPED"],
			"stopCode":[{"anything-but":"UserInitiated"}]}}`, i))
	}
	for i := 0; i < 50; i++ {
		add(fmt.Sprintf(`{"detail":{"group":[{"prefix":"service:svc-%d"}],"containers":{"exitCode":[{"numeric":[">",0]}]}}}`, i))
	}
	for i := 0; i < 50; i++ {
		add(fmt.Sprintf(`{"$or":[{"detail":{"taskDefinitionArn":[{"suffix":":%d"}]}},{"detail":{"desiredStatus":[{"equals-ignore-case":"pending-%d"}]}}]}`, i, i))
	}
	return pats
}

func benchEvent(i int) []byte {
	return fmt.Appendf(nil, `{"version":"0","id":"3317b2af-7005-947d-b652-f55e762e571a","detail-type":"ECS Task State Change",
"source":"aws.ecs","account":"123456789012","time":"2026-11-26T01:02:03Z","region":"us-east-1",
"resources":["arn:aws:ecs:us-east-1:123456789012:task/cluster-%[1]d/0b69d5c0d655438bac4cd9e9e6f5d6c4"],
"detail":{"attachments":[{"id":"1789bcae-ddfb-4d10-8ebe-8ac87ddba5b8","type":"eni","status":"ATTACHED",
"details":[{"name":"subnetId","value":"subnet-abcd1234"},{"name":"networkInterfaceId","value":"eni-abcd1234"},
{"name":"privateIPv4Address","value":"10.0.0.139"}]}],"availabilityZone":"us-east-1b",
"clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/cluster-%[1]d",
"containers":[{"containerArn":"arn:aws:ecs:us-east-1:123456789012:container/cluster-%[1]d/0b69d5c0/3305bea1",
"exitCode":%[2]d,"lastStatus":"STOPPED","name":"web","image":"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v%[1]d",
"imageDigest":"sha256:74b2c688c700ec95a93e478cdb959737c148df3fbf5ea706abe0318726e885e6","taskArn":"arn:aws:ecs:us-east-1:123456789012:task/cluster-%[1]d/0b69d5c0",
"networkInterfaces":[{"attachmentId":"1789bcae","privateIpv4Address":"10.0.0.139"}],"cpu":"0"}],
"createdAt":"2026-11-26T01:00:03.000Z","launchType":"FARGATE","cpu":"256","memory":"512","desiredStatus":"STOPPED",
"group":"service:svc-%[1]d","lastStatus":"STOPPED","overrides":{"containerOverrides":[{"name":"web"}]},
"stopCode":"EssentialContainerExited","stoppedReason":"Essential container in task exited",
"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/cluster-%[1]d/0b69d5c0d655438bac4cd9e9e6f5d6c4",
"taskDefinitionArn":"arn:aws:ecs:us-east-1:123456789012:task-definition/web:%[1]d","updatedAt":"2026-11-26T01:02:03.000Z","version":3}}`,
		i, i%3)
}

// BenchmarkMatcher1000Rules measures events matched per second against 1,000
// rules on one goroutine (target: at least 50,000 events/s).
func BenchmarkMatcher1000Rules(b *testing.B) {
	m := NewMatcher(benchRules(b))
	events := make([][]byte, 64)
	for i := range events {
		events[i] = benchEvent(i)
	}
	// Sanity: the workload really matches something.
	hits, err := m.Matches(events[1], nil)
	if err != nil || len(hits) == 0 {
		b.Fatalf("benchmark event matched nothing (%v, %v)", hits, err)
	}
	var dst []int
	b.ReportAllocs()
	b.SetBytes(int64(len(events[0])))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst, err = m.Matches(events[i%len(events)], dst[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
