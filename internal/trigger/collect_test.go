package trigger_test

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

const (
	regUser     = "ci-bot"
	regPassword = "s3cr3t-Pa55word-never-logged"
	secretARN   = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecsflow/registry-AbCdEf"
)

// basicAuthRegistry is go-containerregistry's in-memory registry behind
// HTTP basic authentication, as a private registry would be.
type basicAuthRegistry struct {
	srv *httptest.Server
	mu  sync.Mutex
	n   int // requests served
}

func newRegistry(t *testing.T) *basicAuthRegistry {
	t.Helper()
	r := &basicAuthRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.n++
		r.mu.Unlock()
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(regUser)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(regPassword)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="ecsflow-test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *basicAuthRegistry) host() string { return strings.TrimPrefix(r.srv.URL, "http://") }

// push writes a random image as repo:tag and returns its digest.
func (r *basicAuthRegistry) push(t *testing.T, repo, tag string) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(r.host()+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: regUser, Password: regPassword})); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// fakeSecrets is Secrets Manager's GetSecretValue over the wire
// (awsJson1_1), from a map of secret id to secret string, counting calls.
type fakeSecrets struct {
	mu      sync.Mutex
	secrets map[string]string
	calls   int
}

func (f *fakeSecrets) set(id, v string) {
	f.mu.Lock()
	f.secrets[id] = v
	f.mu.Unlock()
}

func (f *fakeSecrets) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func secretsServer(t *testing.T, secrets map[string]string) (*secretsmanager.Client, *fakeSecrets) {
	t.Helper()
	f := &fakeSecrets{secrets: secrets}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"InvalidRequestException","message":"unsupported"}`))
			return
		}
		var in struct{ SecretId string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.calls++
		s, ok := f.secrets[in.SecretId]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": "ecsflow/registry", "SecretString": s,
			"VersionId": "v1", "CreatedDate": 1.7e9})
	}))
	t.Cleanup(srv.Close)
	return secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("ecsflowlocal", "ecsflowlocal", "")}), f
}

func fastRegistries(ecrc trigger.ECRAPI, sm trigger.SecretsAPI) *trigger.Registries {
	return trigger.NewRegistries(ecrc, sm, trigger.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1}))
}

type collectEnv struct {
	*env
	g       graph
	server  *model.ArtifactServer
	reg     *basicAuthRegistry
	secrets *fakeSecrets
	c       *trigger.Collector
}

// newCollectEnv seeds a DOCKER_REGISTRY server on the in-memory registry, a
// service deploying team/web from it, and a trigger on its v* tags.
func newCollectEnv(t *testing.T, b dynamotest.Backend, table, secret string) *collectEnv {
	t.Helper()
	e := newEnv(t, b, table)
	g := e.seed(t)
	reg := newRegistry(t)
	srv := &model.ArtifactServer{Name: "private", Type: model.ArtifactServerDockerRegistry, URL: reg.srv.URL,
		CredentialsSecretARN: secretARN, PollIntervalMinutes: 5}
	mustCreate(t, e.st, srv)
	svc := modeltest.Service(g.app, srv.ID)
	svc.Name, svc.Artifact.Repository = "web-private", "team/web"
	g.svc = mustCreate(t, e.st, svc)
	tr := modeltest.Trigger(g.app, srv.ID, g.workflow, g.svc)
	tr.Repository, tr.TagFilter = "team/web", `v.*`
	mustCreate(t, e.st, tr)
	sm, fs := secretsServer(t, map[string]string{secretARN: secret})
	c := trigger.NewCollector(e.st, fastRegistries(nil, sm), e.h, trigger.WithCollectorLogger(e.log),
		trigger.WithCollectorClock(e.clock.Now))
	return &collectEnv{env: e, g: g, server: srv, reg: reg, secrets: fs, c: c}
}

func goodSecret() string {
	b, _ := json.Marshal(map[string]string{"username": regUser, "password": regPassword})
	return string(b)
}

func TestCollectionSendsNewTagsOnce(t *testing.T) {
	dynamotest.ForEach(t, func(t *testing.T, b dynamotest.Backend, table string) {
		ctx := context.Background()
		e := newCollectEnv(t, b, table, goodSecret())
		e.reg.push(t, "team/web", "v1")

		// The first poll is the baseline: v1 is not new.
		rep, err := e.c.CollectServer(ctx, e.server)
		if err != nil || rep.Err != "" || len(rep.NewTags) != 0 || !slices.Equal(rep.Repositories, []string{"team/web"}) {
			t.Fatalf("baseline = %+v, %v; want team/web polled, nothing new", rep, err)
		}
		seen, polled, err := e.st.SeenTags(ctx, e.server.ID, "team/web")
		if _, ok := seen["v1"]; err != nil || polled.IsZero() || len(seen) != 1 || !ok {
			t.Fatalf("seen after baseline = %v, %v, %v; want v1", seen, polled, err)
		}

		v2 := e.reg.push(t, "team/web", "v2")
		e.reg.push(t, "team/web", "latest")
		rep, err = e.c.CollectServer(ctx, e.server)
		if err != nil || rep.Err != "" {
			t.Fatalf("second poll: %+v, %v", rep, err)
		}
		if want := []string{"team/web:latest", "team/web:v2"}; !slices.Equal(sorted(rep.NewTags), want) {
			t.Errorf("new tags = %v, want %v", rep.NewTags, want)
		}
		if len(rep.Deployments) != 1 {
			t.Fatalf("deployments = %v, want one (v2; latest is outside the filter)", rep.Deployments)
		}
		d := e.deployment(t, rep.Deployments[0])
		wantImage := e.reg.host() + "/team/web"
		if d.Artifact.Digest != v2 || d.Artifact.Tag != "v2" || d.Artifact.Image != wantImage || d.Status != model.StatusQueued {
			t.Errorf("deployment %s artifact = %+v, want %s:v2 pinned to %s", d.Status, d.Artifact, wantImage, v2)
		}
		if d.TriggeredBy.Kind != model.TriggeredByTrigger || !strings.Contains(d.TriggeredBy.Principal, "collect-") {
			t.Errorf("triggeredBy = %+v, want TRIGGER with the synthetic event", d.TriggeredBy)
		}

		// Polls after that find nothing new and start nothing again.
		for range 2 {
			rep, err = e.c.CollectServer(ctx, e.server)
			if err != nil || rep.Err != "" || len(rep.NewTags) != 0 {
				t.Fatalf("later poll = %+v, %v; want nothing new", rep, err)
			}
		}
		// Even a collector that lost its record of v2 (a crash between the
		// dispatch and the record) does not start it twice: same event id.
		p := trigger.Push{EventID: trigger.SyntheticEventID(e.server.ID, "team/web", "v2", v2), Repository: "team/web", Tag: "v2", Digest: v2}
		if out, err := e.h.Dispatch(ctx, p, e.server); err != nil || out.Duplicates != 1 {
			t.Fatalf("re-dispatch of v2 = %+v, %v; want a duplicate", out, err)
		}
		if n := len(e.starter.starts()); n != 1 {
			t.Fatalf("starts = %d, want 1", n)
		}
		st, ok, err := e.st.CollectStatus(ctx, e.server.ID)
		if err != nil || !ok || st.LastError != "" || st.LastSuccessAt == nil {
			t.Errorf("collect status = %+v, %v, %v; want a success", st, ok, err)
		}
		seen, _, _ = e.st.SeenTags(ctx, e.server.ID, "team/web")
		if seen["v2"].Digest != v2 {
			t.Errorf("seen v2 = %+v, want its digest %s recorded", seen["v2"], v2)
		}
		// Four polls, one secret read (cached for a minute).
		if n := e.secrets.count(); n != 1 {
			t.Errorf("GetSecretValue calls = %d, want 1", n)
		}
	})
}

func TestRotatedSecretIsReadAgainAfterARefusal(t *testing.T) {
	b := dynamotest.MemHTTP()
	ctx := context.Background()
	e := newCollectEnv(t, b, dynamotest.Table(t, b), `{"username":"ci-bot","password":"old"}`)
	if rep, _ := e.c.CollectServer(ctx, e.server); !strings.Contains(rep.Err, "refused (401)") {
		t.Fatalf("with the old password: %+v, want refused", rep)
	}
	e.secrets.set(secretARN, goodSecret())
	if rep, _ := e.c.CollectServer(ctx, e.server); rep.Err != "" {
		t.Fatalf("after rotation: %+v, want success (the refused credentials were not reused)", rep)
	}
	if n := e.secrets.count(); n != 2 {
		t.Errorf("GetSecretValue calls = %d, want 2", n)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestCollectionErrorsAreRecordedNotRaised(t *testing.T) {
	b := dynamotest.MemHTTP()
	for _, tc := range []struct {
		name, secret string
		breakURL     bool
		wantErr      string
	}{
		{"wrong password", `{"username":"ci-bot","password":"wrong"}`, false, "registry credentials: refused (401)"},
		{"secret is not credentials", `not json ` + regPassword, false, "is not {\"username\",\"password\"}"},
		{"unreachable registry", goodSecret(), true, "list tags"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newCollectEnv(t, b, dynamotest.Table(t, b), tc.secret)
			if tc.breakURL {
				e.reg.srv.Close()
			}
			start := time.Now()
			reps, err := e.c.CollectAll(ctx)
			if err != nil {
				t.Fatalf("CollectAll error = %v, want errors recorded per server", err)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("collection took %v: a failing registry must not be retried at length", time.Since(start))
			}
			if len(reps) != 1 || !strings.Contains(reps[0].Err, tc.wantErr) {
				t.Fatalf("reports = %+v, want an error containing %q", reps, tc.wantErr)
			}
			st, ok, err := e.st.CollectStatus(ctx, e.server.ID)
			if err != nil || !ok || !strings.Contains(st.LastError, tc.wantErr) || st.LastSuccessAt != nil {
				t.Errorf("collect status = %+v, %v, %v; want the error recorded", st, ok, err)
			}
			for what, s := range map[string]string{"logs": e.logs.String(), "recorded error": st.LastError} {
				if strings.Contains(s, regPassword) {
					t.Errorf("%s contain the registry password", what)
				}
			}
			if n := len(e.starter.starts()); n != 0 {
				t.Errorf("starts = %d, want 0", n)
			}
		})
	}
}

func TestCollectAllHonoursPollInterval(t *testing.T) {
	b := dynamotest.MemHTTP()
	ctx := context.Background()
	e := newCollectEnv(t, b, dynamotest.Table(t, b), goodSecret())
	before := e.reg.requests()
	reps, err := e.c.CollectAll(ctx)
	if err != nil || len(reps) != 1 || reps[0].Skipped || reps[0].Err != "" {
		t.Fatalf("first run = %+v, %v; want the server collected", reps, err)
	}
	afterFirst := e.reg.requests()
	if afterFirst == before {
		t.Fatal("the first run made no registry request")
	}
	e.clock.Advance(2 * time.Minute)
	reps, _ = e.c.CollectAll(ctx)
	if len(reps) != 1 || !reps[0].Skipped || e.reg.requests() != afterFirst {
		t.Fatalf("run 2 minutes later = %+v (%d requests); want skipped, no request (interval 5m)", reps, e.reg.requests()-afterFirst)
	}
	e.clock.Advance(3 * time.Minute)
	reps, _ = e.c.CollectAll(ctx)
	if len(reps) != 1 || reps[0].Skipped {
		t.Fatalf("run 5 minutes later = %+v; want collected", reps)
	}
}

func (r *basicAuthRegistry) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func TestResolveDigest(t *testing.T) {
	ctx := context.Background()
	// A Docker registry with basic auth.
	reg := newRegistry(t)
	want := reg.push(t, "team/web", "v3")
	sm, _ := secretsServer(t, map[string]string{secretARN: goodSecret()})
	// ECR in the emulator, through the real SDK client.
	emu := awsemu.New(awsemu.Options{Seed: 3})
	t.Cleanup(emu.Close)
	emuSrv := httptest.NewServer(emu)
	t.Cleanup(emuSrv.Close)
	ecrDigest, err := emu.PushImage(ctx, "web", "v3")
	if err != nil {
		t.Fatal(err)
	}
	ecrc := ecr.New(ecr.Options{Region: "us-east-1", BaseEndpoint: aws.String(emuSrv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("ecsflowlocal", "ecsflowlocal", "")})
	r := fastRegistries(ecrc, sm)
	docker := &model.ArtifactServer{Meta: model.Meta{ID: "as-docker"}, Type: model.ArtifactServerDockerRegistry,
		URL: reg.srv.URL, CredentialsSecretARN: secretARN}
	ecrSrv := &model.ArtifactServer{Meta: model.Meta{ID: "as-ecr"}, Type: model.ArtifactServerECR,
		RegistryID: "123456789012", Region: "us-east-1"}
	for _, tc := range []struct {
		name     string
		srv      *model.ArtifactServer
		repo     string
		tag      string
		want     string
		notFound bool
	}{
		{"docker registry tag", docker, "team/web", "v3", want, false},
		{"docker registry missing tag", docker, "team/web", "v4", "", true},
		{"ecr tag", ecrSrv, "web", "v3", ecrDigest, false},
		{"ecr missing tag", ecrSrv, "web", "v4", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.ResolveDigest(ctx, tc.srv, tc.repo, tc.tag)
			if tc.notFound {
				var nf *trigger.TagNotFoundError
				if !errors.As(err, &nf) || nf.Tag != tc.tag || !strings.Contains(err.Error(), `"`+tc.tag+`"`) {
					t.Fatalf("ResolveDigest = %q, %v; want a TagNotFoundError naming %s", got, err, tc.tag)
				}
				if !errors.Is(err, api.ErrTagNotFound) {
					t.Fatalf("ResolveDigest error %v is not api.ErrTagNotFound: the API would answer 502, not 400", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ResolveDigest = %q, %v; want %s", got, err, tc.want)
			}
		})
	}
	if _, err := r.ResolveDigest(ctx, docker, "team/web", "bad tag"); err == nil {
		t.Error("ResolveDigest accepted an invalid tag")
	}
}

func TestABurstOfNewTagsIsSpreadOverRuns(t *testing.T) {
	b := dynamotest.MemHTTP()
	ctx := context.Background()
	e := newCollectEnv(t, b, dynamotest.Table(t, b), goodSecret())
	c := trigger.NewCollector(e.st, fastRegistries(nil, secretsClient(t)), e.h, trigger.WithCollectorLogger(e.log),
		trigger.WithCollectorClock(e.clock.Now), trigger.WithMaxNewTags(2))
	if rep, err := c.CollectServer(ctx, e.server); err != nil || rep.Err != "" {
		t.Fatalf("baseline: %+v %v", rep, err)
	}
	for _, tag := range []string{"v1", "v2", "v3", "v4", "v5"} {
		e.reg.push(t, "team/web", tag)
	}
	var got []string
	for run, want := range []struct{ sent, deferred int }{{2, 3}, {2, 1}, {1, 0}, {0, 0}} {
		rep, err := c.CollectServer(ctx, e.server)
		if err != nil || rep.Err != "" || len(rep.NewTags) != want.sent || rep.Deferred != want.deferred {
			t.Fatalf("run %d = %+v, %v; want %d sent, %d deferred", run+1, rep, err, want.sent, want.deferred)
		}
		got = append(got, rep.NewTags...)
	}
	if want := []string{"team/web:v1", "team/web:v2", "team/web:v3", "team/web:v4", "team/web:v5"}; !slices.Equal(sorted(got), want) {
		t.Errorf("sent = %v, want each new tag once: %v", got, want)
	}
	if n := len(e.starter.starts()); n != 5 {
		t.Errorf("starts = %d, want 5", n)
	}
}

func secretsClient(t *testing.T) *secretsmanager.Client {
	c, _ := secretsServer(t, map[string]string{secretARN: goodSecret()})
	return c
}

func TestARepositoryNotPolledForADayIsBaselinedAgain(t *testing.T) {
	b := dynamotest.MemHTTP()
	ctx := context.Background()
	e := newCollectEnv(t, b, dynamotest.Table(t, b), goodSecret())
	if rep, err := e.c.CollectServer(ctx, e.server); err != nil || rep.Err != "" {
		t.Fatalf("baseline: %+v %v", rep, err)
	}
	e.reg.push(t, "team/web", "v1")
	e.clock.Advance(time.Hour)
	if rep, _ := e.c.CollectServer(ctx, e.server); len(rep.NewTags) != 1 {
		t.Fatalf("an hour later = %+v, want v1 sent", rep)
	}
	// The registry is down (or nobody watched) for more than a day.
	e.reg.push(t, "team/web", "v2")
	e.clock.Advance(25 * time.Hour)
	if rep, _ := e.c.CollectServer(ctx, e.server); len(rep.NewTags) != 0 || rep.Err != "" {
		t.Fatalf("25 hours later = %+v, want v2 baselined, not sent", rep)
	}
	e.reg.push(t, "team/web", "v3")
	e.clock.Advance(5 * time.Minute)
	if rep, _ := e.c.CollectServer(ctx, e.server); !slices.Equal(rep.NewTags, []string{"team/web:v3"}) {
		t.Fatalf("after the new baseline = %+v, want only v3 sent", rep)
	}
	if n := len(e.starter.starts()); n != 2 {
		t.Errorf("starts = %d, want 2 (v1, v3)", n)
	}
}
