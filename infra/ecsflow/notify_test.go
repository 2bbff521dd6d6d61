package ecsflow

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecsflow/ecsflow/statemachines"
)

// grants maps each function (by its role's policy) to action -> resources.
func (s *synthesized) grants() map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for name := range DefaultSpecs() {
		prefix := "Ecsflow" + pascal(name) + "RoleDefaultPolicy"
		g := map[string][]string{}
		for _, st := range s.identityStatements() {
			if !strings.HasPrefix(st.where, prefix) {
				continue
			}
			for _, a := range st.Actions {
				for _, r := range st.Resources {
					g[a] = append(g[a], rendered(r))
				}
			}
		}
		out[name] = g
	}
	return out
}

// TestNotificationGrants: the functions that publish status events (the
// notifying steps, the pipeline steps, the API's pipeline abort) may put
// events on the project's bus and nowhere else; every function knows the
// bus.
func TestNotificationGrants(t *testing.T) {
	s := full(t)
	want := []string{"api", "step-approval", "step-finish", "step-pipeline-approval", "step-pipeline-finish",
		"step-pipeline-next", "step-pipeline-stage-end", "step-prepare"}
	var got []string
	for name, g := range s.grants() {
		res, ok := g["events:PutEvents"]
		if !ok {
			continue
		}
		got = append(got, name)
		if len(res) != 1 || res[0] != "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/default" {
			t.Errorf("%s: events:PutEvents on %v, want the default bus only", name, res)
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("functions that may put events:\n got %v\nwant %v", got, want)
	}
	for name, r := range s.lambdaByFunction(t) {
		vars := r.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		if rendered(vars[EnvEventBusName]) != "default" {
			t.Errorf("%s %s: got %v, want default", name, EnvEventBusName, vars[EnvEventBusName])
		}
		if _, ok := vars[EnvNotify]; ok {
			t.Errorf("%s: %s set while notifications are on", name, EnvNotify)
		}
	}
}

// TestNotificationProps: a named bus is the one granted and set; with
// notifications off no function may put events and each one is told so.
func TestNotificationProps(t *testing.T) {
	tests := []struct {
		name    string
		bus     string
		off     bool
		wantBus string
		wantPut bool
		wantEnv string
	}{
		{"named bus", "ecsflow-notices", false, "ecsflow-notices", true, ""},
		{"off", "", true, "default", false, "off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			functions, build := fakeTree(t, []string{"api", "step-finish", "step-next"}, true)
			app := awscdk.NewApp(nil)
			stack := awscdk.NewStack(app, jsii.String("S"), nil)
			e, err := New(stack, "Ecsflow", Props{FunctionsDir: functions, AssetRoot: build, Clusters: []string{"prod"},
				Definitions: []statemachines.Definition{}, EventBusName: tc.bus, DisableNotifications: tc.off})
			if err != nil {
				t.Fatal(err)
			}
			s := parse(t, stack, e)
			var puts int
			for _, st := range s.identityStatements() {
				if slices.Contains(st.Actions, "events:PutEvents") {
					puts++
					for _, r := range st.Resources {
						if got := rendered(r); !strings.HasSuffix(got, ":event-bus/"+tc.wantBus) {
							t.Errorf("%s: PutEvents on %s, want bus %s", st.where, got, tc.wantBus)
						}
					}
				}
			}
			if want := map[bool]int{true: 2, false: 0}[tc.wantPut]; puts != want {
				t.Errorf("PutEvents statements: got %d, want %d (api, step-finish)", puts, want)
			}
			for name, r := range s.lambdaByFunction(t) {
				vars := r.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
				if got := rendered(vars[EnvEventBusName]); got != tc.wantBus {
					t.Errorf("%s %s: got %s, want %s", name, EnvEventBusName, got, tc.wantBus)
				}
				if got, _ := vars[EnvNotify].(string); got != tc.wantEnv {
					t.Errorf("%s %s: got %q, want %q", name, EnvNotify, got, tc.wantEnv)
				}
			}
		})
	}
}

func TestBadEventBusName(t *testing.T) {
	functions, build := fakeTree(t, []string{"api"}, true)
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
	_, err := New(stack, "Ecsflow", Props{FunctionsDir: functions, AssetRoot: build, Clusters: []string{"prod"},
		Definitions: []statemachines.Definition{}, EventBusName: "arn:aws:events:us-east-1:111122223333:event-bus/x"})
	var e *InvalidPropError
	if !errors.As(err, &e) || e.Field != "EventBusName" {
		t.Errorf("New: got %v, want an InvalidPropError for EventBusName", err)
	}
}

// TestAPIStopsPipelineExecutionsOnly: the API may stop executions of the
// pipeline state machine (a pipeline abort), not of the workflows, and no
// other function may stop any; without a pipeline definition it may stop
// nothing.
func TestAPIStopsPipelineExecutionsOnly(t *testing.T) {
	s := full(t)
	for name, g := range s.grants() {
		res, ok := g["states:StopExecution"]
		switch {
		case name == "api" && !ok:
			t.Error("api may not stop pipeline executions")
		case name == "api":
			want := []string{"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:ecsflow-pipeline:*"}
			if !slices.Equal(res, want) {
				t.Errorf("api StopExecution on %v, want %v", res, want)
			}
		case ok:
			t.Errorf("%s may stop executions: %v", name, res)
		}
	}

	functions, build := fakeTree(t, []string{"api"}, true)
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
	e, err := New(stack, "Ecsflow", Props{FunctionsDir: functions, AssetRoot: build, Clusters: []string{"prod"},
		Definitions: []statemachines.Definition{def("daemon", `{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range parse(t, stack, e).identityStatements() {
		if slices.Contains(st.Actions, "states:StopExecution") && strings.HasPrefix(st.where, "EcsflowApiRole") {
			t.Errorf("without a pipeline the api may still stop executions: %v", st.Resources)
		}
	}
}

// TestCloudMapAndTagScopes: Cloud Map calls are limited to namespaces and
// services of this account and region (ListServices has no resource type);
// ecs:TagResource only as a service or task definition is created.
func TestCloudMapAndTagScopes(t *testing.T) {
	s := full(t)
	var cloudMap, tags int
	for _, st := range s.identityStatements() {
		for _, a := range st.Actions {
			switch {
			case strings.HasPrefix(a, "servicediscovery:"):
				cloudMap++
				for _, r := range st.Resources {
					res := rendered(r)
					ok := res == "arn:<AWS::Partition>:servicediscovery:<AWS::Region>:<AWS::AccountId>:service/*" ||
						res == "arn:<AWS::Partition>:servicediscovery:<AWS::Region>:<AWS::AccountId>:namespace/*" ||
						(res == "*" && a == "servicediscovery:ListServices")
					if !ok {
						t.Errorf("%s: %s on %s", st.where, a, res)
					}
				}
			case a == "ecs:TagResource":
				tags++
				if got := rendered(st.Condition); got != `{"StringEquals":{"ecs:CreateAction":["CreateService","RegisterTaskDefinition"]}}` {
					t.Errorf("%s: ecs:TagResource condition %s", st.where, got)
				}
			}
		}
	}
	if cloudMap == 0 || tags == 0 {
		t.Errorf("checked %d Cloud Map and %d TagResource grants, want some of each", cloudMap, tags)
	}
	// The target account role carries the same Cloud Map calls.
	for _, a := range []string{"servicediscovery:CreateService", "servicediscovery:DeleteService", "servicediscovery:ListServices"} {
		if !slices.Contains(TargetActions(DefaultSpecs()), a) {
			t.Errorf("TargetActions lacks %s", a)
		}
	}
}

// TestNoticesReachTheTopic: the status events on the project's bus go to
// the notification topic (retries, a DLQ), which EventBridge may publish to
// and whose key it may use; none with notifications off or on a named bus
// elsewhere.
func TestNoticesReachTheTopic(t *testing.T) {
	s := full(t)
	var rule *resource
	for _, r := range s.ofType("AWS::Events::Rule") {
		if rendered(r.Properties["Name"]) == "ecsflow-notices" {
			r := r
			rule = &r
		}
	}
	if rule == nil {
		t.Fatal("no ecsflow-notices rule")
	}
	if got := rendered(rule.Properties["EventPattern"]); got != `{"detail-type":["ecsflow Deployment Status","ecsflow Pipeline Status"],"source":["ecsflow"]}` {
		t.Errorf("pattern: got %s", got)
	}
	if bus, ok := rule.Properties["EventBusName"]; ok {
		t.Errorf("rule on bus %v, want the default bus", bus)
	}
	tg := asList(rule.Properties["Targets"])
	if len(tg) != 1 {
		t.Fatalf("targets: got %v", tg)
	}
	target := tg[0].(map[string]any)
	if got := rendered(target["Arn"]); !strings.HasPrefix(got, "<EcsflowTopic") {
		t.Errorf("target: got %s, want the topic", got)
	}
	if target["DeadLetterConfig"] == nil || target["RetryPolicy"] == nil {
		t.Errorf("target without DLQ or retry policy: %v", target)
	}
	// EventBridge publishes with its own role: sns:Publish on the topic and
	// the topic key, nothing else; no resource policy names EventBridge
	// except the DLQ's, for this rule only.
	roleRef := rendered(target["RoleArn"])
	roleID := strings.TrimSuffix(strings.TrimPrefix(roleRef, "<"), ".Arn>")
	if role, ok := s.resources[roleID]; !ok || role.Type != "AWS::IAM::Role" ||
		!strings.Contains(rendered(role.Properties["AssumeRolePolicyDocument"]), `"Principal":{"Service":"events.amazonaws.com"}`) {
		t.Fatalf("target role %s: not a role EventBridge assumes", roleRef)
	}
	got := map[string]string{}
	for _, st := range s.identityStatements() {
		if !strings.HasPrefix(st.where, strings.TrimSuffix(roleID, roleID[len(roleID)-8:])+"DefaultPolicy") {
			continue
		}
		for _, a := range st.Actions {
			for _, r := range st.Resources {
				got[a] += rendered(r)
			}
		}
	}
	want := map[string]string{"sns:Publish": "<" + s.logicalID(t, "AWS::SNS::Topic", "EcsflowTopic") + ">"}
	key := "<" + s.logicalID(t, "AWS::KMS::Key", "EcsflowKey") + ".Arn>"
	want["kms:Decrypt"], want["kms:GenerateDataKey"] = key, key
	if rendered(got) != rendered(want) {
		t.Errorf("notices role:\n got %v\nwant %v", got, want)
	}
	dlqID := strings.TrimSuffix(strings.TrimPrefix(rendered(target["DeadLetterConfig"].(map[string]any)["Arn"]), "<"), ".Arn>")
	ruleID := ""
	for id, r := range s.ofType("AWS::Events::Rule") {
		if rendered(r.Properties["Name"]) == "ecsflow-notices" {
			ruleID = id
		}
	}
	var dlqAllowed bool
	for id, r := range s.resources {
		var doc any
		switch r.Type {
		case "AWS::KMS::Key":
			doc = r.Properties["KeyPolicy"]
		case "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy":
			doc = r.Properties["PolicyDocument"]
		default:
			continue
		}
		for _, raw := range asList(doc.(map[string]any)["Statement"]) {
			st := raw.(map[string]any)
			if rendered(st["Principal"]) != `{"Service":"events.amazonaws.com"}` || st["Effect"] != "Allow" {
				continue
			}
			queues := rendered(r.Properties["Queues"])
			if r.Type == "AWS::SQS::QueuePolicy" && strings.Contains(queues, dlqID) &&
				rendered(st["Condition"]) == `{"ArnEquals":{"aws:SourceArn":{"Fn::GetAtt":["`+ruleID+`","Arn"]}}}` {
				dlqAllowed = true
				continue
			}
			if r.Type != "AWS::SQS::QueuePolicy" {
				t.Errorf("%s lets EventBridge %s", id, rendered(st["Action"]))
			}
		}
	}
	if !dlqAllowed {
		t.Errorf("EventBridge may not send this rule's failures to %s", dlqID)
	}

	for _, tc := range []struct {
		name    string
		props   func(*Props)
		wantBus string
		want    int
	}{
		{"named bus", func(p *Props) { p.EventBusName = "ecsflow-notices" }, "ecsflow-notices", 1},
		{"off", func(p *Props) { p.DisableNotifications = true }, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			functions, build := fakeTree(t, []string{"step-finish"}, true)
			stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
			p := Props{FunctionsDir: functions, AssetRoot: build, Clusters: []string{"prod"}, Definitions: []statemachines.Definition{}}
			tc.props(&p)
			e, err := New(stack, "Ecsflow", p)
			if err != nil {
				t.Fatal(err)
			}
			rules := parse(t, stack, e).ofType("AWS::Events::Rule")
			if len(rules) != tc.want {
				t.Fatalf("rules: got %d, want %d", len(rules), tc.want)
			}
			for _, r := range rules {
				if got := rendered(r.Properties["EventBusName"]); got != tc.wantBus {
					t.Errorf("bus: got %s, want %s", got, tc.wantBus)
				}
			}
		})
	}
}

// TestECSListsLimitedToClusters: ListServices and ListTasks take no
// resource ARN; they are granted on "*" only with the condition ecs:cluster
// = the configured clusters, in a statement of their own.
func TestECSListsLimitedToClusters(t *testing.T) {
	s := full(t)
	want := `{"ArnEquals":{"ecs:cluster":["arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:cluster/prod","arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:cluster/staging"]}}`
	var n int
	for _, st := range s.identityStatements() {
		lists := slices.ContainsFunc(st.Actions, func(a string) bool { return a == "ecs:ListServices" || a == "ecs:ListTasks" })
		if !lists {
			continue
		}
		n++
		for _, a := range st.Actions {
			if a != "ecs:ListServices" && a != "ecs:ListTasks" {
				t.Errorf("%s: %s shares the ecs:cluster condition with the list calls", st.where, a)
			}
		}
		eq, _ := st.Condition["ArnEquals"].(map[string]any)
		var clusters []string
		for _, v := range asList(eq["ecs:cluster"]) {
			clusters = append(clusters, rendered(v))
		}
		if got := `{"ArnEquals":{"ecs:cluster":["` + strings.Join(clusters, `","`) + `"]}}`; len(st.Condition) != 1 || got != want {
			t.Errorf("%s: condition %v, want %s", st.where, st.Condition, want)
		}
	}
	if n == 0 {
		t.Fatal("no ECS list grant found")
	}
	// The target role's list calls are limited to its clusters too.
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("T"), nil)
	if _, err := NewTargetAccountRole(stack, "Role", TargetAccountRoleProps{EcsflowAccount: "111122223333", ExternalID: "x", Clusters: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, st := range parse(t, stack, nil).identityStatements() {
		if slices.Contains(st.Actions, "ecs:ListTasks") {
			eq, _ := st.Condition["ArnEquals"].(map[string]any)
			c := asList(eq["ecs:cluster"])
			found = len(c) == 1 && strings.HasSuffix(rendered(c[0]), ":cluster/web")
		}
	}
	if !found {
		t.Error("target role: ecs:ListTasks without the ecs:cluster condition")
	}
}
