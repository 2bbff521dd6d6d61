package lambdacalls_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/ecsflow/ecsflow/internal/lambdacalls"
)

func keys(m map[string]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}

// The fixture module (testdata/mod) exercises each rule: a direct client
// call, an interface call whose implementation is made and one whose type
// is never made, a paginator, a transaction item, role assumption, a
// hand-written caller, and Clients fields filled, read and never read.
func TestAnalyzeFixture(t *testing.T) {
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOWORK", "off")
	rs, err := lambdacalls.Analyze("testdata/mod", "one", "two")
	if err != nil {
		t.Fatal(err)
	}
	one := rs["one"]
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"actions", one.SortedActions(), []string{
			"dynamodb:PutItem", "ecs:DescribeServices", "ecs:ListServices", "servicediscovery:GetService", "sts:AssumeRole",
		}},
		{"clients read", keys(one.ClientsRead), []string{"ECS"}},
		{"clients wired", keys(one.ClientsWired), []string{"ECS"}},
		{"two's actions", rs["two"].SortedActions(), nil},
		{"two's clients", keys(rs["two"].ClientsRead), nil},
	}
	for _, tc := range tests {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	const ops = "github.com/ecsflow/ecsflow/internal/ecsops"
	if one.Fields[ops+".Clients.ECS"] == "" || one.Fields[ops+".Clients.ELB"] != "" {
		t.Errorf("fields read: got %v, want Clients.ECS and not Clients.ELB", keys(one.Fields))
	}
	if one.Funcs[ops+".WireECS"] == "" || one.Funcs["(*"+ops+".Clients).Unused"] != "" || one.Funcs["(*"+ops+".Clients).Describe"] == "" {
		t.Errorf("funcs reached: got %v, want WireECS and Describe, not Unused", keys(one.Funcs))
	}
	if path := one.Actions["dynamodb:PutItem"]; path == "" {
		t.Error("no call chain for dynamodb:PutItem")
	}
}

func TestAnalyzeUnknownFunction(t *testing.T) {
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOWORK", "off")
	if _, err := lambdacalls.Analyze("testdata/mod", "three"); err == nil {
		t.Fatal("Analyze of a missing function: no error")
	}
	if _, err := lambdacalls.Analyze("testdata/mod", "../internal/ecsops"); !errors.Is(err, lambdacalls.ErrNoFunction) {
		t.Fatalf("Analyze of a package that is not a main: err = %v, want ErrNoFunction", err)
	}
	if _, err := lambdacalls.Analyze("testdata/mod"); err == nil {
		t.Fatal("Analyze of no function: no error")
	}
}

// The real step Lambdas: facts that hold whatever else changes.
func TestAnalyzeRepository(t *testing.T) {
	rs, err := lambdacalls.Analyze("../..", "step-register-taskdef", "step-verify", "ecs-events")
	if err != nil {
		t.Fatal(err)
	}
	if a := rs["step-register-taskdef"].Actions; a["ecs:RegisterTaskDefinition"] == "" {
		t.Errorf("step-register-taskdef does not reach ecs:RegisterTaskDefinition: %v", keys(a))
	}
	if a := rs["step-verify"].Actions; a["cloudwatch:DescribeAlarms"] == "" || a["ecs:RegisterTaskDefinition"] != "" {
		t.Errorf("step-verify actions %v: want cloudwatch:DescribeAlarms and no RegisterTaskDefinition", keys(a))
	}
	if a := rs["ecs-events"].Actions; a["states:SendTaskSuccess"] == "" {
		t.Errorf("ecs-events does not reach states:SendTaskSuccess: %v", keys(a))
	}
}
