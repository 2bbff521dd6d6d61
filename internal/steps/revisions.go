package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/model"
)

// Function names of the CANARY and BLUE_GREEN steps (functions/<name>).
const (
	FnSetupService = "step-setup-service"
	FnScale        = "step-scale"
	// FnShiftTraffic carries out SET_WEIGHT and POINT_TEST_LISTENER.
	FnShiftTraffic = "step-shift-traffic"
	FnCleanup      = "step-cleanup"
)

// StepInput is the input of the revision steps: the deployment and the
// plan index of the step to carry out.
type StepInput struct {
	Ref
	Index int `json:"index"`
}

// dnsMode reports whether traffic moves through Route 53 weighted records.
func dnsMode(w *model.Workflow) bool {
	return w.Strategy.Type == model.StrategyBlueGreen && w.Strategy.BlueGreen != nil && w.Strategy.BlueGreen.Mode == model.BlueGreenRoute53
}

// revisioned reports whether a workflow runs its new version as a
// separate revisioned service (<service>__<n>).
func revisioned(w *model.Workflow) bool {
	return w.Strategy.Type == model.StrategyCanary || w.Strategy.Type == model.StrategyBlueGreen
}

// runningService is what runs before a deployment: the service itself for
// ROLLING and DAEMON, the live revision (the newest <service>__<n>, or the
// plain service, with a desired count above zero) for CANARY and
// BLUE_GREEN.
func runningService(ctx context.Context, c *ecsops.Clients, t model.Target, w *model.Workflow) (*ecstypes.Service, bool, error) {
	if !revisioned(w) {
		return c.DescribeService(ctx, t.Cluster, t.ServiceName)
	}
	svcs, err := c.RevisionServices(ctx, t.Cluster, t.ServiceName)
	if err != nil {
		return nil, false, err
	}
	live := ecsops.LiveRevision(svcs)
	return live, live != nil, nil
}

// steadyService is the ECS service a steady-state wait watches: the new
// revision of a revisioned deployment (the old one when rolling back), or
// the service itself.
func steadyService(d *model.Deployment, rollback bool) string {
	if d.Runtime == nil {
		return ""
	}
	if rv := d.Runtime.Revisions; rv != nil {
		if rollback && rv.Old != "" {
			return rv.Old
		}
		if !rollback && rv.New != "" {
			return rv.New
		}
	}
	return d.Runtime.Target.ServiceName
}

// revisionsOf is the deployment's revision state, or Invalid before setup.
func revisionsOf(d *model.Deployment) (*model.Revisions, error) {
	if d.Runtime == nil || d.Runtime.Revisions == nil || d.Runtime.Revisions.New == "" {
		return nil, invalidf("deployment %s has no new revision: SETUP_SERVICE has not run", d.ID)
	}
	return d.Runtime.Revisions, nil
}

// setRevisions queues a change of the stored revision state.
func (r *run) setRevisions(f func(rv *model.Revisions)) {
	r.change(func(cur *model.Deployment) error {
		if cur.Runtime == nil {
			return invalidf("deployment %s has no runtime", cur.ID)
		}
		if cur.Runtime.Revisions == nil {
			cur.Runtime.Revisions = &model.Revisions{}
		}
		f(cur.Runtime.Revisions)
		return nil
	})
}

// revisionRegistryName is the Cloud Map service a revision registers its
// tasks in, in DNS blue/green: <service>--<n> (a DNS label) in the namespace
// of the service's own registry. The weighted records of the production
// name are CNAMEs to <service>--<n>.<namespace>, so each revision is
// reachable under its own name while it lives; cleanup and rollback delete
// the registry of the revision they retire.
func revisionRegistryName(revision string) string {
	return strings.ReplaceAll(revision, "_", "-")
}

// TrafficChange is the data of a LedgerTraffic entry: what received which
// weight, and when.
type TrafficChange struct {
	// Target is ELB, ELB_TEST or ROUTE53.
	Target string `json:"target"`
	// Resource is the listener, rule or record name that changed.
	Resource string `json:"resource"`
	// Weights are by revision (service name).
	Weights map[string]int32 `json:"weights"`
	// Rollback marks the changes a rollback made.
	Rollback bool `json:"rollback,omitempty"`
}

// traffic records a traffic change in the ledger (at the step's clock).
func (r *run) traffic(tc TrafficChange) {
	names := make([]string, 0, len(tc.Weights))
	for n := range tc.Weights {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d%%", n, tc.Weights[n]))
	}
	data, _ := json.Marshal(tc)
	r.notes = append(r.notes, model.LedgerEntry{At: r.e.clock(), Kind: model.LedgerTraffic,
		Message: fmt.Sprintf("traffic %s %s: %s", tc.Target, shortARN(tc.Resource), strings.Join(parts, ", ")), Data: data})
}

func shortARN(arn string) string {
	if i := strings.Index(arn, ":listener"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// weightsFor is the production weights that give the new revision w
// percent and the old one the rest.
func weightsFor(rv *model.Revisions, w int32) (byTG map[string]int32, byRevision map[string]int32) {
	byTG, byRevision = map[string]int32{}, map[string]int32{}
	if rv.Old == "" {
		// Nothing else to send traffic to.
		w = 100
	}
	if rv.Old != "" && rv.OldTargetGroup != "" && rv.OldTargetGroup != rv.NewTargetGroup {
		byTG[rv.OldTargetGroup] = 100 - w
	}
	if rv.Old != "" {
		byRevision[rv.Old] = 100 - w
	}
	if rv.NewTargetGroup != "" {
		byTG[rv.NewTargetGroup] = w
	}
	byRevision[rv.New] = w
	return byTG, byRevision
}

// setProductionWeight points production traffic: w percent to the new
// revision, the rest to the old, on the ELB listener (or rule) or the
// weighted DNS records.
//
// In DNS mode each weighted record points at its revision's own name: the
// one in hosts (a revision set up now), else the one its record has.
func setProductionWeight(ctx context.Context, r *run, c *ecsops.Clients, infra *model.InfrastructureDefinition, rv *model.Revisions, w int32, dnsMode, rollback bool, hosts map[string]string) error {
	if dnsMode {
		return setDNSWeights(ctx, r, c, infra, rv, w, rollback, hosts)
	}
	byTG, byRev := weightsFor(rv, w)
	lb := infra.LoadBalancing
	if lb == nil || lb.ProdListenerARN == "" || len(byTG) == 0 {
		return invalidf("infrastructure %s has no production listener and target groups to set weights on", infra.ID)
	}
	// Every target group stays in the forward action (at 0 when idle): ECS
	// only registers a service with a target group that a load balancer
	// uses, and the next revision needs the idle one.
	for _, tg := range lb.TargetGroupARNs {
		if _, ok := byTG[tg]; !ok {
			byTG[tg] = 0
		}
	}
	if err := c.SetForwardWeights(ctx, lb.ProdListenerARN, lb.ProdListenerRuleARN, byTG); err != nil {
		return err
	}
	res := lb.ProdListenerARN
	if lb.ProdListenerRuleARN != "" {
		res = lb.ProdListenerRuleARN
	}
	r.traffic(TrafficChange{Target: "ELB", Resource: res, Weights: byRev, Rollback: rollback})
	return nil
}

// setDNSWeights writes the weighted records of the production name: w
// percent to the new revision, the rest to the old. Each record is a CNAME
// to its revision's own name: the one in hosts (set up now), else the one
// its record already has (written when the revision was set up).
func setDNSWeights(ctx context.Context, r *run, c *ecsops.Clients, infra *model.InfrastructureDefinition, rv *model.Revisions, w int32, rollback bool, hosts map[string]string) error {
	dns := infra.DNS
	if dns == nil || dns.HostedZoneID == "" {
		return invalidf("infrastructure %s has no hosted zone for weighted records", infra.ID)
	}
	_, byRev := weightsFor(rv, w)
	values := map[string]string{}
	for rev, h := range hosts {
		values[rev] = h
	}
	if len(values) < len(byRev) {
		existing, err := c.WeightedRecords(ctx, dns.HostedZoneID, dns.RecordName)
		if err != nil {
			return err
		}
		for _, x := range existing {
			if values[x.SetIdentifier] == "" {
				values[x.SetIdentifier] = x.Value
			}
		}
	}
	var recs []ecsops.WeightedRecord
	for rev, wt := range byRev {
		if values[rev] == "" {
			return invalidf("revision %s has no name of its own to point %s at (no weighted record was set up for it)", rev, dns.RecordName)
		}
		recs = append(recs, ecsops.WeightedRecord{SetIdentifier: rev, Value: values[rev], Weight: int64(wt)})
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].SetIdentifier < recs[j].SetIdentifier })
	if err := c.UpsertWeightedRecords(ctx, dns.HostedZoneID, dns.RecordName, dns.TTL, recs); err != nil {
		return err
	}
	r.traffic(TrafficChange{Target: "ROUTE53", Resource: dns.RecordName, Weights: byRev, Rollback: rollback})
	return nil
}

// retireRegistry removes a retired revision's own name in DNS blue/green:
// its weighted record of the production name and its Cloud Map service.
func retireRegistry(ctx context.Context, c *ecsops.Clients, svc *model.Service, infra *model.InfrastructureDefinition, revision string) error {
	if dns := infra.DNS; dns != nil && dns.HostedZoneID != "" {
		if err := c.DeleteWeightedRecord(ctx, dns.HostedZoneID, dns.RecordName, revision); err != nil {
			return err
		}
	}
	if svc.ECS.ServiceRegistry == nil || svc.ECS.ServiceRegistry.RegistryARN == "" {
		return nil
	}
	reg, ok, err := c.FindRegistry(ctx, svc.ECS.ServiceRegistry.RegistryARN, revisionRegistryName(revision))
	if err != nil || !ok {
		return err
	}
	return c.DeleteRegistry(ctx, reg.ID)
}

func serviceName(s *ecstypes.Service) string {
	if s == nil {
		return ""
	}
	return aws.ToString(s.ServiceName)
}
