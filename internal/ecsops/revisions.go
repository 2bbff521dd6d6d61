package ecsops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// RevisionSep separates a service's name from its revision number in the
// revisioned services of canary and blue/green deployments: web__3.
const RevisionSep = "__"

// RevisionName is base's revision n.
func RevisionName(base string, n int) string { return base + RevisionSep + strconv.Itoa(n) }

// RevisionNumber parses name as a revision of base: web__3 is 3, web itself
// (a service deployed before revisions) is 0; anything else is not one.
func RevisionNumber(base, name string) (int, bool) {
	if name == base {
		return 0, true
	}
	rest, ok := strings.CutPrefix(name, base+RevisionSep)
	if !ok || rest == "" {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// RevisionServices returns the ACTIVE or DRAINING services of cluster that
// are revisions of base (base itself included), by revision number.
func (c *Clients) RevisionServices(ctx context.Context, cluster, base string) ([]ecstypes.Service, error) {
	var names []string
	p := ecs.NewListServicesPaginator(c.ECS, &ecs.ListServicesInput{Cluster: aws.String(cluster), MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list services of %s: %w", cluster, err)
		}
		for _, arn := range out.ServiceArns {
			name := arn[strings.LastIndex(arn, "/")+1:]
			if _, ok := RevisionNumber(base, name); ok {
				names = append(names, name)
			}
		}
	}
	var svcs []ecstypes.Service
	for start := 0; start < len(names); start += 10 {
		end := min(start+10, len(names))
		out, err := c.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: names[start:end],
			Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
		if err != nil {
			return nil, fmt.Errorf("describe revisions of %s/%s: %w", cluster, base, err)
		}
		for _, s := range out.Services {
			if aws.ToString(s.Status) != "INACTIVE" {
				svcs = append(svcs, s)
			}
		}
	}
	sort.Slice(svcs, func(i, j int) bool {
		a, _ := RevisionNumber(base, aws.ToString(svcs[i].ServiceName))
		b, _ := RevisionNumber(base, aws.ToString(svcs[j].ServiceName))
		return a < b
	})
	return svcs, nil
}

// LiveRevision is the newest revision with a desired count above zero, or
// nil. svcs are RevisionServices' answer.
func LiveRevision(svcs []ecstypes.Service) *ecstypes.Service {
	for i := len(svcs) - 1; i >= 0; i-- {
		if svcs[i].DesiredCount > 0 {
			return &svcs[i]
		}
	}
	return nil
}

// NextRevision is the number after the highest revision of base in svcs.
func NextRevision(base string, svcs []ecstypes.Service) int {
	hi := 0
	for _, s := range svcs {
		if n, ok := RevisionNumber(base, aws.ToString(s.ServiceName)); ok && n > hi {
			hi = n
		}
	}
	return hi + 1
}

// RevisionOf returns the revision in svcs tagged TagDeploymentID = token
// (the deployment that created it), or nil: how a retried setup finds its
// own service instead of creating another.
func RevisionOf(svcs []ecstypes.Service, token string) *ecstypes.Service {
	for i := range svcs {
		if tagValue(svcs[i].Tags, TagDeploymentID) == token {
			return &svcs[i]
		}
	}
	return nil
}

// TargetGroupOf is the first target group the service is registered with.
func TargetGroupOf(s *ecstypes.Service) string {
	if s == nil {
		return ""
	}
	for _, lb := range s.LoadBalancers {
		if arn := aws.ToString(lb.TargetGroupArn); arn != "" {
			return arn
		}
	}
	return ""
}

// SetDesiredCount sets the service's desired count.
func (c *Clients) SetDesiredCount(ctx context.Context, cluster, name string, n int32) error {
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String(name), DesiredCount: aws.Int32(n)}); err != nil {
		return fmt.Errorf("scale %s to %d: %w", name, n, err)
	}
	return nil
}

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }

// CheckDrained is CheckSteady for a revision being scaled down: steady only
// once no task of the service is still stopping (ECS counts a stopping task
// out of runningCount before it has let go of its capacity). It adds a
// ListTasks (and a DescribeTasks when tasks stop) to the DescribeServices.
func (c *Clients) CheckDrained(ctx context.Context, cluster, name, wantTaskDef string) (SteadyState, error) {
	st, err := c.CheckSteady(ctx, cluster, name, wantTaskDef)
	if err != nil || st.State != Steady {
		return st, err
	}
	out, err := c.ECS.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(name),
		DesiredStatus: ecstypes.DesiredStatusStopped})
	if err != nil {
		return st, fmt.Errorf("list stopping tasks of %s/%s: %w", cluster, name, err)
	}
	if len(out.TaskArns) == 0 {
		return st, nil
	}
	stopping := 0
	for i := 0; i < len(out.TaskArns); i += 100 {
		batch := out.TaskArns[i:min(i+100, len(out.TaskArns))]
		ts, err := c.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: batch})
		if err != nil {
			return st, fmt.Errorf("describe stopping tasks of %s/%s: %w", cluster, name, err)
		}
		for _, t := range ts.Tasks {
			if aws.ToString(t.LastStatus) != "STOPPED" {
				stopping++
			}
		}
	}
	if stopping > 0 {
		st.State, st.Reason = InProgress, fmt.Sprintf("%d tasks are still stopping", stopping)
	}
	return st, nil
}
