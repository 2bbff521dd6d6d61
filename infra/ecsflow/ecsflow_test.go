package ecsflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/eventbus"
	"github.com/ecsflow/ecsflow/statemachines"
)

func TestTable(t *testing.T) {
	s := full(t)
	tables := s.ofType("AWS::DynamoDB::Table")
	if len(tables) != 1 {
		t.Fatalf("tables: got %d, want 1", len(tables))
	}
	mustMatch(t, "table properties", func() {
		s.tpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"BillingMode": "PAY_PER_REQUEST",
			"KeySchema": []any{
				map[string]any{"AttributeName": "PK", "KeyType": "HASH"},
				map[string]any{"AttributeName": "SK", "KeyType": "RANGE"},
			},
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"SSESpecification":                 assertions.Match_ObjectLike(&map[string]any{"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": assertions.Match_AnyValue()}),
			"TimeToLiveSpecification":          map[string]any{"AttributeName": "ttl", "Enabled": true},
		})
	})
	mustMatch(t, "table retained", func() {
		s.tpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
	})
	for _, tb := range tables {
		var got []string
		for _, g := range asList(tb.Properties["GlobalSecondaryIndexes"]) {
			gm := g.(map[string]any)
			keys := asList(gm["KeySchema"])
			pk := keys[0].(map[string]any)["AttributeName"]
			sk := keys[1].(map[string]any)["AttributeName"]
			got = append(got, rendered(gm["IndexName"])+"("+rendered(pk)+","+rendered(sk)+")")
		}
		sort.Strings(got)
		want := "GSI1(GSI1PK,GSI1SK) GSI2(GSI2PK,GSI2SK)"
		if strings.Join(got, " ") != want {
			t.Errorf("GSIs: got %v, want %s", got, want)
		}
	}
	mustMatch(t, "key rotation", func() {
		s.tpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
	})
}

func TestFunctions(t *testing.T) {
	s := full(t)
	specs := DefaultSpecs()
	got := s.lambdaByFunction(t)
	if len(got) != len(specs) {
		t.Errorf("Lambdas: got %d, want one per spec (%d)", len(got), len(specs))
	}
	for name, spec := range specs {
		r, ok := got[name]
		if !ok {
			t.Errorf("functions/%s: no Lambda", name)
			continue
		}
		p := r.Properties
		checks := []struct{ what, got, want string }{
			{"runtime", rendered(p["Runtime"]), "provided.al2023"},
			{"architecture", rendered(p["Architectures"]), `["arm64"]`},
			{"handler", rendered(p["Handler"]), "bootstrap"},
			{"memory", rendered(p["MemorySize"]), rendered(float64(spec.MemoryMB))},
			{"timeout", rendered(p["Timeout"]), rendered(spec.Timeout.Seconds())},
			{"tracing", rendered(p["TracingConfig"]), `{"Mode":"Active"}`},
			{"log format", rendered(p["LoggingConfig"].(map[string]any)["LogFormat"]), "JSON"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s %s: got %s, want %s", name, c.what, c.got, c.want)
			}
		}
		vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
		for _, k := range []string{EnvTableName, EnvTopicArn, EnvStateMachineArnPrefix, EnvTargetRoleName} {
			if _, ok := vars[k]; !ok {
				t.Errorf("%s: no %s variable", name, k)
			}
		}
	}
	// Functions that start executions know every state machine's ARN under
	// the variable internal/api reads; the others do not.
	for name, r := range got {
		vars := r.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		roll, hasRoll := vars["STATE_MACHINE_ARN_ROLLING"]
		_, hasPipe := vars["STATE_MACHINE_ARN_PIPELINE"]
		starts := startsExecutions(specs[name].Actions)
		if starts != hasRoll || starts != hasPipe {
			t.Errorf("%s: starts executions %v, has STATE_MACHINE_ARN_ROLLING %v, _PIPELINE %v", name, starts, hasRoll, hasPipe)
		}
		if hasRoll && !strings.HasSuffix(rendered(roll), ":stateMachine:ecsflow-rolling") {
			t.Errorf("%s STATE_MACHINE_ARN_ROLLING: got %s", name, rendered(roll))
		}
		if rendered(vars["TABLE_NAME"]) == "" || !strings.HasPrefix(rendered(vars["TABLE_NAME"]), "<EcsflowTable") {
			t.Errorf("%s TABLE_NAME: got %s", name, rendered(vars["TABLE_NAME"]))
		}
	}
	if !startsExecutions(specs["api"].Actions) {
		t.Error("api does not start executions")
	}
	// Every function has its own log group with the retention.
	logGroups := s.ofType("AWS::Logs::LogGroup")
	for id, lg := range logGroups {
		if rendered(lg.Properties["RetentionInDays"]) != "30" {
			t.Errorf("log group %s retention: got %s, want 30", id, rendered(lg.Properties["RetentionInDays"]))
		}
	}
	// Asynchronous functions: retries, event age, on-failure destination.
	var async []string
	for n, sp := range specs {
		if sp.Async {
			async = append(async, n)
		}
	}
	invoke := s.ofType("AWS::Lambda::EventInvokeConfig")
	if len(invoke) != len(async) {
		t.Errorf("EventInvokeConfig: got %d, want %d (%v)", len(invoke), len(async), async)
	}
	for id, r := range invoke {
		dest := rendered(r.Properties["DestinationConfig"])
		if !strings.Contains(dest, "OnFailure") || !strings.Contains(dest, "FailedInvocations") {
			t.Errorf("%s: no on-failure queue: %s", id, dest)
		}
		if rendered(r.Properties["MaximumRetryAttempts"]) != "2" {
			t.Errorf("%s retries: got %s, want 2", id, rendered(r.Properties["MaximumRetryAttempts"]))
		}
	}
}

func TestStateMachines(t *testing.T) {
	s := full(t)
	sms := s.ofType("AWS::StepFunctions::StateMachine")
	if len(sms) != 2 {
		t.Fatalf("state machines: got %d, want 2", len(sms))
	}
	byName := map[string]resource{}
	for _, r := range sms {
		byName[rendered(r.Properties["StateMachineName"])] = r
	}
	for name, body := range map[string]string{"ecsflow-rolling": rollingASL, "ecsflow-pipeline": pipelineASL} {
		r, ok := byName[name]
		if !ok {
			t.Errorf("no state machine %s (have %v)", name, byName)
			continue
		}
		if got := rendered(r.Properties["DefinitionString"]); got != body {
			t.Errorf("%s: definition not inlined verbatim", name)
		}
		subs, _ := r.Properties["DefinitionSubstitutions"].(map[string]any)
		for _, ph := range statemachines.Placeholders(body) {
			if _, ok := subs[ph]; !ok {
				t.Errorf("%s: placeholder ${%s} has no substitution", name, ph)
			}
		}
		if len(subs) != len(statemachines.Placeholders(body)) {
			t.Errorf("%s: substitutions %v, want exactly %v", name, subs, statemachines.Placeholders(body))
		}
		lc := r.Properties["LoggingConfiguration"].(map[string]any)
		if lc["Level"] != "ALL" || lc["IncludeExecutionData"] != true || len(asList(lc["Destinations"])) != 1 {
			t.Errorf("%s logging: got %v", name, lc)
		}
		if rendered(r.Properties["TracingConfiguration"]) != `{"Enabled":true}` {
			t.Errorf("%s tracing: got %v", name, r.Properties["TracingConfiguration"])
		}
	}
	rolling := byName["ecsflow-rolling"].Properties["DefinitionSubstitutions"].(map[string]any)
	if got := rendered(rolling["StepPrepareArn"]); !strings.Contains(got, "StepPrepare") || !strings.HasSuffix(got, ".Arn>") {
		t.Errorf("StepPrepareArn: got %s, want the step-prepare function's Arn", got)
	}
	if got := rendered(rolling["TableName"]); !strings.Contains(got, "Table") {
		t.Errorf("TableName: got %s", got)
	}
	pipeline := byName["ecsflow-pipeline"].Properties["DefinitionSubstitutions"].(map[string]any)
	if got := rendered(pipeline["RollingStateMachineArn"]); !strings.HasSuffix(got, ":stateMachine:ecsflow-rolling") {
		t.Errorf("RollingStateMachineArn: got %s", got)
	}

	// The state machine roles: invoke exactly the named functions, start the
	// child workflow, use the table and topic only where the ASL does.
	var rollingInvoke, pipelineStart, pipelineInvoke []string
	for _, st := range s.identityStatements() {
		for _, a := range st.Actions {
			switch {
			case strings.HasPrefix(st.where, "EcsflowRollingStateMachineRole") && a == "lambda:InvokeFunction":
				for _, r := range st.Resources {
					rollingInvoke = append(rollingInvoke, rendered(r))
				}
			case strings.HasPrefix(st.where, "EcsflowPipelineStateMachineRole") && a == "lambda:InvokeFunction":
				pipelineInvoke = append(pipelineInvoke, "x")
			case strings.HasPrefix(st.where, "EcsflowPipelineStateMachineRole") && a == "states:StartExecution":
				for _, r := range st.Resources {
					pipelineStart = append(pipelineStart, rendered(r))
				}
			}
		}
	}
	if len(rollingInvoke) != 2*6 { // six functions, each ARN and ARN:*
		t.Errorf("rolling invokes: got %d resources %v, want 12", len(rollingInvoke), rollingInvoke)
	}
	if len(pipelineInvoke) != 0 {
		t.Errorf("pipeline names no function but may invoke some")
	}
	if len(pipelineStart) != 1 || !strings.HasSuffix(pipelineStart[0], ":stateMachine:ecsflow-rolling") {
		t.Errorf("pipeline StartExecution: got %v", pipelineStart)
	}
}

// TestEventRules checks that every internal/ecsevents rule is installed for
// its function, narrowed to ecsflow's resources, with retries and a DLQ.
func TestEventRules(t *testing.T) {
	s := full(t)
	rules := s.ofType("AWS::Events::Rule")
	byName := map[string]resource{}
	for _, r := range rules {
		byName[rendered(r.Properties["Name"])] = r
	}
	want := ecsevents.Rules()
	if len(rules) != len(want)+2 { // + the collect-artifacts schedule and the notices rule
		t.Errorf("rules: got %d %v, want %d", len(rules), byName, len(want)+2)
	}
	sched, ok := byName["ecsflow-collect-artifacts"]
	if !ok {
		t.Error("no collect-artifacts schedule")
	} else {
		if got := rendered(sched.Properties["ScheduleExpression"]); got != "rate(5 minutes)" {
			t.Errorf("schedule: got %s", got)
		}
		tg := asList(sched.Properties["Targets"])[0].(map[string]any)
		if !strings.HasPrefix(rendered(tg["Arn"]), "<EcsflowCollectArtifacts") || tg["DeadLetterConfig"] == nil || tg["RetryPolicy"] == nil {
			t.Errorf("schedule target: got %v", tg)
		}
	}
	var wantPrefixes []string
	for _, acct := range []string{"111122223333", "<AWS::AccountId>"} {
		for _, w := range []string{"service/prod/", "service/staging/", "task/prod/", "task/staging/"} {
			wantPrefixes = append(wantPrefixes, "arn:<AWS::Partition>:ecs:<AWS::Region>:"+acct+":"+w)
		}
	}
	for _, wr := range want {
		r, ok := byName["ecsflow-"+wr.Name]
		if !ok {
			t.Errorf("no rule ecsflow-%s", wr.Name)
			continue
		}
		var shared map[string]any
		if err := json.Unmarshal([]byte(wr.Pattern), &shared); err != nil {
			t.Fatal(err)
		}
		got := r.Properties["EventPattern"].(map[string]any)
		for k, v := range shared {
			if k == "detail" && wr.Function == "trigger" {
				continue // checked below: narrowed to the repositories
			}
			if rendered(got[k]) != rendered(v) {
				t.Errorf("%s pattern %s: got %s, want %s", wr.Name, k, rendered(got[k]), rendered(v))
			}
		}
		switch rendered(shared["source"]) {
		case `["aws.ecs"]`:
			var prefixes []string
			for _, m := range asList(got["resources"]) {
				prefixes = append(prefixes, rendered(m.(map[string]any)["prefix"]))
			}
			sort.Strings(prefixes)
			if strings.Join(prefixes, " ") != strings.Join(wantPrefixes, " ") {
				t.Errorf("%s resource prefixes:\n got %v\nwant %v", wr.Name, prefixes, wantPrefixes)
			}
		case `["aws.ecr"]`:
			if d := rendered(got["detail"]); d != `{"action-type":["PUSH"],"repository-name":["shop/web","shop/api"],"result":["SUCCESS"]}` {
				t.Errorf("ECR detail: got %s", d)
			}
			if a := rendered(got["account"]); a != `[{"Ref":"AWS::AccountId"}]` {
				t.Errorf("ECR account: got %s", a)
			}
		}
		targets := asList(r.Properties["Targets"])
		if len(targets) != 1 {
			t.Fatalf("%s targets: got %d", wr.Name, len(targets))
		}
		tg := targets[0].(map[string]any)
		if arn := rendered(tg["Arn"]); !strings.HasPrefix(arn, "<Ecsflow"+pascal(wr.Function)) {
			t.Errorf("%s target: got %s, want functions/%s", wr.Name, arn, wr.Function)
		}
		if tg["DeadLetterConfig"] == nil {
			t.Errorf("%s: no DLQ", wr.Name)
		}
		rp, _ := tg["RetryPolicy"].(map[string]any)
		if rp["MaximumRetryAttempts"] == nil || rp["MaximumEventAgeInSeconds"] == nil {
			t.Errorf("%s: no retry policy: %v", wr.Name, tg)
		}
	}
	// The target account may put its forwarded events on the bus.
	policies := s.ofType("AWS::Events::EventBusPolicy")
	if len(policies) != 1 {
		t.Fatalf("event bus policies: got %d, want 1", len(policies))
	}
	for id, p := range policies {
		st, _ := p.Properties["Statement"].(map[string]any)
		principal, _ := st["Principal"].(map[string]any)
		if !strings.HasSuffix(rendered(principal["AWS"]), ":iam::111122223333:root") || st["Action"] != "events:PutEvents" ||
			st["Effect"] != "Allow" || !strings.HasSuffix(rendered(st["Resource"]), ":event-bus/default") || p.Properties["EventBusName"] != "default" {
			t.Errorf("event bus policy %s: got %v", id, p.Properties)
		}
	}
}

func TestHTTPAPI(t *testing.T) {
	s := full(t)
	routes := s.ofType("AWS::ApiGatewayV2::Route")
	if len(routes) == 0 {
		t.Fatal("no routes")
	}
	for id, r := range routes {
		if r.Properties["AuthorizationType"] != "AWS_IAM" {
			t.Errorf("route %s authorization: got %v, want AWS_IAM", id, r.Properties["AuthorizationType"])
		}
	}
	mustMatch(t, "$default route", func() {
		s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{"RouteKey": "$default", "AuthorizationType": "AWS_IAM"})
	})
	mustMatch(t, "stage access logs", func() {
		s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
			"StageName":         "$default",
			"AccessLogSettings": assertions.Match_ObjectLike(&map[string]any{"DestinationArn": assertions.Match_AnyValue()}),
		})
	})
	var found bool
	for id, o := range s.outputs {
		if strings.HasPrefix(id, "EcsflowApiUrl") {
			found = true
			if v := rendered(o.(map[string]any)["Value"]); !strings.Contains(v, "execute-api") {
				t.Errorf("ApiUrl output: got %s", v)
			}
		}
	}
	if !found {
		t.Errorf("no ApiUrl output in %v", s.outputs)
	}
	integ := s.ofType("AWS::ApiGatewayV2::Integration")
	for id, r := range integ {
		if !strings.HasPrefix(rendered(r.Properties["IntegrationUri"]), "<EcsflowApi") || r.Properties["PayloadFormatVersion"] != "2.0" {
			t.Errorf("integration %s: got %v", id, r.Properties)
		}
	}
}

func TestJWTAuthorizer(t *testing.T) {
	functions, build := fakeTree(t, []string{"api"}, true)
	s := synth(t, Props{FunctionsDir: functions, AssetRoot: build, Clusters: []string{"prod"}, Definitions: []statemachines.Definition{},
		JWT: &JWTProps{Issuer: "https://issuer.example.com/", Audience: []string{"ecsflow"}}})
	for id, r := range s.ofType("AWS::ApiGatewayV2::Route") {
		if r.Properties["AuthorizationType"] != "JWT" || r.Properties["AuthorizerId"] == nil {
			t.Errorf("route %s: got %v, want a JWT authorizer", id, r.Properties)
		}
	}
	mustMatch(t, "JWT authorizer", func() {
		s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Authorizer"), map[string]any{
			"AuthorizerType": "JWT",
			"JwtConfiguration": map[string]any{
				"Issuer": "https://issuer.example.com/", "Audience": []any{"ecsflow"},
			},
		})
	})
	if len(s.nagErrors) != 0 {
		t.Errorf("cdk-nag errors: %v", s.nagErrors)
	}
}

func TestNotificationsAndAlarms(t *testing.T) {
	s := full(t)
	mustMatch(t, "topic encrypted", func() {
		s.tpl.HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{"KmsMasterKeyId": assertions.Match_AnyValue()})
	})
	mustMatch(t, "email subscription", func() {
		s.tpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "ops@example.com"})
	})
	metrics := map[string]int{}
	for id, a := range s.ofType("AWS::CloudWatch::Alarm") {
		metrics[rendered(a.Properties["MetricName"])]++
		acts := asList(a.Properties["AlarmActions"])
		if len(acts) != 1 || !strings.HasPrefix(rendered(acts[0]), "<EcsflowTopic") {
			t.Errorf("alarm %s actions: got %v, want the topic", id, acts)
		}
	}
	want := map[string]int{
		"Errors":                             len(DefaultSpecs()),
		"ExecutionsFailed":                   2,
		"ExecutionsTimedOut":                 2,
		"ApproximateNumberOfMessagesVisible": 8, // on-failure and rule DLQ of trigger, ecs-events, collect-artifacts; schedule tick and notices DLQs
		"5xx":                                1,
	}
	for m, n := range want {
		if metrics[m] != n {
			t.Errorf("alarms on %s: got %d, want %d (all: %v)", m, metrics[m], n, metrics)
		}
	}
	dashboards := s.ofType("AWS::CloudWatch::Dashboard")
	if len(dashboards) != 1 {
		t.Fatalf("dashboards: got %d, want 1", len(dashboards))
	}
	for _, d := range dashboards {
		body := rendered(d.Properties["DashboardBody"])
		for _, w := range []string{"ecsflow alarms", "Lambda errors", "Deployments failed", "Dead-letter queue depth"} {
			if !strings.Contains(body, w) {
				t.Errorf("dashboard has no %q widget", w)
			}
		}
	}
	for id, q := range s.ofType("AWS::SQS::Queue") {
		if q.Properties["SqsManagedSseEnabled"] != true {
			t.Errorf("queue %s not encrypted: %v", id, q.Properties)
		}
	}
}

// actionWildcards lists the statements that allow Action "*" or, in an
// identity policy, any wildcard action such as "ecs:*".
func actionWildcards(stmts []statement, identity bool) []string {
	var bad []string
	for _, st := range stmts {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range st.Actions {
			if a == "*" || (identity && strings.Contains(a, "*")) {
				bad = append(bad, fmt.Sprintf("%s allows action %q", st.where, a))
			}
		}
	}
	return bad
}

// ecsMutatingWithArns are ECS actions that change something and accept
// resource ARNs; RegisterTaskDefinition and DeregisterTaskDefinition are
// not among them (no resource type in the service authorization reference).
var ecsMutatingWithArns = map[string]bool{
	"ecs:UpdateService": true, "ecs:CreateService": true, "ecs:DeleteService": true,
	"ecs:TagResource": true, "ecs:UntagResource": true, "ecs:StopTask": true, "ecs:RunTask": true,
	"ecs:StartTask": true, "ecs:CreateTaskSet": true, "ecs:UpdateTaskSet": true, "ecs:DeleteTaskSet": true,
	"ecs:UpdateServicePrimaryTaskSet": true, "ecs:StopServiceDeployment": true,
}

// ecsMutatingUnscoped lists mutating ECS actions allowed on "*", on every
// service, or on anything that is not an ECS ARN; n counts the checked ones.
func ecsMutatingUnscoped(stmts []statement) (bad []string, n int) {
	for _, st := range stmts {
		for _, a := range st.Actions {
			if !ecsMutatingWithArns[a] && a != "ecs:*" && a != "*" {
				continue
			}
			n++
			for _, r := range st.Resources {
				res := rendered(r)
				if res == "*" || strings.HasSuffix(res, ":service/*") || strings.Contains(res, ":service/*/") || !strings.Contains(res, ":ecs:") {
					bad = append(bad, fmt.Sprintf("%s: %s on resource %s", st.where, a, res))
				}
			}
		}
	}
	return bad, n
}

// TestPolicyChecksCatch proves the two checks below can fail.
func TestPolicyChecksCatch(t *testing.T) {
	star := []statement{{where: "P1", Effect: "Allow", Actions: []string{"*"}, Resources: []any{"*"}}}
	svcStar := []statement{{where: "P2", Effect: "Allow", Actions: []string{"ecs:List*"}, Resources: []any{"*"}}}
	update := []statement{{where: "P3", Effect: "Allow", Actions: []string{"ecs:UpdateService"}, Resources: []any{"*"}}}
	anyCluster := []statement{{where: "P4", Effect: "Allow", Actions: []string{"ecs:DeleteService"},
		Resources: []any{map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":ecs:r:a:service/*"}}}}}}
	scoped := []statement{{where: "P5", Effect: "Allow", Actions: []string{"ecs:UpdateService"}, Resources: []any{"arn:aws:ecs:r:a:service/prod/*"}}}
	if got := actionWildcards(star, false); len(got) != 1 {
		t.Errorf("Action * in a resource policy: got %v", got)
	}
	if got := actionWildcards(svcStar, true); len(got) != 1 {
		t.Errorf("ecs:List* in an identity policy: got %v", got)
	}
	if got := actionWildcards(svcStar, false); len(got) != 0 {
		t.Errorf("ecs:List* in a resource policy: got %v", got)
	}
	for name, c := range map[string][]statement{"star": update, "any cluster": anyCluster, "Action *": star} {
		if bad, _ := ecsMutatingUnscoped(c); len(bad) != 1 {
			t.Errorf("%s: got %v, want one finding", name, bad)
		}
	}
	if bad, n := ecsMutatingUnscoped(scoped); len(bad) != 0 || n != 1 {
		t.Errorf("scoped: got %v (%d checked), want none of 1", bad, n)
	}
}

// TestNoActionWildcard fails when any policy allows Action "*" (or, in an
// identity policy, any wildcard action such as "ecs:*").
func TestNoActionWildcard(t *testing.T) {
	s := full(t)
	for _, c := range []struct {
		name     string
		stmts    []statement
		identity bool
	}{
		{"identity", s.identityStatements(), true},
		{"resource", s.resourceStatements(), false},
	} {
		if len(c.stmts) == 0 {
			t.Fatalf("%s: no statements found", c.name)
		}
		for _, b := range actionWildcards(c.stmts, c.identity) {
			t.Error(b)
		}
	}
}

func TestNoMutatingECSOnStar(t *testing.T) {
	s := full(t)
	bad, n := ecsMutatingUnscoped(s.identityStatements())
	if n == 0 {
		t.Fatal("no mutating ECS action found: the check checked nothing")
	}
	for _, b := range bad {
		t.Errorf("%s, want services of the configured clusters", b)
	}
	// And the scope table itself keeps them scoped.
	for a := range ecsMutatingWithArns {
		if sc, ok := actionScopes[a]; ok && sc == scopeUnscoped {
			t.Errorf("actionScopes[%s] is unscoped", a)
		}
	}
}

func TestPassRoleScoped(t *testing.T) {
	s := full(t)
	var seen int
	for _, st := range s.identityStatements() {
		for _, a := range st.Actions {
			if a != "iam:PassRole" {
				continue
			}
			seen++
			cond := rendered(st.Condition)
			if cond != `{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}` {
				t.Errorf("%s: PassRole condition: got %s", st.where, cond)
			}
			for _, r := range st.Resources {
				if res := rendered(r); !strings.Contains(res, ":iam::<AWS::AccountId>:role/") || res == "*" {
					t.Errorf("%s: PassRole on %s", st.where, res)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no iam:PassRole statement found")
	}
}

// The service-linked role a first RegisterScalableTarget creates: only
// Application Auto Scaling's role for ECS, only for that service.
func TestCreateServiceLinkedRoleScoped(t *testing.T) {
	s := full(t)
	var seen int
	for _, st := range s.identityStatements() {
		for _, a := range st.Actions {
			if a != "iam:CreateServiceLinkedRole" {
				continue
			}
			seen++
			cond := rendered(st.Condition)
			if cond != `{"StringLike":{"iam:AWSServiceName":"ecs.application-autoscaling.amazonaws.com"}}` {
				t.Errorf("%s: CreateServiceLinkedRole condition: got %s", st.where, cond)
			}
			for _, r := range st.Resources {
				res := rendered(r)
				if !strings.Contains(res, ":role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService") {
					t.Errorf("%s: CreateServiceLinkedRole on %s", st.where, res)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no iam:CreateServiceLinkedRole statement found")
	}
}

func TestFunctionPoliciesFollowSpecs(t *testing.T) {
	s := full(t)
	// Each function role allows exactly its spec's actions, plus logging,
	// the key and tracing.
	extra := map[string]bool{"logs:CreateLogStream": true, "logs:PutLogEvents": true,
		"kms:Decrypt": true, "kms:DescribeKey": true, "kms:Encrypt": true, "kms:GenerateDataKey": true,
		"xray:PutTraceSegments": true, "xray:PutTelemetryRecords": true,
		"sqs:SendMessage": true, "sqs:GetQueueAttributes": true, "sqs:GetQueueUrl": true}
	for name, spec := range DefaultSpecs() {
		prefix := "Ecsflow" + pascal(name) + "RoleDefaultPolicy"
		got := map[string]bool{}
		for _, st := range s.identityStatements() {
			if strings.HasPrefix(st.where, prefix) {
				for _, a := range st.Actions {
					got[a] = true
				}
			}
		}
		for _, a := range spec.Actions {
			if !got[a] {
				t.Errorf("%s: action %s missing from its role", name, a)
			}
		}
		want := map[string]bool{}
		for _, a := range spec.Actions {
			want[a] = true
		}
		for a := range got {
			if !want[a] && !extra[a] {
				t.Errorf("%s: role allows %s, which its spec does not list", name, a)
			}
		}
	}
}

func TestNag(t *testing.T) {
	s := full(t)
	if len(s.nagErrors) != 0 {
		t.Errorf("%d unsuppressed cdk-nag errors:\n%s", len(s.nagErrors), strings.Join(s.nagErrors, "\n"))
	}
	if len(s.nagWarns) != 0 {
		t.Logf("cdk-nag warnings:\n%s", strings.Join(s.nagWarns, "\n"))
	}
	// Every suppression carries a reason.
	var n int
	for id, r := range s.resources {
		md, _ := r.Metadata["cdk_nag"].(map[string]any)
		for _, raw := range asList(md["rules_to_suppress"]) {
			sup := raw.(map[string]any)
			n++
			if reason, _ := sup["reason"].(string); len(reason) < 20 {
				t.Errorf("%s: suppression %v has no real reason", id, sup["id"])
			}
		}
	}
	if n == 0 {
		t.Error("no suppressions recorded: the reason check checked nothing")
	}
}

// TestNagCatchesWildcards proves the nag check can fail: a role with an
// unexplained wildcard outside the construct is reported.
func TestNagCatchesWildcards(t *testing.T) {
	functions, build := fakeTree(t, []string{"step-update-service"}, true)
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Bad"), nil)
	if _, err := New(stack, "Ecsflow", Props{FunctionsDir: functions, AssetRoot: build, Clusters: []string{"prod"}, Definitions: []statemachines.Definition{}}); err != nil {
		t.Fatal(err)
	}
	// An unencrypted queue outside the construct is not covered by its
	// suppressions.
	awssqs.NewCfnQueue(stack, jsii.String("Plain"), &awssqs.CfnQueueProps{})
	ApplyNag(app)
	s := parse(t, stack, nil)
	if len(s.nagErrors) == 0 {
		t.Fatal("cdk-nag reported nothing for an unencrypted queue without a DLQ")
	}
	for _, e := range s.nagErrors {
		if !strings.Contains(e, "/Bad/Plain") {
			t.Errorf("unexpected finding outside the plain queue: %s", e)
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		folders []string
		binary  bool
		props   func(*Props)
		check   func(error) bool
	}{
		{"folder without spec", []string{"api", "step-brand-new"}, true, nil,
			func(err error) bool {
				var e *MissingFunctionSpecError
				return errors.As(err, &e) && e.Name == "step-brand-new"
			}},
		{"missing bootstrap", []string{"api"}, false, nil,
			func(err error) bool { var e *MissingBootstrapError; return errors.As(err, &e) && e.Name == "api" }},
		{"unknown action", []string{"api"}, true, func(p *Props) {
			p.Specs = map[string]FunctionSpec{"api": {Name: "api", MemoryMB: 128, Timeout: 1e9, Actions: []string{"ecs:*"}}}
		}, func(err error) bool { var e *UnknownActionError; return errors.As(err, &e) && e.Action == "ecs:*" }},
		{"no clusters", []string{"api"}, true, func(p *Props) { p.Clusters = nil },
			func(err error) bool { return errors.Is(err, ErrNoClusters) }},
		{"unknown placeholder", []string{"step-prepare"}, true, func(p *Props) {
			p.Definitions = []statemachines.Definition{def("rolling", `{"x":"${Bogus}","y":"${StepPrepareArn}"}`)}
		}, func(err error) bool {
			var e *MissingSubstitutionError
			return errors.As(err, &e) && e.Placeholder == "Bogus" && e.StateMachine == "rolling"
		}},
		{"placeholder of a function without folder", []string{"step-prepare"}, true, func(p *Props) {
			p.Definitions = []statemachines.Definition{def("canary", `{"x":"${StepScaleArn}"}`)}
		}, func(err error) bool {
			var e *MissingSubstitutionError
			return errors.As(err, &e) && e.Placeholder == "StepScaleArn" && strings.Contains(e.Error(), "functions/step-scale")
		}},
		{"wildcard cluster", []string{"api"}, true, func(p *Props) { p.Clusters = []string{"prod", "*"} },
			func(err error) bool {
				var e *InvalidPropError
				return errors.As(err, &e) && e.Field == "Clusters" && e.Value == "*"
			}},
		{"bad target account", []string{"api"}, true, func(p *Props) { p.TargetAccounts = []string{"12345"} },
			func(err error) bool {
				var e *InvalidPropError
				return errors.As(err, &e) && e.Field == "TargetAccounts"
			}},
		{"pass any role", []string{"api"}, true, func(p *Props) { p.PassRoles = []string{"*"} },
			func(err error) bool { var e *InvalidPropError; return errors.As(err, &e) && e.Field == "PassRoles" }},
		{"bad repository", []string{"api"}, true, func(p *Props) { p.Repositories = []string{"Shop/Web"} },
			func(err error) bool { var e *InvalidPropError; return errors.As(err, &e) && e.Field == "Repositories" }},
		{"bad prefix", []string{"api"}, true, func(p *Props) { p.NamePrefix = "eco flow" },
			func(err error) bool { var e *InvalidPropError; return errors.As(err, &e) && e.Field == "NamePrefix" }},
		{"bad email", []string{"api"}, true, func(p *Props) { p.NotificationEmails = []string{"ops"} },
			func(err error) bool {
				var e *InvalidPropError
				return errors.As(err, &e) && e.Field == "NotificationEmails"
			}},
		{"JWT without audience", []string{"api"}, true, func(p *Props) { p.JWT = &JWTProps{Issuer: "https://id.example.com/"} },
			func(err error) bool { var e *InvalidPropError; return errors.As(err, &e) && e.Field == "JWT" }},
		{"missing functions dir", nil, true, func(p *Props) { p.FunctionsDir = filepath.Join(p.FunctionsDir, "nope") },
			func(err error) bool { return errors.Is(err, os.ErrNotExist) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			functions, build := fakeTree(t, tc.folders, tc.binary)
			p := Props{FunctionsDir: functions, AssetRoot: build, Clusters: []string{"prod"}, Definitions: []statemachines.Definition{}}
			if tc.props != nil {
				tc.props(&p)
			}
			app := awscdk.NewApp(nil)
			stack := awscdk.NewStack(app, jsii.String("S"), nil)
			e, err := New(stack, "Ecsflow", p)
			if err == nil || e != nil {
				t.Fatalf("New: got (%v, %v), want an error", e, err)
			}
			if !tc.check(err) {
				t.Errorf("New: got error %T %q", err, err)
			}
			if n := len(*stack.Node().Children()); n != 0 {
				t.Errorf("a failed New left %d constructs behind", n)
			}
		})
	}
}

// shippedFunctions returns a functions dir holding the shipped folders plus
// stand-ins for PendingFunctions, and a build dir with a bootstrap for each.
// It fails the test when a pending function has landed.
func shippedFunctions(t *testing.T) (folders []string, functions, build string) {
	t.Helper()
	real, err := FunctionFolders(filepath.Join("..", "..", "functions"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range real {
		have[f] = true
	}
	all := append([]string(nil), real...)
	for _, p := range PendingFunctions {
		if have[p] {
			// Landed: the real folder is used; the entry is now a no-op.
			t.Logf("functions/%s has landed: its PendingFunctions entry can go", p)
			continue
		}
		all = append(all, p)
	}
	sort.Strings(all)
	functions, build = fakeTree(t, all, true)
	return real, functions, build
}

// TestRealDefinitionsSubstituted checks the shipped statemachines/*.asl.json
// against the shipped functions/ folders (and PendingFunctions): every
// placeholder must resolve.
func TestRealDefinitionsSubstituted(t *testing.T) {
	real, functions, _ := shippedFunctions(t)
	folders, err := FunctionFolders(functions)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range folders {
		have[f] = true
	}
	machines := map[string]bool{}
	defs := statemachines.All()
	for _, d := range defs {
		machines[d.Name] = true
	}
	named := map[string]bool{}
	for _, d := range defs {
		for _, ph := range d.Placeholders {
			if err := checkPlaceholder(d.Name, ph, have, machines, DefaultSpecs()); err != nil {
				t.Errorf("statemachines/%s.asl.json: %v", d.Name, err)
			}
			for f := range have {
				if FunctionArnPlaceholder(f) == ph {
					named[f] = true
				}
			}
		}
	}
	for _, p := range PendingFunctions {
		if !named[p] {
			t.Errorf("PendingFunctions lists %s, which no shipped definition names", p)
		}
	}
	t.Logf("%d shipped definitions, %d function folders, %d pending", len(defs), len(real), len(PendingFunctions))
}

// TestRealFunctionFolders checks every shipped functions/* folder has a table
// row and becomes a Lambda, and every shipped definition a state machine.
func TestRealFunctionFolders(t *testing.T) {
	real, functions, build := shippedFunctions(t)
	specs := DefaultSpecs()
	for _, f := range real {
		if _, ok := specs[f]; !ok {
			t.Errorf("functions/%s has no row in DefaultSpecs", f)
		}
	}
	if t.Failed() {
		return
	}
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Real"), nil)
	e, err := New(stack, "Ecsflow", Props{FunctionsDir: functions, AssetRoot: build, Clusters: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	ApplyNag(app)
	s := parse(t, stack, e)
	got := s.lambdaByFunction(t)
	all, err := FunctionFolders(functions)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		if _, ok := got[f]; !ok {
			t.Errorf("functions/%s has no Lambda", f)
		}
	}
	if len(got) != len(all) {
		t.Errorf("Lambdas: got %d, want %d", len(got), len(all))
	}
	sms := s.ofType("AWS::StepFunctions::StateMachine")
	if len(sms) != len(statemachines.All()) {
		t.Errorf("state machines: got %d, want %d", len(sms), len(statemachines.All()))
	}
	for id, sm := range sms {
		subs, _ := sm.Properties["DefinitionSubstitutions"].(map[string]any)
		body := rendered(sm.Properties["DefinitionString"])
		for _, ph := range statemachines.Placeholders(body) {
			if _, ok := subs[ph]; !ok {
				t.Errorf("%s: ${%s} has no substitution", id, ph)
			}
		}
	}
	if len(s.nagErrors) != 0 {
		t.Errorf("cdk-nag errors: %v", s.nagErrors)
	}
}

func TestSpecsAreValid(t *testing.T) {
	for name, s := range DefaultSpecs() {
		if s.Name != name {
			t.Errorf("spec %s has Name %q", name, s.Name)
		}
		if s.MemoryMB < 128 || s.MemoryMB > 10240 {
			t.Errorf("%s memory: got %d", name, s.MemoryMB)
		}
		if s.Timeout <= 0 || s.Timeout.Seconds() > 900 {
			t.Errorf("%s timeout: got %v", name, s.Timeout)
		}
		if name == "api" && s.Timeout.Seconds() > 29 {
			t.Errorf("api timeout %v exceeds API Gateway's 29 s", s.Timeout)
		}
		if len(s.Actions) == 0 {
			t.Errorf("%s lists no actions", name)
		}
		for _, a := range s.Actions {
			if _, ok := actionScopes[a]; !ok {
				t.Errorf("%s: action %s has no scope", name, a)
			}
		}
	}
}

func TestPlaceholderNames(t *testing.T) {
	tests := []struct{ fn, want string }{
		{"step-prepare", "StepPrepareArn"},
		{"step-register-taskdef", "StepRegisterTaskdefArn"},
		{"ecs-events", "EcsEventsArn"},
		{"api", "ApiArn"},
		{"collect-artifacts", "CollectArtifactsArn"},
	}
	for _, tc := range tests {
		if got := FunctionArnPlaceholder(tc.fn); got != tc.want {
			t.Errorf("FunctionArnPlaceholder(%q): got %q, want %q", tc.fn, got, tc.want)
		}
	}
	for in, want := range map[string]string{"rolling": "ROLLING", "canary": "CANARY", "bluegreen": "BLUE_GREEN", "daemon": "DAEMON", "pipeline": "PIPELINE", "multi-stage": "MULTI_STAGE"} {
		if got := StrategyKey(in); got != want {
			t.Errorf("StrategyKey(%q): got %q, want %q", in, got, want)
		}
	}
	if got := StateMachineArnPlaceholder("bluegreen"); got != "BluegreenStateMachineArn" {
		t.Errorf("StateMachineArnPlaceholder: got %q", got)
	}
	// Every placeholder the names produce is one statemachines recognises.
	for name := range DefaultSpecs() {
		ph := FunctionArnPlaceholder(name)
		if got := statemachines.Placeholders("${" + ph + "}"); len(got) != 1 || got[0] != ph {
			t.Errorf("statemachines does not see ${%s}: %v", ph, got)
		}
	}
}

func FuzzPascal(f *testing.F) {
	for _, s := range []string{"step-prepare", "api", "a--b", "-x-", "ünï-côde", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := pascal(s)
		if strings.ContainsAny(got, "-_.") {
			t.Errorf("pascal(%q) = %q keeps a separator", s, got)
		}
		want := 0
		for _, r := range s {
			if r != '-' && r != '_' && r != '.' {
				want++
			}
		}
		if n := len([]rune(got)); n != want {
			t.Errorf("pascal(%q) = %q: %d runes, want %d", s, got, n, want)
		}
	})
}

// BenchmarkSynth synthesizes the full fixture (every function of the table,
// two state machines) with cdk-nag, as `cdk synth` does.
func BenchmarkSynth(b *testing.B) {
	functions, build := fakeTree(b, specNames(), true)
	props := Props{
		FunctionsDir: functions, AssetRoot: build,
		Definitions: []statemachines.Definition{def("rolling", rollingASL), def("pipeline", pipelineASL)},
		Clusters:    []string{"prod"},
	}
	out := b.TempDir()
	for i := 0; i < b.N; i++ {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(out, fmt.Sprint(i)))})
		stack := awscdk.NewStack(app, jsii.String("Bench"), nil)
		if _, err := New(stack, "Ecsflow", props); err != nil {
			b.Fatal(err)
		}
		ApplyNag(app)
		app.Synth(nil)
	}
}

// TestRulesMatchSampleEvents runs the synthesized rule patterns through
// internal/eventbus (EventBridge's pattern syntax) against the real-shaped
// samples in events/: each ECS sample reaches ecs-events from a configured
// cluster and not from another one; the ECR push reaches trigger only for a
// configured repository.
func TestRulesMatchSampleEvents(t *testing.T) {
	functions, build := fakeTree(t, []string{"ecs-events", "trigger"}, true)
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Env"), &awscdk.StackProps{Env: &awscdk.Environment{
		Account: jsii.String("111122223333"), Region: jsii.String("us-west-2"),
	}})
	e, err := New(stack, "Ecsflow", Props{FunctionsDir: functions, AssetRoot: build, Clusters: []string{"prod"},
		Repositories: []string{"shop/web"}, Definitions: []statemachines.Definition{}})
	if err != nil {
		t.Fatal(err)
	}
	s := parse(t, stack, e)
	var patterns []string
	for _, r := range s.ofType("AWS::Events::Rule") {
		b, err := json.Marshal(resolveCfn(r.Properties["EventPattern"], map[string]string{
			"AWS::Partition": "aws", "AWS::Region": "us-west-2", "AWS::AccountId": "111122223333"}))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"Fn::`) || strings.Contains(string(b), `"Ref"`) {
			t.Fatalf("pattern still holds intrinsics: %s", b)
		}
		patterns = append(patterns, string(b))
	}
	matches := func(event string) int {
		n := 0
		for _, p := range patterns {
			ok, err := eventbus.TestEventPattern(p, event)
			if err != nil {
				t.Fatalf("pattern %s: %v", p, err)
			}
			if ok {
				n++
			}
		}
		return n
	}
	for _, name := range []string{"ecs-deployment-state-change", "ecs-service-action", "ecs-task-state-change", "ecr-image-action"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "events", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		ev["account"], ev["region"] = "111122223333", "us-west-2"
		// The samples come from account 111122223333 in us-west-2.
		if name == "ecr-image-action" {
			ev["detail"].(map[string]any)["repository-name"] = "shop/web"
		}
		in, _ := json.Marshal(ev)
		if n := matches(string(in)); n != 1 {
			t.Errorf("%s: matched %d rules, want 1", name, n)
		}
		// The same event from elsewhere: another cluster, another repository.
		if name == "ecr-image-action" {
			ev["detail"].(map[string]any)["repository-name"] = "other/repo"
		} else {
			res := asList(ev["resources"])
			for i, r := range res {
				res[i] = strings.Replace(r.(string), "/prod/", "/other/", 1)
			}
		}
		out, _ := json.Marshal(ev)
		if n := matches(string(out)); n != 0 {
			t.Errorf("%s from elsewhere: matched %d rules, want 0", name, n)
		}
	}
}

// resolveCfn evaluates Ref (of the given pseudo parameters) and Fn::Join in
// a CloudFormation value, as CloudFormation would at deploy time.
func resolveCfn(v any, refs map[string]string) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = resolveCfn(e, refs)
		}
		return out
	case map[string]any:
		if r, ok := x["Ref"].(string); ok && len(x) == 1 {
			if val, ok := refs[r]; ok {
				return val
			}
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(x) == 1 && len(j) == 2 {
			sep, _ := j[0].(string)
			var parts []string
			for _, p := range asList(j[1]) {
				str, ok := resolveCfn(p, refs).(string)
				if !ok {
					return x
				}
				parts = append(parts, str)
			}
			return strings.Join(parts, sep)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = resolveCfn(e, refs)
		}
		return out
	}
	return v
}
