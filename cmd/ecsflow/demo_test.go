package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/localstack"
)

// TestMakeDemo runs what `make demo` runs (`ecsflow demo`): the API checks,
// then the pipeline and the rollback; it fails if any step did not end as
// expected.
func TestMakeDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(io.Discard)
	rootCmd.SetArgs([]string{"demo", "--example", filepath.Join("..", "..", localstack.ExamplePath)})
	t.Cleanup(func() { rootCmd.SetArgs(nil); rootCmd.SetOut(nil); rootCmd.SetErr(nil) })
	err := rootCmd.ExecuteContext(ctx)
	if err != nil {
		t.Fatalf("ecsflow demo: %v\n%s", err, out.String())
	}
	for _, s := range []string{
		"412 PreconditionFailed", "409 Referenced",
		"DEPLOYMENT   dev  dep-", "CANARY SUCCEEDED", "BLUE_GREEN SUCCEEDED", "CANARY ROLLED_BACK",
		"STAGE        prod          WORKFLOW   SKIPPED",
		"Demo finished: every step ended as expected",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("demo output lacks %q:\n%s", s, out.String())
		}
	}
}
