package apply_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/apply"
	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/model"
)

func stack(t *testing.T) *client.Client {
	t.Helper()
	ctx := context.Background()
	s, err := localstack.Start(ctx, localstack.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c, err := client.New(ctx, s.URL(), client.Options{})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

func example(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../examples/ecsflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func plan(t *testing.T, c *client.Client, src []byte) *apply.Plan {
	t.Helper()
	f, err := apply.Parse("ecsflow.yaml", src)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	p, err := apply.MakePlan(context.Background(), c, f)
	if err != nil {
		t.Fatalf("MakePlan: %v", err)
	}
	return p
}

func planText(p *apply.Plan) string {
	var b strings.Builder
	p.Write(&b)
	return b.String()
}

func TestApplyExampleIsIdempotent(t *testing.T) {
	c := stack(t)
	ctx := context.Background()
	src := example(t)

	p := plan(t, c, src)
	cr, up, un := p.Counts()
	if cr != 13 || up != 0 || un != 0 {
		t.Fatalf("first plan: got %d create, %d update, %d unchanged, want 13/0/0:\n%s", cr, up, un, planText(p))
	}
	if err := apply.Apply(ctx, c, p); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	apps, err := c.List(ctx, model.KindApplication, client.Scope{})
	if err != nil || len(apps) != 1 {
		t.Fatalf("applications after apply: %d, %v", len(apps), err)
	}
	wfs, err := c.List(ctx, model.KindWorkflow, client.Scope{AppID: apps[0].GetMeta().ID})
	if err != nil || len(wfs) != 2 {
		t.Fatalf("workflows after apply: %d, %v", len(wfs), err)
	}

	again := plan(t, c, src)
	if !again.Empty() {
		t.Fatalf("second plan is not empty:\n%s", planText(again))
	}
	if got := planText(again); !strings.Contains(got, "No changes: all 13 entities are up to date.") {
		t.Errorf("second plan text:\n%s", got)
	}

	// One edit: the plan names exactly that field, and applying it converges.
	edited := strings.Replace(string(src), "bakeSeconds: 120", "bakeSeconds: 300", 1)
	p3 := plan(t, c, []byte(edited))
	cr, up, un = p3.Counts()
	if cr != 0 || up != 1 || un != 12 {
		t.Fatalf("edited plan: %d/%d/%d, want 0/1/12:\n%s", cr, up, un, planText(p3))
	}
	var upd *apply.Change
	for _, ch := range p3.Changes {
		if ch.Action == apply.Update {
			upd = ch
		}
	}
	if upd.Name != "shop/web-prod-bluegreen" || strings.Join(upd.Fields, ",") != "verification.bakeSeconds" {
		t.Errorf("update: got %s %v, want shop/web-prod-bluegreen [verification.bakeSeconds]", upd.Name, upd.Fields)
	}
	if err := apply.Apply(ctx, c, p3); err != nil {
		t.Fatalf("Apply edit: %v", err)
	}
	if p4 := plan(t, c, []byte(edited)); !p4.Empty() {
		t.Fatalf("plan after the edit is not empty:\n%s", planText(p4))
	}
}

func TestParseReportsEveryProblemWithLine(t *testing.T) {
	src := `cloudProviders:
  - name: acct
    accountId: "123456789012"
    roleArn: arn:aws:iam::123456789012:role/x
    regions: [us-east-1]
    colour: blue
applications:
  - name: shop
    services:
      - name: web
        artifact:
          serverId: nowhere
          repository: web
        ecs:
          schedulingStrategy: REPLICA
          desiredCount: lots
bogus: 1
`
	_, err := apply.Parse("bad.yaml", []byte(src))
	var ie *apply.InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("Parse: got %v, want *InvalidError", err)
	}
	want := map[int]string{6: "colour", 16: "ecs.desiredCount", 17: "bogus"}
	for line, frag := range want {
		found := false
		for _, p := range ie.Problems {
			if p.Line == line && (strings.Contains(p.Message, frag) || p.Field == frag) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem at line %d about %s in:\n%v", line, frag, err)
		}
	}
}

func TestPlanRefusesBadReferencesAndInvalidEntities(t *testing.T) {
	c := stack(t)
	src := strings.Replace(string(example(t)), "serverId: ecr\n          repository: worker", "serverId: gcr\n          repository: worker", 1)
	src = strings.Replace(src, "trafficWeight: 50", "trafficWeight: 150", 1)
	f, perr := apply.Parse("ecsflow.yaml", []byte(src))
	if f == nil {
		t.Fatalf("Parse: %v, want the file with its validation problems", perr)
	}
	_, err := apply.MakePlan(context.Background(), c, f)
	err = apply.Merge(perr, err)
	var ie *apply.InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("MakePlan: got %v, want *InvalidError", err)
	}
	lines := strings.Split(src, "\n")
	lineOf := func(frag string) int {
		for i, l := range lines {
			if strings.Contains(l, frag) {
				return i + 1
			}
		}
		return -1
	}
	for _, w := range []struct{ field, frag string }{
		{"artifact.serverId", "serverId: gcr"},
		{"strategy.canary.phases[1].trafficWeight", "trafficWeight: 150"},
	} {
		found := false
		for _, p := range ie.Problems {
			if p.Field == w.field && p.Line == lineOf(w.frag) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem on %s at line %d in:\n%v", w.field, lineOf(w.frag), err)
		}
	}
	// Nothing was written.
	apps, err := c.List(context.Background(), model.KindApplication, client.Scope{})
	if err != nil || len(apps) != 0 {
		t.Errorf("applications after a refused plan: %d, %v; want none", len(apps), err)
	}
}
