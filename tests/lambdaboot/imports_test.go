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
var loaderStill = map[string]string{
	"api":                     "internal/pipeline.FromEnv calls config.LoadDefaultConfig",
	"trigger":                 "internal/pipeline.FromEnv calls config.LoadDefaultConfig",
	"step-pipeline-approval":  "internal/pipeline.FromEnv calls config.LoadDefaultConfig",
	"step-pipeline-finish":    "internal/pipeline.FromEnv calls config.LoadDefaultConfig",
	"step-pipeline-next":      "internal/pipeline.FromEnv calls config.LoadDefaultConfig",
	"step-pipeline-stage-end": "internal/pipeline.FromEnv calls config.LoadDefaultConfig",
}

// TestLambdaImports reads every functions/* binary's dependencies (go list)
// and fails when one links a local-only package, or the SDK's config
// loader (outside loaderStill).
func TestLambdaImports(t *testing.T) {
	root := repoRoot(t)
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "./functions/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const prefix = "github.com/ecsflow/ecsflow/functions/"
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		name, ok := strings.CutPrefix(fields[0], prefix)
		if !ok || strings.Contains(name, "/") {
			continue
		}
		seen++
		deps := fields[1:]
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
	}
	if seen < 10 {
		t.Fatalf("go list found %d functions, want every functions/* folder:\n%s", seen, out)
	}
}
