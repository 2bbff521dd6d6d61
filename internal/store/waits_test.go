package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

func tokensOf(ws []store.Wait) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Token
	}
	return out
}

func TestWaitsAccessPatterns(t *testing.T) {
	dynamotest.ForEach(t, func(t *testing.T, b dynamotest.Backend, table string) {
		e := newEnv(b, table)
		ctx := context.Background()
		dep1, dep2 := model.NewID(model.KindDeployment), model.NewID(model.KindDeployment)
		long := strings.Repeat("t", 1024) // Step Functions tokens are long
		exp := e.clock.Now().Add(30 * time.Minute)
		steady := store.Wait{Token: long, DeploymentID: dep1, Kind: store.WaitSteady, Expires: exp,
			Cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
			Service: "arn:aws:ecs:us-east-1:123456789012:service/prod/web"}
		if err := e.st.PutWait(ctx, steady); err != nil {
			t.Fatalf("PutWait steady: %v", err)
		}
		e.clock.Advance(time.Second)
		verify := store.Wait{Token: "tok-verify", DeploymentID: dep1, Kind: store.WaitVerify, Cluster: "prod", Service: "web",
			Alarms: []string{"web-5xx", "web-latency"}, Expires: exp}
		if err := e.st.PutWait(ctx, verify); err != nil {
			t.Fatalf("PutWait verify: %v", err)
		}
		e.clock.Advance(time.Second)
		other := store.Wait{Token: "tok-other", DeploymentID: dep2, Kind: store.WaitApproval, Expires: exp, Approvers: []string{"alice", "bob"}}
		if err := e.st.PutWait(ctx, other); err != nil {
			t.Fatalf("PutWait approval: %v", err)
		}

		// By service: ARNs and names find the same waits, oldest first.
		for _, q := range [][2]string{{"prod", "web"}, {"arn:aws:ecs:us-east-1:123456789012:cluster/prod", "arn:aws:ecs:us-east-1:123456789012:service/prod/web"}} {
			got, err := e.st.WaitsForService(ctx, q[0], q[1])
			if err != nil {
				t.Fatalf("WaitsForService(%v): %v", q, err)
			}
			if want := []string{long, "tok-verify"}; !slices.Equal(tokensOf(got), want) {
				t.Fatalf("WaitsForService(%v) tokens = %.40q, want %.40q", q, tokensOf(got), want)
			}
			if got[0].Cluster != "prod" || got[0].Service != "web" || got[0].Kind != store.WaitSteady || got[0].DeploymentID != dep1 {
				t.Errorf("WaitsForService(%v)[0] = %+v, want cluster prod, service web, STEADY, %s", q, got[0], dep1)
			}
			if !got[0].Expires.Equal(exp) || got[0].Created.IsZero() {
				t.Errorf("expires %v created %v, want %v and a creation time", got[0].Expires, got[0].Created, exp)
			}
		}
		if got, err := e.st.WaitsForService(ctx, "prod", "api"); err != nil || len(got) != 0 {
			t.Errorf("WaitsForService(prod, api) = %v, %v; want none", got, err)
		}

		// By alarm.
		for _, a := range []string{"web-5xx", "web-latency"} {
			got, err := e.st.WaitsForAlarm(ctx, a)
			if err != nil || !slices.Equal(tokensOf(got), []string{"tok-verify"}) {
				t.Fatalf("WaitsForAlarm(%s) = %v, %v; want tok-verify", a, tokensOf(got), err)
			}
			if !slices.Equal(got[0].Alarms, verify.Alarms) {
				t.Errorf("alarms = %v, want %v", got[0].Alarms, verify.Alarms)
			}
		}

		// By deployment.
		got, err := e.st.WaitsForDeployment(ctx, dep1)
		if err != nil || len(got) != 2 {
			t.Fatalf("WaitsForDeployment(dep1) = %v, %v; want 2", tokensOf(got), err)
		}
		got, err = e.st.WaitsForDeployment(ctx, dep2)
		if err != nil || !slices.Equal(tokensOf(got), []string{"tok-other"}) || got[0].Kind != store.WaitApproval ||
			!slices.Equal(got[0].Approvers, []string{"alice", "bob"}) {
			t.Fatalf("WaitsForDeployment(dep2) = %+v, %v; want the approval", got, err)
		}

		// Delete by token and deployment only: the alarm links go too.
		if err := e.st.DeleteWait(ctx, store.Wait{Token: "tok-verify", DeploymentID: dep1}); err != nil {
			t.Fatalf("DeleteWait: %v", err)
		}
		if got, err := e.st.WaitsForAlarm(ctx, "web-5xx"); err != nil || len(got) != 0 {
			t.Errorf("after delete WaitsForAlarm = %v, %v; want none", tokensOf(got), err)
		}
		if got, err := e.st.WaitsForService(ctx, "prod", "web"); err != nil || !slices.Equal(tokensOf(got), []string{long}) {
			t.Errorf("after delete WaitsForService = %.40q, %v; want the steady wait only", tokensOf(got), err)
		}
		// Deleting again is a no-op.
		if err := e.st.DeleteWait(ctx, verify); err != nil {
			t.Errorf("second DeleteWait: %v", err)
		}
		// Nothing of the verify wait is left in the table.
		for _, pk := range []string{"WA#web-5xx", "WA#web-latency"} {
			out, err := b.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table),
				KeyConditionExpression:    aws.String("PK = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}})
			if err != nil || len(out.Items) != 0 {
				t.Errorf("items under %s: %v, %v; want none", pk, out.Items, err)
			}
		}

		// Expired waits are not returned.
		e.clock.Advance(31 * time.Minute)
		if got, err := e.st.WaitsForService(ctx, "prod", "web"); err != nil || len(got) != 0 {
			t.Errorf("expired WaitsForService = %d waits, %v; want none", len(got), err)
		}
		if got, err := e.st.WaitsForDeployment(ctx, dep2); err != nil || len(got) != 0 {
			t.Errorf("expired WaitsForDeployment = %d waits, %v; want none", len(got), err)
		}
	})
}

func TestPutWaitOverwritesTheSameToken(t *testing.T) {
	dynamotest.ForEach(t, func(t *testing.T, b dynamotest.Backend, table string) {
		e := newEnv(b, table)
		ctx := context.Background()
		dep := model.NewID(model.KindDeployment)
		w := store.Wait{Token: "tok", DeploymentID: dep, Kind: store.WaitSteady, Cluster: "c", Service: "s", Expires: e.clock.Now().Add(time.Hour)}
		for range 2 {
			if err := e.st.PutWait(ctx, w); err != nil {
				t.Fatalf("PutWait: %v", err)
			}
		}
		got, err := e.st.WaitsForDeployment(ctx, dep)
		if err != nil || len(got) != 1 {
			t.Fatalf("WaitsForDeployment = %d waits, %v; want 1", len(got), err)
		}
		// The ttl attribute is written, in epoch seconds, not before Expires.
		out, err := b.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table),
			KeyConditionExpression:    aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: dep}}})
		if err != nil || len(out.Items) != 1 {
			t.Fatalf("raw query = %v, %v", out, err)
		}
		n, ok := out.Items[0]["ttl"].(*types.AttributeValueMemberN)
		if !ok || n.Value != "1795658400" { // 2026-11-26T02:00:00Z
			t.Errorf("ttl = %#v, want N 1795658400", out.Items[0]["ttl"])
		}
	})
}

func TestPutWaitRejectsMalformedWaits(t *testing.T) {
	b := dynamotest.Mini()
	table := dynamotest.Table(t, b)
	e := newEnv(b, table)
	dep := model.NewID(model.KindDeployment)
	exp := e.clock.Now().Add(time.Hour)
	base := store.Wait{Token: "tok", DeploymentID: dep, Kind: store.WaitSteady, Cluster: "c", Service: "s", Expires: exp}
	cases := []struct {
		name   string
		mutate func(*store.Wait)
		want   string
	}{
		{"no token", func(w *store.Wait) { w.Token = "" }, "token is required"},
		{"huge token", func(w *store.Wait) { w.Token = strings.Repeat("x", 4096) }, "at most 2048"},
		{"not a deployment", func(w *store.Wait) { w.DeploymentID = "svc-1" }, "not a deployment id"},
		{"unknown kind", func(w *store.Wait) { w.Kind = "NAP" }, `kind "NAP"`},
		{"steady without service", func(w *store.Wait) { w.Service = "" }, "needs cluster and service"},
		{"watch without cluster", func(w *store.Wait) { w.Kind, w.Cluster = store.WaitWatch, "" }, "a WATCH wait needs cluster and service"},
		{"no expiry", func(w *store.Wait) { w.Expires = time.Time{} }, "expires is required"},
		{"empty alarm", func(w *store.Wait) { w.Alarms = []string{""} }, "alarms[0] is empty"},
		{"repeated alarm", func(w *store.Wait) { w.Alarms = []string{"a", "a"} }, "repeated"},
		{"too many alarms", func(w *store.Wait) {
			for i := range store.MaxWaitAlarms + 1 {
				w.Alarms = append(w.Alarms, "a"+strings.Repeat("x", i))
			}
		}, "at most 50"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := base
			tc.mutate(&w)
			err := e.st.PutWait(context.Background(), w)
			if !errors.Is(err, store.ErrInvalidWait) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PutWait error = %v, want ErrInvalidWait mentioning %q", err, tc.want)
			}
		})
	}
	if n := e.count.Total(); n != 0 {
		t.Errorf("malformed waits made %d DynamoDB calls, want 0", n)
	}
	// An approval wait needs no service.
	ok := store.Wait{Token: "tok", DeploymentID: dep, Kind: store.WaitApproval, Expires: exp}
	if err := e.st.PutWait(context.Background(), ok); err != nil {
		t.Errorf("PutWait approval: %v", err)
	}
}

func TestServiceAndClusterNames(t *testing.T) {
	cases := []struct{ in, cluster, service string }{
		{"web", "web", "web"},
		{"arn:aws:ecs:us-east-1:1:cluster/prod", "prod", "arn:aws:ecs:us-east-1:1:cluster/prod"},
		{"arn:aws:ecs:us-east-1:1:service/prod/web", "arn:aws:ecs:us-east-1:1:service/prod/web", "web"},
		{"arn:aws:ecs:us-east-1:1:service/web", "arn:aws:ecs:us-east-1:1:service/web", "web"},
	}
	for _, c := range cases {
		if got := store.ClusterName(c.in); got != c.cluster {
			t.Errorf("ClusterName(%q) = %q, want %q", c.in, got, c.cluster)
		}
		if got := store.ServiceName(c.in); got != c.service {
			t.Errorf("ServiceName(%q) = %q, want %q", c.in, got, c.service)
		}
	}
}

// FuzzWaitNames: name reduction never panics, is idempotent, and a name
// never keeps the ARN's service path.
func FuzzWaitNames(f *testing.F) {
	for _, s := range []string{"web", "arn:aws:ecs:us-east-1:1:cluster/prod", "arn:aws:ecs:us-east-1:1:service/prod/web",
		"arn:aws:ecs:us-east-1:1:service/web", "arn:", ":service/", "arn:x:service/a/b/c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, svc := store.ClusterName(s), store.ServiceName(s)
		if store.ClusterName(c) != c && strings.HasPrefix(c, "arn:") {
			t.Errorf("ClusterName not idempotent on %q: %q then %q", s, c, store.ClusterName(c))
		}
		if strings.HasPrefix(s, "arn:") && strings.Contains(s, ":service/") && strings.Contains(svc, "/") {
			t.Errorf("ServiceName(%q) = %q keeps a path", s, svc)
		}
	})
}
