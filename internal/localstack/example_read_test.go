package localstack

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ecsflow/ecsflow/examples"
)

func TestReadExampleFallsBackToTheBuiltInCopy(t *testing.T) {
	repoCopy, err := os.ReadFile(filepath.Join("..", "..", ExamplePath))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(repoCopy, examples.ECSFlow) {
		t.Fatal("the built-in example differs from examples/ecsflow.yaml")
	}
	t.Chdir(t.TempDir()) // no examples/ here
	got, err := ReadExample(ExamplePath)
	if err != nil || !bytes.Equal(got, examples.ECSFlow) {
		t.Fatalf("ReadExample(default) outside the repository = %d bytes, %v; want the built-in copy", len(got), err)
	}
	if _, err := ReadExample("missing.yaml"); err == nil {
		t.Fatal("ReadExample(missing.yaml) = nil error, want one naming the file")
	}
}
