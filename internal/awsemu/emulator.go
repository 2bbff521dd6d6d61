package awsemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ecsflow/ecsflow/internal/awsemu/cwemu"
	"github.com/ecsflow/ecsflow/internal/awsemu/elbv2emu"
	"github.com/ecsflow/ecsflow/internal/awsemu/route53emu"
	"github.com/ecsflow/ecsflow/internal/simclock"
)

// Options configure an Emulator. The zero value is usable.
type Options struct {
	// Clock is the shared simulated clock; nil means a Scaled clock at
	// scale 1 that the emulator owns and closes.
	Clock simclock.Clock
	// Sink receives every EventBridge event; nil drops them.
	Sink EventSink
	// Region defaults to us-east-1, AccountID to 123456789012.
	Region    string
	AccountID string
	// Mount adds handlers for more X-Amz-Target prefixes, e.g.
	// "AWSStepFunctions" or "AWSEvents".
	Mount map[string]http.Handler
	// Seed makes generated IDs and timings deterministic.
	Seed int64
	// Timings overrides the simulated durations of the ECS world.
	Timings Timings
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// KeepEvents is how many recent events GET /_emulator/events serves
	// (0: none).
	KeepEvents int
}

// Emulator is the HTTP handler of the whole emulated account.
type Emulator struct {
	clock    simclock.Clock
	ownClock *simclock.Scaled
	region   string
	acct     string
	mount    map[string]http.Handler
	log      *slog.Logger
	faults   faultState
	w        *world
	elb      *elbv2emu.ELB
	cw       *cwemu.CloudWatch
	r53      *route53emu.Route53
	cancel   context.CancelFunc
	closeOne sync.Once
}

var _ http.Handler = (*Emulator)(nil)

// New builds an emulator.
func New(opts Options) *Emulator {
	e := &Emulator{
		region: opts.Region,
		acct:   opts.AccountID,
		log:    opts.Logger,
		mount:  map[string]http.Handler{},
	}
	if e.region == "" {
		e.region = "us-east-1"
	}
	if e.acct == "" {
		e.acct = "123456789012"
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.clock = opts.Clock
	if e.clock == nil {
		e.ownClock = simclock.NewScaled(time.Now().UTC(), 1)
		e.clock = e.ownClock
	}
	for k, h := range opts.Mount {
		e.mount[k] = h
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.elb = elbv2emu.New(elbv2emu.Options{Clock: e.clock, Region: e.region, AccountID: e.acct})
	e.r53 = route53emu.New(route53emu.Options{Clock: e.clock, AccountID: e.acct})
	e.w = newWorld(ctx, e.clock, opts.Sink, e.region, e.acct, opts.Seed, &e.faults, elbAdapter{e.elb}, opts.Timings)
	e.w.log = e.log.With("component", "awsemu")
	e.w.keep = max(opts.KeepEvents, 0)
	e.cw = cwemu.New(cwemu.Options{Clock: e.clock, Region: e.region, AccountID: e.acct, OnAlarmChange: e.alarmChanged})
	return e
}

// Flush waits until every event produced so far has reached the sink.
func (e *Emulator) Flush(ctx context.Context) error {
	if e.w.sink == nil {
		return nil
	}
	if err := e.w.disp.flush(ctx); err != nil {
		return fmt.Errorf("flush events: %w", err)
	}
	return nil
}

// Close stops the simulation: no timer of this emulator fires afterwards,
// events already produced are delivered (for up to a second), and an owned
// clock is closed.
func (e *Emulator) Close() {
	e.closeOne.Do(func() {
		e.w.mu.Lock()
		e.w.closed = true
		e.w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = e.Flush(ctx)
		cancel()
		e.faults.set(FaultPlan{})
		e.cancel()
		if e.ownClock != nil {
			e.ownClock.Close()
		}
	})
}

// Clock is the emulator's simulated clock.
func (e *Emulator) Clock() simclock.Clock { return e.clock }

// ELB is the ELBv2 emulator sharing this world.
func (e *Emulator) ELB() *elbv2emu.ELB { return e.elb }

// CloudWatch is the CloudWatch emulator sharing this world.
func (e *Emulator) CloudWatch() *cwemu.CloudWatch { return e.cw }

// Route53 is the Route 53 emulator sharing this world.
func (e *Emulator) Route53() *route53emu.Route53 { return e.r53 }

// SetFaultPlan validates and installs a plan, replacing the previous one.
// Image rules apply to tasks started afterwards; alarm rules fire at their
// time from now.
func (e *Emulator) SetFaultPlan(plan FaultPlan) error {
	if err := plan.Validate(); err != nil {
		return err
	}
	e.faults.set(plan)
	for _, r := range plan.Rules {
		if r.Alarm == "" {
			continue
		}
		r := r
		reason := r.Reason
		if reason == "" {
			reason = "Fault plan set the alarm state"
		}
		d := time.Duration(r.AtSeconds * float64(time.Second))
		e.faults.addTimer(e.clock.AfterFunc(d, func() {
			if err := e.cw.SetAlarmState(r.Alarm, r.State, reason); err != nil {
				e.log.Warn("fault plan alarm", "alarm", r.Alarm, "err", err)
			}
		}))
	}
	return nil
}

// ClearFaults removes the fault plan. Tasks already started keep the
// behaviour they were given.
func (e *Emulator) ClearFaults() { e.faults.set(FaultPlan{}) }

// PushImage stores a generated image as repo:tag (creating the repository
// if needed) and emits the ECR push event.
func (e *Emulator) PushImage(ctx context.Context, repo, tag string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("push image: %w", err)
	}
	var digest string
	var err error
	e.w.run(func() { digest, err = e.w.pushImage(repo, tag) })
	if err != nil {
		return "", fmt.Errorf("push image %s:%s: %w", repo, tag, err)
	}
	if digest == "" {
		return "", errors.New("push image: emulator is closed")
	}
	return digest, nil
}

type alarmDetail struct {
	AlarmName     string          `json:"alarmName"`
	State         alarmStateValue `json:"state"`
	PreviousState alarmStateValue `json:"previousState"`
	Configuration struct{}        `json:"configuration"`
}

type alarmStateValue struct {
	Value     string `json:"value"`
	Reason    string `json:"reason"`
	Timestamp string `json:"timestamp"`
}

func (e *Emulator) alarmChanged(name, arn, oldState, newState, reason string) {
	e.w.run(func() {
		ts := e.w.now().UTC().Format("2006-01-02T15:04:05.000-0700")
		e.w.event(SourceCloudWatch, DetailTypeAlarmStateChange, []string{arn}, alarmDetail{
			AlarmName:     name,
			State:         alarmStateValue{Value: newState, Reason: reason, Timestamp: ts},
			PreviousState: alarmStateValue{Value: oldState, Timestamp: ts},
		})
		if newState == "ALARM" {
			e.w.alarmFired(name)
		}
	})
}

// elbAdapter gives the ECS world the ELB hooks. Drain completions run on
// their own goroutine so that they never re-enter the world lock.
type elbAdapter struct{ e *elbv2emu.ELB }

func (a elbAdapter) targetGroup(arn string) (tgInfo, bool) {
	info, ok := a.e.TargetGroup(arn)
	if !ok {
		return tgInfo{}, false
	}
	return tgInfo{
		ARN: info.ARN, TargetType: info.TargetType, HealthCheckInterval: info.HealthCheckInterval,
		HealthyThreshold: info.HealthyThreshold, UnhealthyThreshold: info.UnhealthyThreshold,
		DeregistrationDelay: info.DeregistrationDelay, LoadBalancerARNs: info.LoadBalancerARNs,
	}, true
}

func (a elbAdapter) registerTarget(tg, id string, port int32) error {
	if err := a.e.RegisterTarget(tg, id, port); err != nil {
		return fmt.Errorf("register target %s:%d: %w", id, port, err)
	}
	return nil
}

func (a elbAdapter) deregisterTarget(tg, id string, port int32, done func()) error {
	var cb func()
	if done != nil {
		cb = func() { go done() }
	}
	if err := a.e.DeregisterTarget(tg, id, port, cb); err != nil {
		return fmt.Errorf("deregister target %s:%d: %w", id, port, err)
	}
	return nil
}

func (a elbAdapter) setTargetHealth(tg, id string, port int32, state, code, desc string) {
	a.e.SetTargetHealth(tg, id, port, state, code, desc)
}

// ---- HTTP dispatch ----

const (
	prefixECS  = "AmazonEC2ContainerServiceV20141113"
	prefixAAS  = "AnyScaleFrontendService"
	prefixSD   = "Route53AutoNaming_v20170314"
	prefixECR  = "AmazonEC2ContainerRegistry_V20150921"
	cborPrefix = "/service/GraniteServiceVersion20100801/"
)

var jsonServices = map[string]struct {
	name string
	ops  map[string]opSpec
}{
	prefixECS: {"ecs", ecsOps},
	prefixAAS: {"application-autoscaling", aasOps},
	prefixSD:  {"servicediscovery", sdOps},
	prefixECR: {"ecr", ecrOps},
}

var mountServices = map[string]string{
	"AWSStepFunctions": "states",
	"AWSEvents":        "events",
}

// ServeHTTP routes a request by protocol. It never panics on bad input: a
// handler panic becomes a 500 InternalFailure.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			e.log.Error("emulator handler panic", "panic", v, "path", r.URL.Path)
			writeJSONError(w, http.StatusInternalServerError, "InternalFailure", "internal error in the emulator")
		}
	}()
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/_emulator/") || path == "/_emulator":
		e.serveControl(w, r)
		return
	case r.Header.Get("X-Amz-Target") != "":
		e.serveTarget(w, r)
		return
	case strings.HasPrefix(path, cborPrefix) || strings.EqualFold(r.Header.Get("Smithy-Protocol"), "rpc-v2-cbor"):
		op := path[strings.LastIndexByte(path, '/')+1:]
		if e.applyFaults(w, r, "cloudwatch", op, cwemu.WriteError) {
			return
		}
		e.cw.ServeHTTP(w, r)
		return
	case strings.HasPrefix(path, "/2013-04-01/"):
		if e.applyFaults(w, r, "route53", route53Op(r.Method, path), route53emu.WriteError) {
			return
		}
		e.r53.ServeHTTP(w, r)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	r.Body = http.NoBody
	if len(body) > 0 {
		r.Body = readCloser(body)
	}
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || sigV4Service(r) == "elasticloadbalancing" || bytes.Contains(body, []byte("Action=")) {
		form, perr := url.ParseQuery(string(body))
		action := ""
		if perr == nil {
			action = form.Get("Action")
		}
		if action == "" {
			action = r.URL.Query().Get("Action")
		}
		if action == "" {
			elbv2emu.WriteError(w, http.StatusBadRequest, "InvalidAction", "The request has no Action parameter.")
			return
		}
		if e.applyFaults(w, r, "elasticloadbalancing", action, elbv2emu.WriteError) {
			return
		}
		r.Body = readCloser(body)
		e.elb.ServeHTTP(w, r)
		return
	}
	writeJSONError(w, http.StatusBadRequest, codeUnknownOperation, "The request names no operation: send X-Amz-Target, an awsQuery Action, or a CloudWatch or Route 53 path.")
}

type bodyReader struct{ *bytes.Reader }

func (bodyReader) Close() error { return nil }

func readCloser(b []byte) bodyReader { return bodyReader{bytes.NewReader(b)} }

// sigV4Service returns the service of the request's SigV4 credential scope.
func sigV4Service(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return ""
	}
	cred := auth[i+len("Credential="):]
	if j := strings.IndexAny(cred, ", "); j >= 0 {
		cred = cred[:j]
	}
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

// applyFaults adds latency and throttling from the fault plan; it reports
// whether it answered the request.
func (e *Emulator) applyFaults(w http.ResponseWriter, r *http.Request, svc, op string, writeErr func(http.ResponseWriter, int, string, string)) bool {
	throttle, latency := e.faults.forAPI(svc, op)
	if latency > 0 {
		if err := e.clock.Sleep(r.Context(), latency); err != nil {
			return true
		}
	}
	if throttle {
		code := "ThrottlingException"
		if svc == "elasticloadbalancing" || svc == "route53" {
			code = "Throttling"
		}
		writeErr(w, http.StatusBadRequest, code, "Rate exceeded")
		return true
	}
	return false
}

func (e *Emulator) serveTarget(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	prefix, op, ok := strings.Cut(target, ".")
	if !ok || op == "" {
		writeJSONError(w, http.StatusBadRequest, codeUnknownOperation, "X-Amz-Target must be <Service>.<Operation>")
		return
	}
	if h, ok := e.mount[prefix]; ok {
		svc := mountServices[prefix]
		if svc == "" {
			svc = strings.ToLower(prefix)
		}
		if e.applyFaults(w, r, svc, op, writeJSONError) {
			return
		}
		h.ServeHTTP(w, r)
		return
	}
	js, ok := jsonServices[prefix]
	if !ok {
		writeJSONError(w, http.StatusBadRequest, codeUnknownOperation, "Unknown service target "+prefix)
		return
	}
	spec, ok := js.ops[op]
	if !ok {
		writeJSONError(w, http.StatusBadRequest, codeUnknownOperation, fmt.Sprintf("Operation %s is not supported by this emulator of %s", op, js.name))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	if e.applyFaults(w, r, js.name, op, writeJSONError) {
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	out, err := e.call(spec, body, (*buf)[:0])
	if err != nil {
		writeAPIError(w, err)
		return
	}
	*buf = out
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = w.Write(out)
}

var errClosed = &apiError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailableException", Message: "the emulator is shut down"}

// call runs an operation with the world locked and serializes its result
// before unlocking, so that the response is a consistent snapshot.
func (e *Emulator) call(spec opSpec, body, buf []byte) ([]byte, error) {
	wd := e.w
	if spec.write {
		wd.mu.Lock()
		defer wd.unlock()
	} else {
		wd.mu.RLock()
		defer wd.mu.RUnlock()
	}
	if wd.closed {
		return nil, errClosed
	}
	out, err := spec.run(wd, body)
	if err != nil {
		return nil, err
	}
	return encodeOutput(buf, out), nil
}

// route53Op names the Route 53 operation of a restXml request.
func route53Op(method, path string) string {
	p := strings.Trim(strings.TrimPrefix(path, "/2013-04-01/"), "/")
	parts := strings.Split(p, "/")
	switch {
	case parts[0] == "hostedzone" && len(parts) == 1:
		if method == http.MethodPost {
			return "CreateHostedZone"
		}
		return "ListHostedZones"
	case parts[0] == "hostedzone" && len(parts) == 2:
		if method == http.MethodDelete {
			return "DeleteHostedZone"
		}
		return "GetHostedZone"
	case parts[0] == "hostedzone" && len(parts) >= 3 && parts[2] == "rrset":
		if method == http.MethodPost {
			return "ChangeResourceRecordSets"
		}
		return "ListResourceRecordSets"
	case parts[0] == "change":
		return "GetChange"
	case parts[0] == "hostedzonesbyname":
		return "ListHostedZonesByName"
	}
	return "Unknown"
}
