package lambdaboot

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// localOnly are packages a Lambda binary must never link: the emulators,
// the local stack and test helpers (each would add megabytes and code that
// must not run in AWS).
var localOnly = []string{
	"github.com/ecsflow/ecsflow/internal/awsemu",
	"github.com/ecsflow/ecsflow/internal/sfnlocal",
	"github.com/ecsflow/ecsflow/internal/localstack",
	"github.com/ecsflow/ecsflow/internal/memdynamo",
	"github.com/ecsflow/ecsflow/internal/eventbus",
	"github.com/ecsflow/ecsflow/internal/ecsops/ecsopstest",
	"github.com/ecsflow/ecsflow/internal/store/dynamotest",
	"github.com/truora/minidyn",
	"net/http/httptest",
	"testing",
}

// sdkLoader is aws-sdk-go-v2/config: it links the SSO, SSO OIDC and
// sign-in clients, whose schema tables are built at start (about 1.4 MB
// per binary). Lambdas read their configuration with internal/awsenv.
const sdkLoader = "github.com/aws/aws-sdk-go-v2/config"

// loaderStill lists the Lambdas that still link the SDK loader, and why.
// The test fails when one of them stops linking it, so the list only
// shrinks.
var loaderStill = map[string]string{}

// engine are the deployment engine's packages: only the step Lambdas built
// on them (functions/step-* that are steps.Functions) should link them;
// any other Lambda linking them carries the client code of every AWS
// service the engine calls (ECS, ELB, Auto Scaling, CloudWatch, Route 53,
// EventBridge): with the SDK loader, api grew from 10.75 to 12.3 MB and
// the pipeline steps from 9.8 to 12.9 MB. The notification names they
// share with the engine are in internal/notification.
var engine = []string{
	"github.com/ecsflow/ecsflow/internal/steps",
	"github.com/ecsflow/ecsflow/internal/ecsops",
}

// engineStill lists the other Lambdas that still link the engine, and why;
// like loaderStill, it only shrinks.
var engineStill = map[string]string{}

// TestLambdaImports reads every functions/* binary's dependencies (go list)
// and fails when one links a local-only package, the SDK's config loader
// (outside loaderStill), or, not being a step of the engine, the engine
// (outside engineStill).
func TestLambdaImports(t *testing.T) {
	root := repoRoot(t)
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}} | {{join .Deps \" \"}}", "./functions/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const prefix = "github.com/ecsflow/ecsflow/functions/"
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		direct, all, _ := strings.Cut(line, " | ")
		fields := strings.Fields(direct)
		name, ok := strings.CutPrefix(fields[0], prefix)
		if !ok || strings.Contains(name, "/") {
			continue
		}
		seen++
		imports, deps := fields[1:], strings.Fields(all)
		for _, d := range deps {
			for _, bad := range localOnly {
				if d == bad || strings.HasPrefix(d, bad+"/") {
					t.Errorf("functions/%s links %s, a local-only package", name, d)
				}
			}
		}
		links := slices.Contains(deps, sdkLoader)
		why, excepted := loaderStill[name]
		switch {
		case links && !excepted:
			t.Errorf("functions/%s links %s (use internal/awsenv)", name, sdkLoader)
		case !links && excepted:
			t.Errorf("functions/%s no longer links %s: remove it from loaderStill (%s)", name, sdkLoader, why)
		}
		// A step of the engine imports internal/steps itself.
		if slices.Contains(imports, engine[0]) {
			continue
		}
		linksEngine := slices.ContainsFunc(engine, func(p string) bool { return slices.Contains(deps, p) })
		why, excepted = engineStill[name]
		switch {
		case linksEngine && !excepted:
			t.Errorf("functions/%s links the deployment engine (%v) without being one of its steps", name, engine)
		case !linksEngine && excepted:
			t.Errorf("functions/%s no longer links the engine: remove it from engineStill (%s)", name, why)
		}
	}
	if seen < 10 {
		t.Fatalf("go list found %d functions, want every functions/* folder:\n%s", seen, out)
	}
}

// stepServices are SDK service packages only some step Lambdas call, with
// those steps. Every binary linking one of these packages carries its
// schema tables, built at start (0.2 to 0.3 MB each, called or not), so
// the other steps must not import it, even indirectly.
var stepServices = map[string][]string{
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch":  {"step-verify"},
	"github.com/aws/aws-sdk-go-v2/service/eventbridge": {"step-prepare", "step-approval", "step-finish"},
}

// servicesStill lists the packages of stepServices that every step still
// links, and why. The test fails when the other steps stop linking one, so
// the list only shrinks.
var servicesStill = map[string]string{}

// TestStepServices fails when a step Lambda (a functions/* main importing
// internal/steps) links a package of stepServices it does not call
// (outside servicesStill).
func TestStepServices(t *testing.T) {
	root := repoRoot(t)
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}} | {{join .Deps \" \"}}", "./functions/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const prefix = "github.com/ecsflow/ecsflow/functions/"
	others := map[string][]string{} // package -> other steps linking it
	steps := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		direct, all, _ := strings.Cut(line, " | ")
		fields := strings.Fields(direct)
		name, ok := strings.CutPrefix(fields[0], prefix)
		if !ok || strings.Contains(name, "/") || !slices.Contains(fields[1:], engine[0]) {
			continue
		}
		steps++
		deps := strings.Fields(all)
		for pkg, users := range stepServices {
			if slices.Contains(deps, pkg) && !slices.Contains(users, name) {
				others[pkg] = append(others[pkg], name)
			}
		}
	}
	if steps < 10 {
		t.Fatalf("go list found %d step Lambdas, want every functions/step-* of the engine:\n%s", steps, out)
	}
	for pkg, users := range stepServices {
		why, excepted := servicesStill[pkg]
		switch {
		case len(others[pkg]) > 0 && !excepted:
			t.Errorf("%v link %s, which only %v call", others[pkg], pkg, users)
		case len(others[pkg]) == 0 && excepted:
			t.Errorf("only %v link %s now: remove it from servicesStill (%s)", users, pkg, why)
		}
	}
}
