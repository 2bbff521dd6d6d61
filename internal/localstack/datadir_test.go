package localstack

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
)

func quietLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// exampleIDs seeds the example (trigger off) and returns the IDs the tests
// deploy with: the application, service web and the dev canary workflow.
type exampleIDs struct{ app, web, devCanary string }

func seedForTest(t *testing.T, ctx context.Context, s *Stack) exampleIDs {
	t.Helper()
	p, err := SeedExample(ctx, s, "ecsflow.yaml", exampleSource(t), ExampleOptions{DisableTrigger: true}, nil)
	if err != nil {
		t.Fatalf("seed example: %v", err)
	}
	var ids exampleIDs
	for _, c := range p.Changes {
		name := c.Name[strings.LastIndexByte(c.Name, '/')+1:]
		switch {
		case c.Kind == string(model.KindApplication) && name == "shop":
			ids.app = c.ID
		case c.Kind == string(model.KindService) && name == "web":
			ids.web = c.ID
		case c.Kind == string(model.KindWorkflow) && name == "web-dev-canary":
			ids.devCanary = c.ID
		}
	}
	if ids.app == "" || ids.web == "" || ids.devCanary == "" {
		t.Fatalf("the applied example lacks shop, web or web-dev-canary: %+v", p.Changes)
	}
	return ids
}

// deploy pushes web:tag to the emulator's ECR and starts the dev canary.
func deploy(t *testing.T, ctx context.Context, s *Stack, c *client.Client, ids exampleIDs, tag string) string {
	t.Helper()
	id, _ := deployDigest(t, ctx, s, c, ids, tag)
	return id
}

func deployDigest(t *testing.T, ctx context.Context, s *Stack, c *client.Client, ids exampleIDs, tag string) (string, string) {
	t.Helper()
	digest, err := s.Emulator().PushImage(ctx, "web", tag)
	if err != nil {
		t.Fatalf("push web:%s: %v", tag, err)
	}
	d, err := c.StartDeployment(ctx, client.DeploymentRequest{AppID: ids.app, WorkflowID: ids.devCanary, ServiceID: ids.web,
		Artifact: client.ArtifactRequest{Tag: tag}})
	if err != nil {
		t.Fatalf("start deployment of web:%s: %v", tag, err)
	}
	return d.ID, digest
}

// await polls a deployment until cond holds.
func await(t *testing.T, ctx context.Context, c *client.Client, id, what string, cond func(*client.DeploymentBody) bool) *client.DeploymentBody {
	t.Helper()
	for {
		d, err := c.Deployment(ctx, id)
		if err != nil {
			t.Fatalf("get deployment %s: %v", id, err)
		}
		if cond(d) {
			return d
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deployment %s: timed out waiting for %s; it is %s (%s)", id, what, d.Status, d.Reason)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func ended(d *client.DeploymentBody) bool { return d.Status.Final() && d.EndedAt != nil }

// ecsServices is name -> "taskdef desired/running" for a cluster.
func ecsServices(t *testing.T, ctx context.Context, s *Stack, cluster string) map[string]string {
	t.Helper()
	c := ecs.NewFromConfig(s.AWSConfig())
	ls, err := c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String(cluster)})
	if err != nil {
		t.Fatalf("list services: %v", err)
	}
	out := map[string]string{}
	if len(ls.ServiceArns) == 0 {
		return out
	}
	ds, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: ls.ServiceArns})
	if err != nil {
		t.Fatalf("describe services: %v", err)
	}
	for _, sv := range ds.Services {
		out[aws.ToString(sv.ServiceName)] = aws.ToString(sv.TaskDefinition) + " " + itoa(sv.DesiredCount) + "/" + itoa(sv.RunningCount)
	}
	return out
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// TestDataDirKeepsStateAcrossRestarts: with a data dir, the example
// applied and a deployment run to success survive a stop and a start: the
// entities, the deployment and its whole ledger, the emulator's services
// (task definitions, counts: tasks RUNNING again) and ECR images are all
// there, and a second deployment of the service works after the restart.
func TestDataDirKeepsStateAcrossRestarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	// Saves every 10ms: they run while the deployments do.
	cfg := Config{ClockScale: DemoClockScale, DataDir: dir, Logger: quietLog(), SaveInterval: 10 * time.Millisecond}
	s1, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	defer s1.Close()
	if s1.Restored() {
		t.Error("a new data dir reported a restored state")
	}
	c1, err := s1.APIClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := seedForTest(t, ctx, s1)
	first, digest := deployDigest(t, ctx, s1, c1, ids, "v1.0.0")
	before := await(t, ctx, c1, first, "the end", ended)
	if before.Status != model.StatusSucceeded {
		t.Fatalf("first deployment ended %s (%s), want SUCCEEDED", before.Status, before.Reason)
	}
	wfs, err := c1.List(ctx, model.KindWorkflow, client.Scope{AppID: ids.app})
	if err != nil {
		t.Fatal(err)
	}
	svcBefore := ecsServices(t, ctx, s1, "dev")
	if len(svcBefore) == 0 {
		t.Fatal("no ECS service in cluster dev after the deployment")
	}
	stopAt := s1.Clock().Now()
	if err := s1.Close(); err != nil {
		t.Fatalf("first close: %v", err)
	}
	for _, f := range []string{metaFile, awsFile, tableFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("data dir lacks %s after Close: %v", f, err)
		}
	}

	s2, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	defer s2.Close()
	if !s2.Restored() {
		t.Error("the second start did not report a restored state")
	}
	if in := s2.Interrupted(); len(in) != 0 {
		t.Errorf("interrupted after a clean stop with nothing running: %+v", in)
	}
	if now := s2.Clock().Now(); now.Before(stopAt) {
		t.Errorf("the restarted clock is at %v, before the stop at %v", now, stopAt)
	}
	c2, err := s2.APIClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after, err := c2.Deployment(ctx, first)
	if err != nil {
		t.Fatalf("the first deployment after the restart: %v", err)
	}
	// Late ECS events (the old revision's tasks stopping) may add to the
	// ledger after the end: what was read before the stop must all be there.
	if after.Status != model.StatusSucceeded || len(after.Ledger) < len(before.Ledger) || len(after.Steps) != len(before.Steps) {
		t.Errorf("after the restart: %s with %d ledger entries and %d steps, want SUCCEEDED with at least %d and %d",
			after.Status, len(after.Ledger), len(after.Steps), len(before.Ledger), len(before.Steps))
	} else {
		for i, e := range before.Ledger {
			if g := after.Ledger[i]; g.Seq != e.Seq || g.Kind != e.Kind || g.Message != e.Message || !g.At.Equal(e.At) {
				t.Errorf("ledger entry %d after the restart: %+v, want %+v", i, g, e)
				break
			}
		}
	}
	wfs2, err := c2.List(ctx, model.KindWorkflow, client.Scope{AppID: ids.app})
	if err != nil || len(wfs2) != len(wfs) {
		t.Errorf("workflows after the restart: %d (%v), want %d", len(wfs2), err, len(wfs))
	}
	svcAfter := ecsServices(t, ctx, s2, "dev")
	if !sameMap(svcAfter, svcBefore) {
		t.Errorf("ECS services after the restart:\n %v\nwant\n %v", svcAfter, svcBefore)
	}
	imgs, err := ecr.NewFromConfig(s2.AWSConfig()).DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("web")})
	if err != nil || len(imgs.ImageDetails) != 1 || aws.ToString(imgs.ImageDetails[0].ImageDigest) != digest {
		t.Errorf("ECR web after the restart: %+v, %v; want the one image %s", imgs, err, digest)
	}

	second := deploy(t, ctx, s2, c2, ids, "v1.0.1")
	d2 := await(t, ctx, c2, second, "the end", ended)
	if d2.Status != model.StatusSucceeded {
		t.Fatalf("second deployment after the restart ended %s (%s), want SUCCEEDED", d2.Status, d2.Reason)
	}
	if d2.PreviousRevision == nil || d2.PreviousRevision.TaskDefinitionARN != before.NewRevision.TaskDefinitionARN {
		t.Errorf("second deployment replaced %+v, want the first one's revision %s", d2.PreviousRevision, before.NewRevision.TaskDefinitionARN)
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestDataDirFailsInterruptedDeployments: a stack stopped while a
// deployment runs (the service's second: its first succeeded) comes back
// with that deployment FAILED (reason, ledger entry), its lease released,
// and reports it; the next deployment of the same service is accepted and
// succeeds.
func TestDataDirFailsInterruptedDeployments(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	cfg := Config{ClockScale: DemoClockScale, DataDir: dir, Logger: quietLog()}
	s1, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	defer s1.Close()
	c1, err := s1.APIClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := seedForTest(t, ctx, s1)
	if d := await(t, ctx, c1, deploy(t, ctx, s1, c1, ids, "v1.0.0"), "the end", ended); d.Status != model.StatusSucceeded {
		t.Fatalf("first deployment ended %s (%s)", d.Status, d.Reason)
	}
	id := deploy(t, ctx, s1, c1, ids, "v1.0.1")
	running := await(t, ctx, c1, id, "RUNNING with its lease", func(d *client.DeploymentBody) bool {
		return d.Status == model.StatusRunning && d.Runtime != nil && d.Runtime.Target.LeaseKey != ""
	})
	lease := running.Runtime.Target.LeaseKey
	if err := s1.Close(); err != nil {
		t.Fatalf("close mid-deployment: %v", err)
	}

	s2, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer s2.Close()
	in := s2.Interrupted()
	if len(in) != 1 || in[0].ID != id || in[0].Kind != model.KindDeployment || in[0].Was != string(model.StatusRunning) || in[0].Lease != lease {
		t.Fatalf("Interrupted() = %+v, want deployment %s, was RUNNING, lease %s", in, id, lease)
	}
	c2, err := s2.APIClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c2.Deployment(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != model.StatusFailed || d.EndedAt == nil || !strings.Contains(d.Reason, "Interrupted") {
		t.Errorf("interrupted deployment: %s ended %v reason %q, want FAILED, ended, Interrupted", d.Status, d.EndedAt, d.Reason)
	}
	last := d.Ledger[len(d.Ledger)-1]
	if last.Kind != model.LedgerStatus || !strings.Contains(last.Message, "interrupted while RUNNING") {
		t.Errorf("last ledger entry %s %q, want a STATUS entry saying it was interrupted", last.Kind, last.Message)
	}
	if l, held, err := s2.Store().GetLease(ctx, lease); err != nil || (held && l.Holder == id) {
		t.Errorf("lease %s after the restart: %+v held=%v err=%v, want it released", lease, l, held, err)
	}
	next := deploy(t, ctx, s2, c2, ids, "v1.0.2")
	if d := await(t, ctx, c2, next, "the end", ended); d.Status != model.StatusSucceeded {
		t.Errorf("the deployment after the interrupted one ended %s (%s), want SUCCEEDED", d.Status, d.Reason)
	}
}

// TestDataDirSavesWhileRunning: a running stack saves its changes every
// SaveInterval, so a copy of the directory taken without any Close (as a
// kill -9 leaves it) starts with the entities and the AWS world.
func TestDataDirSavesWhileRunning(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	s1, err := Start(ctx, Config{ClockScale: DemoClockScale, DataDir: dir, Logger: quietLog(), SaveInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	ids := seedForTest(t, ctx, s1)
	copyDir := t.TempDir()
	for {
		raw, _ := os.ReadFile(filepath.Join(dir, tableFile))
		aws, _ := os.ReadFile(filepath.Join(dir, awsFile))
		if strings.Contains(string(raw), ids.devCanary) && strings.Contains(string(aws), "dev-web-a") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the running stack never saved the seeded example")
		case <-time.After(10 * time.Millisecond):
		}
	}
	for _, f := range []string{metaFile, awsFile, tableFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := Start(ctx, Config{ClockScale: DemoClockScale, DataDir: copyDir, Logger: quietLog(), AWSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start on the copy: %v", err)
	}
	defer s2.Close()
	c2, err := s2.APIClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c2.Get(ctx, model.KindWorkflow, client.Scope{AppID: ids.app}, ids.devCanary); err != nil {
		t.Errorf("the dev canary workflow on the copy: %v", err)
	}
	cl, err := ecs.NewFromConfig(s2.AWSConfig()).DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"dev", "prod"}})
	if err != nil || len(cl.Clusters) != 2 {
		t.Errorf("clusters on the copy: %+v, %v; want dev and prod", cl, err)
	}
}

// TestDataDirRefusesWhatItCannotRead: another version, another account or
// table, stray files, or an emulator state of another version stop the
// start with a *DataDirError that says what to do; nothing is written.
func TestDataDirRefusesWhatItCannotRead(t *testing.T) {
	meta := func(version int, account, table string) string {
		return `{"format":"ecsflow-local","version":` + strconv.Itoa(version) + `,"region":"us-east-1","accountId":"` + account +
			`","table":"` + table + `","savedAt":"2026-01-01T00:00:00Z","dynamodb":"embedded"}`
	}
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"newer version", map[string]string{metaFile: meta(2, DefaultAccountID, DefaultTable)}, "incompatible ecsflow local (data dir version 2; this build reads version 1)"},
		{"other account", map[string]string{metaFile: meta(1, "999999999999", DefaultTable)}, "account 999999999999"},
		{"other table", map[string]string{metaFile: meta(1, DefaultAccountID, "other")}, "--table other"},
		{"not ours", map[string]string{awsFile: "{}"}, "not written by ecsflow local"},
		{"garbled", map[string]string{metaFile: "{"}, "not valid JSON"},
		{"emulator state of another version", map[string]string{metaFile: meta(1, DefaultAccountID, DefaultTable),
			awsFile: `{"format":"ecsflow-awsemu-state","version":7}`}, "aws.json: emulator state file version 7"},
		{"table of another version", map[string]string{metaFile: meta(1, DefaultAccountID, DefaultTable),
			tableFile: `{"format":"ecsflow-memdynamo","version":9,"tables":[]}`}, "dynamodb.json: open memdynamo snapshot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for f, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Start(context.Background(), Config{DataDir: dir, Logger: quietLog()})
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded, want a refusal")
			}
			var de *DataDirError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start: %v; want a DataDirError mentioning %q", err, tc.want)
			}
			var names []string
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != lockFile {
					names = append(names, e.Name())
				}
			}
			sort.Strings(names)
			var want []string
			for f := range tc.files {
				want = append(want, f)
			}
			sort.Strings(want)
			if strings.Join(names, ",") != strings.Join(want, ",") {
				t.Errorf("files after the refusal: %v, want only %v", names, want)
			}
		})
	}
}
