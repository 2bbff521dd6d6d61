package elbv2emu

import (
	"encoding/json"
	"fmt"
	"sort"
)

// StateVersion is the version of the format SaveState writes and LoadState
// reads. Bump it on any change LoadState could misread.
const StateVersion = 1

type persisted struct {
	Version       int                          `json:"version"`
	Seq           uint64                       `json:"seq"`
	LoadBalancers []persistedLB                `json:"loadBalancers"` // in creation order
	TargetGroups  []persistedTG                `json:"targetGroups"`  // in creation order
	Listeners     []persistedListener          `json:"listeners"`     // in creation order
	Rules         []persistedRule              `json:"rules"`         // non-default rules
	Tags          map[string]map[string]string `json:"tags"`
}

type persistedLB struct {
	loadBalancer
	ID string `json:"id"`
}

type persistedTG struct {
	targetGroup
	Attrs   map[string]string `json:"attrs"`
	Targets []persistedTarget `json:"targets"`
	TSeq    uint64            `json:"tseq"`
}

type persistedTarget struct {
	ID          string `json:"id"`
	Port        int32  `json:"port"`
	AZ          string `json:"az,omitempty"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	Seq         uint64 `json:"seq"`
}

type persistedListener struct {
	listener
	DefaultRuleARN string `json:"defaultRuleArn"`
	ID             string `json:"id"`
}

type persistedRule struct {
	rule
	ListenerARN string `json:"listenerArn"`
	Prio        int    `json:"prio"`
}

// SaveState returns the load balancers, target groups (with their
// attributes and registered targets), listeners, rules and tags as
// versioned JSON, for LoadState on a later run. Draining targets are left
// out: their drain is treated as finished.
func (e *ELB) SaveState() ([]byte, error) {
	e.mu.Lock()
	p := persisted{Version: StateVersion, Seq: e.seq, LoadBalancers: []persistedLB{}, TargetGroups: []persistedTG{},
		Listeners: []persistedListener{}, Rules: []persistedRule{}, Tags: map[string]map[string]string{}}
	for _, lb := range e.lbs {
		p.LoadBalancers = append(p.LoadBalancers, persistedLB{loadBalancer: *lb, ID: lb.id})
	}
	for _, tg := range e.tgs {
		pt := persistedTG{targetGroup: *tg, Attrs: map[string]string{}, Targets: []persistedTarget{}, TSeq: tg.tseq}
		pt.targets, pt.attrs = nil, nil
		for k, v := range tg.attrs {
			pt.Attrs[k] = v
		}
		for _, t := range tg.targets {
			if t.state == "draining" {
				continue
			}
			pt.Targets = append(pt.Targets, persistedTarget{ID: t.key.id, Port: t.key.port, AZ: t.az, State: t.state,
				Reason: t.reason, Description: t.description, Seq: t.seq})
		}
		sort.Slice(pt.Targets, func(i, j int) bool { return pt.Targets[i].Seq < pt.Targets[j].Seq })
		p.TargetGroups = append(p.TargetGroups, pt)
	}
	for _, l := range e.listeners {
		p.Listeners = append(p.Listeners, persistedListener{listener: *l, DefaultRuleARN: l.defaultRuleARN, ID: l.id})
	}
	for _, r := range e.rules {
		p.Rules = append(p.Rules, persistedRule{rule: *r, ListenerARN: r.listenerARN, Prio: r.prio})
	}
	for arn, tags := range e.tags {
		m := make(map[string]string, len(tags))
		for k, v := range tags {
			m[k] = v
		}
		p.Tags[arn] = m
	}
	sort.Slice(p.Rules, func(i, j int) bool { return p.Rules[i].RuleArn < p.Rules[j].RuleArn })
	b, err := json.Marshal(p) // under the lock: the copies share slices with the live resources
	e.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("save elbv2 state: %w", err)
	}
	return b, nil
}

// LoadState replaces the whole state with one saved by SaveState. On error
// the service is left unchanged.
func (e *ELB) LoadState(b []byte) error {
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("load elbv2 state: %w", err)
	}
	if p.Version != StateVersion {
		return fmt.Errorf("load elbv2 state: format version %d, this build reads %d", p.Version, StateVersion)
	}
	lbs := make([]*loadBalancer, 0, len(p.LoadBalancers))
	lbByARN := make(map[string]*loadBalancer, len(p.LoadBalancers))
	for _, pl := range p.LoadBalancers {
		lb := pl.loadBalancer
		lb.id = pl.ID
		if lb.LoadBalancerArn == "" || lbByARN[lb.LoadBalancerArn] != nil {
			return fmt.Errorf("load elbv2 state: load balancer ARN %q is empty or repeated", lb.LoadBalancerArn)
		}
		lbs = append(lbs, &lb)
		lbByARN[lb.LoadBalancerArn] = &lb
	}
	tgs := make([]*targetGroup, 0, len(p.TargetGroups))
	tgByARN := make(map[string]*targetGroup, len(p.TargetGroups))
	for _, pt := range p.TargetGroups {
		tg := pt.targetGroup
		if tg.TargetGroupArn == "" || tgByARN[tg.TargetGroupArn] != nil {
			return fmt.Errorf("load elbv2 state: target group ARN %q is empty or repeated", tg.TargetGroupArn)
		}
		tg.attrs = pt.Attrs
		if tg.attrs == nil {
			tg.attrs = map[string]string{}
		}
		tg.tseq = pt.TSeq
		tg.targets = make(map[targetKey]*target, len(pt.Targets))
		for _, t := range pt.Targets {
			k := targetKey{id: t.ID, port: t.Port}
			tg.targets[k] = &target{key: k, az: t.AZ, state: t.State, reason: t.Reason, description: t.Description, seq: t.Seq, gen: 1}
		}
		tgs = append(tgs, &tg)
		tgByARN[tg.TargetGroupArn] = &tg
	}
	listeners := make([]*listener, 0, len(p.Listeners))
	lsByARN := make(map[string]*listener, len(p.Listeners))
	for _, pl := range p.Listeners {
		l := pl.listener
		l.defaultRuleARN, l.id = pl.DefaultRuleARN, pl.ID
		if l.ListenerArn == "" || lsByARN[l.ListenerArn] != nil {
			return fmt.Errorf("load elbv2 state: listener ARN %q is empty or repeated", l.ListenerArn)
		}
		listeners = append(listeners, &l)
		lsByARN[l.ListenerArn] = &l
	}
	rules := make(map[string]*rule, len(p.Rules))
	for _, pr := range p.Rules {
		r := pr.rule
		r.listenerARN, r.prio = pr.ListenerARN, pr.Prio
		if r.RuleArn == "" {
			return fmt.Errorf("load elbv2 state: a rule has no ARN")
		}
		rules[r.RuleArn] = &r
	}
	tags := p.Tags
	if tags == nil {
		tags = map[string]map[string]string{}
	}
	e.mu.Lock()
	for _, tg := range e.tgs {
		for _, t := range tg.targets {
			if t.drain != nil {
				t.drain.Stop()
			}
		}
	}
	e.seq = p.Seq
	e.lbs, e.lbByARN, e.tgs, e.tgByARN = lbs, lbByARN, tgs, tgByARN
	e.listeners, e.lsByARN, e.rules, e.tags = listeners, lsByARN, rules, tags
	e.mu.Unlock()
	return nil
}
