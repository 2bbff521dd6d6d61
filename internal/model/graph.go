package model

import "strings"

// Graph is a workflow with everything it reaches, for checks that span
// entities. Service, CloudProvider and Deployment may be nil when not known
// yet (a workflow is checked without a service when it does not fix one).
type Graph struct {
	Workflow       *Workflow
	Environment    *Environment
	Infrastructure *InfrastructureDefinition
	CloudProvider  *CloudProvider
	Service        *Service
	Deployment     *Deployment
}

// ValidateGraph checks what no single entity can: that the pieces belong
// together and that the strategy has what it needs from the infrastructure
// and the service. Field paths are prefixed by the entity they blame, e.g.
// "infrastructure.loadBalancing.targetGroupArns".
func ValidateGraph(g Graph) error {
	var p problems
	w, env, inf := g.Workflow, g.Environment, g.Infrastructure
	if w == nil || env == nil || inf == nil {
		p.add("workflow", "the workflow, its environment and its infrastructure are all required")
		return p.err()
	}
	if env.ID != w.EnvironmentID || env.ApplicationID != w.ApplicationID {
		p.add("workflow.envId", "is not an environment of application %s", w.ApplicationID)
	}
	if inf.ID != w.InfrastructureID || inf.EnvironmentID != w.EnvironmentID {
		p.add("workflow.infraId", "is not an infrastructure definition of environment %s", w.EnvironmentID)
	}
	if cp := g.CloudProvider; cp != nil {
		if cp.ID != inf.CloudProviderID {
			p.add("infrastructure.cloudProviderId", "does not match the cloud provider given")
		} else if !contains(cp.Regions, inf.Region) {
			p.add("infrastructure.region", "%s is not one of cloud provider %s's regions", inf.Region, cp.Name)
		}
	}
	lb := inf.LoadBalancing
	tgs := 0
	if lb != nil {
		tgs = len(lb.TargetGroupARNs)
	}
	switch w.Strategy.Type {
	case StrategyBlueGreen:
		if b := w.Strategy.BlueGreen; b != nil {
			switch b.Mode {
			case BlueGreenELB:
				if tgs != 2 {
					p.add("infrastructure.loadBalancing.targetGroupArns", "blue/green over ELB needs two target groups (blue and green), got %d", tgs)
				}
				if lb == nil || lb.ProdListenerARN == "" {
					p.add("infrastructure.loadBalancing.prodListenerArn", "blue/green over ELB needs the production listener")
				}
				if b.UseTestListener && (lb == nil || lb.TestListenerARN == "") {
					p.add("infrastructure.loadBalancing.testListenerArn", "the workflow uses a test listener but the infrastructure has none")
				}
			case BlueGreenRoute53:
				if inf.DNS == nil || inf.DNS.HostedZoneID == "" {
					p.add("infrastructure.dns.hostedZoneId", "blue/green over Route 53 needs a hosted zone and record")
				}
			}
		}
	case StrategyCanary:
		if c := w.Strategy.Canary; c != nil {
			for i, ph := range c.Phases {
				if ph.TrafficWeight != nil && (tgs != 2 || lb.ProdListenerARN == "") {
					p.add(fieldIndex("workflow.strategy.canary.phases", i)+".trafficWeight",
						"traffic weights need two target groups and a production listener on the infrastructure")
					break
				}
			}
		}
	}
	fargate := inf.LaunchType == LaunchFargate
	for _, c := range inf.CapacityProviderStrategy {
		if strings.HasPrefix(c.CapacityProvider, "FARGATE") {
			fargate = true
		}
	}
	if s := g.Service; s != nil {
		if s.ApplicationID != w.ApplicationID {
			p.add("service.appId", "the service belongs to another application")
		}
		if w.ServiceID != "" && w.ServiceID != s.ID {
			p.add("serviceId", "the workflow is bound to service %s", w.ServiceID)
		}
		if fargate && s.ECS.NetworkMode != NetworkAWSVPC {
			p.add("service.ecs.networkMode", "FARGATE needs awsvpc network mode")
		}
		daemon := s.ECS.SchedulingStrategy == SchedulingDaemon
		if daemon && fargate {
			p.add("infrastructure.launchType", "DAEMON services do not run on FARGATE")
		}
		if daemon && w.Strategy.Type != StrategyDaemon {
			p.add("workflow.strategy.type", "a DAEMON service deploys with the DAEMON strategy")
		}
		if !daemon && w.Strategy.Type == StrategyDaemon {
			p.add("workflow.strategy.type", "the DAEMON strategy is for DAEMON services")
		}
		if daemon {
			if env.Overrides.DesiredCount != nil {
				p.add("environment.overrides.desiredCount", "a DAEMON service has no desired count")
			}
			if o, ok := env.ServiceOverrides[s.ID]; ok && o.DesiredCount != nil {
				p.add("environment.serviceOverrides."+s.ID+".desiredCount", "a DAEMON service has no desired count")
			}
		}
		needsLB := w.Strategy.Type == StrategyBlueGreen && w.Strategy.BlueGreen != nil && w.Strategy.BlueGreen.Mode == BlueGreenELB
		if needsLB && s.ECS.LoadBalancer == nil {
			p.add("service.ecs.loadBalancer", "blue/green over ELB needs the service's load balancer container and port")
		}
		if tgs > 0 && s.ECS.LoadBalancer == nil {
			p.add("service.ecs.loadBalancer", "the infrastructure has target groups, so the service needs its load balancer container and port")
		}
	}
	if d := g.Deployment; d != nil {
		if d.WorkflowID != w.ID {
			p.add("workflowId", "does not match the workflow")
		}
		if s := g.Service; s != nil && d.Artifact.Repository != "" && d.Artifact.Repository != s.Artifact.Repository {
			p.add("artifact.repository", "the service deploys images of %s, not %s", s.Artifact.Repository, d.Artifact.Repository)
		}
	}
	return p.err()
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
