package awsemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// FaultPlan is data that makes the simulated world misbehave, with
// deterministic results for a given seed.
type FaultPlan struct {
	Seed  int64       `json:"seed"`
	Rules []FaultRule `json:"rules"`
}

// FaultRule is one rule of a plan. Exactly one of Image, API or Alarm is set.
type FaultRule struct {
	// Image is a glob ('*' matches any run of characters, '?' one) over a
	// container image; Behavior says what its tasks do.
	Image    string `json:"image,omitempty"`
	Behavior string `json:"behavior,omitempty"`
	// AfterSeconds is simulated seconds: how long a crashing container runs,
	// or how long a slow start takes.
	AfterSeconds float64 `json:"afterSeconds,omitempty"`

	// API is "<service>:<Operation>", e.g. "ecs:DescribeServices".
	API          string  `json:"api,omitempty"`
	ThrottleRate float64 `json:"throttleRate,omitempty"`
	LatencyMs    int     `json:"latencyMs,omitempty"`

	// Alarm names a CloudWatch alarm that goes to State at AtSeconds
	// (simulated seconds after the plan is set).
	Alarm     string  `json:"alarm,omitempty"`
	State     string  `json:"state,omitempty"`
	AtSeconds float64 `json:"atSeconds,omitempty"`
	Reason    string  `json:"reason,omitempty"`
}

// Task behaviours a fault rule can give an image.
const (
	BehaviorCrash        = "crash"
	BehaviorUnhealthy    = "unhealthy"
	BehaviorELBUnhealthy = "elb-unhealthy"
	BehaviorSlowStart    = "slow-start"
)

// serviceAliases maps fault-rule service prefixes to canonical names.
var serviceAliases = map[string]string{
	"ecs":                     "ecs",
	"elasticloadbalancing":    "elasticloadbalancing",
	"elbv2":                   "elasticloadbalancing",
	"application-autoscaling": "application-autoscaling",
	"servicediscovery":        "servicediscovery",
	"route53":                 "route53",
	"cloudwatch":              "cloudwatch",
	"ecr":                     "ecr",
	"states":                  "states",
	"events":                  "events",
}

// ParseFaultPlan decodes and validates a plan; unknown fields are errors.
func ParseFaultPlan(data []byte) (FaultPlan, error) {
	var p FaultPlan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return FaultPlan{}, fmt.Errorf("decode fault plan: %w", err)
	}
	if dec.More() {
		return FaultPlan{}, errors.New("decode fault plan: trailing data after the plan")
	}
	if err := p.Validate(); err != nil {
		return FaultPlan{}, err
	}
	return p, nil
}

// Validate reports the first malformed rule.
func (p FaultPlan) Validate() error {
	for i, r := range p.Rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("fault rule %d: %w", i, err)
		}
	}
	return nil
}

func (r FaultRule) validate() error {
	kinds := 0
	for _, s := range []string{r.Image, r.API, r.Alarm} {
		if s != "" {
			kinds++
		}
	}
	if kinds != 1 {
		return errors.New("exactly one of image, api or alarm must be set")
	}
	switch {
	case r.Image != "":
		switch r.Behavior {
		case BehaviorCrash, BehaviorUnhealthy, BehaviorELBUnhealthy, BehaviorSlowStart:
		case "":
			return errors.New("image rule needs a behavior")
		default:
			return fmt.Errorf("unknown behavior %q (want crash, unhealthy, elb-unhealthy or slow-start)", r.Behavior)
		}
		if r.AfterSeconds < 0 || r.AfterSeconds > 1e7 {
			return fmt.Errorf("afterSeconds %v out of range", r.AfterSeconds)
		}
	case r.API != "":
		svc, op, ok := strings.Cut(r.API, ":")
		if !ok || op == "" {
			return fmt.Errorf("api %q: want <service>:<Operation>", r.API)
		}
		if _, known := serviceAliases[svc]; !known {
			return fmt.Errorf("api %q: unknown service %q", r.API, svc)
		}
		if r.ThrottleRate < 0 || r.ThrottleRate > 1 {
			return fmt.Errorf("throttleRate %v: want 0..1", r.ThrottleRate)
		}
		if r.LatencyMs < 0 || r.LatencyMs > 600_000 {
			return fmt.Errorf("latencyMs %d out of range", r.LatencyMs)
		}
		if r.ThrottleRate == 0 && r.LatencyMs == 0 {
			return errors.New("api rule needs throttleRate or latencyMs")
		}
	case r.Alarm != "":
		switch r.State {
		case "OK", "ALARM", "INSUFFICIENT_DATA":
		default:
			return fmt.Errorf("alarm state %q: want OK, ALARM or INSUFFICIENT_DATA", r.State)
		}
		if r.AtSeconds < 0 || r.AtSeconds > 1e8 {
			return fmt.Errorf("atSeconds %v out of range", r.AtSeconds)
		}
	}
	return nil
}

// imageFault is what a task's image does, fixed when the task starts.
type imageFault struct {
	crashAfter time.Duration // >0: the essential container exits after running this long
	crash      bool
	unhealthy  bool
	elbSick    bool
	slowStart  time.Duration
}

// faultState is the active plan with its deterministic random sources.
type faultState struct {
	mu     sync.Mutex
	plan   FaultPlan
	rngs   []*rand.Rand // one per rule, seeded from (seed, index)
	timers []simclock.Timer
}

func (f *faultState) set(p FaultPlan) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.timers {
		t.Stop()
	}
	f.timers = nil
	f.plan = p
	f.rngs = make([]*rand.Rand, len(p.Rules))
	for i := range p.Rules {
		f.rngs[i] = rand.New(rand.NewPCG(uint64(p.Seed), uint64(i)+1))
	}
}

func (f *faultState) addTimer(t simclock.Timer) {
	f.mu.Lock()
	f.timers = append(f.timers, t)
	f.mu.Unlock()
}

// forImage returns the combined behaviour of every rule matching the image
// under any of its names (see world.imageNames).
func (f *faultState) forImage(names ...string) imageFault {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out imageFault
	for _, r := range f.plan.Rules {
		if r.Image == "" || !anyImageMatches(r.Image, names) {
			continue
		}
		d := time.Duration(r.AfterSeconds * float64(time.Second))
		switch r.Behavior {
		case BehaviorCrash:
			out.crash = true
			out.crashAfter = d
		case BehaviorUnhealthy:
			out.unhealthy = true
		case BehaviorELBUnhealthy:
			out.elbSick = true
		case BehaviorSlowStart:
			if d <= 0 {
				d = 120 * time.Second
			}
			out.slowStart = d
		}
	}
	return out
}

// forAPI decides whether this call is throttled and how much latency
// (simulated) it gets. svc must be canonical.
func (f *faultState) forAPI(svc, op string) (throttle bool, latency time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.plan.Rules {
		if r.API == "" {
			continue
		}
		rs, rop, _ := strings.Cut(r.API, ":")
		if serviceAliases[rs] != svc || (rop != op && rop != "*") {
			continue
		}
		if r.LatencyMs > 0 {
			latency += time.Duration(r.LatencyMs) * time.Millisecond
		}
		if r.ThrottleRate > 0 && f.rngs[i].Float64() < r.ThrottleRate {
			throttle = true
		}
	}
	return throttle, latency
}

func anyImageMatches(glob string, names []string) bool {
	for _, n := range names {
		if imageMatches(glob, n) {
			return true
		}
	}
	return false
}

// imageMatches reports whether glob matches the image as written or with
// its registry host removed ("123.dkr.ecr.../repo/web:1" also matches
// "repo/web:*").
func imageMatches(glob, image string) bool {
	if globMatch(glob, image) {
		return true
	}
	if host, rest, ok := strings.Cut(image, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		return globMatch(glob, rest)
	}
	return false
}

// globMatch matches '*' (any run, including '/') and '?' (one byte).
func globMatch(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		if px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]) {
			px++
			sx++
			continue
		}
		if px < len(pattern) && pattern[px] == '*' {
			starP, starS = px, sx
			px++
			continue
		}
		if starP >= 0 {
			starS++
			px, sx = starP+1, starS
			continue
		}
		return false
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
