// Package elbv2emu emulates Elastic Load Balancing v2 (application and network
// load balancers) over the awsQuery wire protocol: form-encoded POST requests
// in, XML responses out, as the real aws-sdk-go-v2 elasticloadbalancingv2
// client speaks it.
//
// The package keeps load balancers, target groups, listeners, rules and
// registered targets. It does not run health checks itself: the ECS world is
// the authority on task health and reports it through SetTargetHealth. The
// package runs deregistration draining on the shared simulated clock and
// computes where traffic goes from listener weights (TrafficShare).
package elbv2emu

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// Options configures an ELB.
type Options struct {
	Clock     simclock.Clock // required
	Region    string         // default "us-east-1"
	AccountID string         // default "123456789012"
}

// ELB is the emulated ELBv2 service. It is safe for concurrent use.
type ELB struct {
	clock     simclock.Clock
	region    string
	accountID string

	mu        sync.Mutex
	seq       uint64
	lbs       []*loadBalancer
	lbByARN   map[string]*loadBalancer
	tgs       []*targetGroup
	tgByARN   map[string]*targetGroup
	listeners []*listener
	lsByARN   map[string]*listener
	rules     map[string]*rule // non-default rules by ARN
	tags      map[string]map[string]string
	ops       map[string]opFunc
}

var _ http.Handler = (*ELB)(nil)

type opFunc func(e *ELB, f *formNode) (any, *apiError)

// New returns an empty ELBv2 service.
func New(opts Options) *ELB {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	if opts.Clock == nil {
		panic("elbv2emu: Options.Clock is required")
	}
	e := &ELB{
		clock:     opts.Clock,
		region:    opts.Region,
		accountID: opts.AccountID,
		lbByARN:   map[string]*loadBalancer{},
		tgByARN:   map[string]*targetGroup{},
		lsByARN:   map[string]*listener{},
		rules:     map[string]*rule{},
	}
	e.ops = operations()
	return e
}

// ServeHTTP handles one awsQuery request (POST form with Action=...).
func (e *ELB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		WriteError(w, http.StatusMethodNotAllowed, "InvalidHttpRequest", "awsQuery requests must use POST")
		return
	}
	form, aerr := readForm(w, r)
	if aerr != nil {
		WriteError(w, aerr.status, aerr.code, aerr.message)
		return
	}
	action := form.str("Action")
	if action == "" {
		WriteError(w, http.StatusBadRequest, "MissingAction", "the request must contain the parameter Action")
		return
	}
	if v := form.str("Version"); v != "" && v != APIVersion {
		WriteError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("version %q is not supported; use %s", v, APIVersion))
		return
	}
	op, ok := e.ops[action]
	if !ok {
		WriteError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", action))
		return
	}
	e.mu.Lock()
	res, aerr := op(e, form)
	e.mu.Unlock()
	if aerr != nil {
		WriteError(w, aerr.status, aerr.code, aerr.message)
		return
	}
	writeResult(w, action, res)
}

// ---- model ----------------------------------------------------------------

type loadBalancer struct {
	LoadBalancerArn       string
	DNSName               string
	CanonicalHostedZoneId string
	CreatedTime           string
	LoadBalancerName      string
	Scheme                string
	VpcId                 string `xml:",omitempty"`
	State                 lbState
	Type                  string
	AvailabilityZones     []availabilityZone `xml:"AvailabilityZones>member"`
	SecurityGroups        []string           `xml:"SecurityGroups>member"`
	IpAddressType         string

	id string // the 16-hex id in the ARN
}

type lbState struct {
	Code string
}

type availabilityZone struct {
	ZoneName string
	SubnetId string `xml:",omitempty"`
}

type matcher struct {
	HttpCode string `xml:",omitempty"`
	GrpcCode string `xml:",omitempty"`
}

type targetGroup struct {
	TargetGroupArn             string
	TargetGroupName            string
	Protocol                   string `xml:",omitempty"`
	Port                       int32  `xml:",omitempty"`
	VpcId                      string `xml:",omitempty"`
	HealthCheckProtocol        string `xml:",omitempty"`
	HealthCheckPort            string `xml:",omitempty"`
	HealthCheckEnabled         bool
	HealthCheckIntervalSeconds int32
	HealthCheckTimeoutSeconds  int32
	HealthyThresholdCount      int32
	UnhealthyThresholdCount    int32
	HealthCheckPath            string   `xml:",omitempty"`
	Matcher                    *matcher `xml:",omitempty"`
	LoadBalancerArns           []string `xml:"LoadBalancerArns>member"`
	TargetType                 string
	ProtocolVersion            string `xml:",omitempty"`
	IpAddressType              string `xml:",omitempty"`

	attrs   map[string]string
	targets map[targetKey]*target
	tseq    uint64
}

type targetKey struct {
	id   string
	port int32
}

type target struct {
	key         targetKey
	az          string
	state       string
	reason      string
	description string
	seq         uint64
	gen         uint64 // bumps on every (re)registration and deregistration
	drain       simclock.Timer
	dones       []func() // called when a drain ends
}

type listener struct {
	ListenerArn     string
	LoadBalancerArn string
	Port            int32         `xml:",omitempty"`
	Protocol        string        `xml:",omitempty"`
	Certificates    []certificate `xml:"Certificates>member"`
	SslPolicy       string        `xml:",omitempty"`
	DefaultActions  []action      `xml:"DefaultActions>member"`
	AlpnPolicy      []string      `xml:"AlpnPolicy>member"`

	defaultRuleARN string
	id             string
}

type certificate struct {
	CertificateArn string
}

type rule struct {
	RuleArn    string
	Priority   string
	Conditions []condition `xml:"Conditions>member"`
	Actions    []action    `xml:"Actions>member"`
	IsDefault  bool

	listenerARN string
	prio        int
}

type condition struct {
	Field                   string             `xml:",omitempty"`
	Values                  []string           `xml:"Values>member"`
	HostHeaderConfig        *valuesConfig      `xml:",omitempty"`
	PathPatternConfig       *valuesConfig      `xml:",omitempty"`
	HttpRequestMethodConfig *valuesConfig      `xml:",omitempty"`
	SourceIpConfig          *valuesConfig      `xml:",omitempty"`
	HttpHeaderConfig        *httpHeaderConfig  `xml:",omitempty"`
	QueryStringConfig       *queryStringConfig `xml:",omitempty"`
}

type valuesConfig struct {
	Values []string `xml:"Values>member"`
}

type httpHeaderConfig struct {
	HttpHeaderName string
	Values         []string `xml:"Values>member"`
}

type queryStringConfig struct {
	Values []keyValue `xml:"Values>member"`
}

type keyValue struct {
	Key   string `xml:",omitempty"`
	Value string
}

type action struct {
	Type                string
	TargetGroupArn      string               `xml:",omitempty"`
	Order               int32                `xml:",omitempty"`
	ForwardConfig       *forwardConfig       `xml:",omitempty"`
	FixedResponseConfig *fixedResponseConfig `xml:",omitempty"`
	RedirectConfig      *redirectConfig      `xml:",omitempty"`
}

type forwardConfig struct {
	TargetGroups                []targetGroupTuple `xml:"TargetGroups>member"`
	TargetGroupStickinessConfig *stickinessConfig  `xml:",omitempty"`
}

type targetGroupTuple struct {
	TargetGroupArn string
	Weight         int32
}

type stickinessConfig struct {
	Enabled         bool
	DurationSeconds int32 `xml:",omitempty"`
}

type fixedResponseConfig struct {
	MessageBody string `xml:",omitempty"`
	StatusCode  string
	ContentType string `xml:",omitempty"`
}

type redirectConfig struct {
	Protocol   string `xml:",omitempty"`
	Port       string `xml:",omitempty"`
	Host       string `xml:",omitempty"`
	Path       string `xml:",omitempty"`
	Query      string `xml:",omitempty"`
	StatusCode string
}

// ---- identifiers ------------------------------------------------------------

// newID returns a deterministic 16-hex-digit resource id.
func (e *ELB) newID(kind, name string) string {
	e.seq++
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%d", kind, name, e.seq)
	return fmt.Sprintf("%016x", h.Sum64())
}

func (e *ELB) arn(resource string) string {
	return "arn:aws:elasticloadbalancing:" + e.region + ":" + e.accountID + ":" + resource
}

func lbTypePrefix(typ string) string {
	switch typ {
	case "network":
		return "net"
	case "gateway":
		return "gwy"
	default:
		return "app"
	}
}

func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// ---- world hooks ------------------------------------------------------------

// TargetGroupInfo describes a target group for the ECS simulation.
type TargetGroupInfo struct {
	ARN, Name, Protocol, TargetType      string // TargetType "ip" or "instance"
	Port                                 int32
	HealthCheckInterval                  time.Duration // from HealthCheckIntervalSeconds (default 30s)
	HealthyThreshold, UnhealthyThreshold int32         // defaults 5 and 2
	DeregistrationDelay                  time.Duration // attribute deregistration_delay.timeout_seconds, default 300s
	LoadBalancerARNs                     []string
}

// TargetGroup returns the target group with the given ARN.
func (e *ELB) TargetGroup(arn string) (TargetGroupInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	tg, ok := e.tgByARN[arn]
	if !ok {
		return TargetGroupInfo{}, false
	}
	return TargetGroupInfo{
		ARN:                 tg.TargetGroupArn,
		Name:                tg.TargetGroupName,
		Protocol:            tg.Protocol,
		TargetType:          tg.TargetType,
		Port:                tg.Port,
		HealthCheckInterval: time.Duration(tg.HealthCheckIntervalSeconds) * time.Second,
		HealthyThreshold:    tg.HealthyThresholdCount,
		UnhealthyThreshold:  tg.UnhealthyThresholdCount,
		DeregistrationDelay: tg.deregistrationDelay(),
		LoadBalancerARNs:    append([]string(nil), tg.LoadBalancerArns...),
	}, true
}

func (tg *targetGroup) deregistrationDelay() time.Duration {
	s, err := strconv.Atoi(tg.attrs[attrDeregistrationDelay])
	if err != nil {
		return 300 * time.Second
	}
	return time.Duration(s) * time.Second
}

// ErrTargetGroupNotFound is wrapped by the hooks' errors for an unknown group.
var ErrTargetGroupNotFound = errors.New("target group not found")

// RegisterTarget adds a target in state "initial" (reason
// Elb.RegistrationInProgress). Registering a target that is already
// registered keeps its state; registering a draining target cancels the drain
// and puts it back to "initial".
func (e *ELB) RegisterTarget(tgARN, id string, port int32) error {
	e.mu.Lock()
	tg, ok := e.tgByARN[tgARN]
	if !ok {
		e.mu.Unlock()
		return fmt.Errorf("target group %s: %w", tgARN, ErrTargetGroupNotFound)
	}
	if port == 0 {
		port = tg.Port
	}
	run := e.registerLocked(tg, id, port, "")
	e.mu.Unlock()
	for _, f := range run {
		f()
	}
	return nil
}

// registerLocked adds a target; it returns the done callbacks of a drain it
// cancelled, which the caller runs after unlocking.
func (e *ELB) registerLocked(tg *targetGroup, id string, port int32, az string) []func() {
	k := targetKey{id: id, port: port}
	if t, ok := tg.targets[k]; ok {
		if t.state != "draining" {
			return nil
		}
		if t.drain != nil {
			t.drain.Stop()
			t.drain = nil
		}
		t.gen++
		t.state, t.reason, t.description = "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
		run := t.dones
		t.dones = nil
		return run
	}
	tg.tseq++
	tg.targets[k] = &target{
		key: k, az: az, seq: tg.tseq, gen: 1,
		state: "initial", reason: "Elb.RegistrationInProgress", description: "Target registration is in progress",
	}
	return nil
}

// DeregisterTarget moves the target to "draining"
// (Target.DeregistrationInProgress) and removes it after the group's
// deregistration delay on the clock; done (may be nil) is called once it is
// removed. Deregistering a target that is not registered (or with a delay of
// 0) removes it and calls done at once. A second deregistration of a draining
// target adds done to the same drain.
func (e *ELB) DeregisterTarget(tgARN, id string, port int32, done func()) error {
	e.mu.Lock()
	tg, ok := e.tgByARN[tgARN]
	if !ok {
		e.mu.Unlock()
		return fmt.Errorf("target group %s: %w", tgARN, ErrTargetGroupNotFound)
	}
	if port == 0 {
		port = tg.Port
	}
	run := e.deregisterLocked(tg, targetKey{id: id, port: port}, done)
	e.mu.Unlock()
	for _, f := range run {
		f()
	}
	return nil
}

// deregisterLocked starts draining; it returns callbacks the caller must run
// after unlocking because the target is already gone.
func (e *ELB) deregisterLocked(tg *targetGroup, k targetKey, done func()) []func() {
	var run []func()
	if done != nil {
		run = append(run, done)
	}
	t, ok := tg.targets[k]
	if !ok {
		return run
	}
	if t.state == "draining" {
		t.dones = append(t.dones, run...)
		return nil
	}
	delay := tg.deregistrationDelay()
	if delay <= 0 {
		delete(tg.targets, k)
		return run
	}
	t.gen++
	gen := t.gen
	t.dones = run
	t.state, t.reason, t.description = "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"
	tgARN := tg.TargetGroupArn
	t.drain = e.clock.AfterFunc(delay, func() {
		e.mu.Lock()
		var fire []func()
		if tg2, ok := e.tgByARN[tgARN]; ok {
			if t2, ok := tg2.targets[k]; ok && t2.gen == gen && t2.state == "draining" {
				delete(tg2.targets, k)
				fire = t2.dones
			}
		}
		e.mu.Unlock()
		for _, f := range fire {
			f()
		}
	})
	return nil
}

// SetTargetHealth sets a registered target's state ("healthy", "unhealthy"
// or "initial") with a reason code and description. A draining target stays
// draining; an unknown target is ignored.
func (e *ELB) SetTargetHealth(tgARN, id string, port int32, state, reasonCode, description string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	tg, ok := e.tgByARN[tgARN]
	if !ok {
		return
	}
	if port == 0 {
		port = tg.Port
	}
	t, ok := tg.targets[targetKey{id: id, port: port}]
	if !ok || t.state == "draining" {
		return
	}
	t.state, t.reason, t.description = state, reasonCode, description
	if state == "healthy" {
		t.reason, t.description = "", ""
	}
}

// ListenerForwardWeights returns target group ARN -> weight of the
// listener's default forward action. A single TargetGroupArn counts as
// weight 1.
func (e *ELB) ListenerForwardWeights(listenerARN string) (map[string]int32, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ls, ok := e.lsByARN[listenerARN]
	if !ok {
		return nil, false
	}
	return forwardWeights(ls.DefaultActions), true
}

func forwardWeights(actions []action) map[string]int32 {
	out := map[string]int32{}
	for _, a := range actions {
		if a.Type != "forward" {
			continue
		}
		if a.ForwardConfig != nil {
			for _, t := range a.ForwardConfig.TargetGroups {
				out[t.TargetGroupArn] += t.Weight
			}
		} else if a.TargetGroupArn != "" {
			out[a.TargetGroupArn] = 1
		}
		break
	}
	return out
}

// TrafficShare returns, for the listener's default forward action, target
// group ARN -> share of requests in [0,1]. Traffic is split by weight among
// the groups that have at least one healthy target; groups with no healthy
// target (or weight 0) get 0. If no group can take traffic every share is 0.
func (e *ELB) TrafficShare(listenerARN string) map[string]float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]float64{}
	ls, ok := e.lsByARN[listenerARN]
	if !ok {
		return out
	}
	weights := forwardWeights(ls.DefaultActions)
	var total int64
	for arn, w := range weights {
		out[arn] = 0
		if w > 0 && e.healthyCountLocked(arn) > 0 {
			total += int64(w)
		}
	}
	if total == 0 {
		return out
	}
	for arn, w := range weights {
		if w > 0 && e.healthyCountLocked(arn) > 0 {
			out[arn] = float64(w) / float64(total)
		}
	}
	return out
}

func (e *ELB) healthyCountLocked(tgARN string) int {
	tg, ok := e.tgByARN[tgARN]
	if !ok {
		return 0
	}
	n := 0
	for _, t := range tg.targets {
		if t.state == "healthy" {
			n++
		}
	}
	return n
}

// ---- snapshot ---------------------------------------------------------------

// Snapshot is the JSON form of the ELB state for GET /_emulator/state.
type Snapshot struct {
	LoadBalancers []SnapshotLoadBalancer `json:"loadBalancers"`
	TargetGroups  []SnapshotTargetGroup  `json:"targetGroups"`
	Listeners     []SnapshotListener     `json:"listeners"`
}

// SnapshotLoadBalancer is one load balancer in a Snapshot.
type SnapshotLoadBalancer struct {
	ARN     string `json:"arn"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	DNSName string `json:"dnsName"`
}

// SnapshotTargetGroup is one target group in a Snapshot.
type SnapshotTargetGroup struct {
	ARN                        string           `json:"arn"`
	Name                       string           `json:"name"`
	Protocol                   string           `json:"protocol,omitempty"`
	Port                       int32            `json:"port,omitempty"`
	TargetType                 string           `json:"targetType"`
	DeregistrationDelaySeconds int              `json:"deregistrationDelaySeconds"`
	LoadBalancerARNs           []string         `json:"loadBalancerArns"`
	Targets                    []SnapshotTarget `json:"targets"`
}

// SnapshotTarget is one registered target in a Snapshot.
type SnapshotTarget struct {
	ID          string `json:"id"`
	Port        int32  `json:"port"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
}

// SnapshotListener is one listener (with its rules) in a Snapshot.
type SnapshotListener struct {
	ARN             string           `json:"arn"`
	LoadBalancerARN string           `json:"loadBalancerArn"`
	Protocol        string           `json:"protocol,omitempty"`
	Port            int32            `json:"port,omitempty"`
	ForwardWeights  map[string]int32 `json:"forwardWeights"`
	Rules           []SnapshotRule   `json:"rules"`
}

// SnapshotRule is one non-default listener rule in a Snapshot.
type SnapshotRule struct {
	ARN            string           `json:"arn"`
	Priority       string           `json:"priority"`
	ForwardWeights map[string]int32 `json:"forwardWeights"`
}

// Snapshot returns the state as a JSON-marshalable value.
func (e *ELB) Snapshot() any {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Snapshot{
		LoadBalancers: []SnapshotLoadBalancer{},
		TargetGroups:  []SnapshotTargetGroup{},
		Listeners:     []SnapshotListener{},
	}
	for _, lb := range e.lbs {
		s.LoadBalancers = append(s.LoadBalancers, SnapshotLoadBalancer{ARN: lb.LoadBalancerArn, Name: lb.LoadBalancerName, Type: lb.Type, DNSName: lb.DNSName})
	}
	for _, tg := range e.tgs {
		st := SnapshotTargetGroup{
			ARN: tg.TargetGroupArn, Name: tg.TargetGroupName, Protocol: tg.Protocol, Port: tg.Port, TargetType: tg.TargetType,
			DeregistrationDelaySeconds: int(tg.deregistrationDelay() / time.Second),
			LoadBalancerARNs:           append([]string{}, tg.LoadBalancerArns...),
			Targets:                    []SnapshotTarget{},
		}
		for _, t := range tg.sortedTargets() {
			st.Targets = append(st.Targets, SnapshotTarget{ID: t.key.id, Port: t.key.port, State: t.state, Reason: t.reason, Description: t.description})
		}
		s.TargetGroups = append(s.TargetGroups, st)
	}
	for _, ls := range e.listeners {
		sl := SnapshotListener{ARN: ls.ListenerArn, LoadBalancerARN: ls.LoadBalancerArn, Protocol: ls.Protocol, Port: ls.Port,
			ForwardWeights: forwardWeights(ls.DefaultActions), Rules: []SnapshotRule{}}
		for _, r := range e.listenerRulesLocked(ls.ListenerArn) {
			sl.Rules = append(sl.Rules, SnapshotRule{ARN: r.RuleArn, Priority: r.Priority, ForwardWeights: forwardWeights(r.Actions)})
		}
		s.Listeners = append(s.Listeners, sl)
	}
	return s
}

func (tg *targetGroup) sortedTargets() []*target {
	out := make([]*target, 0, len(tg.targets))
	for _, t := range tg.targets {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// listenerRulesLocked returns the listener's non-default rules by priority.
func (e *ELB) listenerRulesLocked(listenerARN string) []*rule {
	var out []*rule
	for _, r := range e.rules {
		if r.listenerARN == listenerARN {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].prio < out[j].prio })
	return out
}
