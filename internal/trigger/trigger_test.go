package trigger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

const releaseFilter = `v[0-9]+\.[0-9]+\.[0-9]+`

// emulatorPush pushes repo:tag to the emulator's ECR and returns the ECR
// event the emulator emitted, as EventBridge would deliver it, and the
// image digest.
func emulatorPush(t *testing.T, repo, tag string) ([]byte, string) {
	t.Helper()
	ctx := context.Background()
	sink := awsemu.NewRecordingSink()
	emu := awsemu.New(awsemu.Options{Sink: sink, Seed: 7, AccountID: modeltest.Account, Region: modeltest.Region})
	t.Cleanup(emu.Close)
	digest, err := emu.PushImage(ctx, repo, tag)
	if err != nil {
		t.Fatalf("push %s:%s: %v", repo, tag, err)
	}
	if err := emu.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ev := range sink.Events() {
		if ev.DetailType == awsemu.DetailTypeECRImageAction {
			raw, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			return raw, digest
		}
	}
	t.Fatalf("the emulator emitted no ECR event for %s:%s (events: %d)", repo, tag, len(sink.Events()))
	return nil, ""
}

func TestECRPushStartsOneDeploymentEvenWhenDeliveredThreeTimes(t *testing.T) {
	dynamotest.ForEach(t, func(t *testing.T, b dynamotest.Backend, table string) {
		ctx := context.Background()
		e := newEnv(t, b, table)
		g := e.seed(t)
		release := e.addTrigger(t, g, g.server, "release", releaseFilter, false)
		e.addTrigger(t, g, g.server, "rc-only", `.*-rc[0-9]+`, false)
		e.addTrigger(t, g, g.server, "disabled-any", "", true)

		raw, digest := emulatorPush(t, "web", "v1.2.3")
		var ids []string
		for i := range 3 {
			out, err := e.h.HandleEvent(ctx, raw)
			if err != nil {
				t.Fatalf("delivery %d: %v", i+1, err)
			}
			ids = append(ids, out.Deployments...)
			if wantDup := min(i, 1); out.Duplicates != wantDup || out.Matched != 1 {
				t.Errorf("delivery %d: matched %d duplicates %d, want 1 and %d", i+1, out.Matched, out.Duplicates, wantDup)
			}
		}
		if len(ids) != 1 {
			t.Fatalf("deployments over 3 deliveries = %v, want exactly one", ids)
		}
		starts := e.starter.starts()
		if len(starts) != 1 || starts[0].ID != ids[0] {
			t.Fatalf("starts = %d (%v), want exactly one, of %s", len(starts), starts, ids[0])
		}
		d := e.deployment(t, ids[0])
		wantImage := modeltest.Account + ".dkr.ecr." + modeltest.Region + ".amazonaws.com/web"
		if d.Status != model.StatusQueued || d.Artifact.Digest != digest || d.Artifact.Tag != "v1.2.3" ||
			d.Artifact.Image != wantImage || d.Artifact.Reference() != wantImage+"@"+digest {
			t.Errorf("deployment = %s %+v, want QUEUED, pinned to %s@%s", d.Status, d.Artifact, wantImage, digest)
		}
		if d.TriggeredBy.Kind != model.TriggeredByTrigger || d.TriggeredBy.ID != release {
			t.Errorf("triggeredBy = %+v, want TRIGGER %s", d.TriggeredBy, release)
		}
		if want := "arn:aws:states:us-east-1:123456789012:execution:ecsflow-ROLLING:" + d.ID; d.ExecutionARN != want {
			t.Errorf("executionArn = %q, want %q", d.ExecutionARN, want)
		}
		if d.ServiceID != g.svc || d.EnvironmentID != g.env || d.Strategy != model.StrategyRolling {
			t.Errorf("deployment resolved to service %s env %s strategy %s, want %s %s ROLLING", d.ServiceID, d.EnvironmentID, d.Strategy, g.svc, g.env)
		}
		if n := len(e.deployments(t, g)); n != 1 {
			t.Errorf("stored deployments = %d, want 1", n)
		}
		ledger, _, err := e.st.Ledger(ctx, d.ID, store.Page{})
		if err != nil || len(ledger) != 2 || !strings.Contains(ledger[1].Message, "triggered by trigger "+release) ||
			!strings.Contains(ledger[1].Message, "web:v1.2.3") {
			t.Errorf("ledger = %+v, %v; want the API's queueing entry and the trigger's", ledger, err)
		}
		// The claim is done and holds the deployment id.
		var ev struct{ ID string }
		_ = json.Unmarshal(raw, &ev)
		c, ok, err := e.st.GetClaim(ctx, trigger.ClaimKey(ev.ID, release))
		if err != nil || !ok || !c.Done || c.Value != d.ID {
			t.Errorf("claim = %+v, %v, %v; want done with value %s", c, ok, err, d.ID)
		}
		if s := e.h.Stats(); s.Events != 3 || s.Started != 1 || s.Duplicates != 2 || s.Malformed != 0 {
			t.Errorf("stats = %+v, want 3 events, 1 started, 2 duplicates", s)
		}
	})
}

func TestConcurrentDeliveriesStartOnce(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	e.addTrigger(t, g, g.server, "any", "", false)
	raw, _ := emulatorPush(t, "web", "latest")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.h.HandleEvent(context.Background(), raw); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("delivery: %v", err)
	}
	if n := len(e.starter.starts()); n != 1 {
		t.Fatalf("8 concurrent deliveries gave %d starts, want 1", n)
	}
	if n := len(e.deployments(t, g)); n != 1 {
		t.Fatalf("8 concurrent deliveries gave %d deployments, want 1", n)
	}
}

func TestPushMatchingNothingStartsNothing(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	e.addTrigger(t, g, g.server, "release", releaseFilter, false)
	for _, tc := range []struct{ name, repo, tag string }{
		{"tag outside the filter", "web", "latest"},
		{"prefix of a matching tag", "web", "v1.2.3-dirty"},
		{"unwatched repository", "worker", "v1.2.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := emulatorPush(t, tc.repo, tc.tag)
			out, err := e.h.HandleEvent(context.Background(), raw)
			if err != nil || out.Matched != 0 || len(out.Deployments) != 0 {
				t.Fatalf("HandleEvent = %+v, %v; want no match, no error", out, err)
			}
		})
	}
	if n := len(e.starter.starts()); n != 0 {
		t.Fatalf("starts = %d, want 0", n)
	}
}

func TestEventFromAnotherRegistryIsIgnored(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	e.addTrigger(t, g, g.server, "any", "", false)
	raw, _ := emulatorPush(t, "web", "v1.0.0")
	for _, tc := range []struct{ name, field, value string }{
		{"other account", "account", "210987654321"},
		{"other region", "region", "eu-west-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			m[tc.field] = tc.value
			b, _ := json.Marshal(m)
			out, err := e.h.HandleEvent(context.Background(), b)
			if err != nil || out.Matched != 0 {
				t.Fatalf("HandleEvent = %+v, %v; want nothing matched", out, err)
			}
		})
	}
	if n := len(e.starter.starts()); n != 0 {
		t.Fatalf("starts = %d, want 0", n)
	}
}

// pushEvent is an ECR push event for the seeded registry; tag "" is a
// digest-only push.
func pushEvent(id, repo, tag, digest string) []byte {
	d := map[string]any{"result": "SUCCESS", "repository-name": repo, "image-digest": digest, "action-type": "PUSH",
		"manifest-media-type": "application/vnd.oci.image.manifest.v1+json"}
	if tag != "" {
		d["image-tag"] = tag
	}
	b, _ := json.Marshal(map[string]any{"version": "0", "id": id, "detail-type": "ECR Image Action", "source": "aws.ecr",
		"account": modeltest.Account, "time": "2026-11-26T01:00:00Z", "region": modeltest.Region, "resources": []string{}, "detail": d})
	return b
}

func TestDigestOnlyPushFiresOnlyUnfilteredTriggers(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	e.addTrigger(t, g, g.server, "release", releaseFilter, false)
	e.addTrigger(t, g, g.server, "everything", "", false)
	e.addTrigger(t, g, g.server, "any-tag", ".*", false)
	dg := digestOf(0x42)
	out, err := e.h.HandleEvent(context.Background(), pushEvent("digest-only-1", "web", "", dg))
	if err != nil || out.Matched != 1 || len(out.Deployments) != 1 {
		t.Fatalf("HandleEvent = %+v, %v; want only the unfiltered trigger", out, err)
	}
	d := e.deployment(t, out.Deployments[0])
	if d.Artifact.Digest != dg || d.Artifact.Tag != "" {
		t.Errorf("artifact = %+v, want digest %s and no tag", d.Artifact, dg)
	}
}

func TestFiftyMatchingTriggersStartFiftyDeploymentsOnce(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	want := map[string]bool{}
	for i := range 50 {
		want[e.addTrigger(t, g, g.server, fmt.Sprintf("t%02d", i), `v.*`, false)] = true
	}
	raw := pushEvent("fanout-1", "web", "v9", digestOf(9))
	for range 2 {
		if _, err := e.h.HandleEvent(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	starts := e.starter.starts()
	if len(starts) != 50 {
		t.Fatalf("starts = %d, want 50", len(starts))
	}
	for _, s := range starts {
		if !want[s.TriggeredBy.ID] {
			t.Errorf("start of %s by %q: not a trigger of this push, or started twice", s.ID, s.TriggeredBy.ID)
		}
		delete(want, s.TriggeredBy.ID)
	}
}

func TestMalformedAndUnknownEventsAreAcknowledged(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	e.addTrigger(t, g, g.server, "any", "", false)
	for _, tc := range []struct {
		name, raw   string
		wantLogged  string
		wantIgnored bool
	}{
		{"not json", `{"id":"evt-broken-1","detail":`, "", false},
		{"bad digest", string(pushEvent("evt-bad-digest", "web", "v1", "sha256:nothex")), "evt-bad-digest", false},
		{"bad tag", string(pushEvent("evt-bad-tag", "web", "-v1", digestOf(1))), "evt-bad-tag", false},
		{"no detail", `{"id":"evt-no-detail","source":"aws.ecr","detail-type":"ECR Image Action","account":"123456789012","region":"us-east-1","time":"2026-11-26T01:00:00Z"}`, "evt-no-detail", false},
		{"an array", `[1,2,3]`, "", false},
		{"delete action", strings.Replace(string(pushEvent("evt-delete", "web", "v1", digestOf(1))), `"PUSH"`, `"DELETE"`, 1), "evt-delete", true},
		{"ecs event", `{"id":"evt-ecs","source":"aws.ecs","detail-type":"ECS Task State Change","detail":{}}`, "evt-ecs", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.h.Stats()
			out, err := e.h.HandleEvent(context.Background(), []byte(tc.raw))
			if err != nil {
				t.Fatalf("HandleEvent error = %v, want nil (acknowledged)", err)
			}
			if out.Matched != 0 {
				t.Errorf("matched %d, want 0", out.Matched)
			}
			after := e.h.Stats()
			if tc.wantIgnored && after.Ignored != before.Ignored+1 || !tc.wantIgnored && after.Malformed != before.Malformed+1 {
				t.Errorf("stats %+v -> %+v, want one more %s", before, after, map[bool]string{true: "ignored", false: "malformed"}[tc.wantIgnored])
			}
			if tc.wantLogged != "" && !strings.Contains(e.logs.String(), `"event_id":"`+tc.wantLogged+`"`) {
				t.Errorf("log does not name event %s: %s", tc.wantLogged, e.logs.String())
			}
		})
	}
	if n := len(e.starter.starts()); n != 0 {
		t.Fatalf("starts = %d, want 0", n)
	}
}

func TestRefusedDeploymentIsAcknowledgedNotRetried(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	// A trigger on the "api" repository whose service deploys "web": the
	// API's creation path refuses the image.
	tr := modeltest.Trigger(g.app, g.server, g.workflow, g.svc)
	tr.Name, tr.Repository, tr.TagFilter = "wrong-repo", "api", ""
	mustCreate(t, e.st, tr)
	raw := pushEvent("evt-refused", "api", "v1", digestOf(3))
	for i := range 2 {
		out, err := e.h.HandleEvent(context.Background(), raw)
		if err != nil {
			t.Fatalf("delivery %d: %v, want acknowledged", i+1, err)
		}
		if i == 0 && (out.Failed != 1 || len(out.Deployments) != 0) {
			t.Errorf("first delivery = %+v, want one refused match", out)
		}
		if i == 1 && out.Duplicates != 1 {
			t.Errorf("second delivery = %+v, want a duplicate", out)
		}
	}
	if n := len(e.starter.starts()); n != 0 {
		t.Fatalf("starts = %d, want 0", n)
	}
	if !strings.Contains(e.logs.String(), "deploys "+modeltest.Account) {
		t.Errorf("log does not carry the API's reason: %s", e.logs.String())
	}
}

// flakyCreator fails its first call with a retryable API answer, then
// delegates to the real creator.
type flakyCreator struct {
	real  trigger.Creator
	calls int
}

func (f *flakyCreator) CreateDeployment(ctx context.Context, req api.DeploymentRequest, id string, by model.TriggeredBy) (*model.Deployment, error) {
	f.calls++
	if f.calls == 1 {
		return nil, &trigger.CreateError{Status: 500, Detail: api.ErrorDetail{Code: "InternalError", Message: "store unavailable"}}
	}
	return f.real.CreateDeployment(ctx, req, id, by)
}

func TestTransientFailureIsRetriedWithTheSameDeploymentID(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	trg := e.addTrigger(t, g, g.server, "any", "", false)
	fc := &flakyCreator{real: trigger.NewAPICreator(e.st, e.starter, api.WithLogger(e.log), api.WithClock(e.clock.Now))}
	h := trigger.New(e.st, fc, e.starter, trigger.WithLogger(e.log), trigger.WithClock(e.clock.Now))
	raw := pushEvent("evt-flaky", "web", "v1", digestOf(5))
	if _, err := h.HandleEvent(context.Background(), raw); err == nil {
		t.Fatal("first delivery: nil error, want one that makes EventBridge retry")
	}
	c, _, err := e.st.GetClaim(context.Background(), trigger.ClaimKey("evt-flaky", trg))
	if err != nil || c.Done {
		t.Fatalf("claim after a failure = %+v, %v; want released, not done", c, err)
	}
	e.clock.Advance(time.Minute) // EventBridge's retry comes later
	out, err := h.HandleEvent(context.Background(), raw)
	if err != nil || len(out.Deployments) != 1 {
		t.Fatalf("retry = %+v, %v; want one deployment", out, err)
	}
	if out.Deployments[0] != c.Value {
		t.Errorf("retry created %s, want the id the claim fixed, %s", out.Deployments[0], c.Value)
	}
	if n := len(e.starter.starts()); n != 1 {
		t.Fatalf("starts = %d, want 1", n)
	}
}

func TestRedeliveryAfterACrashStartsTheRecordedDeploymentOnce(t *testing.T) {
	dynamotest.ForEach(t, func(t *testing.T, b dynamotest.Backend, table string) {
		ctx := context.Background()
		e := newEnv(t, b, table)
		g := e.seed(t)
		trg := e.addTrigger(t, g, g.server, "any", "", false)
		// The first attempt claimed the event and recorded the deployment,
		// then died before starting it.
		key := trigger.ClaimKey("evt-crash", trg)
		depID := trigger.DeploymentID("evt-crash", trg, e.clock.Now())
		if ok, _, err := e.st.ClaimEventValue(ctx, key, depID, time.Hour); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		d := &model.Deployment{Meta: model.Meta{ID: depID}, ApplicationID: g.app, WorkflowID: g.workflow, ServiceID: g.svc,
			EnvironmentID: g.env, InfrastructureID: g.infra, Status: model.StatusQueued, Strategy: model.StrategyRolling,
			Artifact:    model.Artifact{ServerID: g.server, Repository: "web", Tag: "v1", Digest: digestOf(6)},
			TriggeredBy: model.TriggeredBy{Kind: model.TriggeredByTrigger, ID: trg}}
		mustCreate(t, e.st, d)
		raw := pushEvent("evt-crash", "web", "v1", digestOf(6))

		// A redelivery while the first attempt may still be running does nothing.
		if out, err := e.h.HandleEvent(ctx, raw); err != nil || out.Duplicates != 1 {
			t.Fatalf("redelivery in flight = %+v, %v; want a duplicate", out, err)
		}
		// After the in-flight lease, a redelivery takes over and starts it.
		e.clock.Advance(store.ClaimLease + time.Second)
		out, err := e.h.HandleEvent(ctx, raw)
		if err != nil || len(out.Deployments) != 1 || out.Deployments[0] != depID {
			t.Fatalf("redelivery after the lease = %+v, %v; want %s started", out, err, depID)
		}
		if got := e.deployment(t, depID); !strings.HasSuffix(got.ExecutionARN, ":"+depID) {
			t.Errorf("executionArn = %q, want the execution named %s", got.ExecutionARN, depID)
		}
		e.clock.Advance(store.ClaimLease + time.Second)
		if out, err := e.h.HandleEvent(ctx, raw); err != nil || out.Duplicates != 1 {
			t.Fatalf("redelivery after completion = %+v, %v; want a duplicate", out, err)
		}
		if n := len(e.starter.starts()); n != 1 {
			t.Fatalf("starts = %d, want 1", n)
		}
		if n := len(e.deployments(t, g)); n != 1 {
			t.Fatalf("deployments = %d, want 1", n)
		}
	})
}

func TestRedeliveryThatProposesTheRecordedIDStartsItOnce(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	ctx := context.Background()
	g := e.seed(t)
	trg := e.addTrigger(t, g, g.server, "any", "", false)
	// The crashed attempt ran in the same millisecond as the redelivery's
	// clock will read, so the redelivery proposes the recorded id itself
	// and learns of the deployment from the API's 409 AlreadyExists.
	later := e.clock.Now().Add(store.ClaimLease + time.Second)
	depID := trigger.DeploymentID("evt-same", trg, later)
	if ok, _, err := e.st.ClaimEventValue(ctx, trigger.ClaimKey("evt-same", trg), depID, time.Hour); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	mustCreate(t, e.st, &model.Deployment{Meta: model.Meta{ID: depID}, ApplicationID: g.app, WorkflowID: g.workflow,
		ServiceID: g.svc, EnvironmentID: g.env, InfrastructureID: g.infra, Status: model.StatusQueued,
		Strategy: model.StrategyRolling, Artifact: model.Artifact{ServerID: g.server, Repository: "web", Digest: digestOf(7)},
		TriggeredBy: model.TriggeredBy{Kind: model.TriggeredByTrigger, ID: trg}})
	e.clock.Advance(later.Sub(e.clock.Now()))
	out, err := e.h.HandleEvent(ctx, pushEvent("evt-same", "web", "", digestOf(7)))
	if err != nil || len(out.Deployments) != 1 || out.Deployments[0] != depID {
		t.Fatalf("redelivery = %+v, %v; want %s started", out, err, depID)
	}
	if n := len(e.starter.starts()); n != 1 {
		t.Fatalf("starts = %d, want 1", n)
	}
	if got := e.deployment(t, depID); got.ExecutionARN == "" {
		t.Error("execution ARN not recorded")
	}
}

func TestStartFailureIsRecordedFailedAndAcknowledged(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	e.addTrigger(t, g, g.server, "any", "", false)
	e.starter.err = errors.New("states unavailable")
	out, err := e.h.HandleEvent(context.Background(), pushEvent("evt-nostart", "web", "v1", digestOf(8)))
	if err != nil || out.Failed != 1 {
		t.Fatalf("HandleEvent = %+v, %v; want acknowledged with one failure", out, err)
	}
	ds := e.deployments(t, g)
	if len(ds) != 1 || ds[0].Status != model.StatusFailed || !strings.Contains(ds[0].Reason, "states unavailable") {
		t.Fatalf("deployments = %+v, want one FAILED naming the start error", ds)
	}
}

func TestRegistryFromTheCloudProviderAccount(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	// A second ECR server without a registryId: its registry is its cloud
	// provider's account.
	srv := modeltest.ArtifactServer(g.cp)
	srv.Name, srv.RegistryID = "ecr-by-provider", ""
	id := mustCreate(t, e.st, srv)
	tr := e.addTrigger(t, g, id, "via-provider", "", false)
	out, err := e.h.HandleEvent(context.Background(), pushEvent("evt-provider", "web", "v1", digestOf(4)))
	if err != nil || len(out.Deployments) != 1 {
		t.Fatalf("HandleEvent = %+v, %v; want the provider-account server's trigger to fire", out, err)
	}
	if d := e.deployment(t, out.Deployments[0]); d.TriggeredBy.ID != tr {
		t.Errorf("fired trigger %s, want %s", d.TriggeredBy.ID, tr)
	}
}

func TestPipelineTriggersStartNothingYet(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	p := mustCreate(t, e.st, modeltest.Pipeline(g.app, g.workflow, g.workflow))
	tr := modeltest.Trigger(g.app, g.server, "", g.svc)
	tr.Name, tr.TagFilter, tr.PipelineID = "release-pipeline", "", p
	mustCreate(t, e.st, tr)
	out, err := e.h.HandleEvent(context.Background(), pushEvent("evt-pipeline", "web", "v1", digestOf(5)))
	if err != nil || out.Matched != 0 || len(e.starter.starts()) != 0 {
		t.Fatalf("HandleEvent = %+v, %v, starts %d; want acknowledged, nothing started", out, err, len(e.starter.starts()))
	}
	if !strings.Contains(e.logs.String(), "pipelines are not implemented") {
		t.Errorf("log does not say why the pipeline trigger did nothing: %s", e.logs.String())
	}
}
